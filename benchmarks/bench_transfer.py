"""Transfer learning: pretrained MusiCNN embeddings + logistic regression vs training from scratch.

Three sections (``--sections``):

``synthetic``
    The synthetic FMA-shaped set (:func:`sklearn_genre.datasets.load_default_dataset`: 8
    genres, artists as sub-clusters, FMA's artist-filtered 80/10/10 split). Training sets of
    ``--sizes`` clips per genre (default 10, 30, 100) are nested draws from the "training"
    part (seeded; the 10 are among the 30, the 30 among the 100); "validation" (artist-
    disjoint) drives early stopping and the choice of ``C``; "test" (artist-disjoint, the
    same for every size) is scored once.
``real``
    Real recordings (``--real-csv``: columns ``path,label,group``), e.g. 30 s clips cut from
    Debian's free game-music packages, labelled by their source game's soundtrack, grouped by
    track: a stratified group K-fold (``--real-folds``) keeps both clips of a track on the
    same side; the out-of-fold predictions of all clips are scored, the interval is
    bootstrapped over tracks.
``throughput``
    Clips per second, decoding included, on the same files (``--throughput-files``, default
    the real clips, first ``--throughput-n``): the mel transformer, the MusiCNN transformer
    and the ORIGINAL musicnn code (TensorFlow, its own venv: ``--tf-python``,
    ``--musicnn-src``; see ``benchmarks/musicnn_original.py``), one after the other in this
    run, so that their ratios are comparable on a shared machine; ``--throughput-repeats``
    interleaved repeats (medians, and each ratio's range over repeats).

Methods (``--methods``):

``scratch``
    CNN-GRU-Attention (:class:`~sklearn_genre.classifiers.CNNGRUAttentionClassifier`) trained
    from scratch on log-mel spectrograms (``--n-mels`` at 22,050 Hz, the clip's length), CPU,
    AdamW 1e-3 / 0.03, batch 16, at most ``--epochs`` epochs with early stopping (patience
    ``--patience``) on the validation set (``synthetic``) or a fixed ``--epochs`` (``real``:
    no group-disjoint validation set is left in a fold that small).
``musicnn_lr``
    :class:`~sklearn_genre.pretrained.MusicnnTransformer` (``MSD_musicnn``, 200-d
    penultimate embedding, mean over 3 s patches) -> ``StandardScaler`` ->
    ``LogisticRegression``, ``C`` chosen from ``1e-3 .. 1e2`` on the validation set
    (``synthetic``) or by an inner group K-fold (``real``).
``logmel_lr``
    A cheap reference: the time mean and standard deviation of the same log-mels as
    ``scratch`` -> ``StandardScaler`` -> ``LogisticRegression`` (``C`` chosen the same way).

For each (section, size, method, seed in ``--seeds``): accuracy with a 95 % percentile
bootstrap interval (:func:`sklearn_genre.evaluation.bootstrap_ci`, 2,000 resamples over
artists for ``synthetic``, over tracks for ``real``: clips of one artist or track are not
independent), balanced accuracy, the test predictions, and wall times: ``fit s`` (training
only, on features already extracted) and the feature extraction rate (clips/s) of each
representation. The report adds, per size and seed, the paired differences between methods on
the same test clips (:func:`~sklearn_genre.evaluation.paired_bootstrap_ci`) and, with several
seeds, each method's mean accuracy and range over seeds. A seed changes the training draws
and the network's initialisation (``synthetic``; the test set stays) or the folds (``real``).

``--quick``: a tiny synthetic set (8 clips of 3 s per genre), sizes 2 and 3 per genre, 2
epochs, throughput on 3 clips with the mel and MusiCNN transformers only (what the test suite
runs).

Usage::

    python benchmarks/bench_transfer.py --quick
    python benchmarks/bench_transfer.py --real-csv /work/realmusic/clips.csv \\
        --tf-python /work/venvs/tf/bin/python --musicnn-src /work/venvs/musicnn-src

Writes ``bench_transfer.json`` and ``bench_transfer.md`` to ``--out`` (rewritten after every
row). ``--resume`` keeps the rows of an earlier run in ``--out`` that this run does not
recompute (each row records the command that made it).
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, balanced_accuracy_score
from sklearn.model_selection import GridSearchCV, PredefinedSplit, StratifiedGroupKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sklearn_genre.datasets import load_default_dataset
from sklearn_genre.evaluation import bootstrap_ci, paired_bootstrap_ci
from sklearn_genre.features import MelSpectrogramTransformer
from sklearn_genre.provenance import package_versions, platform_info, write_json_atomic

SECTIONS = ("synthetic", "real", "throughput")
METHODS = ("scratch", "musicnn_lr", "logmel_lr")
CS = (1e-3, 1e-2, 1e-1, 1.0, 10.0, 100.0)
QUICK = {"n_per_genre": 8, "duration": 3.0, "sizes": [2, 3], "epochs": 2, "patience": 2,
         "n_mels": 32, "throughput_n": 3, "throughput_repeats": 2, "real_folds": 2,
         "n_boot": 200}


# ----------------------------------------------------------------------------- statistics


def scores(y_true, y_pred, groups, n_boot):
    """Accuracy with its percentile bootstrap interval over ``groups``, balanced accuracy."""
    ci = bootstrap_ci(y_true, y_pred, groups=groups, n_resamples=n_boot)
    return {"accuracy": float(accuracy_score(y_true, y_pred)), "ci_low": ci.low,
            "ci_high": ci.high, "balanced_accuracy": float(balanced_accuracy_score(y_true,
                                                                                    y_pred)),
            "n_test": int(len(y_true)), "pred": [str(v) for v in y_pred]}


PAIRS = (("musicnn_lr", "scratch"), ("musicnn_lr", "logmel_lr"), ("scratch", "logmel_lr"))


def paired_differences(rows, y_test, groups_test, n_boot):
    """Accuracy differences of the method pairs on the same test clips, per size and seed.

    Returns
    -------
    list of dict
        ``size``, ``seed``, ``a``, ``b``, ``difference`` (accuracy of a minus b), ``low``,
        ``high`` (95 % paired bootstrap over the test groups).
    """
    by_key = {(str(r["size"]), r.get("seed", 0), r["method"]): r for r in rows if "pred" in r}
    out = []
    def order(key):
        size, seed, method = key
        return (int(size) if size.isdigit() else 0, size, seed, method)

    for (size, seed, method), row in sorted(by_key.items(), key=lambda kv: order(kv[0])):
        for a, b in PAIRS:
            other = by_key.get((size, seed, b))
            if method != a or other is None:
                continue
            ci = paired_bootstrap_ci(y_test, row["pred"], other["pred"], groups=groups_test,
                                     n_resamples=n_boot)
            out.append({"size": size, "seed": seed, "a": a, "b": b,
                        "difference": ci.estimate, "low": ci.low, "high": ci.high})
    return out


# ----------------------------------------------------------------------------- features


def logmel(paths, args, duration):
    mel = MelSpectrogramTransformer(n_mels=args.n_mels, duration=duration, dtype="float16",
                                    n_jobs=args.n_jobs,
                                    memory=os.path.join(args.data_dir, "feature_cache"))
    start = time.perf_counter()
    X = mel.fit_transform(list(paths))
    return X, {"clips_per_s": round(len(paths) / (time.perf_counter() - start), 3),
               "shape": list(X.shape[1:]), "n_mels": args.n_mels, "sr": mel.sr}


def musicnn(paths, args, duration=None, *, memory=True):
    from sklearn_genre.pretrained import MusicnnTransformer

    tr = MusicnnTransformer(args.musicnn_model, output="embedding", n_jobs=args.n_jobs,
                            device="cpu", duration=duration,
                            memory=os.path.join(args.data_dir, "feature_cache") if memory
                            else None)
    start = time.perf_counter()
    E = tr.fit_transform(list(paths))
    return E, {"clips_per_s": round(len(paths) / (time.perf_counter() - start), 3),
               "shape": list(E.shape[1:]), "model": args.musicnn_model}


def summary_features(X):
    """Time mean and std of each mel band: (n, n_mels, t) -> (n, 2 * n_mels)."""
    X = np.asarray(X, dtype=np.float32)
    return np.concatenate([X.mean(axis=2), X.std(axis=2)], axis=1)


# ----------------------------------------------------------------------------- fits


def fit_lr(F, y, train, valid=None, groups=None, seed=0):
    """StandardScaler + LogisticRegression; C on the validation set or an inner group K-fold."""
    pipe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=5000,
                                                              random_state=seed))
    grid = {"logisticregression__C": list(CS)}
    start = time.perf_counter()
    if valid is not None:
        rows = np.concatenate([train, valid])
        fold = np.r_[np.full(len(train), -1), np.zeros(len(valid), dtype=int)]
        search = GridSearchCV(pipe, grid, cv=PredefinedSplit(fold), refit=False)
        search.fit(F[rows], y[rows])
        model = pipe.set_params(**search.best_params_).fit(F[train], y[train])
    else:
        n_inner = min(3, int(pd.Series(y[train]).value_counts().min()))
        search = GridSearchCV(pipe, grid, cv=StratifiedGroupKFold(n_splits=max(2, n_inner)))
        search.fit(F[train], y[train], groups=groups[train])
        model = search.best_estimator_
    return model, time.perf_counter() - start, {"C": search.best_params_[
        "logisticregression__C"]}


def fit_scratch(X, y, train, valid, args, seed):
    from skorch.dataset import Dataset
    from skorch.helper import predefined_split

    from sklearn_genre.selection import make_model

    if valid is not None:
        split = {"train_split": predefined_split(Dataset(X[valid], y[valid])),
                 "callbacks__early_stopping__patience": args.patience}
    else:
        split = {"train_split": None, "callbacks__early_stopping": None,
                 "callbacks__lr_scheduler": None}
    clf = make_model("cnn_gru_attn", max_epochs=args.epochs, batch_size=16, lr=1e-3,
                     optimizer__weight_decay=0.03, device="cpu", random_state=seed,
                     verbose=0, **split)
    start = time.perf_counter()
    clf.fit(X[train], y[train])
    seconds = time.perf_counter() - start
    return clf, seconds, {"epochs": len(clf.history)}


# ----------------------------------------------------------------------------- sections


def nested_subsets(y, pool, sizes, seed):
    """Per genre, a seeded order of the pool; size k takes the first k of each genre."""
    rng = np.random.default_rng(seed)
    order = {g: rng.permutation(pool[y[pool] == g]) for g in np.unique(y[pool])}
    return {k: np.sort(np.concatenate([o[:k] for o in order.values()])) for k in sizes}


def run_synthetic(args, emit):
    sr, stereo = 22050, False
    bunch = load_default_dataset(args.data_dir, n_per_genre=args.n_per_genre,
                                 duration=args.duration, sr=sr, stereo=stereo,
                                 n_jobs=args.n_jobs, verbose=False)
    paths = np.asarray(bunch.paths, dtype=object)
    y = np.asarray(bunch.target).astype(str)
    artists = np.asarray(bunch.artist_ids)
    split = np.asarray(bunch.split)
    pool, valid, test = (np.flatnonzero(split == s) for s in ("training", "validation", "test"))
    seconds = args.clip_seconds or args.duration
    info = {"source": "synthetic (load_default_dataset)", "n_clips": len(y),
            "n_per_genre": args.n_per_genre, "file_seconds": args.duration,
            "clip_seconds_used": seconds,
            "n_genres": len(np.unique(y)), "n_valid": len(valid), "n_test": len(test),
            "max_per_genre_in_pool": int(pd.Series(y[pool]).value_counts().min())}
    emit.meta("synthetic", info)
    emit.meta("synthetic_test", {"y": y[test].tolist(), "groups": artists[test].tolist()})
    feats = extract_features("synthetic", paths, args, seconds, emit)
    for seed in args.seeds:
        for size, train in nested_subsets(y, pool, args.sizes, seed).items():
            for method in args.methods:
                if method == "scratch":
                    X = feats["logmel"][0]
                    model, seconds, extra = fit_scratch(X, y, train, valid, args, seed)
                    pred = model.predict(X[test])
                else:
                    F = (feats["musicnn"][0] if method == "musicnn_lr"
                         else summary_features(feats["logmel"][0]))
                    model, seconds, extra = fit_lr(F, y, train, valid, seed=seed)
                    pred = model.predict(F[test])
                emit.row({"section": "synthetic", "size": size, "method": method,
                          "seed": seed, "n_train": len(train),
                          "fit_seconds": round(seconds, 2), **extra,
                          **scores(y[test], pred, artists[test], args.n_boot)})


def extract_features(section, paths, args, seconds, emit):
    """The representations the methods need, extracted once for all seeds and sizes."""
    feats = {}
    if {"scratch", "logmel_lr"} & set(args.methods):
        feats["logmel"] = logmel(paths, args, seconds)
        emit.meta(f"{section}_logmel", feats["logmel"][1])
    if "musicnn_lr" in args.methods:
        feats["musicnn"] = musicnn(paths, args, seconds)
        emit.meta(f"{section}_musicnn", feats["musicnn"][1])
    return feats


def run_real(args, emit):
    table = pd.read_csv(args.real_csv)
    paths = table["path"].to_numpy(dtype=object)
    y = table["label"].astype(str).to_numpy()
    groups = table["group"].astype(str).to_numpy()
    duration = args.clip_seconds or float(np.floor(min(_durations(paths))))
    info = {"source": os.path.abspath(args.real_csv), "n_clips": len(y),
            "n_groups": len(np.unique(groups)), "labels": sorted(np.unique(y).tolist()),
            "clips_per_label": pd.Series(y).value_counts().sort_index().to_dict(),
            "clip_seconds": duration, "folds": args.real_folds,
            "task": args.real_task}
    emit.meta("real", info)
    emit.meta("real_test", {"y": y.tolist(), "groups": groups.tolist()})
    feats = extract_features("real", paths, args, duration, emit)
    for seed in args.seeds:
        run_real_folds(args, emit, feats, y, groups, seed)


def run_real_folds(args, emit, feats, y, groups, seed):
    """Every method on the group folds of one seed; all clips predicted out of fold."""
    cv = StratifiedGroupKFold(n_splits=args.real_folds, shuffle=True, random_state=seed)
    folds = list(cv.split(y, y, groups))
    for method in args.methods:
        pred = np.empty(len(y), dtype=object)
        seconds, extra_all = 0.0, []
        for train, test in folds:
            if method == "scratch":
                X = feats["logmel"][0]
                model, s, extra = fit_scratch(X, y, train, None, args, seed)
                pred[test] = model.predict(X[test])
            else:
                F = (feats["musicnn"][0] if method == "musicnn_lr"
                     else summary_features(feats["logmel"][0]))
                model, s, extra = fit_lr(F, y, train, groups=groups, seed=seed)
                pred[test] = model.predict(F[test])
            seconds += s
            extra_all.append(extra)
        emit.row({"section": "real", "size": f"{args.real_folds}-fold", "method": method,
                  "seed": seed,
                  "n_train": int(np.mean([len(t) for t, _ in folds])),
                  "fit_seconds": round(seconds, 2),
                  **{k: [e[k] for e in extra_all] for k in extra_all[0]},
                  **scores(y, pred.astype(str), groups, args.n_boot)})


def _durations(paths):
    import soundfile as sf

    return [sf.info(p).duration for p in paths]


def run_throughput(args, emit):
    if args.throughput_files:
        files = [line.strip() for line in open(args.throughput_files) if line.strip()]
    elif args.real_csv:
        table = pd.read_csv(args.real_csv)
        # one clip per track, spread over the labels
        first = table.groupby("group", sort=False).head(1)
        per_label = -(-args.throughput_n // first["label"].nunique())
        files = first.groupby("label").head(per_label)["path"].tolist()
    else:
        files = list(load_default_dataset(args.data_dir, n_per_genre=args.n_per_genre,
                                          duration=args.duration, sr=22050, stereo=False,
                                          verbose=False).paths)
    files = files[: args.throughput_n]
    info = {"n_files": len(files),
            "seconds_per_file": round(float(np.mean(_durations(files))), 2),
            "first_files": files[:3], "cpu_count": os.cpu_count(),
            "variants": args.throughput_variants}
    emit.meta("throughput", info)
    # Repeats are interleaved (every variant once per repeat), so a change in the machine's
    # load hits all variants of a repeat alike; ratios are taken within a repeat.
    walls, cpus = [], []
    for _ in range(args.throughput_repeats):
        wall, cpu = {}, {}
        if "original" in args.throughput_variants:
            w, c = _original_rates(files, args, emit)
            wall.update(w)
            cpu.update(c)
        for n_jobs in (1, 2):
            if "mel" in args.throughput_variants:
                # the reference recipe (22,050 Hz, 128 mels, 30 s); no cache: every clip
                mel = MelSpectrogramTransformer(n_jobs=n_jobs).fit(files[:1])
                wall[f"mel_j{n_jobs}"], cpu[f"mel_j{n_jobs}"] = _timed(mel.transform, files)
            if "musicnn" in args.throughput_variants:
                from sklearn_genre.pretrained import MusicnnTransformer

                tr = MusicnnTransformer(args.musicnn_model, n_jobs=n_jobs, device="cpu")
                tr.fit(files[:1]).transform(files[:1])  # weights loaded, first call (untimed)
                wall[f"musicnn_j{n_jobs}"], cpu[f"musicnn_j{n_jobs}"] = _timed(tr.transform,
                                                                              files)
        walls.append(wall)
        cpus.append(cpu)
        emit.meta("throughput_repeats", {"clips_per_s": walls, "cpu_seconds_per_clip": cpus,
                                         "load_average": os.getloadavg()})
    if "musicnn" in args.throughput_variants and "original" in args.throughput_variants:
        from sklearn_genre.pretrained import MusicnnTransformer

        ours = {out: MusicnnTransformer(args.musicnn_model, output=out, device="cpu").fit(
            files[:1]).transform(files) for out in ("tags", "embedding")}
        orig = emit.result["meta"]["throughput_original"]
        emit.meta("throughput_vs_original_outputs", {
            "max_abs_diff_clip_mean_tags": float(np.abs(ours["tags"] - np.asarray(
                orig["tags"])).max()),
            "max_abs_diff_clip_mean_embedding": float(np.abs(ours["embedding"] - np.asarray(
                orig["embedding"])).max()),
            "note": "clip means over patches; original with MUSICNN_MEL_DTYPE=float32"})
    emit.meta("throughput_rates", throughput_summary(walls, cpus))


def throughput_summary(walls, cpus):
    """Medians over repeats, and the within-repeat ratios to the original's ``extractor()``.

    Parameters
    ----------
    walls, cpus : list of dict
        Per repeat, clips per wall second and CPU seconds per clip of each variant.

    Returns
    -------
    dict
        ``clips_per_s`` and ``cpu_seconds_per_clip``: the median of each variant;
        ``vs_original_extractor``: the median ratio; ``vs_original_extractor_range``:
        [min, max] over repeats (None without the original); ``repeats``.
    """
    keys = list(walls[0])
    base = "original_extractor"
    ratios = ({k: [w[k] / w[base] for w in walls] for k in keys} if base in walls[0]
              else None)
    return {
        "clips_per_s": {k: round(float(np.median([w[k] for w in walls])), 3) for k in keys},
        "cpu_seconds_per_clip": {k: round(float(np.median([c[k] for c in cpus])), 3)
                                 for k in keys},
        "vs_original_extractor": (None if ratios is None else
                                  {k: round(float(np.median(v)), 2) for k, v in ratios.items()}),
        "vs_original_extractor_range": (None if ratios is None else
                                        {k: [round(min(v), 2), round(max(v), 2)]
                                         for k, v in ratios.items()}),
        "repeats": len(walls),
    }


def _timed(fn, files):
    """(clips per wall second, CPU seconds of this process per clip) of ``fn(files)``."""
    start, cpu = time.perf_counter(), time.process_time()
    fn(files)
    return (len(files) / (time.perf_counter() - start),
            (time.process_time() - cpu) / len(files))


def _original_rates(files, args, emit):
    if not args.tf_python:
        raise SystemExit("the 'original' throughput variant needs --tf-python and "
                         "--musicnn-src (see benchmarks/musicnn_original.py)")
    env = {**os.environ, "TF_USE_LEGACY_KERAS": "1", "TF_CPP_MIN_LOG_LEVEL": "2",
           "PYTHONPATH": args.musicnn_src, "MUSICNN_MEL_DTYPE": "float32"}
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "original.json"
        cmd = [args.tf_python, str(Path(__file__).with_name("musicnn_original.py")),
               "--model", args.musicnn_model, "--out", str(out), *files]
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
        if proc.returncode != 0:
            raise RuntimeError(f"the original musicnn failed:\n{proc.stderr[-3000:]}")
        result = json.loads(out.read_text())
    emit.meta("throughput_original", {k: result[k] for k in
                                      ("import_seconds", "extractor_file", "tensorflow",
                                       "numpy", "seconds", "cpu_seconds", "tags",
                                       "embedding")})
    wall = {f"original_{k}": len(v) / sum(v) for k, v in result["seconds"].items()}
    cpu = {f"original_{k}": v / len(files) for k, v in result["cpu_seconds"].items()}
    return wall, cpu


# ----------------------------------------------------------------------------- report


def _row_key(row):
    return row["section"], str(row["size"]), row["method"], row.get("seed", 0)


class Emitter:
    """Collects meta and rows; rewrites the JSON and markdown after each."""

    def __init__(self, args):
        self.args = args
        self.path = args.out / "bench_transfer.json"
        self.result = {"meta": {}, "rows": [], "commands": []}
        if args.resume and self.path.exists():
            self.result = json.loads(self.path.read_text())
        self.result["commands"].append(args.command)
        self.result["meta"]["machine"] = {**platform_info(), "versions": package_versions()}
        self.result["meta"]["machine"].pop("host", None)

    def meta(self, key, value):
        self.result["meta"][key] = value
        self.write()

    def row(self, row):
        row = {**row, "command": self.args.command}
        key = _row_key(row)
        self.result["rows"] = [r for r in self.result["rows"] if _row_key(r) != key]
        self.result["rows"].append(row)
        print(f"{row['section']:<9} {str(row['size']):>7} {row['method']:<10} "
              f"seed {row['seed']} "
              f"acc {row['accuracy']:.3f} [{row['ci_low']:.3f}, {row['ci_high']:.3f}] "
              f"bal {row['balanced_accuracy']:.3f}  fit {row['fit_seconds']:.1f} s",
              flush=True)
        self.write()

    def write(self):
        write_json_atomic(self.path, self.result)
        tmp = self.args.out / ".bench_transfer.md.tmp"
        tmp.write_text(to_markdown(self.result), encoding="utf-8")
        os.replace(tmp, self.args.out / "bench_transfer.md")


def to_markdown(result):
    meta = result["meta"]
    m = meta.get("machine", {})
    lines = ["# Transfer learning: MusiCNN embeddings + logistic regression vs from scratch",
             "", *[f"Command: `{c}`  " for c in result["commands"]],
             f"Machine: {m.get('system')} {m.get('machine')}, {m.get('cpu_count')} CPUs. "
             "Wall times depend on what else the machine ran (each section gives the load "
             "average at its start); ratios measured side by side in one run are the robust "
             "figures.", ""]
    for section in ("synthetic", "real"):
        rows = [r for r in result["rows"] if r["section"] == section]
        if not rows:
            continue
        info = meta.get(section, {})
        lines += [f"## {section}", "", "Data: " + ", ".join(
            f"{k} {v}" for k, v in info.items()) + ".  "]
        if f"{section}_load_average" in meta:
            lines.append("Load average at the start (1, 5, 15 min): "
                         f"{_loads(meta[f'{section}_load_average'])}.  ")
        for rep in ("logmel", "musicnn"):
            f = meta.get(f"{section}_{rep}")
            if f:
                lines.append(f"Features {rep}: {f['shape']} per clip, "
                             f"{f['clips_per_s']:.2f} clips/s (cache cold unless re-run).  ")
        lines += ["", "| train clips/genre | method | seed | n train | accuracy [95 % CI] "
                  "| balanced acc | fit s | notes |", "| ---: | --- | ---: | ---: | --- | ---: "
                  "| ---: | --- |"]
        for r in rows:
            notes = ", ".join(f"{k} {r[k]}" for k in ("C", "epochs") if k in r)
            lines.append(f"| {r['size']} | {r['method']} | {r.get('seed', 0)} | "
                         f"{r['n_train']} | "
                         f"{r['accuracy']:.3f} [{r['ci_low']:.3f}, {r['ci_high']:.3f}] | "
                         f"{r['balanced_accuracy']:.3f} | {r['fit_seconds']:.1f} | {notes} |")
        lines.append("")
        lines += _seed_summary(rows, section)
        test = meta.get(f"{section}_test")
        diffs = (paired_differences(rows, test["y"], test["groups"],
                                    result.get("n_boot", 2000)) if test else [])
        if diffs:
            lines += ["Paired differences in accuracy on the same test clips (95 % paired "
                      "bootstrap over the test groups; an interval containing 0 does not tell "
                      "the two apart):", "",
                      "| train clips/genre | seed | a - b | difference [95 % CI] |",
                      "| ---: | ---: | --- | --- |"]
            lines += [f"| {d['size']} | {d['seed']} | {d['a']} - {d['b']} | "
                      f"{d['difference']:+.3f} [{d['low']:+.3f}, {d['high']:+.3f}] |"
                      for d in diffs]
            lines.append("")
    rates = meta.get("throughput_rates")
    if rates:
        info = meta["throughput"]
        lines += ["## throughput", "", f"{info['n_files']} files of "
                  f"{info['seconds_per_file']} s on average (MP3, decoding included), "
                  "one variant after the other in the same run. Load average at the start: "
                  f"{_loads(meta.get('throughput_load_average'))}.",
                  "",
                  f"Medians of {rates.get('repeats', 1)} interleaved repeats; the ratio's "
                  "[min, max] over repeats, each ratio taken within one repeat.", "",
                  "| variant | clips/s (wall) | x original extractor() [min, max] "
                  "| CPU s per clip |", "| --- | ---: | ---: | ---: |"]
        vs = rates.get("vs_original_extractor") or {}
        span = rates.get("vs_original_extractor_range") or {}
        for k, v in rates["clips_per_s"].items():
            ratio = f"{vs[k]} [{span[k][0]}, {span[k][1]}]" if k in span else vs.get(k, "")
            lines.append(f"| {k} | {v:.3f} | {ratio} | "
                         f"{rates['cpu_seconds_per_clip'].get(k, '')} |")
        diff = meta.get("throughput_vs_original_outputs")
        if diff:
            lines += ["", "Same files, clip-mean outputs, port vs original: max abs difference "
                      f"{diff['max_abs_diff_clip_mean_tags']:.2e} (tag probabilities), "
                      f"{diff['max_abs_diff_clip_mean_embedding']:.2e} (embedding: not "
                      "comparable, `extractor()` returns the first patch's penultimate for "
                      "every patch of a clip, an upstream bug; the port's parity per patch is "
                      "in `musicnn_parity.md`)."]
        lines += ["", "`original_extractor`: `musicnn.extractor.extractor()` per file as "
                  "users call it (graph rebuilt and checkpoint restored per call, one patch per "
                  "`session.run`); `original_graph_once`: the same graph built once. "
                  "`_j1`/`_j2`: `n_jobs`. CPU s: the process's CPU time (all threads) per "
                  "clip, less sensitive to other jobs on the machine than wall time."]
        lines.append("")
    return "\n".join(lines) + "\n"


_SEED_CHANGES = {"synthetic": "the training draws and the network's initialisation; the "
                               "test set is the same",
                 "real": "the folds and the network's initialisation; every clip is predicted "
                         "once per seed"}


def _seed_summary(rows, section):
    """Mean accuracy over seeds with the range, per size and method (when several seeds)."""
    groups = {}
    for r in rows:
        groups.setdefault((str(r["size"]), r["method"]), []).append(r)
    if max(len(v) for v in groups.values()) < 2:
        return []
    lines = [f"Over seeds (a seed changes {_SEED_CHANGES[section]}):", "",
             "| train clips/genre | method | seeds | mean accuracy | min - max "
             "| mean fit s |", "| ---: | --- | ---: | ---: | --- | ---: |"]
    for (size, method), rs in groups.items():
        acc = [r["accuracy"] for r in rs]
        lines.append(f"| {size} | {method} | {len(rs)} | {np.mean(acc):.3f} | "
                     f"{min(acc):.3f} - {max(acc):.3f} | "
                     f"{np.mean([r['fit_seconds'] for r in rs]):.1f} |")
    return lines + [""]


def _loads(loads):
    return "not recorded" if loads is None else ", ".join(f"{v:.2f}" for v in loads)


# ----------------------------------------------------------------------------- main


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="tiny settings (what the tests run)")
    p.add_argument("--sections", nargs="+", choices=SECTIONS, default=list(SECTIONS))
    p.add_argument("--methods", nargs="+", choices=METHODS, default=list(METHODS))
    p.add_argument("--data-dir", default="benchmarks/out/data")
    p.add_argument("--n-per-genre", type=int, default=130)
    p.add_argument("--duration", type=float, default=10.0)
    p.add_argument("--clip-seconds", type=float, default=None,
                   help="use only the first S seconds of each clip (both representations); "
                   "default: the whole clip (synthetic) / the shortest clip (real)")
    p.add_argument("--sizes", type=int, nargs="+", default=[10, 30, 100])
    p.add_argument("--n-mels", type=int, default=64)
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--patience", type=int, default=5)
    p.add_argument("--seeds", type=int, nargs="+", default=[0],
                   help="one run of each row per seed (training draws, initialisation, folds)")
    p.add_argument("--n-boot", type=int, default=2000)
    p.add_argument("--n-jobs", type=int, default=2)
    p.add_argument("--musicnn-model", default="MSD_musicnn")
    p.add_argument("--real-csv", default=None)
    p.add_argument("--real-task", default="label = source game soundtrack (Debian package), "
                   "group = track")
    p.add_argument("--real-folds", type=int, default=4)
    p.add_argument("--throughput-files", default=None, help="text file, one path a line")
    p.add_argument("--throughput-n", type=int, default=60)
    p.add_argument("--throughput-repeats", type=int, default=3,
                   help="interleaved repeats of every variant (medians and ratio ranges)")
    p.add_argument("--throughput-variants", nargs="+", choices=["original", "mel", "musicnn"],
                   default=None, help="default: all three with --tf-python, else mel musicnn")
    p.add_argument("--tf-python", default=None, help="python of the TensorFlow venv")
    p.add_argument("--musicnn-src", default=None, help="folder holding the patched musicnn/")
    p.add_argument("--resume", action="store_true")
    p.add_argument("--out", type=Path, default=Path("benchmarks/out"))
    args = p.parse_args(argv)
    args.command = "python benchmarks/bench_transfer.py " + shlex.join(
        sys.argv[1:] if argv is None else argv)
    if args.quick:
        for k, v in QUICK.items():
            setattr(args, k, v)
        if args.real_csv is None and "real" in args.sections:
            args.sections = [s for s in args.sections if s != "real"]
    if "real" in args.sections and not args.real_csv:
        args.sections = [s for s in args.sections if s != "real"]
    if args.throughput_variants is None:
        args.throughput_variants = ["original", "mel", "musicnn"] if args.tf_python else [
            "mel", "musicnn"]
    if args.tf_python and not args.musicnn_src:
        p.error("--tf-python needs --musicnn-src")
    return args


def main(argv=None):
    args = parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    emit = Emitter(args)
    emit.result["n_boot"] = args.n_boot
    for section in args.sections:
        emit.meta(f"{section}_load_average", os.getloadavg())
        if section == "throughput":
            run_throughput(args, emit)
            continue
        {"synthetic": run_synthetic, "real": run_real}[section](args, emit)
    return emit.result


if __name__ == "__main__":
    main()
