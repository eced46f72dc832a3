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


def test_rows_carry_intervals_over_test_artists_and_the_summary(quick_run):
    out, _, result = quick_run
    for r in result["rows"]:
        lo, hi = r["accuracy_ci95"]
        assert lo <= r["accuracy"] <= hi
        assert len(r["y_pred"]) == len(r["y_true"]) == len(r["test_artists"]) == r["n_test"]
        assert r["n_test_artists"] == len(set(r["test_artists"]))
        assert r["seed"] == 0
    summary = result["summary"]
    assert set(summary) == {"official", "random"}
    for part in summary.values():
        assert set(part["models"]) == set(MODELS)
        assert len(part["pairs"]) == len(MODELS) * (len(MODELS) - 1) // 2
        assert part["models"][part["best"]]["diff_vs_best"] == 0
    md = (out / "bench_accuracy.md").read_text()
    assert "bootstrap over the 8 test artists" in md
    assert "+/- 5 points would need about" in md
    # --render recomputes the same summary and markdown from the JSON alone
    copy = out / "again" / "bench_accuracy.json"
    copy.parent.mkdir()
    copy.write_text((out / "bench_accuracy.json").read_text())
    proc = subprocess.run([sys.executable, str(SCRIPT), "--render", str(copy)], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert (copy.parent / "bench_accuracy.md").read_text() == md


def _bench_module():
    import importlib.util

    spec = importlib.util.spec_from_file_location("bench_accuracy", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_summarize_pools_seeds_and_pairs_models_on_the_same_artists():
    import numpy as np

    from sklearn_genre.evaluation import bootstrap_ci, paired_bootstrap_ci

    bench = _bench_module()
    y = np.repeat(["a", "b"], 10)
    artists = np.arange(20) // 2
    rng = np.random.default_rng(0)
    rows = []
    for seed in (0, 1):
        good = np.where(rng.random(20) < 0.9, y, "a")
        bad = np.where(rng.random(20) < 0.5, y, "b")
        for model, pred in (("good", good), ("bad", bad)):
            rows.append({"protocol": "official", "model": model, "seed": seed,
                         "accuracy": float(np.mean(pred == y)), "y_true": y.tolist(),
                         "accuracy_ci95": bootstrap_ci(y, pred, groups=artists,
                                                       n_resamples=200).to_list(),
                         "y_pred": pred.tolist(), "test_artists": artists.tolist()})
    summary = bench.summarize(rows)["official"]
    assert summary["best"] == "good" and summary["seeds"] == [0, 1]
    pooled = {m: np.concatenate([r["y_pred"] for r in rows if r["model"] == m])
              for m in ("good", "bad")}
    y2, a2 = np.tile(y, 2), np.tile(artists, 2)
    ci = bootstrap_ci(y2, pooled["bad"], groups=a2, n_resamples=bench.N_RESAMPLES)
    bad = summary["models"]["bad"]
    assert bad["accuracy"] == pytest.approx(np.mean([r["accuracy"] for r in rows
                                                     if r["model"] == "bad"]))
    assert bad["ci95"] == pytest.approx(ci.to_list())
    assert bad["n_test_artists"] == 10
    diff = paired_bootstrap_ci(y2, pooled["good"], pooled["bad"], groups=a2,
                               n_resamples=bench.N_RESAMPLES)
    (pair,) = summary["pairs"]
    assert pair["ci95"] == pytest.approx(diff.to_list())
    assert pair["supported"] == (not diff.low <= 0 <= diff.high)
    assert len(bad["fit_half_widths"]) == 2
    # a half-width of 0.2 with 10 artists -> (0.2 / 0.05)^2 = 16 times as many artists
    assert bench.artists_needed(0.2, 10) == 160


def test_rescore_rebuilds_clips_from_confusion_matrices(tmp_path):
    import numpy as np

    from sklearn_genre.evaluation import bootstrap_ci

    bench = _bench_module()
    cm = [[3, 1], [2, 4]]
    path = tmp_path / "old.json"
    path.write_text(json.dumps({"rows": [{"protocol": "official", "model": "cnn",
                                          "confusion_matrix": cm}]}))
    text = bench.rescore(path)
    ci = bootstrap_ci([0, 0, 0, 0, 1, 1, 1, 1, 1, 1], [0, 0, 0, 1, 0, 0, 1, 1, 1, 1],
                      n_resamples=bench.N_RESAMPLES)
    assert f"| official | cnn | 0.700 | {ci.low:.3f}-{ci.high:.3f} | 10 |" in text
    assert "understates the width" in text
    assert np.isclose(ci.estimate, 0.7)
