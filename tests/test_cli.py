"""The sklearn-genre command line: every subcommand on a tiny synthetic set, errors, Ctrl-C."""

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pytest
from skorch.callbacks import Callback

import sklearn_genre.cli.train as cli_train
from sklearn_genre.cli import main
from sklearn_genre.datasets import make_fma_like
from sklearn_genre.persistence import load_model
from sklearn_genre.provenance import read_run_info

# 16 mels x 44 frames (1 s), 2 epochs: a training run takes about a second.
FAST = ["--n-mels", "16", "--duration", "1.0", "--epochs", "2", "--batch-size", "8",
        "--no-cache"]
REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def fma_dir(tmp_path_factory):
    """A synthetic FMA folder: 10 clips x 8 genres of 1 s (64 / 8 / 8, split by artist)."""
    root = tmp_path_factory.mktemp("fma")
    make_fma_like(root, n_per_genre=10, duration=1.0, sr=22050, stereo=False, verbose=False)
    return root


@pytest.fixture(scope="module")
def trained_run(fma_dir, tmp_path_factory):
    """One completed ``train`` run directory (shared by the evaluate/predict tests)."""
    out = tmp_path_factory.mktemp("runs")
    code = main(["-q", "train", "--fma-dir", str(fma_dir), "--model", "cnn", *FAST,
                 "--out", str(out), "--name", "r1"])
    assert code == 0
    return out / "r1"


def test_help_and_usage_errors(capsys):
    assert main(["--help"]) == 0
    assert "demo" in capsys.readouterr().out
    assert main([]) == 2
    assert main(["no-such-command"]) == 2
    assert main(["train", "--model", "svm"]) == 2
    assert "invalid choice" in capsys.readouterr().err
    for sub in ("make-dataset", "fetch-fma", "preprocess", "train", "evaluate", "predict",
                "compare", "search", "demo"):
        assert main([sub, "--help"]) == 0


def test_help_texts_are_plain_text(capsys):
    for sub in ("make-dataset", "fetch-fma", "preprocess", "train", "evaluate", "predict",
                "compare", "search", "demo"):
        assert main([sub, "--help"]) == 0
        text = capsys.readouterr().out
        assert "``" not in text and ":class:" not in text and ":func:" not in text, sub
    assert main(["compare", "--help"]) == 0
    assert "search" not in capsys.readouterr().out.split("options:")[0]


def test_building_the_parser_does_not_import_torch():
    code = ("import sys, sklearn_genre.cli as c; c.build_parser()\n"
            "print(sorted(m for m in ('torch', 'skorch', 'sklearn_genre.classifiers') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=REPO).stdout
    assert out.strip() == "[]"


def test_model_choices_match_the_registry():
    from sklearn_genre.selection import MODELS

    assert sorted(cli_train.MODEL_NAMES) == sorted(MODELS)


def test_train_run_directory(trained_run, fma_dir):
    info = read_run_info(trained_run)
    assert info["status"] == "completed"
    results = json.loads((trained_run / "results.json").read_text())
    assert results["split_protocol"] == "fma-official (artist-filtered)"
    assert results["leakage"]["status"] == "clean"
    assert "artist" in results["leakage"]["checks"]
    assert len(results["data_fingerprint"]["digest"]) == 64
    assert results["config"]["model"] == "cnn"
    assert results["config"]["features"]["n_mels"] == 16
    assert results["interrupted"] is False
    assert results["training"]["n_epochs"] == 2
    for name in ("model.joblib", "confusion_matrix.png", "learning_curves.png",
                 "classification_report.txt", "predictions.csv", "split.csv", "history.json"):
        assert (trained_run / name).is_file(), name
    split = pd.read_csv(trained_run / "split.csv")
    assert set(split["role"]) == {"train", "valid", "test"}
    # the saved pipeline takes paths and carries no machine-local cache
    pipe = joblib.load(trained_run / "model.joblib")
    assert pipe.named_steps["mel"].memory is None
    assert pipe.named_steps["classifier"].train_split == "stratified"  # no validation set inside
    test_paths = split.loc[split["role"] == "test", "path"].tolist()
    assert set(pipe.predict(test_paths)) <= set(split["genre"])


def test_evaluate_round_trip(trained_run, capsys):
    code = main(["evaluate", str(trained_run), "--no-cache"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "accuracy" in out and "leakage check: clean" in out
    evals = list((trained_run / "evaluations").iterdir())
    assert len(evals) == 1
    res = json.loads((evals[0] / "results.json").read_text())
    before = json.loads((trained_run / "results.json").read_text())
    # same model, same test split -> same scores as the run's own report
    assert res["metrics"]["accuracy"] == pytest.approx(before["metrics"]["accuracy"])
    assert read_run_info(evals[0])["status"] == "completed"


def test_predict_csv_json_and_folders(trained_run, fma_dir, tmp_path, capsys):
    split = pd.read_csv(trained_run / "split.csv")
    files = split["path"].tolist()[:2]
    assert main(["-q", "predict", str(trained_run), *files, "--top-k", "2"]) == 0
    table = pd.read_csv(pd.io.common.StringIO(capsys.readouterr().out))
    assert list(table.columns[:5]) == ["path", "top1", "p1", "top2", "p2"]
    assert len(table) == 2 and (table["p1"] >= table["p2"]).all()

    out = tmp_path / "pred.json"
    folder = tmp_path / "tracks"
    for i, f in enumerate(files):
        (folder / "sub").mkdir(parents=True, exist_ok=True)
        (folder / ("sub" if i else "") / Path(f).name).write_bytes(Path(f).read_bytes())
    (folder / "notes.txt").write_text("not audio, skipped")
    assert main(["-q", "predict", str(trained_run), str(folder), "--format", "json",
                 "-o", str(out)]) == 0
    records = json.loads(out.read_text())
    assert len(records) == 2
    assert {"path", "top1", "p1", "top3"} <= set(records[0])


def test_predict_errors_say_what_is_wrong(trained_run, tmp_path, capsys):
    assert main(["predict", str(trained_run), str(tmp_path / "nope.mp3")]) == 3
    assert "no such file or folder" in capsys.readouterr().err
    bad = tmp_path / "bad.mp3"
    bad.write_text("not audio")
    assert main(["predict", str(trained_run), str(bad)]) == 3
    err = capsys.readouterr().err
    assert "bad.mp3" in err and "Traceback" not in err
    assert main(["predict", str(tmp_path), str(bad)]) == 3
    assert "holds no model.joblib" in capsys.readouterr().err
    assert main(["predict", str(trained_run), str(bad), "--top-k", "0"]) == 2


def test_missing_data_tells_how_to_get_it(tmp_path, capsys):
    assert main(["train", "--fma-dir", str(tmp_path / "missing"), *FAST]) == 3
    err = capsys.readouterr().err
    assert err.startswith("error: no FMA metadata") and "fetch-fma" in err
    assert "Traceback" not in err
    assert main(["train", "--folder", str(tmp_path / "missing"), *FAST]) == 3
    assert main(["train", "--fma-dir", str(tmp_path), "--epochs", "0"]) == 2


def test_folder_source_needs_random_split(fma_dir, tmp_path, capsys):
    folder = tmp_path / "genres"
    for genre in ("Rock", "Pop"):
        (folder / genre).mkdir(parents=True)
    src = sorted(Path(fma_dir).rglob("*.mp3"))
    for i, path in enumerate(src[:20]):
        (folder / ("Rock", "Pop")[i % 2] / path.name).write_bytes(path.read_bytes())
    code = main(["train", "--folder", str(folder), "--split", "official", *FAST,
                 "--out", str(tmp_path / "runs")])
    assert code == 2
    assert "--split random" in capsys.readouterr().err


def test_random_split_leakage_refused_or_recorded(fma_dir, tmp_path, capsys):
    args = ["-q", "train", "--fma-dir", str(fma_dir), "--split", "random", "--model", "cnn",
            *FAST, "--epochs", "1", "--out", str(tmp_path)]
    assert main([*args, "--name", "refused", "--on-leak", "raise"]) == 4
    err = capsys.readouterr().err
    assert "LEAKAGE" in err and "--on-leak warn" in err
    assert read_run_info(tmp_path / "refused")["status"] == "failed"
    assert main([*args, "--name", "warned"]) == 0
    assert "warning: leakage check" in capsys.readouterr().err
    results = json.loads((tmp_path / "warned" / "results.json").read_text())
    assert results["split_protocol"].startswith("random-stratified 70/10/20")
    assert results["leakage"]["status"] == "leak (warned)"


class _InterruptAt(Callback):
    """Raise KeyboardInterrupt (what Ctrl-C does) in the given epoch's first batch."""

    def __init__(self, epoch):
        self.epoch = epoch

    def on_batch_end(self, net, **kwargs):
        if len(net.history) == self.epoch:
            raise KeyboardInterrupt


def test_ctrl_c_during_fit_keeps_a_usable_model(fma_dir, tmp_path, monkeypatch, capsys):
    original = cli_train.build_classifier

    def with_interrupt(*args, **kwargs):
        return original(*args, callbacks=[("interrupt", _InterruptAt(2))], **kwargs)

    monkeypatch.setattr(cli_train, "build_classifier", with_interrupt)
    code = main(["train", "--fma-dir", str(fma_dir), "--model", "cnn", *FAST,
                 "--epochs", "5", "--out", str(tmp_path), "--name", "cc"])
    assert code == 130
    assert "interrupted" in capsys.readouterr().err
    run_dir = tmp_path / "cc"
    info = read_run_info(run_dir)
    assert info["status"] == "interrupted" and "after 2 epochs" in info["message"]
    results = json.loads((run_dir / "results.json").read_text())
    assert results["interrupted"] is True
    pipe = joblib.load(run_dir / "model.joblib")
    paths = pd.read_csv(run_dir / "split.csv")["path"].tolist()[:3]
    assert pipe.predict_proba(paths).shape == (3, 8)


def test_sigint_to_a_training_process(fma_dir, tmp_path):
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "MPLBACKEND": "Agg"}
    cmd = [sys.executable, "-m", "sklearn_genre.cli", "train", "--fma-dir", str(fma_dir),
           "--model", "cnn", *FAST, "--epochs", "100000", "--patience", "100000",
           "--out", str(tmp_path), "--name", "sig"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env=env, cwd=REPO)
    lines = []
    try:
        for line in proc.stdout:  # wait until the first epoch is done
            lines.append(line)
            if line.strip().startswith("1 "):
                break
        else:
            pytest.fail("training never started:\n" + "".join(lines))
        proc.send_signal(signal.SIGINT)
        rest, _ = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    output = "".join(lines) + rest
    assert proc.returncode == 130, output
    assert "Traceback" not in output
    run_dir = tmp_path / "sig"
    assert read_run_info(run_dir)["status"] == "interrupted"
    pipe = joblib.load(run_dir / "model.joblib")
    assert len(pipe.named_steps["classifier"].history) >= 1
    assert json.loads((run_dir / "results.json").read_text())["interrupted"] is True


def test_make_dataset_and_preprocess_fill_the_cache(tmp_path, capsys):
    root = tmp_path / "made"
    assert main(["-q", "make-dataset", "--out", str(root), "--n-per-genre", "3",
                 "--duration", "0.5"]) == 0
    assert f"--fma-dir {root}" in capsys.readouterr().out
    assert (root / "fma_metadata" / "tracks.csv").is_file()
    cache = tmp_path / "cache"
    assert main(["-q", "preprocess", "--fma-dir", str(root), "--n-mels", "16", "--duration",
                 "0.5", "--cache", str(cache)]) == 0
    assert "24 clips" in capsys.readouterr().out
    assert len(list(cache.rglob("*.feat"))) == 24
    assert main(["make-dataset", "--out", str(root), "--n-per-genre", "1"]) == 2
    assert main(["preprocess", "--fma-dir", str(root), "--no-cache"]) == 2


def test_preprocess_holds_one_chunk_of_features_at_a_time(tmp_path, monkeypatch, capsys):
    from sklearn_genre import extraction
    from sklearn_genre.cli import preprocess

    root = tmp_path / "made"
    assert main(["-q", "make-dataset", "--out", str(root), "--n-per-genre", "3",
                 "--duration", "0.5"]) == 0
    sizes, real = [], extraction.extract

    def spy(items, plan, **kwargs):
        sizes.append(len(items))
        return real(items, plan, **kwargs)

    monkeypatch.setattr(preprocess, "CHUNK", 5)
    monkeypatch.setattr(extraction, "extract", spy)
    cache = tmp_path / "cache"
    assert main(["-q", "preprocess", "--fma-dir", str(root), "--n-mels", "16", "--duration",
                 "0.5", "--cache", str(cache)]) == 0
    assert sizes == [5, 5, 5, 5, 4]
    assert "24 clips" in capsys.readouterr().out
    assert len(list(cache.rglob("*.feat"))) == 24


def test_default_source_is_the_synthetic_set(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("SKLEARN_GENRE_DATA", str(tmp_path / "home"))
    assert main(["-q", "make-dataset", "--n-per-genre", "3", "--duration", "0.5"]) == 0
    assert "synthetic set generated" in capsys.readouterr().out
    assert main(["preprocess", "--synthetic-n-per-genre", "3", "--synthetic-duration", "0.5",
                 "--n-mels", "16"]) == 0
    out = capsys.readouterr().out
    assert "24 clips" in out and str(tmp_path / "home" / "feature_cache") in out


def test_fetch_fma_download_failure_is_a_clear_error(tmp_path, capsys):
    code = main(["fetch-fma", "--data-home", str(tmp_path),
                 "--base-url", (tmp_path / "no-mirror").as_uri()])
    assert code == 5
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "Traceback" not in err


def test_compare_and_searches(fma_dir, tmp_path, capsys):
    common = ["--fma-dir", str(fma_dir), *FAST, "--epochs", "1", "--out", str(tmp_path)]
    assert main(["-q", "compare", "--models", "cnn", "gru", *common, "--name", "cmp"]) == 0
    table = pd.read_csv(tmp_path / "cmp" / "comparison.csv", index_col="model")
    assert list(table.index) == ["cnn", "gru"]
    assert (tmp_path / "cmp" / "comparison.png").is_file()
    res = json.loads((tmp_path / "cmp" / "results.json").read_text())
    assert res["cv"] == "validation split"

    assert main(["-q", "search", "--strategy", "grid", "--model", "cnn", "--batch-sizes", "8",
                 "16", "--lrs", "1e-3", "1e-2", *common, "--name", "grid"]) == 0
    grid = pd.read_csv(tmp_path / "grid" / "search_results.csv")
    assert len(grid) == 4 and {"batch_size", "lr"} <= set(grid.columns)
    assert (tmp_path / "grid" / "search_lr.png").is_file()
    assert "best:" in capsys.readouterr().out

    assert main(["-q", "search", "--strategy", "bayes", "--model", "cnn", "--n-iter", "2",
                 *common, "--name", "bayes"]) == 0
    bayes = pd.read_csv(tmp_path / "bayes" / "search_results.csv")
    assert len(bayes) == 2 and "beta2" in bayes.columns
    best = json.loads((tmp_path / "bayes" / "results.json").read_text())["best_params"]
    assert set(best) == {"module__cnn_dropout", "module__dropout", "optimizer__weight_decay",
                         "beta2"}
    assert main(["search", "--strategy", "grid", *common, "--cv", "x"]) == 2


def test_demo_quick(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("SKLEARN_GENRE_DATA", str(tmp_path / "home"))
    assert main(["demo", "--quick", "--out", str(tmp_path / "runs")]) == 0
    out = capsys.readouterr().out
    assert "CNN-GRU-Attention" in out and "chance level is 12.5%" in out
    (run_dir,) = (tmp_path / "runs").iterdir()
    assert f"run directory: {run_dir}" in out
    results = json.loads((run_dir / "results.json").read_text())
    assert results["leakage"]["status"] == "clean"
    assert results["config"]["model"] == "cnn_gru_attn"
    assert np.isfinite(results["metrics"]["accuracy"])
    assert (run_dir / "confusion_matrix.png").is_file()


def test_resume_an_interrupted_run(fma_dir, tmp_path, monkeypatch, capsys):
    from sklearn_genre.checkpointing import TrainingCheckpoint

    # Ctrl-C in epoch 3, injected through the class (the run's estimator, which a resume
    # fits again, is pickled without it)
    monkeypatch.setattr(TrainingCheckpoint, "on_batch_end", _InterruptAt(3).on_batch_end,
                        raising=False)
    args = ["train", "--fma-dir", str(fma_dir), "--model", "cnn", *FAST, "--epochs", "4",
            "--out", str(tmp_path), "--name", "res"]
    assert main(["-q", *args]) == 130
    run_dir = tmp_path / "res"
    assert read_run_info(run_dir)["status"] == "interrupted"
    assert "--resume" in capsys.readouterr().err
    # Ctrl-C in epoch 3 leaves the complete checkpoint of epoch 2
    assert (run_dir / "checkpoints" / "last-epoch-0002" / "optimizer.pt").is_file()
    monkeypatch.undo()

    assert main(["-q", "train", "--resume", str(run_dir)]) == 0
    info = read_run_info(run_dir)
    assert info["status"] == "completed" and info["resumed_from_epoch"] == 2
    assert [a["status"] for a in info["attempts"]] == ["interrupted"]
    history = json.loads((run_dir / "history.json").read_text())
    assert [h["epoch"] for h in history] == [1, 2, 3, 4]
    # the interrupted attempt's files are kept, not overwritten
    attempt = run_dir / "attempts" / "01-interrupted"
    assert (attempt / "model.joblib").is_file() and (attempt / "results.json").is_file()
    assert json.loads((attempt / "run_info.json").read_text())["status"] == "interrupted"
    assert json.loads((run_dir / "results.json").read_text())["interrupted"] is False
    pipe = load_model(run_dir / "model.joblib")
    assert len(pipe.named_steps["classifier"].history) == 4

    assert main(["train", "--resume", str(run_dir)]) == 3  # completed: nothing to resume
    assert "completed run" in capsys.readouterr().err


def test_broken_model_file_is_a_clear_error(trained_run, tmp_path, capsys):
    run_dir = tmp_path / "copy"
    run_dir.mkdir()
    (run_dir / "model.joblib").write_text("not a model\n")
    assert main(["predict", str(run_dir), str(trained_run / "split.csv")]) == 3
    err = capsys.readouterr().err
    assert str(run_dir / "model.joblib") in err and "not a model file" in err
