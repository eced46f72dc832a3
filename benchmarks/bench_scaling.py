"""Scaling benchmark: feature extraction with joblib threads, loky processes and on Dask.

Runs, side by side in one process and on the same mp3 files (``MelSpectrogramTransformer``
with the reference recipe: 22050 Hz, 128 mels, 30 s):

``j1``          ``transform`` with ``n_jobs=1`` (the baseline; in this process);
``threads_jN``  ``n_jobs=N`` with the transformer's default joblib hint: N threads of this
                process, for each N > 1 of ``--workers``;
``loky_jN``     ``n_jobs=N`` under ``joblib.parallel_config(backend="loky")``: N loky worker
                processes, started and warmed right before each timed run;
``dask_wN``     ``n_jobs=-1`` under ``joblib.parallel_backend("dask")`` with a
                ``LocalCluster(n_workers=N, threads_per_worker=1, processes=True)``;
``store_dask_wN``  :func:`sklearn_genre.store.extract_to_store` into a fresh ``.npy`` store on
                the largest cluster (what a run too large for memory does);
``cache_dask_wN``  ``transform`` with ``memory=`` an already filled per-file cache on the
                largest cluster (what each candidate of a search over audio paths does).

All clusters are started once, before the first round; every variant first processes a
few files untimed and every worker builds the mel filter bank. The rounds interleave the
variants and the best round per variant is reported (on a shared machine the minimum is the
least disturbed measurement). Reported: clips/s, the ratio to ``j1``, and for ``j1`` and the
largest Dask cluster the time for the first half of the files against all files (growth in
files). Each parallel result is checked to equal the ``j1`` output bit for bit.

Files: ``--audio-dir DIR`` (any *.mp3 there), or the generated FMA-like clips of
``bench_features.py`` (30 s, 44.1 kHz stereo, 320 kbps mp3) in ``--out``/audio.

Usage::

    .venv/bin/python benchmarks/bench_scaling.py --n-files 40 --rounds 2   # moderate
    .venv/bin/python benchmarks/bench_scaling.py --workers 1,2,4,8          # bigger machine
    .venv/bin/python benchmarks/bench_scaling.py --quick                   # 8 files, 1 round

Writes ``bench_scaling.json`` and ``bench_scaling.md`` to ``--out`` (default
``benchmarks/out/``).
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import shutil  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import joblib  # noqa: E402
import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_features import prepare_files  # noqa: E402


def _warm(delay=0.0):
    """Import the extraction code and build the default mel filter bank in this process."""
    from sklearn_genre.logmel import mel_filter_bank

    mel_filter_bank(sr=22050, n_fft=2048, n_mels=128)
    time.sleep(delay)  # keeps this worker busy, so the next warm-up task goes to another
    return os.getpid()


def _warm_loky(n_jobs):
    """Start and warm the loky workers for n_jobs (loky resizes its executor, spawning new
    processes, whenever n_jobs changes; a user's single long run pays this once)."""
    if n_jobs > 1:
        joblib.Parallel(n_jobs=n_jobs)(joblib.delayed(_warm)(0.2) for _ in range(2 * n_jobs))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n-files", type=int, default=40)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--audio-dir", default=None)
    parser.add_argument("--out", default=str(Path(__file__).resolve().parent / "out"))
    parser.add_argument("--workers", default="1,2",
                        help="comma-separated worker counts (n_jobs and Dask workers)")
    parser.add_argument("--quick", action="store_true", help="8 files, 1 round")
    args = parser.parse_args(argv)
    counts = sorted({int(w) for w in args.workers.split(",")} | {1})
    top = counts[-1]
    parallel = [w for w in counts if w > 1]
    VARIANTS = ["j1"] + [f"threads_j{w}" for w in parallel] + [
        f"loky_j{w}" for w in parallel] + [f"dask_w{w}" for w in counts] + [
        f"store_dask_w{top}", f"cache_dask_w{top}"]
    if args.quick:
        args.n_files, args.rounds = 8, 1
    command = "python benchmarks/bench_scaling.py " + " ".join(sys.argv[1:] if argv is None
                                                                else argv)

    from distributed import Client, LocalCluster

    from sklearn_genre.features import MelSpectrogramTransformer
    from sklearn_genre.store import extract_to_store

    files = [str(f) for f in prepare_files(args)]
    n = len(files)
    half = files[: n // 2]
    work = Path(tempfile.mkdtemp(prefix="bench_scaling_"))
    load_before = os.getloadavg()
    clusters = {}
    try:
        for w in counts:
            cluster = LocalCluster(n_workers=w, threads_per_worker=1, processes=True,
                                   dashboard_address=None)
            clusters[w] = (cluster, Client(cluster, set_as_default=False))

        def mel(**kw):
            return MelSpectrogramTransformer(**kw).fit(files)

        cache_dir = str(work / "cache")

        def run(variant, fs, *, check=None):
            """Seconds for `variant` on `fs` (the result is compared with `check`)."""
            store = work / "store.npy"
            if variant == "j1" or variant.startswith("threads"):
                m = mel(n_jobs=int(variant.rsplit("j", 1)[1]))
                t0 = time.perf_counter()
                out = m.transform(fs)
                dt = time.perf_counter() - t0
            elif variant.startswith("loky"):
                m = mel(n_jobs=int(variant.rsplit("_j", 1)[1]))
                _warm_loky(m.n_jobs)
                with joblib.parallel_config(backend="loky"):
                    t0 = time.perf_counter()
                    out = m.transform(fs)
                    dt = time.perf_counter() - t0
            else:
                client = clusters[int(variant.rsplit("_w", 1)[1])][1]
                with joblib.parallel_backend("dask", client=client):
                    if variant.startswith("store"):
                        for p in work.glob("store.npy*"):
                            p.unlink()
                        m = mel(n_jobs=-1)
                        t0 = time.perf_counter()
                        out = extract_to_store(m, fs, store, chunk_size=16)
                        dt = time.perf_counter() - t0
                    elif variant.startswith("cache"):
                        m = mel(n_jobs=-1, memory=cache_dir)
                        m.transform(fs)  # fill (untimed)
                        t0 = time.perf_counter()
                        out = m.transform(fs)
                        dt = time.perf_counter() - t0
                    else:
                        m = mel(n_jobs=-1)
                        t0 = time.perf_counter()
                        out = m.transform(fs)
                        dt = time.perf_counter() - t0
            if check is not None and not np.array_equal(out, check):
                raise AssertionError(f"{variant}: output differs from j1")
            return dt

        reference = mel(n_jobs=1).transform(files)
        # Warm-up, untimed: imports and the mel filter bank in every worker process.
        for w in counts:
            clusters[w][1].run(_warm)
        for variant in VARIANTS:
            run(variant, files[: 2 * top])
        times = {v: [] for v in VARIANTS}
        growth = {v: [] for v in ("j1", f"dask_w{top}")}
        for r in range(args.rounds):
            for variant in VARIANTS:
                times[variant].append(run(variant, files, check=reference))
                print(f"round {r}: {variant:15s} {n / times[variant][-1]:7.2f} clips/s",
                      flush=True)
            for variant in growth:
                growth[variant].append(run(variant, half, check=reference[: len(half)]))
    finally:
        for cluster, client in clusters.values():
            client.close()
            cluster.close()
        shutil.rmtree(work, ignore_errors=True)
    load_after = os.getloadavg()

    best = {v: min(t) for v, t in times.items()}
    results = {
        "command": command,
        "n_files": n,
        "files": "generated FMA-like: 30 s, 44.1 kHz stereo, 320 kbps CBR mp3"
        if args.audio_dir is None else args.audio_dir,
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, {platform.platform()}",
        "load_average_before_after": [load_before[0], load_after[0]],
        "rounds": args.rounds,
        "seconds_best": best,
        "clips_per_s": {v: n / t for v, t in best.items()},
        "ratio_to_j1": {v: best["j1"] / t for v, t in best.items()},
        "growth_half_vs_all_seconds": {
            v: [min(growth[v]), best[v]] for v in growth
        },
    }
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "bench_scaling.json").write_text(json.dumps(results, indent=1))
    lines = [
        f"Extraction scaling, {n} files ({results['files']}), {results['machine']}, "
        f"best of {args.rounds} round(s); 1-minute load average before/after: "
        f"{load_before[0]:.1f}/{load_after[0]:.1f}.",
        "",
        "| variant | clips/s | vs n_jobs=1 |",
        "|---|---:|---:|",
    ]
    for v in VARIANTS:
        lines.append(f"| {v} | {results['clips_per_s'][v]:.1f} | "
                     f"{results['ratio_to_j1'][v]:.2f}x |")
    lines.append("")
    for v, (t_half, t_all) in results["growth_half_vs_all_seconds"].items():
        lines.append(f"- {v}: {len(half)} files {t_half:.2f} s, {n} files {t_all:.2f} s "
                     f"(ratio {t_all / t_half:.2f}, 2.00 = linear in files)")
    lines.append("- every parallel output equals the n_jobs=1 output bit for bit")
    lines.append(f"- command: `{command}`")
    (out_dir / "bench_scaling.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
