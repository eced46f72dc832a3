"""compare_models, grid_search, bayes_search and search_results_frame on tiny log-mel arrays."""

import numpy as np
import pandas as pd
import pytest
from sklearn.dummy import DummyClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, PredefinedSplit
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer

from sklearn_genre.classifiers import CNNClassifier, CNNGRUAttentionClassifier, GRUClassifier
from sklearn_genre.datasets import ArtistGroupKFold
from sklearn_genre.figures import plot_model_comparison, plot_search_results
from sklearn_genre.selection import (
    DEFAULT_BATCH_SIZES,
    DEFAULT_LRS,
    MODELS,
    bayes_search,
    compare_models,
    default_search_spaces,
    format_comparison,
    format_params,
    format_search_summary,
    grid_search,
    make_model,
    search_results_frame,
    tied_with_best,
)

TINY = {"max_epochs": 1, "verbose": 0, "random_state": 0, "valid_size": 0.2}


@pytest.fixture(scope="module")
def data():
    """60 spectrograms of 16 mels x 24 frames, 3 genres; genre 'a' is louder in low bands."""
    rng = np.random.default_rng(0)
    y = np.repeat(np.array(["a", "b", "c"]), 20)
    X = rng.normal(-40, 10, size=(60, 16, 24)).astype(np.float32)
    X[y == "a", :4] += 20
    X[y == "b", 8:] += 20
    artists = np.repeat(np.arange(12), 5)
    return X, y, artists


def test_make_model_names_and_error():
    assert set(MODELS) == {"cnn", "gru", "cnn_gru", "cnn_gru_attn"}
    clf = make_model("cnn_gru_attn", lr=0.01)
    assert isinstance(clf, CNNGRUAttentionClassifier) and clf.lr == 0.01
    with pytest.raises(ValueError, match="unknown model 'svm'"):
        make_model("svm")


def test_compare_models_table_from_cross_validate():
    X = np.r_[np.zeros((10, 1)), np.ones((10, 1))]
    y = np.array([0] * 10 + [1] * 10)
    table = compare_models(
        X, y, models={"logreg": LogisticRegression(), "dummy": DummyClassifier()}, cv=2,
        scoring=["accuracy", "f1_macro"], return_train_score=True,
    )
    assert list(table.index) == ["logreg", "dummy"]
    assert table.loc["logreg", "mean_accuracy"] == 1.0
    assert table.loc["dummy", "mean_accuracy"] == 0.5
    for col in ("std_accuracy", "mean_f1_macro", "mean_train_accuracy", "mean_fit_time",
                "std_fit_time", "n_splits", "wall_time"):
        assert col in table.columns
    assert (table["n_splits"] == 2).all()
    assert set(table.attrs["cv_results"]) == {"logreg", "dummy"}


def test_compare_models_groups_keep_artists_apart(data):
    X, y, artists = data
    X2 = X.reshape(len(X), -1)
    seen = []

    class Recorder(DummyClassifier):
        def fit(self, X, y, sample_weight=None):
            seen.append(len(X))
            return super().fit(X, y)

    # int cv + groups -> StratifiedGroupKFold: every fold's training set excludes whole artists
    table = compare_models(X2, y, models={"d": Recorder()}, cv=3, groups=artists)
    assert table.loc["d", "n_splits"] == 3
    assert all(n % 5 == 0 for n in seen)  # 5 clips per artist


def test_compare_models_default_networks_on_precomputed_features(data):
    X, y, artists = data
    table = compare_models(X, y, models=["cnn", "gru"], params=TINY,
                           cv=ArtistGroupKFold(artists, n_splits=2))
    assert list(table.index) == ["cnn", "gru"]
    assert table["mean_accuracy"].between(0, 1).all()
    assert (table["mean_fit_time"] > 0).all()
    fig = plot_model_comparison(table)
    assert len(fig.axes) == 2  # accuracy and fit time panels


def test_compare_models_predefined_split(data):
    X, y, _ = data
    fold = np.r_[np.full(45, -1), np.zeros(15, dtype=int)]
    rng = np.random.default_rng(1)
    fold = fold[rng.permutation(60)]
    table = compare_models(X, y, models={"cnn": CNNClassifier(**TINY)},
                           cv=PredefinedSplit(fold))
    assert table.loc["cnn", "n_splits"] == 1


def test_compare_models_rejects_empty():
    with pytest.raises(ValueError, match="no models"):
        compare_models(np.zeros((4, 1)), [0, 1, 0, 1], models={})


def test_grid_search_default_grid_and_pipeline_prefix():
    search = grid_search()
    assert isinstance(search, GridSearchCV)
    assert search.param_grid == {"batch_size": list(DEFAULT_BATCH_SIZES), "lr": list(DEFAULT_LRS)}
    assert min(DEFAULT_LRS) == 5e-5 and max(DEFAULT_LRS) == 1e-2
    pipe = Pipeline([("mel", FunctionTransformer()), ("classifier", CNNClassifier())])
    search = grid_search(pipe, lrs=None)
    assert search.param_grid == {"classifier__batch_size": [16, 32, 48]}
    with pytest.raises(ValueError, match="nothing to search"):
        grid_search(batch_sizes=None, lrs=None)


def test_grid_search_fits_on_features_and_results_frame(data):
    X, y, _ = data
    search = grid_search(CNNClassifier(**TINY), batch_sizes=(8, 16), lrs=(1e-3, 1e-2), cv=2)
    search.fit(X, y)
    table = search_results_frame(search)
    assert len(table) == 4
    assert {"batch_size", "lr", "mean_test_score", "std_test_score", "rank_test_score",
            "mean_fit_time", "split0_test_score"} <= set(table.columns)
    assert table["rank_test_score"].is_monotonic_increasing
    assert pd.api.types.is_numeric_dtype(table["lr"])
    fig = plot_search_results(search.cv_results_, "lr", hue="batch_size")
    assert fig.axes[0].get_xscale() == "log"


def test_search_results_frame_strips_pipeline_prefix(data):
    X, y, _ = data
    pipe = Pipeline([("scale", FunctionTransformer()), ("classifier", CNNClassifier(**TINY))])
    search = grid_search(pipe, batch_sizes=(16,), lrs=(1e-3,), cv=2).fit(X, y)
    assert {"batch_size", "lr"} <= set(search_results_frame(search).columns)
    full = search_results_frame(search, strip_prefix=False)
    assert "classifier__lr" in full.columns
    with pytest.raises(ValueError, match="not fitted"):
        search_results_frame(grid_search())


def test_default_search_spaces_follow_the_network():
    cnn = default_search_spaces(CNNGRUAttentionClassifier())
    assert set(cnn) == {"module__cnn_dropout", "module__dropout", "optimizer__weight_decay",
                        "beta2"}
    assert cnn["optimizer__weight_decay"].prior == "log-uniform"
    gru = default_search_spaces(GRUClassifier())  # no convolutional front end
    assert "module__cnn_dropout" not in gru and "module__dropout" in gru
    pipe = Pipeline([("mel", FunctionTransformer()), ("clf", CNNClassifier())])
    assert all(k.startswith("clf__") for k in default_search_spaces(pipe))


def test_bayes_search_runs_and_sets_params(data):
    X, y, _ = data
    search = bayes_search(CNNGRUAttentionClassifier(**TINY), n_iter=2, cv=2, random_state=0)
    search.fit(X, y)
    table = search_results_frame(search)
    assert len(table) == 2
    assert table["beta2"].between(0.9, 0.9999).all()
    assert table["module__cnn_dropout"].between(0, 0.5).all()
    best = search.best_estimator_
    assert best.beta2 == search.best_params_["beta2"]
    assert best.optimizer_.param_groups[0]["betas"][1] == pytest.approx(best.beta2)
    assert best.optimizer_.param_groups[0]["weight_decay"] == pytest.approx(
        search.best_params_["optimizer__weight_decay"])


def test_compare_models_pairs_every_model_with_the_best_on_out_of_fold_predictions():
    from sklearn.model_selection import StratifiedGroupKFold, cross_val_predict

    from sklearn_genre.evaluation import bootstrap_ci, paired_bootstrap_ci

    rng = np.random.default_rng(0)
    X = rng.normal(size=(80, 3))
    y = np.where(X[:, 0] + 0.7 * rng.normal(size=80) > 0, "rock", "pop")
    groups = np.arange(80) // 4
    models = {"logreg": LogisticRegression(), "dummy": DummyClassifier()}
    table = compare_models(X, y, models=models, cv=4, groups=groups, n_resamples=500)
    splits = list(StratifiedGroupKFold(n_splits=4).split(X, y, groups))
    rows = np.concatenate([test for _, test in splits])
    np.testing.assert_array_equal(table.attrs["oof_index"], rows)
    assert table.attrs["best"] == "logreg"
    for name, est in models.items():
        expected = cross_val_predict(est, X, y, cv=splits)[rows]
        oof = table.attrs["oof_predictions"][name]
        np.testing.assert_array_equal(oof, expected)
        ci = bootstrap_ci(y[rows], oof, groups=groups[rows], n_resamples=500)
        diff = paired_bootstrap_ci(y[rows], oof, table.attrs["oof_predictions"]["logreg"],
                                   groups=groups[rows], n_resamples=500)
        r = table.loc[name]
        assert (r["pooled_accuracy"], r["pooled_accuracy_low"], r["pooled_accuracy_high"]) == (
            pytest.approx(ci.estimate), pytest.approx(ci.low), pytest.approx(ci.high))
        assert (r["diff_vs_best"], r["diff_vs_best_low"], r["diff_vs_best_high"]) == (
            pytest.approx(diff.estimate), pytest.approx(diff.low), pytest.approx(diff.high))
        folds = table.attrs["cv_results"][name]["test_score"]
        assert (r["min_accuracy"], r["max_accuracy"]) == (min(folds), max(folds))
    assert table.loc["logreg", "diff_vs_best"] == 0 and not table.loc["logreg", "tied_with_best"]
    # a clear gap: the dummy is not tied; the intervals resampled the 20 groups
    assert table.loc["dummy", "diff_vs_best_high"] < 0
    assert not table.loc["dummy", "tied_with_best"]
    assert table.attrs["intervals"]["resampled"] == "groups"
    assert table.attrs["intervals"]["n_units"] == 20
    text = format_comparison(table, unit="artists")
    assert "accuracy over 4 folds" in text and "only 4 folds" in text
    assert "over the 20 artists of the 80 out-of-fold predictions" in text
    assert "best" in text.splitlines()[1]


def test_compare_models_one_split_reports_an_interval_not_a_zero_spread():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 2))
    y = np.where(X[:, 0] > 0, "a", "b")
    fold = np.r_[np.full(33, -1), np.zeros(7, dtype=int)]
    table = compare_models(X, y, models={"logreg": LogisticRegression(),
                                         "dummy": DummyClassifier()},
                           cv=PredefinedSplit(fold))
    text = format_comparison(table)
    assert "+/- 0.000" not in text
    assert "one split: no spread over folds; the intervals are the error bars" in text
    assert "7 clips of the 7 out-of-fold predictions" in text
    assert table["n_pooled"].tolist() == [7, 7]


def test_compare_models_skips_pairing_when_test_folds_overlap():
    from sklearn.model_selection import ShuffleSplit

    X = np.r_[np.zeros((10, 1)), np.ones((10, 1))]
    y = np.array([0] * 10 + [1] * 10)
    table = compare_models(X, y, models={"d": DummyClassifier()},
                           cv=ShuffleSplit(n_splits=3, test_size=0.5, random_state=0))
    assert "pooled_accuracy" not in table and "oof_predictions" not in table.attrs
    assert "held-out" not in format_comparison(table)


def test_format_params_prints_plain_values():
    from collections import OrderedDict

    params = OrderedDict([("module__dropout", np.float64(0.123456)),
                          ("batch_size", np.int64(16)), ("name", "x")])
    text = format_params(params)
    assert text == "module__dropout=0.1235, batch_size=16, name=x"
    assert "OrderedDict" not in text and "np." not in text


def _cv_results(scores):
    scores = np.asarray(scores, dtype=float)
    means = scores.mean(axis=1)
    order = (-means).argsort(kind="stable")
    ranks = np.empty(len(means), dtype=int)
    ranks[order] = np.arange(1, len(means) + 1)
    out = {"rank_test_score": ranks, "mean_test_score": means, "std_test_score": scores.std(1),
           "param_C": np.arange(len(means))}
    for i in range(scores.shape[1]):
        out[f"split{i}_test_score"] = scores[:, i]
    return out


def test_tied_with_best_paired_corrected_t_test_by_hand():
    from scipy import stats

    results = _cv_results([[0.80, 0.82, 0.78, 0.80],   # best
                           [0.79, 0.80, 0.79, 0.78],   # close, noisy: tied
                           [0.60, 0.61, 0.59, 0.60]])  # far: not tied
    tied, rule = tied_with_best(results)
    for cand in (1, 2):
        diffs = np.array([results[f"split{i}_test_score"][0]
                          - results[f"split{i}_test_score"][cand] for i in range(4)])
        se = np.sqrt(np.var(diffs, ddof=1) * (1 / 4 + 1 / 3))
        assert tied[cand] == (diffs.mean() - stats.t.ppf(0.975, 3) * se <= 0)
    assert tied.tolist() == [True, True, False]
    assert "paired t-test over 4 folds" in rule


def test_tied_with_best_on_one_split_uses_the_wilson_interval():
    results = _cv_results([[0.7], [0.5], [0.3]])
    tied, rule = tied_with_best(results, n_test=10)
    # 7/10: Wilson 95 % interval 0.397 to 0.892
    assert "0.397 to 0.892" in rule
    assert tied.tolist() == [True, True, False]
    tied, rule = tied_with_best(results)
    assert tied.tolist() == [True, False, False] and "no interval" in rule


def test_search_results_frame_marks_ties():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 2))
    y = np.where(X[:, 0] > 0, "a", "b")
    search = GridSearchCV(LogisticRegression(), {"C": [1e-4, 1.0, 10.0]}, cv=3).fit(X, y)
    table = search_results_frame(search)
    expected, rule = tied_with_best(search)
    assert table.attrs["tie_rule"] == rule
    by_c = dict(zip(search.cv_results_["param_C"], expected))
    assert [by_c[c] for c in table["C"]] == table["tied_with_best"].tolist()
    assert table["tied_with_best"].iloc[0]


def test_format_search_summary_lists_ties_with_plain_values():
    results = _cv_results([[0.57, 0.57, 0.57], [0.57, 0.56, 0.58], [0.2, 0.21, 0.19]])
    results["param_C"] = np.ma.masked_array([np.float64(0.5), np.float64(1.5), 2.5])
    table = search_results_frame(results)
    text = format_search_summary(table)
    lines = text.splitlines()
    assert lines[0] == "best: C=0.5 (mean accuracy 0.570 +/- 0.000 over 3 folds)"
    assert "1 other candidate(s) of 3 are statistically tied with it" in lines[1]
    assert lines[2].strip().startswith("C=1.5 (mean accuracy 0.570")
    assert "C=2.5" not in text and "OrderedDict" not in text and "np." not in text


def test_compare_models_with_a_failing_fit_skips_the_pairing():
    calls = []

    class Broken(DummyClassifier):
        def fit(self, X, y, sample_weight=None):
            calls.append(1)
            if len(calls) == 1:  # the first fold's fit fails, the second works
                raise RuntimeError("boom")
            return super().fit(X, y, sample_weight)

    X = np.r_[np.zeros((10, 1)), np.ones((10, 1))]
    y = np.array([0] * 10 + [1] * 10)
    from sklearn.exceptions import FitFailedWarning

    with pytest.warns(FitFailedWarning):
        table = compare_models(X, y, models={"ok": DummyClassifier(), "broken": Broken()},
                               cv=2, error_score=np.nan)
    assert np.isnan(table.loc["broken", "mean_accuracy"])
    assert "pooled_accuracy" not in table and "oof_predictions" not in table.attrs
