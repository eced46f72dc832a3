"""Parity of the PyTorch MusiCNN port with the original TensorFlow code, on real recordings.

Runs the original ``musicnn`` 0.1.0 code from its wheel (``models.define_model``, the
checkpoints restored by ``tf.compat.v1.train.Saver``, ``extractor.batch_data``'s input
computation) in a separate TensorFlow virtual environment, and our port
(:func:`sklearn_genre.pretrained.load_musicnn`, :func:`~sklearn_genre.pretrained.musicnn_log_mel`,
:func:`~sklearn_genre.pretrained.musicnn_patches`) in this one, on the same audio, for
``MSD_musicnn`` and ``MTT_musicnn``. Reported per model, as max abs differences over all clips
and patches:

``model``
    both networks on the same input patches (ours): the port of the network alone;
``end_to_end``
    each side from the audio file with its own input pipeline: the original's
    ``librosa.load(sr=16000)`` + ``librosa.feature.melspectrogram`` + ``log10(10000 x + 1)``
    in float32 (the issue's fix of the float16 overflow), against ours;
``as_shipped_float16``
    the original pipeline exactly as shipped (``astype(np.float16)`` before the log, which
    overflows under NumPy 2) against ours: how far off the unfixed original is.

Clips: real music from Debian's free game-music packages (``--audio`` files, or found under
``--music-dir``), cut to varied lengths (written as 16-bit WAV at the file's rate, so both
sides decode the same samples). A clip shorter than one patch (< 2.98 s) makes the original
extractor fail; for such a clip only the ``model`` comparison runs (on our repeat-padded patch).

It also writes the small stored reference of ``tests/test_musicnn.py``
(``--reference``): a generated (license-free) 3.5 s signal's input patch computed by the
original pipeline and the original networks' outputs for it.

Usage (the TensorFlow environment: tensorflow-cpu 2.21, tf_keras, librosa; see
``--tf-python``)::

    PYTHONPATH=. .venv/bin/python benchmarks/musicnn_parity.py \\
        --tf-python /work/venvs/tf/bin/python --wheel musicnn-0.1.0-py3-none-any.whl

Writes ``musicnn_parity.json`` / ``.md`` to ``--out`` (default ``benchmarks/results``).

This file is also the TensorFlow side (``--tf-worker``), run by the TensorFlow environment's
Python; that part imports neither torch nor sklearn_genre.
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
import zipfile
from pathlib import Path

import numpy as np

MODELS = ("MSD_musicnn", "MTT_musicnn")
OUTPUTS = ("taggram", "penultimate", "mean_pool", "max_pool", "timbral", "temporal", "cnn1",
           "cnn2", "cnn3")
TARGET = 1e-3  # max abs difference of the tag probabilities (issue 16)
REFERENCE_SECONDS = 3.5
REFERENCE_SR = 16000
# Clip lengths in seconds (None: the whole file), cycled over the files.
LENGTHS = (2.0, 3.5, 6.0, 10.0, 15.0, 20.0, 30.0, 45.0, 60.0, None)


def reference_signal(sr=REFERENCE_SR, seconds=REFERENCE_SECONDS):
    """The stored reference's input: a deterministic synthetic clip (no licence question).

    A I-IV-V-I progression of harmonic tones with a soft attack, plus a decaying
    "hi-hat" burst (deterministic pseudo-noise from a sine hash) every 0.25 s. float32.
    """
    t = np.arange(int(sr * seconds)) / sr
    y = np.zeros_like(t)
    roots = (220.0, 293.66, 329.63, 220.0)
    seg = seconds / len(roots)
    for i, f0 in enumerate(roots):
        on = (t >= i * seg) & (t < (i + 1) * seg)
        local = t[on] - i * seg
        env = np.minimum(1.0, local / 0.02) * np.exp(-local * 1.5)
        for ratio in (1.0, 1.25, 1.5):
            for h in range(1, 6):
                y[on] += env * np.sin(2 * np.pi * f0 * ratio * h * local) / h
    beat = np.mod(t, 0.25)
    noise = np.sin(12.9898 * np.arange(t.size) * 78.233) * 43758.5453
    noise = 2.0 * (noise - np.floor(noise)) - 1.0
    y += 0.3 * noise * np.exp(-beat * 40.0)
    return (0.2 * y / np.max(np.abs(y))).astype(np.float32)


# =========================================================================== TensorFlow side

def _original_input(y_or_path, sr=16000, float16=False):
    """extractor.batch_data's spectrogram, with the float32 fix unless float16=True."""
    import librosa

    if isinstance(y_or_path, str):
        audio, sr = librosa.load(y_or_path, sr=16000)
    else:
        audio = y_or_path
    rep = librosa.feature.melspectrogram(y=audio, sr=sr, hop_length=256, n_fft=512,
                                         n_mels=96).T
    rep = rep.astype(np.float16) if float16 else rep.astype(np.float32)
    with np.errstate(over="ignore"):
        rep = np.log10(10000 * rep + 1)
    n_frames = 187
    starts = range(0, rep.shape[0] - n_frames + 1, n_frames)
    patches = [rep[s:s + n_frames] for s in starts]
    return np.stack(patches).astype(np.float32) if patches else None


def _tf_worker(request_path, result_path):
    os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    req = np.load(request_path, allow_pickle=False)
    wheel_dir = str(req["wheel_dir"])
    sys.path.insert(0, wheel_dir)
    import librosa
    import tensorflow as tf

    tf.compat.v1.disable_eager_execution()
    from musicnn import models  # the original code, from the unpacked wheel

    files = [str(f) for f in req["files"]]
    result = {"tf_version": np.array(tf.__version__), "librosa_version":
              np.array(librosa.__version__), "numpy_version": np.array(np.__version__)}
    inputs = {}  # name -> patches to run
    for i, f in enumerate(files):
        inputs[f"ours{i}"] = req[f"ours{i}"]
        for kind, f16 in (("orig", False), ("f16", True)):
            p = _original_input(f, float16=f16)
            if p is not None:
                inputs[f"{kind}{i}"] = p
                if kind == "orig":
                    result[f"input_orig{i}"] = p
    ref_patch = _original_input(req["reference_signal"], sr=REFERENCE_SR)
    inputs["reference"] = ref_patch
    result["reference_input"] = ref_patch
    for model in MODELS:
        tf.compat.v1.reset_default_graph()
        with tf.name_scope("model"):
            x = tf.compat.v1.placeholder(tf.float32, [None, 187, 96])
            is_training = tf.compat.v1.placeholder(tf.bool)
            y, *feats = models.define_model(x, is_training, model, 50)
            tensors = dict(zip(("timbral", "temporal", "cnn1", "cnn2", "cnn3", "mean_pool",
                                "max_pool", "penultimate"), feats))
            tensors["taggram"] = tf.nn.sigmoid(y)
        with tf.compat.v1.Session() as sess:
            tf.compat.v1.train.Saver().restore(sess, f"{wheel_dir}/musicnn/{model}/")
            for name, patches in inputs.items():
                t0 = time.perf_counter()
                out = sess.run(tensors, feed_dict={x: patches, is_training: False})
                result[f"time_{model}_{name}"] = np.array(time.perf_counter() - t0)
                for key, value in out.items():
                    value = np.asarray(value)
                    if value.ndim == 4:  # the mid-end's (B, T, 64, 1)
                        value = value[..., 0]
                    result[f"{model}_{name}_{key}"] = value
    np.savez(result_path, **result)


# =========================================================================== our side

def _find_music(music_dir, n):
    files = sorted(p for p in Path(music_dir).rglob("*")
                   if p.suffix.lower() in (".ogg", ".mp3", ".flac", ".wav")
                   and "music" in str(p).lower() and p.stat().st_size > 300_000)
    if len(files) < n:
        raise SystemExit(f"found {len(files)} music files under {music_dir}, need {n}; "
                         "pass --audio FILES")
    # spread the choice over the packages
    step = len(files) / n
    return [files[int(i * step)] for i in range(n)]


def _make_clips(files, workdir):
    import soundfile as sf

    clips = []
    for i, f in enumerate(files):
        length = LENGTHS[i % len(LENGTHS)]
        info = sf.info(str(f))
        start = min(info.frames // 3, max(0, info.frames - int((length or 0) * info.samplerate)))
        frames = -1 if length is None else int(length * info.samplerate)
        y, sr = sf.read(str(f), start=0 if length is None else start, frames=frames,
                        dtype="float32", always_2d=True)
        out = Path(workdir) / f"clip{i:02d}_{f.stem}.wav"
        sf.write(str(out), y, sr, subtype="PCM_16")
        clips.append({"source": str(f), "clip": str(out), "seconds": len(y) / sr,
                      "sr_native": sr, "channels": y.shape[1]})
    return clips


def _get_wheel(wheel, workdir):
    if wheel is None:
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps",
                        "musicnn==0.1.0", "-d", str(workdir)], check=True)
        wheel = Path(workdir) / "musicnn-0.1.0-py3-none-any.whl"
    target = Path(workdir) / "wheel"
    with zipfile.ZipFile(wheel) as zf:
        zf.extractall(target)
    return Path(wheel), target


def _maxdiff(a, b):
    """Max abs difference; inf when either side has a non-finite value (NaN, inf)."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise AssertionError(f"shape mismatch {a.shape} vs {b.shape}")
    if not (np.all(np.isfinite(a)) and np.all(np.isfinite(b))):
        return float("inf")
    return float(np.max(np.abs(a - b))) if a.size else 0.0


def _spread(taggram):
    """Largest difference of one tag between two patches (finite rows only; None if none)."""
    rows = taggram[np.all(np.isfinite(taggram), axis=1)]
    return float(np.max(np.ptp(rows, axis=0))) if len(rows) > 1 else None


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tf-python", default=os.environ.get("MUSICNN_TF_PYTHON",
                                                             "/work/venvs/tf/bin/python"))
    parser.add_argument("--wheel", type=Path, default=None,
                        help="musicnn-0.1.0-py3-none-any.whl (default: pip download it)")
    parser.add_argument("--audio", nargs="*", type=Path, default=None)
    parser.add_argument("--music-dir", type=Path, default=Path("/work/realmusic/x"))
    parser.add_argument("--n-clips", type=int, default=10)
    parser.add_argument("--data-home", default=None, help="where the port's weights are "
                        "(fetched from the wheel if missing)")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results"))
    parser.add_argument("--reference", type=Path,
                        default=Path("tests/data/musicnn_reference.npz"))
    parser.add_argument("--tf-worker", nargs=2, metavar=("REQUEST", "RESULT"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.tf_worker:
        return _tf_worker(*args.tf_worker)

    import torch

    from sklearn_genre.audio import load_audio
    from sklearn_genre.pretrained import (
        fetch_musicnn_weights,
        load_musicnn,
        musicnn_log_mel,
        musicnn_patches,
    )

    torch.set_num_threads(1)
    command = "PYTHONPATH=. python benchmarks/musicnn_parity.py " + " ".join(
        argv if argv is not None else sys.argv[1:])
    with tempfile.TemporaryDirectory() as workdir:
        wheel, wheel_dir = _get_wheel(args.wheel, workdir)
        fetch_musicnn_weights(args.data_home, source=wheel, verbose=False)
        files = args.audio or _find_music(args.music_dir, args.n_clips)
        clips = _make_clips(files, workdir)
        ours_in = {}
        for i, c in enumerate(clips):
            ours_in[f"ours{i}"] = musicnn_patches(musicnn_log_mel(load_audio(c["clip"],
                                                                             sr=16000)))
        ref_y = reference_signal()
        request = Path(workdir) / "request.npz"
        np.savez(request, wheel_dir=np.array(str(wheel_dir)),
                 files=np.array([c["clip"] for c in clips]),
                 reference_signal=ref_y, **ours_in)
        result_path = Path(workdir) / "result.npz"
        env = {**os.environ, "TF_USE_LEGACY_KERAS": "1", "OMP_NUM_THREADS": "1",
               "TF_NUM_INTRAOP_THREADS": "1", "TF_NUM_INTEROP_THREADS": "1"}
        env.pop("PYTHONPATH", None)
        t0 = time.perf_counter()
        subprocess.run([args.tf_python, __file__, "--tf-worker", str(request),
                        str(result_path)], check=True, env=env)
        tf_wall = time.perf_counter() - t0
        res = dict(np.load(result_path, allow_pickle=False))

    report = {"command": command, "target_taggram": TARGET, "clips": clips,
              "versions": {"tensorflow": str(res["tf_version"]),
                           "librosa_tf_env": str(res["librosa_version"]),
                           "numpy_tf_env": str(res["numpy_version"]),
                           "torch": torch.__version__, "numpy": np.__version__,
                           "python": platform.python_version()},
              "tf_worker_wall_s": tf_wall, "models": {}}
    for i, c in enumerate(clips):
        c["n_patches"] = int(ours_in[f"ours{i}"].shape[0])
        if f"input_orig{i}" in res:
            c["input_max_abs_diff"] = _maxdiff(ours_in[f"ours{i}"], res[f"input_orig{i}"])
        else:
            c["input_max_abs_diff"] = None  # the original cannot process it
    stored = {"reference_input": res["reference_input"],
              "reference_signal_seconds": np.array(REFERENCE_SECONDS),
              "reference_signal_sr": np.array(REFERENCE_SR)}
    for model in MODELS:
        net = load_musicnn(model, data_home=args.data_home)
        rows = {"model": {}, "end_to_end": {}, "as_shipped_float16": {}}
        times = []
        for i in range(len(clips)):
            name = f"ours{i}"
            with torch.no_grad():
                t0 = time.perf_counter()
                out = {k: v.numpy() for k, v in net(torch.from_numpy(ours_in[name])).items()}
                times.append(time.perf_counter() - t0)
            for comp, tf_name in (("model", name), ("end_to_end", f"orig{i}"),
                                  ("as_shipped_float16", f"f16{i}")):
                if f"{model}_{tf_name}_taggram" not in res:
                    continue
                for key in OUTPUTS:
                    d = _maxdiff(out[key], res[f"{model}_{tf_name}_{key}"])
                    rows[comp][key] = max(rows[comp].get(key, 0.0), d)
        with torch.no_grad():
            out = net(torch.from_numpy(res["reference_input"]))
        ref_diff = {}
        for key in ("taggram", "penultimate", "mean_pool", "max_pool"):
            stored[f"{model}_{key}"] = res[f"{model}_reference_{key}"]
            ref_diff[key] = _maxdiff(out[key].numpy(), res[f"{model}_reference_{key}"])
        rows["reference_clip"] = ref_diff
        shipped = [res[f"{model}_f16{i}_taggram"] for i in range(len(clips))
                   if f"{model}_f16{i}_taggram" in res]
        rows["as_shipped_float16_taggram"] = {
            "nonfinite_fraction": float(np.mean([np.mean(~np.isfinite(t)) for t in shipped])),
            "max_spread_over_patches": _spread(np.concatenate(shipped)),
        }
        tf_time = sum(float(res[f"time_{model}_ours{i}"]) for i in range(len(clips)))
        rows["network_seconds"] = {"torch": sum(times), "tensorflow": tf_time}
        rows["pass"] = bool(rows["model"]["taggram"] <= TARGET
                            and rows["end_to_end"]["taggram"] <= TARGET)
        report["models"][model] = rows

    args.reference.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(args.reference, **stored)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "musicnn_parity.json").write_text(json.dumps(report, indent=1) + "\n")
    (args.out / "musicnn_parity.md").write_text(_markdown(report))
    print(_markdown(report))
    return 0 if all(m["pass"] for m in report["models"].values()) else 1


def _markdown(r):
    lines = ["# MusiCNN port: parity with the original TensorFlow code", "",
             f"Command: `{r['command']}`", "",
             "Versions: " + ", ".join(f"{k} {v}" for k, v in r["versions"].items()), "",
             f"Target: max abs difference of the tag probabilities <= {r['target_taggram']}.",
             "", "## Clips", "",
             "| clip | source | seconds | patches | input max abs diff |",
             "|---|---|---:|---:|---:|"]
    for c in r["clips"]:
        diff = "n/a (original fails: < 1 patch)" if c["input_max_abs_diff"] is None \
            else f"{c['input_max_abs_diff']:.2e}"
        lines.append(f"| {Path(c['clip']).name} | {Path(c['source']).name} | "
                     f"{c['seconds']:.1f} | {c['n_patches']} | {diff} |")
    lines += ["", "## Max abs differences, all clips and patches", "",
              "`model`: same input patches; `end_to_end`: each side's own input pipeline "
              "from the file (original with the float32 fix); `as_shipped_float16`: the "
              "original's float16 cast kept; `reference_clip`: the stored test reference.",
              ""]
    keys = OUTPUTS
    for model, rows in r["models"].items():
        lines += [f"### {model} ({'PASS' if rows['pass'] else 'FAIL'})", "",
                  "| comparison | " + " | ".join(keys) + " |",
                  "|---|" + "---:|" * len(keys)]
        for comp in ("model", "end_to_end", "as_shipped_float16", "reference_clip"):
            cells = [f"{rows[comp][k]:.2e}" if k in rows[comp] else "" for k in keys]
            lines.append(f"| {comp} | " + " | ".join(cells) + " |")
        f16 = rows["as_shipped_float16_taggram"]
        spread = f16["max_spread_over_patches"]
        lines += ["", f"As shipped (float16): {100 * f16['nonfinite_fraction']:.0f} % of the "
                  "tag probabilities are non-finite; largest difference of one tag between "
                  "two patches (any clips, finite rows): "
                  + ("n/a" if spread is None else f"{spread:.2e}") + "."]
        ns = rows["network_seconds"]
        lines += ["", f"Network time over all clips (1 thread each, shared machine, "
                  f"indicative only): torch {ns['torch']:.2f} s, TensorFlow "
                  f"{ns['tensorflow']:.2f} s.", ""]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
