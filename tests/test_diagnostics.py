"""Flags for collapsed and chance-level predictions, in the report and results.json."""

import json

import numpy as np
import pytest

from sklearn_genre.diagnostics import CHANCE_MARGIN, diagnose_predictions
from sklearn_genre.report import write_report


def test_collapse_to_one_genre_is_flagged():
    flags = diagnose_predictions(["a", "a", "a", "b", "c"], ["a"] * 5)
    assert [f["flag"] for f in flags] == ["collapsed", "at_chance"]
    assert flags[0]["predicted"] == "a"
    assert "every one of the 5 test clips is predicted 'a'" in flags[0]["message"]
    # 3 genres: chance 1/3; balanced accuracy (1 + 0 + 0) / 3
    assert flags[1]["balanced_accuracy"] == pytest.approx(1 / 3)
    assert flags[1]["chance"] == pytest.approx(1 / 3)


def test_chance_level_without_collapse_is_flagged_at_the_margin():
    y_true = np.repeat(["a", "b"], 10)
    # a: 6/10 right, b: 5/10 right -> balanced accuracy 0.55 = 1/2 + margin
    y_pred = np.array(["a"] * 6 + ["b"] * 4 + ["b"] * 5 + ["a"] * 5)
    flags = diagnose_predictions(y_true, y_pred)
    assert [f["flag"] for f in flags] == ["at_chance"]
    assert flags[0]["balanced_accuracy"] == pytest.approx(0.5 + CHANCE_MARGIN)
    # one more right answer: 0.6 is above chance + margin
    y_pred[10] = "b"
    y_pred[15] = "b"
    assert diagnose_predictions(y_true, y_pred) == []
    assert diagnose_predictions(y_true, y_pred, margin=0.2)[0]["flag"] == "at_chance"
    # a genre predicted but absent from the test set does not break the score
    assert [f["flag"] for f in diagnose_predictions(["a", "b"], ["c", "c"])] == [
        "collapsed", "at_chance"]


def test_nothing_to_flag_with_one_genre_or_good_predictions():
    assert diagnose_predictions(["a", "a"], ["a", "a"]) == []
    assert diagnose_predictions(["a", "b", "c"], ["a", "b", "c"]) == []
    with pytest.raises(ValueError, match="same length"):
        diagnose_predictions(["a"], ["a", "b"])


class _Constant:
    classes_ = np.array(["jazz", "rock"])

    def predict(self, X):
        return np.array(["rock"] * len(X))


def test_report_and_results_json_carry_the_flags(tmp_path):
    y = np.array(["jazz", "rock"] * 4)
    results = write_report(tmp_path, estimator=_Constant(), X_test=np.zeros((8, 1)), y_test=y,
                           split_protocol="predefined", history=None)
    saved = json.loads((tmp_path / "results.json").read_text())
    assert saved["metrics"]["collapsed"] is True and saved["metrics"]["at_chance"] is True
    assert len(saved["warnings"]) == 2 and "collapsed to one genre" in saved["warnings"][0]
    assert results["warnings"] == saved["warnings"]
    text = (tmp_path / "classification_report.txt").read_text()
    assert "WARNING: predictions collapsed to one genre" in text
    assert "WARNING: balanced accuracy 0.500 is at chance level" in text
