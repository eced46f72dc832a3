import json

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

from sklearn_genre import report
from sklearn_genre.leakage import check_leakage, random_split_protocol
from sklearn_genre.provenance import data_fingerprint, make_run_dir
from sklearn_genre.report import find_history, history_summary, write_report


@pytest.fixture
def fitted():
    rng = np.random.default_rng(1)
    y = np.repeat(["folk", "pop", "rock"], 10)
    X = rng.normal(size=(30, 2)) + np.repeat([[0, 0], [3, 0], [0, 3]], 10, axis=0)
    return LogisticRegression().fit(X, y), X, y


HISTORY = [
    {"epoch": 1, "train_loss": 1.0, "valid_loss": 1.1, "valid_acc": 0.4, "event_lr": 1e-3},
    {"epoch": 2, "train_loss": 0.7, "valid_loss": 0.9, "valid_acc": 0.6, "event_lr": 1e-3},
    {"epoch": 3, "train_loss": 0.5, "valid_loss": 1.0, "valid_acc": 0.5, "event_lr": 1e-4},
]


def test_write_report_writes_everything(fitted, tmp_path):
    clf, X, y = fitted
    run_dir = make_run_dir(tmp_path, "run")
    files = []
    for i in range(4):
        f = tmp_path / f"{i}.wav"
        f.write_bytes(bytes([i]) * 10)
        files.append(f)
    leak = check_leakage([0, 1], [2, 3], paths=files, artist_ids=[1, 2, 3, 4],
                         protocol="predefined")
    fp = data_fingerprint(files, labels=["a", "a", "b", "b"])
    results = write_report(
        run_dir,
        estimator=clf,
        X_test=X,
        y_test=y,
        split_protocol="predefined",
        leakage_report=leak,
        history=HISTORY,
        config={"model": "logreg", "C": np.float64(1.0)},
        data_fingerprint=fp,
        extra={"command": "test"},
    )
    names = sorted(p.name for p in run_dir.iterdir())
    assert names == [
        "classification_report.txt",
        "confusion_matrix.png",
        "confusion_matrix_normalized.png",
        "learning_curves.png",
        "predictions.csv",
        "results.json",
    ]
    saved = json.loads((run_dir / "results.json").read_text())
    evaluation = results["evaluation"]
    assert saved["metrics"]["accuracy"] == pytest.approx(evaluation.accuracy)
    assert saved["metrics"]["accuracy"] == pytest.approx(clf.score(X, y))
    assert saved["split_protocol"] == "predefined"
    assert saved["leakage"]["status"] == "clean" and saved["leakage"]["leaked"] is False
    assert saved["labels"] == ["folk", "pop", "rock"]
    assert np.sum(saved["confusion_matrix"]) == 30
    assert saved["training"] == {
        "n_epochs": 3,
        "last_train_loss": 0.5,
        "last_valid_loss": 1.0,
        "last_valid_acc": 0.5,
        "best_epoch": 2,
        "best_valid_acc": 0.6,
    }
    assert saved["config"] == {"model": "logreg", "C": 1.0}
    assert saved["data_fingerprint"]["digest"] == fp["digest"]
    assert saved["versions"]["numpy"] == np.__version__
    assert saved["command"] == "test"
    assert (set(saved) - {"command"}) | {"evaluation"} == report._STANDARD_KEYS
    assert saved["warnings"] == [] and saved["metrics"]["collapsed"] is False
    text = (run_dir / "classification_report.txt").read_text()
    assert "split protocol: predefined" in text and "leakage check: clean" in text
    preds = pd.read_csv(run_dir / "predictions.csv")
    assert list(preds.columns) == ["y_true", "y_pred", "correct"]
    assert preds["correct"].mean() == pytest.approx(evaluation.accuracy)


def test_report_states_unchecked_leakage_and_uses_estimator_history(fitted, tmp_path):
    clf, X, y = fitted
    clf.history = HISTORY[:2]  # as a skorch net carries it
    paths = [f"clip{i}.mp3" for i in range(len(y))]

    class PathModel:
        classes_ = clf.classes_
        history = clf.history

        def predict(self, paths_):
            return clf.predict(X)

    results = write_report(
        tmp_path,
        estimator=PathModel(),
        X_test=paths,
        y_test=y,
        split_protocol=random_split_protocol(0.7, 0.1, 0.2),
    )
    saved = json.loads((tmp_path / "results.json").read_text())
    assert saved["leakage"] == {"status": "not checked", "leaked": None}
    assert saved["data_fingerprint"] == {"status": "not computed"}
    assert saved["split_protocol"] == "random-stratified 70/10/20 (no artist filter)"
    assert saved["training"]["n_epochs"] == 2 and results["files"]["learning_curves"]
    assert pd.read_csv(tmp_path / "predictions.csv")["path"].tolist() == paths


def test_report_without_history_and_bad_arguments(fitted, tmp_path):
    clf, X, y = fitted
    results = write_report(tmp_path, estimator=clf, X_test=X, y_test=y, split_protocol="cv")
    assert "learning_curves" not in results["files"] and results["training"] is None
    assert not (tmp_path / "learning_curves.png").exists()
    with pytest.raises(ValueError, match="split_protocol"):
        write_report(tmp_path, estimator=clf, X_test=X, y_test=y, split_protocol="")
    with pytest.raises(ValueError, match="must not replace"):
        write_report(
            tmp_path,
            estimator=clf,
            X_test=X,
            y_test=y,
            split_protocol="cv",
            extra={"metrics": 1},
        )
    with pytest.raises(FileNotFoundError):
        write_report(tmp_path / "nope", estimator=clf, X_test=X, y_test=y, split_protocol="cv")


def test_history_helpers():
    assert history_summary([]) == {"n_epochs": 0}
    assert history_summary([{"valid_loss": 2.0}, {"valid_loss": 1.0}])["best_epoch"] == 2
    assert find_history(LogisticRegression()) is None


def test_report_gives_intervals_over_groups(fitted, tmp_path):
    clf, X, y = fitted
    artists = np.arange(len(y)) // 3  # 10 artists of 3 clips
    results = write_report(make_run_dir(tmp_path, "run"), estimator=clf, X_test=X, y_test=y,
                           split_protocol="predefined", history=None, groups=artists,
                           group_name="artists")
    saved = json.loads((tmp_path / "run" / "results.json").read_text())
    m = saved["metrics"]
    intervals = results["evaluation"].intervals
    for metric in ("accuracy", "balanced_accuracy", "macro_f1"):
        low, high = m[f"{metric}_ci95"]
        assert low <= m[metric] <= high
        assert [low, high] == intervals[metric].to_list()
    assert m["intervals"]["resampled"] == "groups" and m["intervals"]["n_units"] == 10
    assert m["intervals"]["method"] == "percentile bootstrap"
    text = (tmp_path / "run" / "classification_report.txt").read_text()
    assert f"accuracy {m['accuracy']:.3f} (95 % CI " in text
    assert text.count("bootstrap over 10 artists") == 3
    preds = pd.read_csv(tmp_path / "run" / "predictions.csv")
    assert list(preds["group"]) == list(artists)


def test_report_of_a_precomputed_evaluation(fitted, tmp_path):
    from sklearn_genre.evaluation import evaluate_outside

    clf, X, y = fitted
    y_outside = np.where(np.arange(len(y)) < 5, "polka", y)
    outside = evaluate_outside(clf, X, y_outside, n_resamples=200)
    known = y_outside != "polka"
    results = write_report(make_run_dir(tmp_path, "run"), estimator=None, X_test=X[known],
                           y_test=None, split_protocol="outside folder", history=None,
                           evaluation_result=outside.result)
    assert results["evaluation"] is outside.result
    saved = json.loads((tmp_path / "run" / "results.json").read_text())
    assert saved["metrics"]["n_test"] == known.sum()
    assert saved["metrics"]["accuracy_ci95"] == outside.result.intervals["accuracy"].to_list()
    with pytest.raises(ValueError, match="X_test has 3 items"):
        write_report(make_run_dir(tmp_path, "run2"), estimator=None, X_test=X[:3],
                     y_test=None, split_protocol="x", history=None,
                     evaluation_result=outside.result)


def test_report_keeps_going_past_unreadable_test_files(make_audio, tmp_path):
    """Issue 14: one bad test file does not throw away the evaluation of the others."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer

    from sklearn_genre.audio import AudioDecodeError
    from sklearn_genre.features import MelSpectrogramTransformer

    paths = [str(make_audio(f"{kind}{i}.wav", kind, duration=0.5, seed=i))
             for i in range(3) for kind in ("tone", "noise")]
    y = np.array(["tone", "noise"] * 3)
    model = make_pipeline(MelSpectrogramTransformer(duration=0.5, n_mels=16),
                          FunctionTransformer(lambda S: S.mean(axis=2)),
                          LogisticRegression(max_iter=500)).fit(paths, y)
    bad = tmp_path / "bad.mp3"
    bad.write_text("not audio at all")
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    X_test = [paths[0], str(bad), paths[1], str(empty)]
    y_test = np.array(["tone", "tone", "noise", "noise"])
    out = tmp_path / "report"
    out.mkdir()
    results = write_report(out, estimator=model, X_test=X_test, y_test=y_test,
                           split_protocol="predefined")
    saved = json.loads((out / "results.json").read_text())
    assert saved["metrics"]["n_test"] == 2 and saved["metrics"]["n_failed"] == 2
    assert [f["index"] for f in saved["failures"]] == [1, 3]
    assert "not audio" in saved["failures"][0]["reason"]
    assert "empty file" in saved["failures"][1]["reason"]
    preds = pd.read_csv(out / "predictions.csv")
    assert preds["path"].tolist() == X_test
    assert preds["y_true"].tolist() == y_test.tolist()
    assert preds["y_pred"].isna().tolist() == [False, True, False, True]
    assert preds["error"].fillna("").str.len().gt(0).tolist() == [False, True, False, True]
    assert "2 more could not be read" in (out / "classification_report.txt").read_text()
    assert results["evaluation"].n_samples == 2
    assert model.steps[0][1].on_error == "raise"  # the model is left as it was
    with pytest.raises(AudioDecodeError, match="bad.mp3"):
        write_report(out, estimator=model, X_test=X_test, y_test=y_test,
                     split_protocol="predefined", on_error="raise")


def test_best_epoch_follows_the_early_stopping_monitor(fitted, tmp_path):
    """The report and the learning curves name the epoch early stopping restored."""
    clf, X, y = fitted
    history = [
        {"epoch": 1, "valid_loss": 1.2, "valid_acc": 0.7, "valid_loss_best": True,
         "valid_acc_best": True},
        {"epoch": 2, "valid_loss": 0.9, "valid_acc": 0.5, "valid_loss_best": True,
         "valid_acc_best": False},
        {"epoch": 3, "valid_loss": 1.0, "valid_acc": 0.6, "valid_loss_best": False,
         "valid_acc_best": False},
    ]

    class EarlyStopped:  # a skorch net whose early stopping watches the validation loss
        classes_ = clf.classes_

        def get_params(self, deep=True):
            return {"callbacks__early_stopping__monitor": "valid_loss"}

        def predict(self, X_):
            return clf.predict(X_)

    assert report.early_stopping_monitor(EarlyStopped()) == "valid_loss"
    assert report.early_stopping_monitor(clf) is None
    results = write_report(tmp_path, estimator=EarlyStopped(), X_test=X, y_test=y,
                           split_protocol="cv", history=history)
    assert results["training"]["best_epoch"] == 2
    assert results["training"]["best_valid_loss"] == 0.9
    # without a monitor the summary keeps its accuracy-first rule
    assert history_summary(history)["best_epoch"] == 1

    from sklearn_genre.figures import plot_learning_curves

    fig = plot_learning_curves(history, best_key="valid_loss_best")
    labels = [line.get_label() for ax in fig.axes for line in ax.get_lines()]
    assert "best (valid_loss_best)" in labels and "best (valid_acc_best)" not in labels
    xs = [line.get_xdata()[0] for ax in fig.axes for line in ax.get_lines()
          if line.get_label() == "best (valid_loss_best)"]
    assert xs and all(x == 2 for x in xs)
