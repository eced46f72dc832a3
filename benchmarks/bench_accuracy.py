"""Accuracy: the four networks and a linear baseline under two split protocols.

The reference work's comparison table, on our stand-in data: ``cnn``, ``gru``,
``cnn_gru`` and ``cnn_gru_attn`` (plus ``linear``: the time-averaged log-mel, a
``StandardScaler`` and a ``LogisticRegression``) under

1. ``official``: FMA's artist-filtered split (as written by ``make_fma_like``, or
   FMA's own with ``--fma-dir``): train on "training", early stopping and the
   learning-rate schedule on "validation" (a predefined validation set), one
   evaluation on "test";
2. ``random``: the reference work's random stratified 70/10/20 split
   (``random_state=42``, no artist filter), the 10 % validation part used the
   same way.

Features are extracted once per run (``MelSpectrogramTransformer``, cached under
``--data-dir/feature_cache``, stored as float16) with the reference recipe by
default (22,050 Hz, 128 mels, n_fft 2048, hop 512, 30 s); every fit slices the
same array. Training uses the reference recipe (AdamW lr 1e-3, weight decay
0.03, batch 16, up to 60 epochs, early stopping on validation accuracy with
patience 10, ReduceLROnPlateau, noise and time-shift augmentation). The linear
baseline picks its ``C`` on the same validation set (``GridSearchCV`` with
:class:`~sklearn_genre.datasets.OfficialSplit`) and is refit on the training
part only, like the networks.

For each model and protocol: test accuracy, balanced accuracy, macro F1, epochs
run (and the best, restored, epoch), fit seconds (wall time of ``fit``, after an
untimed one-batch warm-up fit of each network) and the leakage check between
training and test (files, audio content, artists; ``clean`` is expected for
``official``, the shared artists are counted for ``random``). The JSON and the
markdown table are rewritten after every fit, so a run cut short keeps what it
measured; one progress line per fit is printed.

The synthetic set is :func:`sklearn_genre.datasets.load_default_dataset`'s
(``make_fma_like``, generated into ``--data-dir`` once and reused): 8 genres,
artists as sub-clusters, an 80/10/10 artist-filtered split. Its accuracies
compare models and protocols on a controlled task; they say nothing about FMA.

Usage::

    python benchmarks/bench_accuracy.py --quick            # seconds; what the test runs
    python benchmarks/bench_accuracy.py --n-jobs -1        # default size (GPU: minutes)
    python benchmarks/bench_accuracy.py --n-per-genre 20 --duration 10 --n-mels 64 \\
        --epochs 15 --device cpu                           # a CPU-sized run
    python benchmarks/bench_accuracy.py --fma-dir DATA/fma --device cuda --amp

Time: one fit is at most ``epochs`` x (training + validation pass). On an H100
our estimators train at about 450 samples/s on 128 x 1292 inputs
(``benchmarks/results/training_h100_cuda.md``), so the default size (320 training
clips) costs at most ~45 s per network fit at 60 epochs and 8 fits at most
~6 min; early stopping usually ends them well before. On a 2-core CPU use the
smaller settings above.

Writes ``bench_accuracy.json`` and ``bench_accuracy.md`` to ``--out`` (default
``benchmarks/out/``).
"""

from __future__ import annotations

import argparse
import os
import platform
import shlex
import sys
import time
from pathlib import Path

import numpy as np
import torch
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from skorch.dataset import Dataset
from skorch.helper import predefined_split

from sklearn_genre.classifiers import resolve_device
from sklearn_genre.datasets import (
    OfficialSplit,
    load_default_dataset,
    load_fma,
    official_split,
    random_split,
)
from sklearn_genre.evaluation import bootstrap_ci, evaluate, paired_bootstrap_ci
from sklearn_genre.features import MelSpectrogramTransformer
from sklearn_genre.leakage import FMA_OFFICIAL, check_leakage, random_split_protocol
from sklearn_genre.provenance import (
    package_versions,
    platform_info,
    write_json_atomic,
)
from sklearn_genre.selection import make_model

MODEL_NAMES = ("linear", "cnn", "gru", "cnn_gru", "cnn_gru_attn")
PROTOCOLS = ("official", "random")
#: Inverse regularisation strengths the linear baseline chooses from on validation.
LINEAR_CS = (1e-3, 1e-2, 1e-1, 1.0, 10.0, 100.0)

QUICK = {"n_per_genre": 10, "duration": 3.0, "n_mels": 32, "epochs": 2, "patience": 2,
         "fast_audio": True}
#: Bootstrap resamples of every interval (over test artists: a cluster bootstrap).
N_RESAMPLES = 2000
#: Target half-width of the official split's accuracy interval.
TARGET_HALF_WIDTH = 0.05


# ----------------------------------------------------------------------------- machine


def cpu_name():
    """The CPU model (``/proc/cpuinfo`` on Linux), else :func:`platform.processor`."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_info(device):
    """Platform, CPU, torch threads and device, package versions."""
    on_cuda = torch.device(device).type == "cuda"
    info = platform_info()
    info.pop("host", None)
    return {
        **info,
        "cpu": cpu_name(),
        "python": platform.python_version(),
        "torch_threads": torch.get_num_threads(),
        "device": device,
        "device_name": torch.cuda.get_device_name(device) if on_cuda else cpu_name(),
        "versions": package_versions(),
    }


# ----------------------------------------------------------------------------- data


def load_data(args):
    """Paths, genres, artist ids, official split labels and a description of the data."""
    start = time.perf_counter()
    if args.fma_dir:
        bunch = load_fma(args.fma_dir, subset="small")
        info = {"source": "fma", "root": os.path.abspath(args.fma_dir), "generated": False,
                "clip_seconds": 30.0}
    else:
        sr, stereo = (22050, False) if args.fast_audio else (44100, True)
        bunch = load_default_dataset(
            args.data_dir, n_per_genre=args.n_per_genre, duration=args.duration,
            difficulty=args.difficulty, random_state=0, sr=sr, stereo=stereo,
            n_artists_per_genre=args.n_artists_per_genre, n_jobs=args.n_jobs,
            verbose=args.progress)
        info = {"source": "synthetic (make_fma_like)",
                "root": os.path.abspath(Path(bunch.paths[0]).parents[2]),
                "generated": bool(bunch.generated), "n_per_genre": args.n_per_genre,
                "clip_seconds": float(args.duration), "difficulty": args.difficulty,
                "n_artists_per_genre": args.n_artists_per_genre or max(3, args.n_per_genre // 4),
                "audio": f"mp3 {sr} Hz {'stereo' if stereo else 'mono'} 256 kbit/s",
                "random_state": 0}
    info["seconds"] = round(time.perf_counter() - start, 2)
    y = np.asarray(bunch.target).astype(str)
    info.update(n_clips=len(y), genres=sorted(np.unique(y).tolist()))
    return (np.asarray(bunch.paths, dtype=object), y, np.asarray(bunch.artist_ids),
            np.asarray(bunch.split), info)


def extract(paths, args, clip_seconds):
    """Log-mels of all clips, once (float16, cached under ``--data-dir``)."""
    mel = MelSpectrogramTransformer(
        n_mels=args.n_mels, duration=clip_seconds, dtype="float16", n_jobs=args.n_jobs,
        memory=os.path.join(args.data_dir, "feature_cache"), verbose=int(args.progress))
    start = time.perf_counter()
    X = mel.fit_transform(list(paths))
    seconds = time.perf_counter() - start
    params = {k: mel.get_params()[k] for k in ("sr", "n_mels", "n_fft", "hop_length",
                                               "duration", "dtype", "n_jobs")}
    return X, {**params, "shape": list(X.shape[1:]), "seconds": round(seconds, 2),
               "cache": mel.memory}


def split_indices(protocol, y, split_labels):
    """The protocol's ``TrainValidTest`` indices and its name for the leakage report."""
    if protocol == "official":
        return official_split(split_labels), FMA_OFFICIAL
    return (random_split(y, test_size=0.2, valid_size=0.1, random_state=42),
            random_split_protocol(0.7, 0.1, 0.2))


def leakage(protocol, name, tvt, paths, artist_ids):
    """Leakage check between training and test (files, content, artists)."""
    # Official: a leak is unexpected, so it warns (and is recorded); random: expected.
    report = check_leakage(tvt.train, tvt.test, paths=paths, artist_ids=artist_ids,
                           protocol=name,
                           on_leak="warn" if protocol == "official" else "ignore")
    return report.to_dict()


# ----------------------------------------------------------------------------- fits


def fit_linear(X, y, tvt, seed):
    """Time-mean log-mel -> StandardScaler -> LogisticRegression; C chosen on validation."""
    start = time.perf_counter()
    features = X.mean(axis=2, dtype=np.float32)  # (n_clips, n_mels)
    roles = np.full(len(y), "test", dtype=object)
    roles[tvt.train], roles[tvt.valid] = "training", "validation"
    pipe = make_pipeline(StandardScaler(),
                         LogisticRegression(max_iter=5000, random_state=seed))
    search = GridSearchCV(pipe, {"logisticregression__C": list(LINEAR_CS)},
                          cv=OfficialSplit(roles), refit=False).fit(features, y)
    model = clone(pipe).set_params(**search.best_params_).fit(features[tvt.train],
                                                               y[tvt.train])
    seconds = time.perf_counter() - start
    extra = {"C": search.best_params_["logisticregression__C"],
             "best_valid_acc": float(search.best_score_)}
    return model, features[tvt.test], seconds, extra


def warm_up(networks, X, y, args, device):
    """Fit each network once on one batch (untimed); return the seconds it took.

    One-time costs (CUDA context, cuDNN autotuning, thread pools, allocator growth) then do
    not land in the first timed fit.
    """
    rows = np.concatenate([np.flatnonzero(y == c)[:2] for c in np.unique(y)])
    start = time.perf_counter()
    for name in networks:
        make_model(name, max_epochs=1, batch_size=args.batch_size, train_split=None,
                   callbacks__early_stopping=None, callbacks__lr_scheduler=None,
                   device=device, amp=args.amp, random_state=args.seeds[0],
                   verbose=0).fit(X[rows], y[rows])
    return time.perf_counter() - start


def fit_network(name, X, y, tvt, args, device, seed):
    """Reference recipe; the validation part is a predefined validation set."""
    clf = make_model(
        name, max_epochs=args.epochs, batch_size=args.batch_size, lr=1e-3,
        optimizer__weight_decay=0.03, callbacks__early_stopping__patience=args.patience,
        train_split=predefined_split(Dataset(X[tvt.valid], y[tvt.valid])),
        device=device, amp=args.amp, random_state=seed, verbose=int(args.verbose))
    X_train, y_train = X[tvt.train], y[tvt.train]
    start = time.perf_counter()
    clf.fit(X_train, y_train)
    seconds = time.perf_counter() - start
    history = clf.history
    valid_acc = np.asarray(history[:, "valid_acc"], dtype=float)
    epochs = len(history)
    extra = {
        "epochs": epochs,
        "best_epoch": int(np.argmax(valid_acc)) + 1,
        "best_valid_acc": float(valid_acc.max()),
        "stopped_early": epochs < args.epochs,
        "train_samples_per_s": round(len(X_train) * epochs / seconds, 1),
        "estimator": type(clf).__name__,
    }
    clf.set_params(train_split="stratified")  # drop the reference to the validation set
    return clf, X[tvt.test], seconds, extra


# ----------------------------------------------------------------------------- report


def _leak_cell(leak):
    if leak["status"] == "clean":
        return "clean"
    parts = []
    if leak["n_shared_artists"]:
        parts.append(f"{leak['n_shared_artists']} artists shared "
                     f"({leak['n_test_items_shared_artist']}/{leak['n_test']} test clips)")
    if leak["n_shared_paths"]:
        parts.append(f"{leak['n_shared_paths']} files shared")
    if leak["n_shared_content"]:
        parts.append(f"{leak['n_shared_content']} duplicate contents")
    return "; ".join(parts)


def to_markdown(result):
    meta, rows = result["meta"], result["rows"]
    data, feat, m = meta["data"], meta["features"], meta["machine"]
    lines = [
        "# Accuracy: four networks and a linear baseline, two split protocols",
        "",
        f"Command: `{meta['command']}`  ",
        f"Machine: {m['system']} {m['machine']}, {m['cpu']} ({m['cpu_count']} CPUs), "
        f"torch {m['versions'].get('torch')} on {m['device']} ({m['device_name']})"
        f"{', amp' if meta['training']['amp'] else ''}.  ",
        f"Data: {data['source']}, {data['n_clips']} clips, {len(data['genres'])} genres"
        + (f", {data['n_per_genre']} per genre, {data['clip_seconds']:g} s, difficulty "
           f"{data['difficulty']:g}" if "n_per_genre" in data else "")
        + f" ({'generated' if data['generated'] else 'loaded'} in {data['seconds']:.1f} s).  ",
        f"Features: {feat['sr']} Hz, {feat['n_mels']} mels, n_fft {feat['n_fft']}, hop "
        f"{feat['hop_length']}, {feat['duration']:g} s -> {feat['shape'][0]}x{feat['shape'][1]}"
        f" {feat['dtype']}, extracted once in {feat['seconds']:.1f} s.  ",
        f"Training: up to {meta['training']['max_epochs']} epochs, early stopping patience "
        f"{meta['training']['patience']} on the validation set, batch "
        f"{meta['training']['batch_size']}, AdamW 1e-3 / 0.03, seeds "
        f"{', '.join(map(str, meta['training']['seeds']))}.",
        "",
        "| split | model | seed | test acc | 95 % CI | balanced acc | macro F1 | epochs (best) "
        "| fit s | train / valid / test | leakage train-test | device |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- |",
    ]
    for r in rows:
        epochs = (f"{r['epochs']} ({r['best_epoch']})" if r.get("epochs") is not None
                  else f"C={r['C']:g}")
        lo, hi = r["accuracy_ci95"]
        lines.append(
            f"| {r['protocol']} | {r['model']} | {r['seed']} | {r['accuracy']:.3f} "
            f"| {lo:.2f}-{hi:.2f} "
            f"| {r['balanced_accuracy']:.3f} | {r['macro_f1']:.3f} | {epochs} "
            f"| {r['fit_seconds']:.1f} | {r['n_train']} / {r['n_valid']} / {r['n_test']} "
            f"| {_leak_cell(r['leakage'])} | {r['device']} |")
    lines += ["", *summary_lines(result.get("summary") or summarize(rows)), "",
              "`official`: " + meta["protocols"].get("official", "not run") + "; `random`: "
              + meta["protocols"].get("random", "not run") + ". The linear baseline's `C` is "
              "chosen on the validation set and it is refit on the training part only. "
              "`epochs (best)`: epochs run and the epoch whose weights were restored. "
              "95 % CI: percentile bootstrap over the test *artists* (2000 resamples, each "
              "drawn artist with all its clips), the test-set uncertainty of one fit; the "
              "seeds show the training-run variation on top of it."]
    if data["source"].startswith("synthetic"):
        lines += ["", "Synthetic stand-in data: these accuracies compare models and split "
                  "protocols on a controlled task; they say nothing about real music."]
    if meta.get("finished") is False:
        lines += ["", f"**Partial results**: {len(rows)} of {meta['n_fits']} fits done."]
    return "\n".join(lines) + "\n"


def summary_lines(summary):
    """Seed-pooled accuracy per model with intervals, the orderings the data supports, and
    how many test artists a +/- 5 point interval would need."""
    out = []
    for protocol, part in summary.items():
        models, n_seeds = part["models"], len(part["seeds"])
        any_model = next(iter(models.values()))
        out += [f"**{protocol}**: accuracy over {n_seeds} seed(s), 95 % interval by a "
                f"bootstrap over the {any_model['n_test_artists']} test artists; paired "
                f"difference to the best ({part['best']}) on the same resamples.", "",
                "| model | split | accuracy | 95 % CI | seeds min-max | difference to the "
                "best (95 % CI) |",
                "| --- | --- | ---: | ---: | ---: | ---: |"]
        for m, r in sorted(models.items(), key=lambda kv: -kv[1]["accuracy"]):
            lo, hi = r["ci95"]
            dlo, dhi = r["diff_vs_best_ci95"]
            diff = ("best" if m == part["best"] else
                    f"{r['diff_vs_best']:+.3f} ({dlo:+.2f} to {dhi:+.2f})"
                    + (" tied" if r.get("tied_with_best") else ""))
            out.append(f"| {m} | {protocol} | {r['accuracy']:.3f} | {lo:.2f}-{hi:.2f} "
                       f"| {r['seed_min']:.3f}-{r['seed_max']:.3f} | {diff} |")
        supported = [p for p in part["pairs"] if p["supported"]]
        out.append("")
        if supported:
            claims = []
            for p in supported:
                a, b = (p["a"], p["b"]) if p["difference"] > 0 else (p["b"], p["a"])
                lo, hi = sorted(abs(v) for v in p["ci95"])
                claims.append(f"{a} > {b} ({abs(p['difference']):+.3f}, {lo:.2f} to "
                              f"{hi:.2f})")
            rest = len(part["pairs"]) - len(supported)
            out.append(f"- {protocol}: orderings the paired intervals support: "
                       + "; ".join(claims) + "."
                       + (f" The other {rest} pair(s) are not separated by this test set."
                          if rest else ""))
        else:
            out.append(f"- {protocol}: no ordering of the models is supported: every paired "
                       "difference's interval contains 0.")
        widths = [w for r in models.values() for w in r["fit_half_widths"]]
        half = float(np.median(widths))
        n_art = any_model["n_test_artists"]
        need = artists_needed(half, n_art)
        out.append(f"- {protocol}: the interval of one fit is +/- {100 * half:.1f} points "
                   f"(median half-width over the {len(widths)} fits) with {n_art} test "
                   f"artists; +/- {100 * TARGET_HALF_WIDTH:.0f} points would need about "
                   f"{need} test artists ({int(np.ceil(need / 8))} per genre), scaling the "
                   "measured width as 1/sqrt(artists); with the 80/10/10 artist-filtered "
                   "split that is about ten times as many artists per genre in all.")
        out.append("")
    return out


def write_outputs(result, out):
    write_json_atomic(out / "bench_accuracy.json", result)
    tmp = out / ".bench_accuracy.md.tmp"
    tmp.write_text(to_markdown(result), encoding="utf-8")
    os.replace(tmp, out / "bench_accuracy.md")


# ----------------------------------------------------------------------------- main


def run(args):
    """Extract once, then fit and evaluate every model under every protocol."""
    device = resolve_device(args.device)
    if torch.device(device).type == "cuda" and not torch.cuda.is_available():
        raise SystemExit("--device cuda: no CUDA device is available")
    args.out.mkdir(parents=True, exist_ok=True)
    wall = time.perf_counter()
    paths, y, artist_ids, split_labels, data = load_data(args)
    print(f"data: {data['source']}, {data['n_clips']} clips, {len(data['genres'])} genres, "
          f"{'generated' if data['generated'] else 'loaded'} in {data['seconds']:.1f} s",
          flush=True)
    clip_seconds = args.clip_duration or data["clip_seconds"]
    X, features = extract(paths, args, clip_seconds)
    print(f"features: {X.shape} {X.dtype} in {features['seconds']:.1f} s", flush=True)

    networks = [m for m in args.models if m != "linear"]
    result = {
        "meta": {
            "command": args.command,
            "machine": machine_info(device),
            "data": data,
            "features": features,
            "training": {"max_epochs": args.epochs, "patience": args.patience,
                         "batch_size": args.batch_size, "lr": 1e-3, "weight_decay": 0.03,
                         "amp": args.amp, "seeds": list(args.seeds), "networks": networks},
            "protocols": {},
            "leakage": {},
            "n_fits": len(args.protocols) * len(args.models) * len(args.seeds),
            "intervals": {"method": "percentile bootstrap over test artists (all clips of "
                                    "each drawn artist)", "confidence": 0.95,
                          "n_resamples": N_RESAMPLES, "random_state": 0},
            "finished": False,
        },
        "rows": [],
    }
    if networks:
        seconds = warm_up(networks, X, y, args, device)
        result["meta"]["warm_up_seconds"] = round(seconds, 2)
        print(f"warm-up: one untimed batch per network in {seconds:.1f} s", flush=True)
    done = 0
    for protocol in args.protocols:
        tvt, name = split_indices(protocol, y, split_labels)
        result["meta"]["protocols"][protocol] = name
        leak = leakage(protocol, name, tvt, paths, artist_ids)
        result["meta"]["leakage"][protocol] = leak
        print(f"{protocol}: {name}; train/valid/test {len(tvt.train)}/{len(tvt.valid)}/"
              f"{len(tvt.test)}; leakage train-test: {_leak_cell(leak)}", flush=True)
        for seed in args.seeds:
            for model in args.models:
                row = fit_and_score(model, protocol, seed, X, y, tvt, artist_ids, leak, args,
                                    device)
                result["rows"].append(row)
                done += 1
                epochs = (f"epochs {row['epochs']:>2} (best {row['best_epoch']:>2})"
                          if "epochs" in row else f"C={row['C']:<12g}")
                lo, hi = row["accuracy_ci95"]
                print(f"[{done}/{result['meta']['n_fits']}] {protocol:<8} {model:<12} "
                      f"seed {seed}  acc {row['accuracy']:.3f} ({lo:.2f}-{hi:.2f})  "
                      f"bal {row['balanced_accuracy']:.3f}  F1 {row['macro_f1']:.3f}  "
                      f"{epochs}  fit {row['fit_seconds']:7.1f} s  {row['device']}",
                      flush=True)
                result["meta"]["wall_seconds"] = round(time.perf_counter() - wall, 1)
                result["summary"] = summarize(result["rows"])
                write_outputs(result, args.out)
    result["meta"]["finished"] = True
    result["meta"]["wall_seconds"] = round(time.perf_counter() - wall, 1)
    result["summary"] = summarize(result["rows"])
    write_outputs(result, args.out)
    return result


def fit_and_score(model, protocol, seed, X, y, tvt, artist_ids, leak, args, device):
    """One fit and its test scores, with 95 % intervals over the test artists."""
    if model == "linear":
        est, X_test, seconds, extra = fit_linear(X, y, tvt, seed)
        row_device = "cpu"
    else:
        est, X_test, seconds, extra = fit_network(model, X, y, tvt, args, device, seed)
        row_device = device
    artists = artist_ids[tvt.test]
    scores = evaluate(est, X_test, y[tvt.test], groups=artists, n_resamples=N_RESAMPLES)
    return {"protocol": protocol, "model": model, "seed": seed, "accuracy": scores.accuracy,
            **{f"{m}_ci95": ci.to_list() for m, ci in scores.intervals.items()},
            "balanced_accuracy": scores.balanced_accuracy,
            "macro_f1": scores.macro_f1, "fit_seconds": round(seconds, 2),
            "n_train": len(tvt.train), "n_valid": len(tvt.valid),
            "n_test": len(tvt.test), "n_test_artists": int(len(np.unique(artists))),
            "device": row_device, **extra,
            "leakage": {k: leak[k] for k in ("status", "n_shared_paths",
                                             "n_shared_content", "n_shared_artists",
                                             "n_test_items_shared_artist", "n_test")},
            "confusion_matrix": scores.confusion_matrix,
            "labels": scores.labels,
            "y_true": scores.y_true, "y_pred": scores.y_pred, "test_artists": artists}


# ----------------------------------------------------------------------------- intervals


def _pooled(rows):
    """True genres, predictions and artists of rows (seeds) on the same test set, stacked."""
    return (np.concatenate([np.asarray(r["y_true"]) for r in rows]),
            np.concatenate([np.asarray(r["y_pred"]) for r in rows]),
            np.concatenate([np.asarray(r["test_artists"]) for r in rows]))


def summarize(rows):
    """Per protocol and model: accuracy over seeds, its interval, and paired differences.

    The seeds of a model are pooled (their predictions on the same test clips stacked), so
    the interval is that of the seed-averaged accuracy, from a bootstrap over test artists
    (each drawn artist brings all its clips, under every seed). Each model is compared with
    the protocol's best model on the same resamples (a paired bootstrap); an ordering of two
    models is "supported" when their paired difference's interval excludes 0.
    """
    out = {}
    for protocol in dict.fromkeys(r["protocol"] for r in rows):
        by_model = {}
        for r in rows:
            if r["protocol"] == protocol and "y_pred" in r:
                by_model.setdefault(r["model"], []).append(r)
        seeds = {m: [r["seed"] for r in rs] for m, rs in by_model.items()}
        common = set.intersection(*(set(v) for v in seeds.values())) if seeds else set()
        pooled = {m: _pooled([r for r in rs if r["seed"] in common])
                  for m, rs in by_model.items()}
        pooled = {m: p for m, p in pooled.items() if len(p[0])}
        if not pooled:
            continue
        models = {}
        for m, (yt, yp, art) in pooled.items():
            ci = bootstrap_ci(yt, yp, groups=art, n_resamples=N_RESAMPLES)
            accs = [r["accuracy"] for r in by_model[m] if r["seed"] in common]
            fits = [r for r in by_model[m] if r["seed"] in common]
            models[m] = {"accuracy": ci.estimate, "ci95": ci.to_list(),
                         "half_width": ci.half_width, "n_seeds": len(accs),
                         "fit_half_widths": [(r["accuracy_ci95"][1] - r["accuracy_ci95"][0]) / 2
                                             for r in fits],
                         "seed_min": min(accs), "seed_max": max(accs),
                         "n_test_artists": ci.n_units}
        best = max(models, key=lambda m: models[m]["accuracy"])
        pairs = []
        names = list(models)
        for i, a in enumerate(names):
            for b in names[i + 1:]:
                yt, ya, art = pooled[a]
                diff = paired_bootstrap_ci(yt, ya, pooled[b][1], groups=art,
                                           n_resamples=N_RESAMPLES)
                pairs.append({"a": a, "b": b, "difference": diff.estimate,
                              "ci95": diff.to_list(),
                              "supported": not diff.low <= 0 <= diff.high})
        for m in models:
            if m == best:
                models[m]["diff_vs_best"], models[m]["diff_vs_best_ci95"] = 0.0, [0.0, 0.0]
                continue
            pair = next(p for p in pairs if {p["a"], p["b"]} == {m, best})
            sign = 1 if pair["a"] == m else -1
            models[m]["diff_vs_best"] = sign * pair["difference"]
            models[m]["diff_vs_best_ci95"] = sorted(sign * v for v in pair["ci95"])
            models[m]["tied_with_best"] = not pair["supported"]
        out[protocol] = {"best": best, "seeds": sorted(common), "models": models,
                         "pairs": pairs}
    return out


def artists_needed(half_width, n_test_artists, target=TARGET_HALF_WIDTH):
    """Test artists for a ``target`` half-width, scaling the measured one as 1/sqrt(n)."""
    return int(np.ceil(n_test_artists * (half_width / target) ** 2))


def render(path):
    """Summary and markdown of an existing result file again (no training), after a change
    of the summary or the table; rewrites ``bench_accuracy.md`` beside the file."""
    import json

    path = Path(path)
    result = json.loads(path.read_text(encoding="utf-8"))
    result["summary"] = summarize(result["rows"])
    write_json_atomic(path, result)
    md = path.with_suffix(".md")
    md.write_text(to_markdown(result), encoding="utf-8")
    return to_markdown(result)


def rescore(path):
    """Intervals for an older result file that stored only confusion matrices.

    Without per-clip predictions and artists, the clips (true, predicted) are rebuilt from
    each confusion matrix and bootstrapped as independent clips: this ignores that clips of
    one artist move together, so the intervals are *lower bounds* of the artist-level ones.
    No paired comparison is possible (the clips of two models cannot be matched).
    """
    import json

    result = json.loads(Path(path).read_text(encoding="utf-8"))
    lines = [f"Intervals for `{path}` (`python benchmarks/bench_accuracy.py --rescore {path}`): "
             "percentile bootstrap over test clips rebuilt from the stored confusion matrices "
             f"({N_RESAMPLES} resamples; no per-clip artists were stored, so this ignores "
             "artist clustering and understates the width).", "",
             "| split | model | test acc | 95 % CI (clips) | n test |",
             "| --- | --- | ---: | ---: | ---: |"]
    for r in result["rows"]:
        cm = np.asarray(r["confusion_matrix"])
        t, p = np.nonzero(cm)
        counts = cm[t, p]
        y_true, y_pred = np.repeat(t, counts), np.repeat(p, counts)
        ci = bootstrap_ci(y_true, y_pred, n_resamples=N_RESAMPLES)
        lines.append(f"| {r['protocol']} | {r['model']} | {ci.estimate:.3f} "
                     f"| {ci.low:.3f}-{ci.high:.3f} | {len(y_true)} |")
    return "\n".join(lines) + "\n"


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="tiny run for tests: 8 genres x 10 clips x 3 s (22,050 Hz mono), "
                        "32 mels, 2 epochs")
    data = parser.add_argument_group("data")
    data.add_argument("--data-dir", default="benchmarks/out/data",
                      help="where the synthetic set is generated (once, reused) and the "
                      "feature cache lives (default: benchmarks/out/data)")
    data.add_argument("--fma-dir", default=None,
                      help="use real FMA small instead (folder with fma_metadata/ and "
                      "fma_small/)")
    data.add_argument("--n-per-genre", type=int, default=50)
    data.add_argument("--duration", type=float, default=30.0,
                      help="synthetic clip length in seconds")
    data.add_argument("--difficulty", type=float, default=0.5)
    data.add_argument("--n-artists-per-genre", type=int, default=None,
                      help="artists per genre (default: n_per_genre // 4, at least 3); the "
                      "official test set gets about a tenth of them, and more test artists "
                      "narrow the intervals")
    data.add_argument("--fast-audio", action="store_true",
                      help="generate 22,050 Hz mono mp3s instead of FMA's 44.1 kHz stereo "
                      "(about 3x faster to generate)")
    data.add_argument("--n-jobs", type=int, default=-1,
                      help="parallel generation and extraction (default -1: all cores)")
    feat = parser.add_argument_group("features")
    feat.add_argument("--n-mels", type=int, default=128)
    feat.add_argument("--clip-duration", type=float, default=None,
                      help="seconds of each clip used (default: the clips' length, 30 s for "
                      "FMA)")
    train = parser.add_argument_group("training")
    train.add_argument("--models", nargs="+", choices=MODEL_NAMES, default=list(MODEL_NAMES))
    train.add_argument("--protocols", nargs="+", choices=PROTOCOLS, default=list(PROTOCOLS))
    train.add_argument("--epochs", type=int, default=60)
    train.add_argument("--patience", type=int, default=10)
    train.add_argument("--batch-size", type=int, default=16)
    train.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    train.add_argument("--amp", action="store_true", help="mixed precision (CUDA only)")
    train.add_argument("--seeds", type=int, nargs="+", default=[0],
                       help="training seeds; every model is fitted once per seed and the "
                       "summary pools them (default: 0)")
    train.add_argument("--verbose", action="store_true", help="skorch's per-epoch table")
    parser.add_argument("--no-progress", dest="progress", action="store_false",
                        help="no progress bars for generation and extraction")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/out"))
    parser.add_argument("--render", type=Path, default=None, metavar="JSON",
                        help="recompute the summary of a result file of this script and "
                        "rewrite it and its .md beside it, and exit (no training)")
    parser.add_argument("--rescore", type=Path, default=None, metavar="JSON",
                        help="print clip-bootstrap intervals for an older result file that "
                        "stored only confusion matrices, and exit (no training)")
    argv = sys.argv[1:] if argv is None else list(argv)
    if "--quick" in argv:
        parser.set_defaults(**QUICK)
    args = parser.parse_args(argv)
    args.command = "python benchmarks/bench_accuracy.py " + shlex.join(argv)
    return args


def main(argv=None):
    args = parse_args(argv)
    if args.rescore:
        print(rescore(args.rescore), end="", flush=True)
        return 0
    if args.render:
        print(render(args.render), end="", flush=True)
        return 0
    result = run(args)
    print(to_markdown(result), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
