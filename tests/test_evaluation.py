import json
import warnings

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, balanced_accuracy_score, f1_score

from sklearn_genre.evaluation import (
    EvaluationResult,
    bootstrap_ci,
    evaluate,
    evaluate_outside,
    evaluate_predictions,
    paired_bootstrap_ci,
)


def test_scores_match_hand_computed_values():
    y_true = ["rock", "rock", "rock", "pop", "pop", "jazz"]
    y_pred = ["rock", "rock", "pop", "pop", "jazz", "jazz"]
    r = evaluate_predictions(y_true, y_pred)
    assert list(r.labels) == ["jazz", "pop", "rock"]
    assert r.accuracy == pytest.approx(4 / 6)
    # recalls: jazz 1/1, pop 1/2, rock 2/3
    assert r.balanced_accuracy == pytest.approx((1 + 0.5 + 2 / 3) / 3)
    # precisions: jazz 1/2, pop 1/2, rock 2/2 -> F1: 2/3, 1/2, 4/5
    assert r.macro_f1 == pytest.approx((2 / 3 + 0.5 + 0.8) / 3)
    np.testing.assert_array_equal(r.confusion_matrix, [[1, 0, 0], [1, 1, 0], [0, 1, 2]])
    assert r.classification_report["rock"]["recall"] == pytest.approx(2 / 3)
    assert r.classification_report["pop"]["support"] == 2
    assert r.n_samples == 6
    np.testing.assert_array_equal(r.y_pred, y_pred)


def test_evaluate_uses_estimator_classes_and_keeps_predictions():
    rng = np.random.default_rng(0)
    y = np.repeat(["b", "a", "c"], 20)
    X = rng.normal(size=(60, 2)) + np.repeat([[0, 0], [4, 0], [0, 4]], 20, axis=0)
    clf = LogisticRegression().fit(X, y)
    r = evaluate(clf, X, y)
    assert isinstance(r, EvaluationResult)
    np.testing.assert_array_equal(r.labels, clf.classes_)
    np.testing.assert_array_equal(r.y_pred, clf.predict(X))
    assert r.accuracy == pytest.approx(np.mean(clf.predict(X) == y))
    assert r.confusion_matrix.sum() == 60
    d = r.to_dict(include_predictions=True)
    back = json.loads(json.dumps(d))
    assert back["labels"] == ["a", "b", "c"]
    assert len(back["y_pred"]) == 60
    assert "y_pred" not in r.to_dict()
    assert "precision" in r.report_text()


def test_explicit_label_order_and_unseen_genres():
    y_true = np.array([0, 1, 2, 2])
    y_pred = np.array([0, 1, 1, 2])
    r = evaluate_predictions(y_true, y_pred, labels=[2, 1, 0])
    np.testing.assert_array_equal(r.confusion_matrix, [[1, 1, 0], [0, 1, 0], [0, 0, 1]])
    with pytest.raises(ValueError, match="not in labels"):
        evaluate_predictions(y_true, y_pred, labels=[0, 1])
    # a genre of y the classifier never saw is appended after classes_
    clf = LogisticRegression().fit([[0.0], [1.0], [0.1], [0.9]], [0, 1, 0, 1])
    r = evaluate(clf, [[0.0], [1.0], [0.5]], [0, 1, 5])
    assert list(r.labels) == [0, 1, 5]
    assert r.classification_report["5"]["recall"] == 0.0


def test_never_predicted_genre_scores_zero_without_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        r = evaluate_predictions(["a", "b", "b"], ["a", "a", "a"], labels=["a", "b", "c"])
    assert r.classification_report["b"]["precision"] == 0.0
    assert r.classification_report["c"]["f1-score"] == 0.0


@pytest.mark.parametrize(
    "y_true, y_pred, match",
    [([1, 2], [1], "same length"), ([], [], "empty"), ([[1, 2]], [[1, 2]], "1-D")],
)
def test_bad_inputs(y_true, y_pred, match):
    with pytest.raises(ValueError, match=match):
        evaluate_predictions(y_true, y_pred)


# ----------------------------------------------------------------------------- bootstrap


def _loop_bootstrap(y_true, y_pred, groups, score, n_resamples, seed=0, confidence=0.95):
    """The textbook percentile bootstrap, one resample at a time, with sklearn's metrics."""
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    if groups is None:
        members = [np.array([i]) for i in range(len(y_true))]
    else:
        groups = np.asarray(groups)
        members = [np.flatnonzero(groups == g) for g in np.unique(groups)]
    rng = np.random.default_rng(seed)
    values = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for _ in range(n_resamples):
            drawn = rng.integers(0, len(members), size=len(members))
            idx = np.concatenate([members[g] for g in drawn])
            values.append(score(y_true[idx], y_pred[idx]))
    alpha = 1 - confidence
    return np.percentile(values, [100 * alpha / 2, 100 * (1 - alpha / 2)])


def test_bootstrap_of_two_clips_matches_the_enumerated_distribution():
    # one right, one wrong: a resample has 0, 1 or 2 right clips with prob. 1/4, 1/2, 1/4,
    # so the 2.5 % and 97.5 % percentiles of 2000 resamples are 0 and 1
    ci = bootstrap_ci(["a", "a"], ["a", "b"], n_resamples=2000)
    assert (ci.estimate, ci.low, ci.high) == (0.5, 0.0, 1.0)
    assert (ci.resampled, ci.n_units, ci.n_resamples) == ("clips", 2, 2000)
    # all right: every resample is right
    ci = bootstrap_ci(["a", "b", "a"], ["a", "b", "a"])
    assert (ci.low, ci.high) == (1.0, 1.0)


@pytest.mark.parametrize("use_groups", [False, True])
@pytest.mark.parametrize("metric", ["accuracy", "balanced_accuracy", "macro_f1",
                                    "macro_f1_labels"])
def test_bootstrap_ci_equals_a_plain_loop_with_sklearn_metrics(metric, use_groups):
    rng = np.random.default_rng(3)
    n = 40
    y = rng.choice(["blues", "jazz", "pop", "rock"], n)
    # wrong predictions include a genre absent from y_true ("metal")
    y_pred = np.where(rng.random(n) < 0.55, y, rng.choice(["blues", "jazz", "metal"], n))
    groups = rng.integers(0, 9, n) if use_groups else None
    labels = ["blues", "jazz", "pop", "rock", "soul"] if metric == "macro_f1_labels" else None
    name = "macro_f1" if metric == "macro_f1_labels" else metric
    score = {
        "accuracy": accuracy_score,
        "balanced_accuracy": balanced_accuracy_score,
        "macro_f1": lambda t, p: f1_score(t, p, labels=labels, average="macro",
                                          zero_division=0),
    }[name]
    expected = _loop_bootstrap(y, y_pred, groups, score, 500)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no warning per resample (or at all)
        ci = bootstrap_ci(y, y_pred, groups=groups, metric=name, labels=labels,
                          n_resamples=500)
    np.testing.assert_allclose([ci.low, ci.high], expected, rtol=1e-12)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert ci.estimate == pytest.approx(score(y, y_pred))
    assert ci.resampled == ("groups" if use_groups else "clips")
    assert ci.n_units == (len(np.unique(groups)) if use_groups else n)


def test_callable_metric_uses_the_same_resamples():
    y = np.array(list("aabbccaabb"))
    p = np.array(list("abbccaaabb"))
    groups = [0, 0, 1, 1, 2, 2, 3, 3, 4, 4]
    a = bootstrap_ci(y, p, groups=groups, metric="accuracy", n_resamples=300)
    b = bootstrap_ci(y, p, groups=groups, metric=accuracy_score, n_resamples=300)
    assert (a.low, a.high) == pytest.approx((b.low, b.high))
    assert b.metric == "accuracy_score"


def test_cluster_bootstrap_is_wider_when_artists_are_all_right_or_all_wrong():
    # 8 artists x 5 clips; a model right on every clip of 4 artists and wrong on the rest
    groups = np.repeat(np.arange(8), 5)
    y = np.repeat(["a", "b"], 20)
    y_pred = np.where(groups % 2 == 0, y, np.where(y == "a", "b", "a"))
    by_clip = bootstrap_ci(y, y_pred)
    by_artist = bootstrap_ci(y, y_pred, groups=groups)
    assert by_clip.estimate == by_artist.estimate == 0.5
    assert by_artist.high - by_artist.low > 1.5 * (by_clip.high - by_clip.low)
    assert "bootstrap over 8 artists" in by_artist.describe(unit="artists")


def test_paired_bootstrap_matches_loop_and_is_zero_for_identical_models():
    rng = np.random.default_rng(5)
    y = rng.choice(list("abc"), 30)
    a = np.where(rng.random(30) < 0.7, y, "a")
    b = np.where(rng.random(30) < 0.5, y, "b")
    groups = rng.integers(0, 6, 30)
    ci = paired_bootstrap_ci(y, b, a, groups=groups, n_resamples=400)
    members = [np.flatnonzero(groups == g) for g in np.unique(groups)]
    r = np.random.default_rng(0)
    diffs = []
    for _ in range(400):
        idx = np.concatenate([members[g] for g in r.integers(0, len(members), len(members))])
        diffs.append(np.mean(b[idx] == y[idx]) - np.mean(a[idx] == y[idx]))
    np.testing.assert_allclose([ci.low, ci.high], np.percentile(diffs, [2.5, 97.5]))
    assert ci.estimate == pytest.approx(np.mean(b == y) - np.mean(a == y))
    assert ci.metric == "difference in accuracy"
    same = paired_bootstrap_ci(y, a, a.copy())
    assert (same.estimate, same.low, same.high) == (0.0, 0.0, 0.0)


def test_bootstrap_rejects_bad_input():
    with pytest.raises(ValueError, match="n_resamples"):
        bootstrap_ci(["a"], ["a"], n_resamples=0)
    with pytest.raises(ValueError, match="confidence"):
        bootstrap_ci(["a"], ["a"], confidence=95)
    with pytest.raises(ValueError, match="one entry per test item"):
        bootstrap_ci(["a", "b"], ["a", "b"], groups=["x"])
    with pytest.raises(ValueError, match="metric"):
        bootstrap_ci(["a"], ["a"], metric="auc")


def test_evaluation_result_carries_intervals_into_dict_and_summary():
    y = ["rock", "rock", "pop", "pop", "jazz", "jazz", "pop", "rock"]
    p = ["rock", "pop", "pop", "pop", "jazz", "rock", "pop", "rock"]
    artists = ["a1", "a1", "a2", "a2", "a3", "a3", "a4", "a4"]
    r = evaluate_predictions(y, p, groups=artists)
    assert set(r.intervals) == {"accuracy", "balanced_accuracy", "macro_f1"}
    for metric, ci in r.intervals.items():
        assert ci.estimate == pytest.approx(getattr(r, metric))
        assert ci.low <= ci.estimate <= ci.high
        assert ci.resampled == "groups" and ci.n_units == 4
    d = json.loads(json.dumps(r.to_dict()))
    assert d["accuracy_ci95"] == r.intervals["accuracy"].to_list()
    assert len(d["balanced_accuracy_ci95"]) == len(d["macro_f1_ci95"]) == 2
    assert d["intervals"]["resampled"] == "groups" and d["intervals"]["n_units"] == 4
    lines = r.summary_lines(unit="artists")
    assert lines[0].startswith("accuracy 0.750 (95 % CI ")
    assert all("bootstrap over 4 artists" in line for line in lines)
    assert "bootstrap over 8 clips" in evaluate_predictions(y, p).summary()
    assert evaluate_predictions(y, p, n_resamples=0).intervals == {}


# ----------------------------------------------------------------------------- outside sets


def test_evaluate_outside_keeps_unknown_and_missing_genres_out_of_the_scores():
    clf = LogisticRegression().fit([[0.0], [1.0], [2.0]], ["pop", "rock", "jazz"])
    X = [[0.1], [0.9], [1.1], [0.2], [1.9], [5.0]]
    y = ["pop", "rock", "rock", "polka", "polka", "rock"]
    out = evaluate_outside(clf, X, y)
    assert out.n_items == 6 and out.n_scored == 4
    assert out.unknown_labels == {"polka": 2}
    assert out.unknown_predictions == {"polka": {"pop": 1, "jazz": 1}}
    assert out.missing_labels == ["jazz"]
    r = out.result
    # rock at 5.0 is predicted jazz: a mistake that stays in the scores
    assert r.accuracy == pytest.approx(3 / 4)
    # the averages run over pop and rock only (jazz has no clip here)
    assert r.balanced_accuracy == pytest.approx((1 + 2 / 3) / 2)
    assert r.macro_f1 == pytest.approx((1 + 0.8) / 2)
    assert list(r.score_labels) == ["pop", "rock"]
    assert list(r.labels) == ["pop", "rock", "jazz"]  # the predicted absent genre is a column
    assert r.confusion_matrix.sum() == 4
    text = "\n".join(out.summary_lines())
    assert "scored 4 of 6 files" in text and "polka (2)" in text and "jazz" in text
    d = json.loads(json.dumps(out.to_dict()))
    assert d["unknown_labels"] == {"polka": 2} and d["missing_labels"] == ["jazz"]
    assert "macro avg" in r.classification_report and "jazz" not in r.classification_report


def test_evaluate_outside_needs_one_known_genre():
    clf = LogisticRegression().fit([[0.0], [1.0]], ["pop", "rock"])
    with pytest.raises(ValueError, match="trained on"):
        evaluate_outside(clf, [[0.0]], ["polka"])


def test_evaluate_outside_with_a_tiny_pipeline_on_a_folder(tmp_path, make_audio):
    from sklearn.pipeline import Pipeline

    from sklearn_genre.classifiers import CNNClassifier
    from sklearn_genre.datasets import load_audio_folder
    from sklearn_genre.features import MelSpectrogramTransformer

    kinds = {"tone": "tone", "noise": "noise", "drums": "drums"}
    train = [make_audio(f"train/{k}/{i}.wav", kind, seed=i, duration=0.5)
             for k, kind in kinds.items() for i in range(3)]
    y_train = [p.parent.name for p in train]
    pipe = Pipeline([
        ("mel", MelSpectrogramTransformer(n_mels=16, n_fft=512, hop_length=256,
                                          duration=0.5)),
        ("clf", CNNClassifier(max_epochs=1, train_split=None, callbacks__early_stopping=None,
                              callbacks__lr_scheduler=None, verbose=0, random_state=0,
                              module__channels=(4, 4, 8))),
    ]).fit([str(p) for p in train], y_train)
    # the outside folder: one clip of "tone" and "noise", two of a genre never trained on
    # ("chord"), nothing of "drums"
    for name, kind, seed in [("tone/a.wav", "tone", 50), ("noise/b.wav", "noise", 51),
                             ("chord/c.wav", "chord", 52), ("chord/d.wav", "chord", 53)]:
        make_audio(f"outside/{name}", kind, seed=seed, duration=0.5)
    paths, y = load_audio_folder(tmp_path / "outside", return_X_y=True)
    out = evaluate_outside(pipe, paths, y)
    assert out.n_items == 4 and out.n_scored == 2  # every file, not a "test" share
    assert out.unknown_labels == {"chord": 2}
    assert sum(out.unknown_predictions["chord"].values()) == 2
    assert out.missing_labels == ["drums"]
    assert list(out.result.score_labels) == ["noise", "tone"]
    assert out.result.intervals["accuracy"].n_units == 2
