"""The feature, scaling, training and transfer benchmarks' --quick modes run end to end and write
consistent reports (no timing is asserted: the figures belong in benchmarks/results/)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from sklearn_genre.features import PARITY_TOLERANCE_DB

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "benchmarks"


def _run(script, out, *args):
    proc = subprocess.run(
        [sys.executable, str(BENCH / script), "--quick", "--out", str(out), *args],
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


def test_bench_transfer_quick(tmp_path, musicnn_data_home):
    env = dict(os.environ)
    if musicnn_data_home is not None:
        env["SKLEARN_GENRE_DATA"] = str(musicnn_data_home)
    proc = subprocess.run(
        [sys.executable, str(BENCH / "bench_transfer.py"), "--quick", "--out", str(tmp_path),
         "--data-dir", str(tmp_path / "data")],
        cwd=ROOT, capture_output=True, text=True, timeout=600, env=env,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads((tmp_path / "bench_transfer.json").read_text())
    rows = {(r["size"], r["method"]): r for r in report["rows"]}
    assert set(rows) == {(k, m) for k in (2, 3) for m in ("scratch", "musicnn_lr",
                                                              "logmel_lr")}
    for r in rows.values():
        assert 0 <= r["ci_low"] <= r["accuracy"] <= r["ci_high"] <= 1
        assert r["n_train"] == 8 * r["size"] and r["fit_seconds"] > 0
    rates = report["meta"]["throughput_rates"]
    assert set(rates["clips_per_s"]) == {"mel_j1", "mel_j2", "musicnn_j1", "musicnn_j2"}
    assert report["meta"]["synthetic_musicnn"]["shape"] == [200]
    assert "| 3 | musicnn_lr | 24 |" in (tmp_path / "bench_transfer.md").read_text()
