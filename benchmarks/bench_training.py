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

Usage::

    python benchmarks/bench_training.py --quick
    python benchmarks/bench_training.py --n-samples 64 --repeats 1
    python benchmarks/bench_training.py --device cuda --n-samples 512

Writes ``training.json`` and ``training.md`` to ``--out`` (default
``benchmarks/out/``).
"""

from __future__ import annotations

import argparse
import json
import platform
import time
import types
from pathlib import Path

import numpy as np
import torch
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
    start = time.perf_counter()
    clf = clf_cls(**kwargs).fit(X, y)
    _sync(device)
    seconds = time.perf_counter() - start
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

    for name in args.models:
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
             lambda: time_ours(cls, X16, y, device, bs, iterator_train__num_workers=2)),
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
        "repeats": rep,
    }
    return meta, rows


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
    parser.add_argument("--out", type=Path, default=Path("benchmarks/out"))
    args = parser.parse_args(argv)
    args.command = "python benchmarks/bench_training.py " + " ".join(
        sys.argv[1:] if argv is None else argv)
    if args.quick:
        args.n_samples, args.n_mels, args.n_frames, args.ablation = 32, 64, 256, False
    meta, rows = run(args)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "training.json").write_text(json.dumps({"meta": meta, "rows": rows}, indent=2))
    (args.out / "training.md").write_text(to_markdown(meta, rows))
    print(to_markdown(meta, rows))


if __name__ == "__main__":
    main()
