"""Feature-extraction benchmark: MelSpectrogramTransformer against the reference extractor.

Runs, side by side in one invocation and on the same mp3 files:

(a) ``reference``   the reference work's extractor, one process: per file
                    ``librosa.load(sr=22050)``, ``librosa.feature.melspectrogram(n_mels=128,
                    n_fft=2048, hop_length=512)``, ``librosa.power_to_db(ref=np.max)``;
(b) ``decode``      the decode floor: ``soundfile.read(path)`` (defaults, float64) and
                    ``decode_f32``: ``soundfile.read(path, dtype="float32")``, nothing else;
(c) ``ours_j1``, ``ours_j2``  ``MelSpectrogramTransformer().transform(files)`` with n_jobs=1 / 2
                    (the exact path: soxr_hq resampling, librosa parity); n_jobs=2 runs two
                    threads (the transformer's default joblib hint); ``ours_j2_loky`` runs
                    two loky worker processes instead (``parallel_config(backend="loky")``);
(d) ``cache_warm``  the same with ``memory=`` a cache directory already filled
                    (``cache_cold``, the run that fills it, is reported too).

Each variant runs in its own fresh Python process (so peak RSS is per variant) with BLAS/OpenMP
threads pinned to 1. Every variant first processes all files once, untimed (imports, numba, the
start of every joblib worker, the OS page cache; ``cache_cold`` warms up without its cache),
then all files timed: the steady-state rate of a long extraction. The warm-up pass is timed too
and reported as the first-pass rate (what one short call costs, worker start-up included). The
whole sequence is repeated ``--rounds`` times, interleaved, and the best round per variant is
kept (the machine is shared, so the minimum is the least disturbed measurement). Reported:
clips/s, the ratios against (a) and (b), peak RSS of the variant's process (ru_maxrss; for
``ours_j2_loky`` the worker processes come on top), and the output parity of (c) with (a)
(max abs dB difference; frames affected by the end of a clip that is not exactly 30 s are left
out).

Files: ``--audio-dir DIR`` (any *.mp3 there), or generated FMA-like clips: 30 s, 44.1 kHz
stereo, 320 kbps CBR mp3, chords + drums + noise (content matters for mp3 decoding speed).
Real clips cut to 30 s (e.g. by ffmpeg) decode to a few hundred samples more or less than 30 s,
so the reference gives 1292 or 1293 frames: its outputs are kept per clip and compared over the
frames both have. The report lists the files' sample rates, channels, average bitrates and the
reference's frame counts, and the decode cost per second of audio.

Usage::

    .venv/bin/python benchmarks/bench_features.py --n-files 40          # full
    .venv/bin/python benchmarks/bench_features.py --quick               # 6 files, 1 round

Writes ``bench_features.json`` and ``bench_features.md`` to ``--out`` (default
``benchmarks/out/``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

VARIANTS = [
    "reference", "decode", "decode_f32", "ours_j1", "ours_j2", "ours_j2_loky", "cache_cold",
    "cache_warm",
]
THREAD_VARS = ["OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"]


# ----------------------------------------------------------------------------- audio
def generate_clip(path, seed, *, sr=44100, duration=30.0):
    """Write an FMA-like clip: stereo chords + drums + noise, 320 kbps CBR mp3."""
    import soundfile as sf

    rng = np.random.default_rng(seed)
    n = int(sr * duration)
    t = np.arange(n) / sr
    root = 110.0 * 2 ** (rng.integers(0, 12) / 12)
    y = np.zeros((n, 2))
    bar = int(2.0 * sr)
    for start in range(0, n, bar):  # a chord per bar, changing roots
        seg = slice(start, min(start + bar, n))
        f0 = root * 2 ** (rng.choice([0, 3, 5, 7, 8, 10]) / 12)
        for ratio in (1.0, 1.26, 1.5, 2.0):
            for c in range(2):
                y[seg, c] += 0.08 * np.sin(2 * np.pi * f0 * ratio * (1 + 0.002 * c) * t[seg])
    beat = int(sr * 60 / rng.uniform(80, 140))
    decay = np.exp(-np.arange(beat) / (0.04 * sr))
    for k, start in enumerate(range(0, n, beat)):
        m = min(beat, n - start)
        if k % 2 == 0:
            hit = np.sin(2 * np.pi * 55 * np.arange(m) / sr) * decay[:m]
        else:
            hit = 0.6 * rng.standard_normal(m) * decay[:m] ** 2
        y[start : start + m] += 0.5 * hit[:, None]
    y += 0.01 * rng.standard_normal(y.shape)
    y *= 0.9 / np.abs(y).max()
    sf.write(
        path, y.astype(np.float32), sr, format="MP3", subtype="MPEG_LAYER_III",
        bitrate_mode="CONSTANT", compression_level=0.0,
    )


def prepare_files(args):
    if args.audio_dir:
        files = sorted(Path(args.audio_dir).rglob("*.mp3"))[: args.n_files]
        if not files:
            raise SystemExit(f"no mp3 files under {args.audio_dir}")
        return files
    audio = Path(args.out) / "audio"
    audio.mkdir(parents=True, exist_ok=True)
    files = []
    for i in range(args.n_files):
        path = audio / f"clip_{i:03d}.mp3"
        if not path.exists():
            generate_clip(path, seed=i)
        files.append(path)
    return files


# ----------------------------------------------------------------------------- workers
def _peak_rss_mib():
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def run_variant(variant, files, cache_dir, save):
    """Time one variant in this (fresh) process; returns a dict."""
    files = [str(f) for f in files]
    if variant == "reference":
        import librosa

        def work(fs):
            out = []
            for f in fs:
                y, sr = librosa.load(f, sr=22050)
                S = librosa.feature.melspectrogram(y=y, sr=sr, n_mels=128, n_fft=2048,
                                                   hop_length=512)
                out.append(librosa.power_to_db(S, ref=np.max))
            return out
    elif variant in ("decode", "decode_f32"):
        import soundfile as sf

        kw = {} if variant == "decode" else {"dtype": "float32"}

        def work(fs):
            for f in fs:
                sf.read(f, **kw)
    else:
        import contextlib

        import joblib
        from sklearn.base import clone

        from sklearn_genre.features import MelSpectrogramTransformer

        mel = MelSpectrogramTransformer(
            n_jobs=2 if variant.startswith("ours_j2") else 1,
            memory=cache_dir if variant.startswith("cache") else None,
        ).fit(files[:1])
        warm_mel = mel
        if variant == "cache_cold":  # warm up without the cache: the timed run fills it
            warm_mel = clone(mel).set_params(memory=None).fit(files[:1])

        def work(fs, warm_up=False):
            loky = variant.endswith("_loky")
            with joblib.parallel_config(backend="loky") if loky else contextlib.nullcontext():
                return (warm_mel if warm_up else mel).transform(fs)

    # Untimed warm-up over all files: imports, numba, joblib workers (every worker process
    # has started and run clips), mel bank, the OS page cache. For cache_cold it runs
    # without the cache, so the timed run fills an empty one; for cache_warm it hits.
    t0 = time.perf_counter()
    if variant in ("reference", "decode", "decode_f32"):
        work(files)
    else:
        work(files, warm_up=True)
    first_seconds = time.perf_counter() - t0
    t0, c0 = time.perf_counter(), time.process_time()
    out = work(files)
    seconds = time.perf_counter() - t0
    cpu_seconds = time.process_time() - c0  # this process only (not joblib workers)
    result = {
        "variant": variant,
        "n_files": len(files),
        "seconds": seconds,
        "clips_per_s": len(files) / seconds,
        "cpu_seconds": cpu_seconds,
        "clips_per_cpu_s": len(files) / cpu_seconds if cpu_seconds > 0 else float("nan"),
        "first_pass_clips_per_s": len(files) / first_seconds,
        "peak_rss_mib": _peak_rss_mib(),
    }
    if variant in ("ours_j1", "ours_j2"):
        # One more, untimed pass under tracemalloc (numpy reports its buffers to it): the
        # peak of Python and numpy memory held during an extraction, against the output.
        import tracemalloc

        del out
        tracemalloc.start()
        out = work(files)
        result["traced_peak_mib"] = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
        result["output_mib"] = out.nbytes / 2**20
    if save and out is not None:
        if isinstance(out, list):
            # The reference keeps each clip's own length: a clip cut to 30 s by ffmpeg
            # decodes to a few hundred samples more or less than 30 s (mp3 frames of
            # 1152 samples, encoder delay and padding), i.e. 1292 or 1293 frames.
            np.savez(save, *out)
        else:
            np.save(save, out)
    return result


def describe_files(files):
    """Per-file decoding facts: sample rate, channels, decoded seconds, average bitrate."""
    import soundfile as sf

    rows = []
    for f in files:
        info = sf.info(str(f))
        seconds = info.frames / info.samplerate
        rows.append({"samplerate": info.samplerate, "channels": info.channels,
                     "seconds": seconds,
                     "kbit_per_s": Path(f).stat().st_size * 8 / 1000 / seconds,
                     "reference_frames": 1 + int(info.frames * 22050 / info.samplerate) // 512})
    return rows


def summarize_files(rows):
    """Counts of sample rates, channel counts and reference frame counts; bitrate range."""
    def counts(key):
        values = [r[key] for r in rows]
        return {str(v): values.count(v) for v in sorted(set(values))}

    kbps = [r["kbit_per_s"] for r in rows]
    secs = [r["seconds"] for r in rows]
    return {"samplerate": counts("samplerate"), "channels": counts("channels"),
            "reference_frames": counts("reference_frames"),
            "kbit_per_s": [round(min(kbps), 1), round(float(np.median(kbps)), 1),
                           round(max(kbps), 1)],
            "decoded_seconds": [round(min(secs), 4), round(max(secs), 4)]}


STAGES = ["decode", "mixdown", "resample", "log_mel", "output_check"]


def stage_times(files):
    """Milliseconds per clip of each step of the n_jobs=1 path (second of two passes)."""
    import soundfile as sf

    from sklearn_genre.audio import _mixdown, _resample
    from sklearn_genre.features import MelSpectrogramTransformer

    plan = MelSpectrogramTransformer().fit([str(files[0])]).extraction_plan()
    for _ in range(2):  # the first pass warms up
        totals = dict.fromkeys(STAGES, 0.0)
        for f in files:
            t0 = time.perf_counter()
            with sf.SoundFile(str(f)) as h:
                sr_native = h.samplerate
                y = h.read(frames=int(30.0 * sr_native), dtype="float32", always_2d=True)
            t1 = time.perf_counter()
            y = _mixdown(y)
            t2 = time.perf_counter()
            y = _resample(y, sr_native, plan.sr, plan.res_type)
            t3 = time.perf_counter()
            S = plan.features(y)
            t4 = time.perf_counter()
            assert np.isfinite(S).all()
            t5 = time.perf_counter()
            for name, dt in zip(STAGES, (t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4)):
                totals[name] += dt
    return {name: 1000.0 * t / len(files) for name, t in totals.items()}


def spawn(variant, files, cache_dir, save, tmp):
    listing = Path(tmp) / "files.json"
    listing.write_text(json.dumps([str(f) for f in files]))
    env = dict(os.environ, **{v: "1" for v in THREAD_VARS})
    cmd = [sys.executable, __file__, "--worker", variant, "--files-json", str(listing),
           "--cache-dir", str(cache_dir)]
    if save:
        cmd += ["--save", str(save)]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"variant {variant} failed:\n{proc.stderr[-4000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


# ----------------------------------------------------------------------------- report
def parity(ref_path, ours_path, files):
    import soundfile as sf

    with np.load(ref_path, allow_pickle=False) as saved:  # one array per clip (np.savez)
        ref = [saved[f"arr_{i}"] for i in range(len(files))]
    ours = np.load(ours_path)
    worst = 0.0
    for i, f in enumerate(files):
        r = ref[i]
        n = min(r.shape[-1], ours.shape[-1])
        # Frames within n_fft of the clip's end differ when the clip is not exactly 30 s
        # (ours zero-pads the waveform to 30 s before the STFT).
        n_exact = 1 + (int(sf.info(str(f)).frames * 22050 / sf.info(str(f)).samplerate)
                       - 1024) // 512
        n = min(n, n_exact) if n_exact < 1292 else n
        worst = max(worst, float(np.abs(ours[i, :, :n] - r[:, :n]).max()))
    return worst


def markdown(report):
    rows = report["variants"]
    ref = rows["reference"]["clips_per_s"]
    floor = rows["decode"]["clips_per_s"]
    floor32 = rows["decode_f32"]["clips_per_s"]
    lines = [
        f"Feature extraction, {report['n_files']} files ({report['files']}), "
        f"{report['machine']}, best of {report['rounds']} round(s).",
        "",
        "| variant | clips/s | vs reference (a) | vs decode floor (b, float64) "
        "| vs decode floor (b, float32) | clips per CPU-s (main process) "
        "| first pass clips/s | peak RSS MiB |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name in VARIANTS:
        r = rows[name]
        c = r["clips_per_s"]
        lines.append(
            f"| {name} | {c:.1f} | {c / ref:.2f}x | {c / floor:.2f} | {c / floor32:.2f} "
            f"| {r['clips_per_cpu_s']:.1f} | {r['first_pass_clips_per_s']:.1f} "
            f"| {r['peak_rss_mib']:.0f} |"
        )
    lines += [
        "",
        "- n_jobs=2 / n_jobs=1: "
        f"{rows['ours_j2']['clips_per_s'] / rows['ours_j1']['clips_per_s']:.2f}x (threads, the "
        "default), "
        f"{rows['ours_j2_loky']['clips_per_s'] / rows['ours_j1']['clips_per_s']:.2f}x (loky "
        "processes)",
        f"- warm cache / extraction (n_jobs=1): "
        f"{rows['cache_warm']['clips_per_s'] / rows['ours_j1']['clips_per_s']:.1f}x",
        "- CPU-time ratio (insensitive to other load on the machine), ours n_jobs=1 vs "
        "reference: "
        f"{rows['ours_j1']['clips_per_cpu_s'] / rows['reference']['clips_per_cpu_s']:.2f}x"
        f", vs decode floor (float64 / float32): "
        f"{rows['ours_j1']['clips_per_cpu_s'] / rows['decode']['clips_per_cpu_s']:.2f} / "
        f"{rows['ours_j1']['clips_per_cpu_s'] / rows['decode_f32']['clips_per_cpu_s']:.2f}",
        f"- parity, ours vs reference: max abs difference {report['parity_max_abs_db']:.2e} dB",
        "- where the n_jobs=1 time goes, ms per clip (each step timed alone, best round): "
        + ", ".join(f"{k} {v:.2f}" for k, v in report["stage_ms_per_clip"].items())
        + f"; sum {sum(report['stage_ms_per_clip'].values()):.1f} ms, against "
        f"{1000.0 / rows['ours_j1']['clips_per_s']:.1f} ms per clip measured for ours_j1",
        f"- output array: {report['output_mib']:.1f} MiB (float32)",
        "- the files: sample rates {samplerate}, channels {channels}, average bitrate "
        "min/median/max {kbit_per_s} kbit/s, decoded length {decoded_seconds} s; frames the "
        "reference gives per clip: {reference_frames} (ours: always 1292, clips fixed to "
        "30 s)".format(**report["file_summary"]),
        f"- decode cost per second of audio (float32 decode stage): "
        f"{report['stage_ms_per_clip']['decode'] / 30.0:.2f} ms (30 s read per clip)",
        "- memory held during one extraction (tracemalloc peak, an untimed extra pass): "
        f"{rows['ours_j1']['traced_peak_mib']:.1f} MiB at n_jobs=1, "
        f"{rows['ours_j2']['traced_peak_mib']:.1f} MiB at n_jobs=2, i.e. the output plus "
        f"{rows['ours_j1']['traced_peak_mib'] - rows['ours_j1']['output_mib']:.1f} / "
        f"{rows['ours_j2']['traced_peak_mib'] - rows['ours_j2']['output_mib']:.1f} MiB of "
        "batches in flight",
        f"- command: `{report['command']}`",
    ]
    return "\n".join(lines) + "\n"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--audio-dir", help="use the mp3 files in this folder instead of generating")
    ap.add_argument("--n-files", type=int, default=40)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--quick", action="store_true", help="6 files, 1 round")
    ap.add_argument("--out", default=str(Path(__file__).parent / "out"))
    ap.add_argument("--worker", choices=VARIANTS + ["stages"], help=argparse.SUPPRESS)
    ap.add_argument("--files-json", help=argparse.SUPPRESS)
    ap.add_argument("--cache-dir", help=argparse.SUPPRESS)
    ap.add_argument("--save", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)

    if args.worker:
        files = json.loads(Path(args.files_json).read_text())
        if args.worker == "stages":
            print(json.dumps(stage_times(files)))
        else:
            print(json.dumps(run_variant(args.worker, files, args.cache_dir, args.save)))
        return

    if args.quick:
        args.n_files, args.rounds = 6, 1
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    files = prepare_files(args)
    best = {}
    with tempfile.TemporaryDirectory() as tmp:
        cache_dir = Path(tmp) / "cache"
        ref_npy, ours_npy = Path(tmp) / "ref.npz", Path(tmp) / "ours.npy"
        stages = {}
        for rnd in range(args.rounds):
            for variant in VARIANTS:
                if variant == "cache_cold":
                    import shutil

                    shutil.rmtree(cache_dir, ignore_errors=True)
                save = None
                if rnd == 0:
                    save = {"reference": ref_npy, "ours_j1": ours_npy}.get(variant)
                r = spawn(variant, files, cache_dir, save, tmp)
                print(f"round {rnd}: {variant:11s} {r['clips_per_s']:7.1f} clips/s "
                      f"peak RSS {r['peak_rss_mib']:.0f} MiB", flush=True)
                if variant not in best or r["clips_per_s"] > best[variant]["clips_per_s"]:
                    best[variant] = r
            ms = spawn("stages", files, cache_dir, None, tmp)
            stages = {k: min(v, stages.get(k, v)) for k, v in ms.items()}
        worst = parity(ref_npy, ours_npy, files)

    import soundfile as sf

    report = {
        "n_files": len(files),
        "files": (
            "--audio-dir " + args.audio_dir
            if args.audio_dir
            else "generated: 30 s, 44.1 kHz stereo, 320 kbps CBR mp3, chords + drums + noise"
        ),
        "rounds": args.rounds,
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, {platform.platform()}",
        "python": platform.python_version(),
        "libsndfile": sf.__libsndfile_version__,
        "variants": best,
        "ratios": {
            "ours_j1_vs_reference": best["ours_j1"]["clips_per_s"]
            / best["reference"]["clips_per_s"],
            "ours_j1_vs_decode": best["ours_j1"]["clips_per_s"] / best["decode"]["clips_per_s"],
            "ours_j1_vs_decode_f32": best["ours_j1"]["clips_per_s"]
            / best["decode_f32"]["clips_per_s"],
            "ours_j2_vs_reference": best["ours_j2"]["clips_per_s"]
            / best["reference"]["clips_per_s"],
            "ours_j2_vs_j1": best["ours_j2"]["clips_per_s"] / best["ours_j1"]["clips_per_s"],
            "ours_j2_loky_vs_j1": best["ours_j2_loky"]["clips_per_s"]
            / best["ours_j1"]["clips_per_s"],
            "cache_warm_vs_ours_j1": best["cache_warm"]["clips_per_s"]
            / best["ours_j1"]["clips_per_s"],
        },
        "parity_max_abs_db": worst,
        "stage_ms_per_clip": stages,
        "file_summary": summarize_files(describe_files(files)),
        "output_mib": len(files) * 128 * 1292 * 4 / 2**20,
        "command": "python benchmarks/bench_features.py " + " ".join(sys.argv[1:]),
    }
    (out / "bench_features.json").write_text(json.dumps(report, indent=2))
    md = markdown(report)
    (out / "bench_features.md").write_text(md)
    print(md)


if __name__ == "__main__":
    main()
