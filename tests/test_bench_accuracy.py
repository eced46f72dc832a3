"""benchmarks/bench_accuracy.py --quick runs end to end and writes a consistent table."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "benchmarks" / "bench_accuracy.py"
MODELS = ["linear", "cnn", "gru", "cnn_gru", "cnn_gru_attn"]


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench_accuracy")
    cmd = [sys.executable, str(SCRIPT), "--quick", "--out", str(out),
           "--data-dir", str(out / "data"), "--n-jobs", "1", "--no-progress"]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads((out / "bench_accuracy.json").read_text())
    return out, proc, result


def test_rows_cover_models_and_protocols_official_first(quick_run):
    _, _, result = quick_run
    rows = result["rows"]
    assert [(r["protocol"], r["model"]) for r in rows] == (
        [("official", m) for m in MODELS] + [("random", m) for m in MODELS])
    assert result["meta"]["finished"] is True
    assert result["meta"]["n_fits"] == len(rows) == 10


def test_metrics_and_training_fields(quick_run):
    _, _, result = quick_run
    genres = result["meta"]["data"]["genres"]
    assert len(genres) == 8
    for r in result["rows"]:
        for key in ("accuracy", "balanced_accuracy", "macro_f1"):
            assert 0.0 <= r[key] <= 1.0
        assert r["fit_seconds"] >= 0
        cm = r["confusion_matrix"]
        assert sum(map(sum, cm)) == r["n_test"]
        correct = sum(cm[i][i] for i in range(len(cm)))
        assert correct / r["n_test"] == pytest.approx(r["accuracy"])
        if r["model"] == "linear":
            assert r["device"] == "cpu" and r["C"] > 0
        else:
            assert 1 <= r["best_epoch"] <= r["epochs"] <= 2
            assert r["device"] == "cpu"  # no GPU where the tests run; --device auto
    sizes = {r["protocol"]: (r["n_train"], r["n_valid"], r["n_test"]) for r in result["rows"]}
    assert sizes == {"official": (64, 8, 8), "random": (56, 8, 16)}


def test_leakage_status_per_protocol(quick_run):
    _, _, result = quick_run
    leak = result["meta"]["leakage"]
    assert leak["official"]["status"] == "clean"
    assert leak["official"]["n_shared_artists"] == 0
    # a random split of 3 artists per genre cannot keep them apart
    assert leak["random"]["n_shared_artists"] > 0
    assert leak["random"]["status"] == "leak (ignored)"
    for r in result["rows"]:
        assert r["leakage"]["status"] == leak[r["protocol"]]["status"]


def test_metadata_and_outputs(quick_run):
    out, proc, result = quick_run
    meta = result["meta"]
    assert meta["command"].startswith("python benchmarks/bench_accuracy.py --quick")
    assert meta["machine"]["cpu_count"] >= 1 and meta["machine"]["device"] == "cpu"
    assert meta["features"]["shape"] == [32, 130]  # 3 s at hop 512
    assert meta["features"]["cache"].startswith(str(out / "data"))
    assert meta["training"]["max_epochs"] == 2
    # one progress line per fit, flushed as it goes
    assert sum(line.startswith("[") for line in proc.stdout.splitlines()) == 10
    md = (out / "bench_accuracy.md").read_text()
    table = [line for line in md.splitlines() if line.startswith("| official")
             or line.startswith("| random")]
    assert len(table) == 10
    assert "clean" in table[0] and "artists shared" in table[-1]
    assert "Partial results" not in md
