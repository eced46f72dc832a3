"""The feature, scaling, training and transfer benchmarks' --quick modes run end to end and write
consistent reports (no timing is asserted: the figures belong in benchmarks/results/)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from sklearn_genre.features import PARITY_TOLERANCE_DB

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "benchmarks"


def _run(script, out, *args, quick=True):
    proc = subprocess.run(
        [sys.executable, str(BENCH / script), *(["--quick"] if quick else []), "--out",
         str(out), *args],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout


@pytest.fixture(scope="module")
def out_dir(tmp_path_factory):
    """One output folder, so the scaling benchmark reuses the generated clips."""
    return tmp_path_factory.mktemp("bench")


def test_bench_features_quick(out_dir):
    _run("bench_features.py", out_dir)
    report = json.loads((out_dir / "bench_features.json").read_text())
    rows = report["variants"]
    assert set(rows) == {"reference", "decode", "decode_f32", "ours_j1", "ours_j2",
                         "ours_j2_loky", "cache_cold", "cache_warm"}
    assert all(r["n_files"] == 6 and r["clips_per_s"] > 0 for r in rows.values())
    ratios = report["ratios"]
    assert ratios["ours_j2_vs_j1"] == pytest.approx(
        rows["ours_j2"]["clips_per_s"] / rows["ours_j1"]["clips_per_s"])
    assert ratios["ours_j1_vs_decode"] == pytest.approx(
        rows["ours_j1"]["clips_per_s"] / rows["decode"]["clips_per_s"])
    assert report["parity_max_abs_db"] <= PARITY_TOLERANCE_DB
    assert set(report["stage_ms_per_clip"]) == {"decode", "mixdown", "resample", "log_mel",
                                                "output_check"}
    for variant in ("ours_j1", "ours_j2"):  # the output is part of the traced peak
        assert rows[variant]["traced_peak_mib"] > rows[variant]["output_mib"] > 0
    md = (out_dir / "bench_features.md").read_text()
    assert "| ours_j2_loky |" in md and "command: `python benchmarks/bench_features.py" in md


def test_bench_scaling_quick(out_dir):
    _run("bench_scaling.py", out_dir)
    report = json.loads((out_dir / "bench_scaling.json").read_text())
    assert set(report["clips_per_s"]) == {"j1", "threads_j2", "loky_j2", "dask_w1", "dask_w2",
                                          "store_dask_w2", "cache_dask_w2"}
    assert report["ratio_to_j1"]["j1"] == pytest.approx(1.0)
    assert "every parallel output equals" in (out_dir / "bench_scaling.md").read_text()


def test_bench_training_quick(tmp_path):
    _run("bench_training.py", tmp_path, "--models", "gru", "cnn_gru_attention")
    rows = json.loads((tmp_path / "training.json").read_text())["rows"]
    seen = {(r["model"], r["variant"]) for r in rows}
    for model in ("gru", "cnn_gru_attention"):
        assert {(model, v) for v in ("naive", "plain", "ours")} <= seen
    for r in rows:
        if r["variant"] == "ours":
            assert r["ours_over_plain_epoch"] > 0 and r["naive_over_ours_epoch"] > 0
            assert r["epoch_seconds"] <= r["seconds"]  # the epoch is part of the whole fit
    assert "ours/plain (epoch)" in (tmp_path / "training.md").read_text()


def test_bench_training_gpu_suite_runs_on_the_cpu(tmp_path):
    # The code paths of benchmarks/gpu_session.sh (options per batch size, profile, ours vs
    # skorch's own path, the FMA-sized fit), with --device cpu and tiny sizes.
    _run("bench_training.py", tmp_path, "--device", "cpu", "--models", "cnn_gru_attention",
         "--n-samples", "32", "--n-mels", "16", "--n-frames", "32", "--no-ablation",
         "--no-loops", "--legacy", "--profile", "--options", "--batch-sizes", "16",
         "--fma-fit", "--fma-shape", "96", "16", "32", "2", quick=False)
    report = json.loads((tmp_path / "training.json").read_text())
    variants = [r["variant"] for r in report["rows"]]
    assert "options bs=16: plain loop" in variants
    assert "options bs=16: ours (defaults)" in variants
    assert "options bs=16: skorch's own path (both of the above)" in variants
    legacy = [r for r in report["rows"] if "ours_over_legacy_epoch" in r]
    assert len(legacy) == 1 and set(legacy[0]["ours_over_legacy_cpu"]) == {
        "min", "median", "max"}
    fma = report["meta"]["fma_fit"]
    assert fma["shape"] == [96, 16, 32] and len(fma["epoch_seconds"]) == 2
    # 96 less the internal validation split: 10 % of each of the 8 genres (12 clips), at least 1
    assert fma["train_samples_per_epoch"] == 88
    profile = report["meta"]["profile"]
    assert [p["loop"] for p in profile] == ["ours", "ours, skorch's own path", "plain"]
    for p in profile:
        assert p["host"]["train: forward"] > 0 and p["host"]["train: backward"] > 0
        assert p["host"]["epoch loop (whole): train"] <= p["wall_seconds"]
    md = (tmp_path / "training_profile.md").read_text()
    assert "| train: optimizer (zero_grad, step) |" in md
    assert "FMA-small-sized fit" in (tmp_path / "training.md").read_text()


def _bench_features_module():
    import importlib.util

    spec = importlib.util.spec_from_file_location("bench_features", BENCH / "bench_features.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_bench_features_reference_keeps_clips_of_different_lengths(tmp_path, make_audio):
    # Real clips cut to 30 s decode to slightly different lengths, so the reference
    # extractor gives 1292 or 1293 frames; the reference outputs must not be stacked.
    bench = _bench_features_module()
    files = [make_audio("a.mp3", sr=44100, duration=2.0, channels=2),
             make_audio("b.mp3", sr=44100, duration=2.05, channels=2, seed=1)]
    save = tmp_path / "ref.npz"
    bench.run_variant("reference", files, tmp_path / "cache", save)
    with np.load(save) as saved:
        frames = [saved["arr_0"].shape[-1], saved["arr_1"].shape[-1]]
    assert frames[0] != frames[1]
    ours = np.zeros((2, 128, min(frames)), dtype=np.float32)
    ours_path = tmp_path / "ours.npy"
    with np.load(save) as saved:
        ours[0], ours[1] = saved["arr_0"][:, :min(frames)], saved["arr_1"][:, :min(frames)]
    np.save(ours_path, ours)
    assert bench.parity(save, ours_path, files) == 0.0
    summary = bench.summarize_files(bench.describe_files(files))
    assert summary["samplerate"] == {"44100": 2} and summary["channels"] == {"2": 2}
    assert sorted(summary["reference_frames"]) == sorted(str(f) for f in set(frames))


def test_bench_transfer_quick(tmp_path, musicnn_data_home):
    env = dict(os.environ)
    if musicnn_data_home is not None:
        env["SKLEARN_GENRE_DATA"] = str(musicnn_data_home)
    proc = subprocess.run(
        [sys.executable, str(BENCH / "bench_transfer.py"), "--quick", "--out", str(tmp_path),
         "--data-dir", str(tmp_path / "data"), "--seeds", "0", "1"],
        cwd=ROOT, capture_output=True, text=True, timeout=600, env=env,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads((tmp_path / "bench_transfer.json").read_text())
    rows = {(r["size"], r["method"], r["seed"]): r for r in report["rows"]}
    assert set(rows) == {(k, m, s) for k in (2, 3) for s in (0, 1)
                         for m in ("scratch", "musicnn_lr", "logmel_lr")}
    n_test = len(report["meta"]["synthetic_test"]["y"])
    for r in rows.values():
        assert 0 <= r["ci_low"] <= r["accuracy"] <= r["ci_high"] <= 1
        assert r["n_train"] == 8 * r["size"] and r["fit_seconds"] > 0
        assert len(r["pred"]) == r["n_test"] == n_test
    # a different seed draws other training clips
    assert rows[(2, "scratch", 0)]["pred"] != rows[(2, "scratch", 1)]["pred"] or (
        rows[(2, "logmel_lr", 0)]["pred"] != rows[(2, "logmel_lr", 1)]["pred"])
    rates = report["meta"]["throughput_rates"]
    assert set(rates["clips_per_s"]) == {"mel_j1", "mel_j2", "musicnn_j1", "musicnn_j2"}
    assert report["meta"]["synthetic_musicnn"]["shape"] == [200]
    md = (tmp_path / "bench_transfer.md").read_text()
    assert "| 3 | musicnn_lr | 1 | 24 |" in md
    assert "| 3 | 1 | musicnn_lr - scratch |" in md and "| 2 | musicnn_lr | 2 |" in md


def test_bench_musicnn_forward_quick(tmp_path, musicnn_data_home):
    import soundfile as sf

    clip = tmp_path / "clip.wav"
    sf.write(clip, 0.1 * np.sin(np.arange(4 * 22050) / 5.0), 22050)
    args = ["--quick", "--out", str(tmp_path), "--audio", str(clip)]
    if musicnn_data_home is not None:
        args += ["--data-home", str(musicnn_data_home)]
    proc = subprocess.run([sys.executable, str(BENCH / "bench_musicnn_forward.py"), *args],
                          cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads((tmp_path / "bench_musicnn_forward.json").read_text())
    assert report["patches"] == 2 and len(report["seconds"]["layers"]) == 2
    # the two front-ends agree (the port's tests hold the tight bound)
    assert report["front_max_abs_diff"] < 1e-3 * report["front_max_abs"]
    assert report["layers_front_over_port_forward"]["min"] > 0
    profile = report["profile"]
    assert 0 < profile["mm_share"] <= 1 and profile["square_gflops"] > 0
    # 2 patches: 2 x 2 x (187 * 59 * 204 * 266 + 187 * 30 * 204 * 469 + 187 * 96 * 51 * 224)
    assert profile["front_gflop"] == pytest.approx(5.36, abs=0.01)
    assert set(report["stages_per_clip_seconds"]) == {"decode", "log_mel", "network"}
    assert "front-end as layers" in (tmp_path / "bench_musicnn_forward.md").read_text()
