import json
import warnings

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from sklearn_genre.evaluation import EvaluationResult, evaluate, evaluate_predictions


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
