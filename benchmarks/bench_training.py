"""Training throughput: our estimators vs a plain PyTorch loop vs a naive loop.

For each network, one training epoch over the same synthetic log-mel data
(n_samples x n_mels x n_frames, 8 classes, batch 16, AdamW lr 1e-3 wd 0.03,
augmentation on) is timed, in one process, side by side:

- ``naive``: a straightforward eager loop as one would first write it: float32
  features, NCHW convolutions, ReLU before max-pool, a ``DataLoader`` over a
  ``TensorDataset``.
- ``plain``: a minimal PyTorch loop over exactly our module (channels-last,
  pool-before-ReLU) and the same float16 data, indexing shuffled batches.
- ``ours``: ``<Model>Classifier(max_epochs=1, train_split=None).fit`` with the
  early-stopping and LR-scheduler callbacks off (they need validation data),
  timed around the whole ``fit`` (set-up included).

Then, on CNN-GRU-Attention, the effect of each speed measure, one at a time
(``ablation`` rows): channels-last off, ReLU before pool, float32 storage,
1 thread, DataLoader workers, and optionally ``torch.compile``. On CUDA the
``ours`` row is also run with ``amp=True`` and the plain loop with autocast.

Samples/s = n_samples / wall seconds. One warm-up batch runs before each timed
epoch. With ``--repeats`` > 1 the best (shortest) run is kept.

Further modes (issue 15; ``benchmarks/gpu_session.sh`` runs them on a GPU):

- ``--legacy``: ours against skorch's own path (``DataLoader`` batches, ``loss.item()`` per
  batch), interleaved; every repeat's ratio is kept (min / median / max), in wall and CPU time.
- ``--profile``: per-phase time of ours, of skorch's own path and of the plain loop (set-up,
  batches, host->device copy, forward, loss, backward, optimizer, callbacks, loss read-back);
  CUDA-event device times beside the host times on a GPU (``training_profile.md``).
- ``--options --batch-sizes 16 64 256``: the plain loop, ours, and ours with each speed option
  switched, per batch size (``--compile`` adds ``torch.compile`` at the first batch size).
- ``--fma-fit``: one fit of FMA small's size (``--fma-shape 6400 128 1292 10``), end to end.

Usage::

    python benchmarks/bench_training.py --quick
    python benchmarks/bench_training.py --n-samples 64 --repeats 1
    python benchmarks/bench_training.py --device cuda --n-samples 512
    python benchmarks/bench_training.py --threads 1 --no-loops --no-ablation --legacy --repeats 5

Writes ``training.json`` and ``training.md`` to ``--out`` (default
``benchmarks/out/``).
"""

from __future__ import annotations

import argparse
import json
import platform
import time
import types
from collections import defaultdict
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch
from skorch.dataset import unpack_data
from skorch.utils import to_tensor
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from sklearn_genre.classifiers import (
    CNNClassifier,
    CNNGRUAttentionClassifier,
    CNNGRUClassifier,
    GRUClassifier,
    resolve_device,
)
from sklearn_genre.modules import ConvBlock

MODELS = {
    "cnn": CNNClassifier,
    "gru": GRUClassifier,
    "cnn_gru": CNNGRUClassifier,
    "cnn_gru_attention": CNNGRUAttentionClassifier,
}
N_CLASSES = 8


def make_data(n, n_mels, n_frames, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(-40.0, 12.0, size=(n, n_mels, n_frames)).astype(np.float32)
    y = np.arange(n) % N_CLASSES
    return X, y


def _relu_before_pool(self, x):
    return self.dropout(self.pool(self.relu(self.bn(self.conv(x)))))


def build_module(clf_cls, n_mels, *, channels_last=True, naive_order=False, seed=0):
    """The module our estimator builds, with the estimator's defaults."""
    est = clf_cls()
    torch.manual_seed(seed)
    kwargs = dict(n_mels=n_mels, n_classes=N_CLASSES, noise_std=est.noise_std,
                  shift_max=est.shift_max, augment_p=est.augment_p)
    if clf_cls is not GRUClassifier:
        kwargs["channels_last"] = channels_last
    module = est.module(**kwargs)
    if naive_order:
        for block in module.modules():
            if isinstance(block, ConvBlock):
                block.forward = types.MethodType(_relu_before_pool, block)
    return module


def _optimizer(module):
    return torch.optim.AdamW(module.parameters(), lr=1e-3, weight_decay=0.03,
                             betas=(0.9, 0.999))


def _sync(device):
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize()


def time_naive(clf_cls, X, y, device, batch_size, naive_order=True, channels_last=False,
               num_workers=0):
    """DataLoader over float32 tensors, NCHW, ReLU before pool."""
    module = build_module(clf_cls, X.shape[1], channels_last=channels_last,
                          naive_order=naive_order).to(device)
    data = TensorDataset(torch.from_numpy(np.ascontiguousarray(X, dtype=np.float32)),
                         torch.from_numpy(y))
    loader = DataLoader(data, batch_size=batch_size, shuffle=True, num_workers=num_workers)
    opt, loss_fn = _optimizer(module), nn.CrossEntropyLoss()

    def step(xb, yb):
        xb, yb = xb.to(device), yb.to(device)
        opt.zero_grad()
        loss = loss_fn(module(xb), yb)
        loss.backward()
        opt.step()

    module.train()
    step(*next(iter(loader)))  # warm-up
    _sync(device)
    start = time.perf_counter()
    for xb, yb in loader:
        step(xb, yb)
    _sync(device)
    return time.perf_counter() - start


def time_plain(clf_cls, X, y, device, batch_size, amp=False, compile_module=False,
               channels_last=True, naive_order=False):
    """Minimal loop over our module: shuffled index batches of the stored array."""
    module = build_module(clf_cls, X.shape[1], channels_last=channels_last,
                          naive_order=naive_order).to(device)
    if compile_module:
        module = torch.compile(module)
    X_t, y_t = torch.from_numpy(X), torch.from_numpy(y)
    opt, loss_fn = _optimizer(module), nn.CrossEntropyLoss()
    scaler = torch.amp.GradScaler("cuda") if amp else None
    autocast = (torch.autocast("cuda", dtype=torch.float16) if amp
                else torch.autocast("cpu", enabled=False))

    def step(idx):
        xb, yb = X_t[idx].to(device), y_t[idx].to(device)
        opt.zero_grad()
        with autocast:
            loss = loss_fn(module(xb), yb)
        if scaler is None:
            loss.backward()
            opt.step()
        else:
            scaler.scale(loss).backward()
            scaler.step(opt)
            scaler.update()

    module.train()
    step(torch.arange(min(batch_size, len(X))))  # warm-up (and compilation)
    _sync(device)
    start = time.perf_counter()
    for idx in torch.randperm(len(X)).split(batch_size):
        step(idx)
    _sync(device)
    return time.perf_counter() - start


def time_ours(clf_cls, X, y, device, batch_size, **params):
    """``fit`` for one epoch without internal validation (and its callbacks)."""
    kwargs = dict(max_epochs=1, batch_size=batch_size, train_split=None, verbose=0,
                  device=device, random_state=0, callbacks__early_stopping=None,
                  callbacks__lr_scheduler=None, **params)
    clf_cls(**kwargs).fit(X[:batch_size], y[:batch_size])  # warm-up
    _sync(device)
    start, cpu_start = time.perf_counter(), time.process_time()
    clf = clf_cls(**kwargs).fit(X, y)
    _sync(device)
    seconds = time.perf_counter() - start
    # CPU seconds of this process: with one torch thread, much less disturbed by other
    # load on a shared machine than the wall time.
    time_ours.cpu_seconds = time.process_time() - cpu_start
    time_ours.epoch_seconds = clf.history[-1, "dur"]  # skorch's epoch timer, no set-up
    return seconds


def _one_thread(threads, fn, *args, **kwargs):
    """``fn(*args, **kwargs)`` with one torch thread, then back to ``threads``."""
    torch.set_num_threads(1)
    try:
        return fn(*args, **kwargs)
    finally:
        torch.set_num_threads(threads)


def best_of(repeats, fn, *args, **kwargs):
    """Shortest of ``repeats`` runs (for ``time_ours`` also the shortest epoch time)."""
    best, best_epoch = float("inf"), None
    for _ in range(repeats):
        seconds = fn(*args, **kwargs)
        best = min(best, seconds)
        epoch = getattr(fn, "epoch_seconds", None)
        if epoch is not None:
            best_epoch = epoch if best_epoch is None else min(best_epoch, epoch)
    if best_epoch is not None:
        fn.epoch_seconds = best_epoch
    return best


# skorch's own training path, as the estimators ran before sklearn_genre.batching and
# sklearn_genre.loss_readback: DataLoader batches collated per sample, loss.item() per batch.
LEGACY = {"iterator_train": DataLoader, "iterator_valid": DataLoader, "loss_readback": "batch"}


def paired_ours(repeats, cls, X, y, device, batch_size, a, b):
    """Time ``ours`` with params ``a`` and ``b``, interleaved (a b, b a, ...).

    Returns
    -------
    dict of name -> list of (whole-fit seconds, epoch seconds, whole-fit CPU seconds), one
    tuple per repeat.
    """
    runs = {"a": [], "b": []}
    for k in range(repeats):
        for name in ("ab" if k % 2 == 0 else "ba"):
            seconds = time_ours(cls, X, y, device, batch_size, **(a if name == "a" else b))
            runs[name].append((seconds, time_ours.epoch_seconds, time_ours.cpu_seconds))
    return runs


def _spread(values):
    values = sorted(values)
    return {"min": round(values[0], 4), "median": round(float(np.median(values)), 4),
            "max": round(values[-1], 4)}


def run_legacy_comparison(args, X, y, device, record):
    """Ours against skorch's own path (``LEGACY``), interleaved, every repeat kept."""
    for name in args.models:
        cls = MODELS[name]
        runs = paired_ours(max(args.repeats, 2), cls, X, y, device, args.batch_size, {}, LEGACY)
        fit_ratio = [a[0] / b[0] for a, b in zip(runs["a"], runs["b"], strict=True)]
        epoch_ratio = [a[1] / b[1] for a, b in zip(runs["a"], runs["b"], strict=True)]
        cpu_ratio = [a[2] / b[2] for a, b in zip(runs["a"], runs["b"], strict=True)]
        record(name, "ours vs skorch's own path (DataLoader, loss.item() per batch)",
               min(r[0] for r in runs["a"]),
               legacy_seconds=round(min(r[0] for r in runs["b"]), 3),
               ours_over_legacy_fit=_spread(fit_ratio),
               ours_over_legacy_epoch=_spread(epoch_ratio),
               ours_over_legacy_cpu=_spread(cpu_ratio))


def run(args):
    device = resolve_device(args.device)
    on_cuda = torch.device(device).type == "cuda"
    threads = args.threads or torch.get_num_threads()
    torch.set_num_threads(threads)
    X32, y = make_data(args.n_samples, args.n_mels, args.n_frames)
    X16 = X32.astype(np.float16)
    n, bs, rep = args.n_samples, args.batch_size, args.repeats
    rows = []

    def record(model, variant, seconds, **extra):
        row = {"model": model, "variant": variant, "seconds": round(seconds, 3),
               "samples_per_s": round(n / seconds, 2), **extra}
        rows.append(row)
        print(json.dumps(row), flush=True)
        return seconds

    for name in (args.models if args.loops else []):
        cls = MODELS[name]
        naive = record(name, "naive", best_of(rep, time_naive, cls, X32, y, device, bs))
        plain = record(name, "plain", best_of(rep, time_plain, cls, X16, y, device, bs))
        ours = record(name, "ours", best_of(rep, time_ours, cls, X16, y, device, bs))
        epoch = time_ours.epoch_seconds
        rows[-1]["epoch_seconds"] = round(epoch, 3)
        rows[-1]["ours_over_plain"] = round(ours / plain, 3)
        rows[-1]["naive_over_ours"] = round(naive / ours, 3)
        rows[-1]["ours_over_plain_epoch"] = round(epoch / plain, 3)
        rows[-1]["naive_over_ours_epoch"] = round(naive / epoch, 3)
        if on_cuda:
            plain_amp = record(name, "plain_amp",
                               best_of(rep, time_plain, cls, X16, y, device, bs, amp=True))
            ours_amp = record(name, "ours_amp",
                              best_of(rep, time_ours, cls, X16, y, device, bs, amp=True))
            rows[-1]["epoch_seconds"] = round(time_ours.epoch_seconds, 3)
            rows[-1]["ours_over_plain"] = round(ours_amp / plain_amp, 3)
            rows[-1]["ours_over_plain_epoch"] = round(time_ours.epoch_seconds / plain_amp, 3)

    if args.legacy:
        run_legacy_comparison(args, X16, y, device, record)

    if args.ablation:
        cls = CNNGRUAttentionClassifier
        name = "cnn_gru_attention"
        base_plain = record(name, "ablation base: plain loop, all measures",
                            best_of(rep, time_plain, cls, X16, y, device, bs))
        base_ours = record(name, "ablation base: ours, all measures",
                           best_of(rep, time_ours, cls, X16, y, device, bs))
        # (label, base, timing function): module/data measures on the plain loop,
        # estimator measures on ours.
        ablations = [
            ("channels_last off (plain)", base_plain,
             lambda: time_plain(cls, X16, y, device, bs, channels_last=False)),
            ("relu before pool (plain)", base_plain,
             lambda: time_plain(cls, X16, y, device, bs, naive_order=True)),
            ("float32 storage (plain)", base_plain, lambda: time_plain(cls, X32, y, device, bs)),
            ("float32 storage (ours)", base_ours, lambda: time_ours(cls, X32, y, device, bs)),
            ("2 DataLoader workers (ours)", base_ours,
             lambda: time_ours(cls, X16, y, device, bs, iterator_train=DataLoader,
                               iterator_train__num_workers=2)),
        ]
        if not on_cuda and threads > 1:
            ablations.append(("1 thread (plain)", base_plain,
                              lambda: _one_thread(threads, time_plain, cls, X16, y, device, bs)))
        if args.compile:
            ablations.append(("torch.compile, compile time excluded (plain)", base_plain,
                              lambda: time_plain(cls, X16, y, device, bs,
                                                 compile_module=True)))
        for label, base, fn in ablations:
            seconds = min(fn() for _ in range(rep))
            record(name, "ablation: " + label, seconds, relative_to_base=round(seconds / base, 3))
        if "gru" in args.models and not on_cuda and threads > 1:
            # The GRU-only network has no convolution for the other measures to act on;
            # threads are the one setting left to try on it.
            base = next(r["seconds"] for r in rows if r["model"] == "gru"
                        and r["variant"] == "plain")
            seconds = min(_one_thread(threads, time_plain, GRUClassifier, X16, y, device, bs)
                          for _ in range(rep))
            record("gru", "ablation: 1 thread (plain)", seconds,
                   relative_to_base=round(seconds / base, 3))

    if args.options:
        run_options(args, X32, y, device, record)

    meta = {
        "command": args.command,
        "device": device,
        "device_name": (torch.cuda.get_device_name() if on_cuda else platform.processor()
                        or platform.machine()),
        "torch": torch.__version__,
        "threads": threads,
        "n_samples": n,
        "shape": [args.n_mels, args.n_frames],
        "batch_size": bs,
        "batch_sizes": args.batch_sizes,
        "repeats": rep,
    }
    if args.profile:
        meta["profile"] = run_profile(args, X16, y, device)
    if args.fma_fit:
        meta["fma_fit"] = run_fma_fit(args, device)
    return meta, rows


# ----------------------------------------------------------------------- profiling
class PhaseTimer:
    """Seconds per named phase: host wall time (perf_counter) and, on CUDA, device time
    between CUDA events recorded at the phase's start and end on the current stream."""

    def __init__(self, device):
        self.cuda = torch.device(device).type == "cuda"
        self.host = defaultdict(float)
        self.count = defaultdict(int)
        self.events = defaultdict(list)

    @contextmanager
    def __call__(self, name):
        if self.cuda:
            start_event = torch.cuda.Event(enable_timing=True)
            start_event.record()
        start = time.perf_counter()
        try:
            yield
        finally:
            self.host[name] += time.perf_counter() - start
            self.count[name] += 1
            if self.cuda:
                end_event = torch.cuda.Event(enable_timing=True)
                end_event.record()
                self.events[name].append((start_event, end_event))

    def device_seconds(self):
        if not self.cuda:
            return {}
        torch.cuda.synchronize()
        return {name: sum(a.elapsed_time(b) for a, b in pairs) / 1000
                for name, pairs in self.events.items()}


class _TimedIterable:
    def __init__(self, iterable, timer, name):
        self.iterable, self.timer, self.name = iterable, timer, name

    def __len__(self):
        return len(self.iterable)

    def __iter__(self):
        iterator = iter(self.iterable)
        while True:
            with self.timer(self.name):
                try:
                    batch = next(iterator)
                except StopIteration:
                    return
            yield batch


def profiled_class(cls, timer):
    """``cls`` with each phase of skorch's training loop timed by ``timer``.

    The phases: the set-up in ``fit`` (input checks and band statistics, network and
    optimizer set-up), batches from the iterator (slicing or per-sample collation; on
    the first epoch also the copy of the data to the device), the host->device copy in
    ``infer``, forward, loss, backward, the optimizer (``train_step`` less its parts),
    the callbacks (``notify``) and the rest of the epoch loop (loss read-back, history).
    """

    class Profiled(cls):
        mode = "train"

        def _setup(self, *args, **kwargs):
            with timer("set-up: input checks, band statistics"):
                return super()._setup(*args, **kwargs)

        def initialize(self):
            with timer("set-up: network, optimizer, callbacks"):
                return super().initialize()

        def get_iterator(self, dataset, training=False):
            iterator = super().get_iterator(dataset, training=training)
            return _TimedIterable(iterator, timer, "batches (slice or collate)")

        def infer(self, x, **fit_params):
            with timer(f"{self.mode}: host->device copy"):
                x = to_tensor(x, device=self.device)
            with timer(f"{self.mode}: forward"):
                return super().infer(x, **fit_params)

        def get_loss(self, *args, **kwargs):
            with timer(f"{self.mode}: loss"):
                return super().get_loss(*args, **kwargs)

        def train_step_single(self, batch, **fit_params):
            # skorch's train_step_single with the backward pass timed on its own.
            self._set_training(True)
            Xi, yi = unpack_data(batch)
            y_pred = self.infer(Xi, **fit_params)
            loss = self.get_loss(y_pred, yi, X=Xi, training=True)
            with timer("train: backward"):
                loss.backward()
            return {"loss": loss, "y_pred": y_pred}

        def train_step(self, batch, **fit_params):
            with timer("train_step (whole)"):
                return super().train_step(batch, **fit_params)

        def validation_step(self, batch, **fit_params):
            with timer("validation_step (whole)"):
                return super().validation_step(batch, **fit_params)

        def notify(self, method_name, **kwargs):
            with timer("callbacks: " + method_name):
                return super().notify(method_name, **kwargs)

        def run_single_epoch(self, iterator, training, prefix, step_fn, **fit_params):
            type(self).mode = prefix
            with timer(f"epoch loop (whole): {prefix}"):
                return super().run_single_epoch(iterator, training, prefix, step_fn,
                                                **fit_params)

    Profiled.__name__ = cls.__name__
    return Profiled


def _derived_phases(t):
    """Add the phases measured as differences; ``t`` maps phase -> seconds."""
    get = lambda k: t.get(k, 0.0)  # noqa: E731
    train_parts = sum(get("train: " + k) for k in ("host->device copy", "forward", "loss",
                                                    "backward"))
    t["train: optimizer (zero_grad, step)"] = (get("train_step (whole)") - train_parts
                                                - get("callbacks: on_grad_computed"))
    loops = get("epoch loop (whole): train") + get("epoch loop (whole): valid")
    inside = (get("batches (slice or collate)") + get("train_step (whole)")
              + get("validation_step (whole)") + get("callbacks: on_batch_begin")
              + get("callbacks: on_batch_end"))
    t["rest of the epoch loop (loss read-back, history)"] = loops - inside
    return t


PROFILE_ORDER = [
    "set-up: input checks, band statistics", "set-up: network, optimizer, callbacks",
    "batches (slice or collate)", "train: host->device copy", "train: forward", "train: loss",
    "train: backward", "callbacks: on_grad_computed", "train: optimizer (zero_grad, step)",
    "valid: host->device copy", "valid: forward", "valid: loss",
    "callbacks: on_batch_begin", "callbacks: on_batch_end",
    "rest of the epoch loop (loss read-back, history)", "callbacks: on_epoch_end",
    "epoch loop (whole): train", "epoch loop (whole): valid",
]


def profile_ours(cls, X, y, device, batch_size, epochs=1, **params):
    """Per-phase seconds of one ``fit`` (after an untimed warm-up fit)."""
    # The default 10 % validation split, or enough for one sample of each class.
    valid_size = max(0.1, (N_CLASSES + 0.5) / len(X))
    kwargs = dict(max_epochs=epochs, batch_size=batch_size, verbose=0, device=device,
                  random_state=0, valid_size=valid_size, **params)
    n_warm = min(len(X), max(4 * batch_size, 4 * N_CLASSES))
    cls(**{**kwargs, "valid_size": max(valid_size, (N_CLASSES + 0.5) / n_warm)}).fit(
        X[:n_warm], y[:n_warm])  # warm-up
    timer = PhaseTimer(device)
    _sync(device)
    start = time.perf_counter()
    profiled_class(cls, timer)(**kwargs).fit(X, y)
    _sync(device)
    wall = time.perf_counter() - start
    host = _derived_phases(dict(timer.host))
    dev = timer.device_seconds()
    if dev:
        dev = _derived_phases(dev)
    n_batches = timer.count.get("train_step (whole)", 0)
    return {"wall_seconds": wall, "train_batches": n_batches, "host": host, "device": dev,
            "calls": dict(timer.count)}


def profile_plain(cls, X, y, device, batch_size):
    """Per-phase seconds of the plain loop's epoch (one warm-up batch first)."""
    module = build_module(cls, X.shape[1]).to(device)
    X_t, y_t = torch.from_numpy(X), torch.from_numpy(y)
    opt, loss_fn = _optimizer(module), nn.CrossEntropyLoss()
    timer = PhaseTimer(device)
    module.train()
    losses = []

    def step(idx, t):
        with t("batches (slice or collate)"):
            xb, yb = X_t[idx], y_t[idx]
        with t("train: host->device copy"):
            xb, yb = xb.to(device), yb.to(device)
        with t("train: optimizer (zero_grad, step)"):
            opt.zero_grad()
        with t("train: forward"):
            out = module(xb)
        with t("train: loss"):
            loss = loss_fn(out, yb)
        with t("train: backward"):
            loss.backward()
        with t("train: optimizer (zero_grad, step)"):
            opt.step()
        losses.append(loss.detach())

    step(torch.arange(min(batch_size, len(X))), PhaseTimer(device))
    _sync(device)
    start = time.perf_counter()
    with timer("epoch loop (whole): train"):
        for idx in torch.randperm(len(X)).split(batch_size):
            step(idx, timer)
        with timer("rest of the epoch loop (loss read-back, history)"):
            torch.stack(losses).cpu()
    _sync(device)
    wall = time.perf_counter() - start
    return {"wall_seconds": wall, "host": dict(timer.host), "device": timer.device_seconds(),
            "train_batches": -(-len(X) // batch_size)}


def run_profile(args, X, y, device):
    """Per-phase tables of ours (default, and skorch's own path) and of the plain loop."""
    results = []
    for name in args.models:
        cls = MODELS[name]
        for bs in args.batch_sizes:
            for label, params in (("ours", {}), ("ours, skorch's own path", LEGACY)):
                prof = profile_ours(cls, X, y, device, bs, **params)
                results.append({"model": name, "loop": label, "batch_size": bs, **prof})
            prof = profile_plain(cls, X, y, device, bs)
            results.append({"model": name, "loop": "plain", "batch_size": bs, **prof})
    return results


def profile_markdown(meta, results):
    lines = ["# Where the training time goes", "",
             f"Command: `{meta['command']}`  ",
             f"Device: {meta['device']} ({meta['device_name']}), torch {meta['torch']}, "
             f"{meta['threads']} threads; {meta['n_samples']} samples of "
             f"{meta['shape'][0]}x{meta['shape'][1]}; ours: one `fit` of 1 epoch with the "
             "default 10 % validation split; plain: one epoch over all samples.", ""]
    for r in results:
        cuda = bool(r["device"])
        lines += [f"## {r['model']}, {r['loop']}, batch {r['batch_size']}: "
                  f"{r['wall_seconds']:.3f} s wall, {r['train_batches']} training batches", "",
                  "| phase | host s | ms / training batch | % of wall |"
                  + (" device s (CUDA events) |" if cuda else ""),
                  "| --- | ---: | ---: | ---: |" + (" ---: |" if cuda else "")]
        for phase in PROFILE_ORDER:
            if phase not in r["host"]:
                continue
            host = r["host"][phase]
            row = (f"| {phase} | {host:.4f} | {1000 * host / max(r['train_batches'], 1):.3f} "
                   f"| {100 * host / r['wall_seconds']:.1f} |")
            if cuda:
                row += f" {r['device'].get(phase, float('nan')):.4f} |"
            lines.append(row)
        lines.append("")
    lines += ["Phases nest: `epoch loop (whole)` holds the batches, steps and batch callbacks;",
              "`train_step (whole)` is split into copy, forward, loss, backward, the",
              "`on_grad_computed` callbacks and the optimizer (the remainder). On CUDA the",
              "host times of asynchronous phases are launch times; the device column is the",
              "time between events on the stream, which includes waiting for earlier work.",
              "Timing every phase adds its own cost (about 10 us per phase on the host, and",
              "on CUDA two events per phase), so the sum is a little above an untimed fit."]
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------ GPU suite
def option_variants(on_cuda, compile_):
    """(label, estimator params, input dtype) of each option's ablation."""
    variants = [
        ("ours (defaults)", {}, np.float16),
        ("loss read after every batch (loss_readback='batch')", {"loss_readback": "batch"},
         np.float16),
        ("DataLoader batches (iterator_train/valid=DataLoader)",
         {"iterator_train": DataLoader, "iterator_valid": DataLoader}, np.float16),
        ("skorch's own path (both of the above)", LEGACY, np.float16),
        ("float32 input", {}, np.float32),
    ]
    if on_cuda:
        variants += [
            ("data not kept on the GPU (pinned, non-blocking copies)",
             {"data_on_device": False}, np.float16),
            ("float32 input stored on the GPU as float16", {"storage_dtype": "float16"},
             np.float32),
            ("amp float16 (GradScaler)", {"amp": True}, np.float16),
            ("amp float16, fused AdamW (no per-batch GradScaler sync)",
             {"amp": True, "optimizer__fused": True}, np.float16),
            ("amp bfloat16", {"amp": True, "amp_dtype": "bfloat16"}, np.float16),
            ("fused AdamW (optimizer__fused=True)", {"optimizer__fused": True}, np.float16),
            ("channels_last off", {"module__channels_last": False}, np.float16),
        ]
    if compile_:
        variants.append(("torch.compile (compile=True)", {"compile": True}, np.float16))
    return variants


def run_options(args, X32, y, device, record):
    """Per batch size: the plain loop, ours, and ours with each option switched."""
    on_cuda = torch.device(device).type == "cuda"
    cls = CNNGRUAttentionClassifier
    name = "cnn_gru_attention"
    X16 = X32.astype(np.float16)
    for bs in args.batch_sizes:
        plain = best_of(args.repeats, time_plain, cls, X16, y, device, bs)
        record(name, f"options bs={bs}: plain loop", plain, batch_size=bs)
        if on_cuda:
            plain_amp = best_of(args.repeats, time_plain, cls, X16, y, device, bs, amp=True)
            record(name, f"options bs={bs}: plain loop, amp float16", plain_amp, batch_size=bs)
        base_epoch = None
        # torch.compile at the first batch size only: compiling takes a minute.
        compile_ = args.compile and bs == args.batch_sizes[0]
        for label, params, dtype in option_variants(on_cuda, compile_):
            X = X16 if dtype == np.float16 else X32
            seconds = best_of(args.repeats, time_ours, cls, X, y, device, bs, **params)
            epoch = time_ours.epoch_seconds
            base_epoch = epoch if base_epoch is None else base_epoch
            record(name, f"options bs={bs}: {label}", seconds, batch_size=bs,
                   epoch_seconds=round(epoch, 4),
                   ours_over_plain_epoch=round(epoch / plain, 3),
                   ours_over_plain=round(seconds / plain, 3),
                   relative_to_base=round(epoch / base_epoch, 3))


def make_fma_sized(n, n_mels, n_frames, seed=0, chunk=256):
    """Synthetic float16 log-mels of FMA small's size, made chunk by chunk."""
    rng = np.random.default_rng(seed)
    X = np.empty((n, n_mels, n_frames), dtype=np.float16)
    for start in range(0, n, chunk):
        block = rng.standard_normal((min(chunk, n - start), n_mels, n_frames),
                                    dtype=np.float32)
        X[start:start + chunk] = block * 12.0 - 40.0
    y = np.arange(n) % N_CLASSES
    X[y == 1, 10:20] += 6.0  # something to learn
    return X, y


def run_fma_fit(args, device):
    """One fit of the reference recipe on FMA-small-sized synthetic data, end to end."""
    n, n_mels, n_frames, epochs = args.fma_shape
    start = time.perf_counter()
    X, y = make_fma_sized(n, n_mels, n_frames)
    made = time.perf_counter() - start
    params = dict(max_epochs=epochs, verbose=0, device=device, random_state=0,
                  callbacks__early_stopping=None)  # run all the epochs
    clf = CNNGRUAttentionClassifier(**params)
    _sync(device)
    start = time.perf_counter()
    clf.fit(X, y)
    _sync(device)
    wall = time.perf_counter() - start
    durations = [float(d) for d in clf.history[:, "dur"]]
    n_train = int(clf.history[-1, "train_batch_count"]) and sum(
        b["train_batch_size"] for b in clf.history[-1, "batches"] if "train_batch_size" in b)
    return {
        "shape": [n, n_mels, n_frames], "epochs": epochs, "batch_size": clf.batch_size,
        "data_gib": round(X.nbytes / 2**30, 3), "make_data_seconds": round(made, 2),
        "fit_wall_seconds": round(wall, 2),
        "epoch_seconds": [round(d, 3) for d in durations],
        "setup_seconds": round(wall - sum(durations), 2),
        "train_samples_per_epoch": n_train,
        "train_samples_per_s": round(n_train * epochs / sum(durations), 1),
        "samples_per_s_whole_fit": round(n_train * epochs / wall, 1),
        "final_valid_acc": round(float(clf.history[-1, "valid_acc"]), 4),
    }


def to_markdown(meta, rows):
    lines = [
        "# Training throughput",
        "",
        f"Command: `{meta['command']}`  ",
        f"Device: {meta['device']} ({meta['device_name']}), torch {meta['torch']}, "
        f"{meta['threads']} threads; {meta['n_samples']} samples of "
        f"{meta['shape'][0]}x{meta['shape'][1]}, batch {meta['batch_size']}, "
        f"best of {meta['repeats']}.",
        "",
        "| model | variant | seconds | samples/s | epoch s (ours) | ours/plain (epoch) "
        "| naive/ours (epoch) | ours/plain (whole fit) | naive/ours (whole fit) | vs base |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in rows:
        if "ours_over_legacy_epoch" in r:
            continue
        lines.append(
            f"| {r['model']} | {r['variant']} | {r['seconds']:.2f} | {r['samples_per_s']:.1f} "
            f"| {r.get('epoch_seconds', '')} | {r.get('ours_over_plain_epoch', '')} "
            f"| {r.get('naive_over_ours_epoch', '')} | {r.get('ours_over_plain', '')} "
            f"| {r.get('naive_over_ours', '')} | {r.get('relative_to_base', '')} |"
        )
    lines += [
        "",
        "Targets (CPU): our epoch time <= 1.1x the plain loop's, and the naive loop >= 1.5x",
        "our epoch time. `seconds` of the naive and plain loops time one epoch after a",
        "warm-up batch; for `ours` it times the whole `fit` (input checks, band statistics,",
        "network set-up), and `epoch s` is skorch's own timer of the epoch alone",
        "(`history[-1, 'dur']`): the (epoch) columns compare like with like, the (whole fit)",
        "columns include the set-up. `vs base` > 1 means switching that measure off (or that",
        "option on) makes the epoch slower by that factor, against the ablation base row of",
        "the same loop.",
    ]
    legacy = [r for r in rows if "ours_over_legacy_epoch" in r]
    if legacy:
        lines += ["", "## Ours against skorch's own path, interleaved", "",
                  "skorch's own path: `iterator_train/valid=DataLoader`, `loss_readback='batch'`"
                  " (the estimators before `TensorBatchIterator` and the deferred loss read).",
                  "Ratios < 1: ours is faster. min / median / max over the paired repeats.", "",
                  "| model | ours fit s | own path fit s | ours/own (epoch) "
                  "| ours/own (whole fit) | ours/own (whole fit, CPU time) |",
                  "| --- | ---: | ---: | --- | --- | --- |"]
        for r in legacy:
            cells = [r["ours_over_legacy_epoch"], r["ours_over_legacy_fit"],
                     r["ours_over_legacy_cpu"]]
            lines.append(f"| {r['model']} | {r['seconds']:.3f} | {r['legacy_seconds']:.3f} | "
                         + " | ".join(f"{c['min']} / {c['median']} / {c['max']}"
                                      for c in cells) + " |")
    fma = meta.get("fma_fit")
    if fma:
        lines += ["", "## FMA-small-sized fit, end to end", "",
                  f"CNNGRUAttentionClassifier, reference recipe (batch {fma['batch_size']}, "
                  "10 % stratified validation, AdamW, LR schedule; early stopping off so "
                  f"every epoch runs), {fma['epochs']} epochs on {fma['shape'][0]} x "
                  f"{fma['shape'][1]} x {fma['shape'][2]} synthetic float16 log-mels "
                  f"({fma['data_gib']} GiB).", "",
                  f"- whole `fit`: {fma['fit_wall_seconds']} s, of which set-up "
                  f"{fma['setup_seconds']} s; epochs: {fma['epoch_seconds']} s",
                  f"- {fma['train_samples_per_s']} training samples/s over the epochs "
                  f"(validation included in the epoch time), "
                  f"{fma['samples_per_s_whole_fit']} over the whole fit"]
    return "\n".join(lines) + "\n"


def main(argv=None):
    import sys

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="tiny run (32 samples of 64x256, no ablation)")
    parser.add_argument("--n-samples", type=int, default=64)
    parser.add_argument("--n-mels", type=int, default=128)
    parser.add_argument("--n-frames", type=int, default=1292)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--models", nargs="+", choices=sorted(MODELS), default=list(MODELS))
    parser.add_argument("--device", default="cpu", help="cpu, cuda or auto")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: default)")
    parser.add_argument("--no-ablation", dest="ablation", action="store_false")
    parser.add_argument("--compile", action="store_true",
                        help="also time torch.compile (slow to compile)")
    parser.add_argument("--no-loops", dest="loops", action="store_false",
                        help="skip the naive/plain/ours rows per model")
    parser.add_argument("--legacy", action="store_true",
                        help="ours against skorch's own path (DataLoader, loss.item() per "
                        "batch), interleaved; every repeat's ratio kept")
    parser.add_argument("--profile", action="store_true",
                        help="per-phase time of ours and of the plain loop "
                        "(training_profile.md)")
    parser.add_argument("--options", action="store_true",
                        help="CNN-GRU-Attention at each --batch-sizes: plain loop, ours, "
                        "ours with each speed option switched")
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=None,
                        help="batch sizes for --options and --profile (default: --batch-size)")
    parser.add_argument("--fma-fit", action="store_true",
                        help="one fit of FMA small's size (see --fma-shape), end to end")
    parser.add_argument("--fma-shape", type=int, nargs=4, default=[6400, 128, 1292, 10],
                        metavar=("N", "N_MELS", "N_FRAMES", "EPOCHS"))
    parser.add_argument("--out", type=Path, default=Path("benchmarks/out"))
    args = parser.parse_args(argv)
    args.command = "python benchmarks/bench_training.py " + " ".join(
        sys.argv[1:] if argv is None else argv)
    if args.quick:
        args.n_samples, args.n_mels, args.n_frames, args.ablation = 32, 64, 256, False
        args.fma_shape = [96, 16, 64, 2]
    args.batch_sizes = args.batch_sizes or [args.batch_size]
    meta, rows = run(args)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "training.json").write_text(json.dumps({"meta": meta, "rows": rows}, indent=2))
    (args.out / "training.md").write_text(to_markdown(meta, rows))
    print(to_markdown(meta, rows))
    if args.profile:
        (args.out / "training_profile.md").write_text(profile_markdown(meta, meta["profile"]))
        print(profile_markdown(meta, meta["profile"]))


if __name__ == "__main__":
    main()
