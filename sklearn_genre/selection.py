"""Model selection as scikit-learn calls: compare the four networks, grid and Bayes searches.

Everything here works on **precomputed features**: the log-mel array ``X`` of shape
(n_samples, n_mels, n_frames) that :class:`~sklearn_genre.features.MelSpectrogramTransformer`
produces, extracted once::

    mel = MelSpectrogramTransformer(memory="~/.cache/sklearn_genre", n_jobs=-1)
    X = mel.fit_transform(paths)          # decoded and transformed once (and cached on disk)
    table = compare_models(X, y, cv=ArtistGroupKFold(artist_ids, n_splits=5))
    search = grid_search(CNNGRUAttentionClassifier(max_epochs=30, verbose=0)).fit(X, y)

Every candidate and every fold then trains on slices of the same array, so no clip is decoded
or transformed again. The cross-validation splitters index rows of ``X``, so ``X`` must keep the
order of ``paths``, ``y`` and any ``artist_ids``.

The alternative is to search a full ``Pipeline([("mel", MelSpectrogramTransformer(...)),
("classifier", ...)])`` on file paths. Then each fit of each candidate calls the transformer
again; give the transformer a per-file cache (``MelSpectrogramTransformer(memory=DIR)``: each
clip is computed once, later calls read it back from disk) or the pipeline a joblib cache
(``Pipeline(steps, memory=DIR)``: the fitted transformer *and its output* for a given training
set are memoised, which helps when the same folds are fitted again, e.g. candidates of a grid
search, but not across different folds). Reading cached arrays back still costs time and memory
per fit; precomputing ``X`` once is the cheapest. The searches below accept either kind of
estimator: parameter names are prefixed with the final step's name for a Pipeline.

The functions return ordinary scikit-learn objects (a ``GridSearchCV``, a ``BayesSearchCV``)
and pandas tables; plot them with :func:`sklearn_genre.figures.plot_search_results` and
:func:`sklearn_genre.figures.plot_model_comparison`.
"""

from __future__ import annotations

import inspect
import time
from numbers import Integral

import numpy as np
import pandas as pd
from sklearn.base import clone, is_classifier
from sklearn.model_selection import (
    GridSearchCV,
    StratifiedGroupKFold,
    check_cv,
    cross_validate,
)
from sklearn.pipeline import Pipeline

from .classifiers import (
    CNNClassifier,
    CNNGRUAttentionClassifier,
    CNNGRUClassifier,
    GRUClassifier,
)

__all__ = [
    "DEFAULT_BATCH_SIZES",
    "DEFAULT_LRS",
    "MODELS",
    "bayes_search",
    "compare_models",
    "default_search_spaces",
    "format_comparison",
    "format_params",
    "format_search_summary",
    "grid_search",
    "make_model",
    "search_results_frame",
    "tied_with_best",
]

#: Short names of the four classifiers (used by the command line's ``--model``).
MODELS = {
    "cnn": CNNClassifier,
    "gru": GRUClassifier,
    "cnn_gru": CNNGRUClassifier,
    "cnn_gru_attn": CNNGRUAttentionClassifier,
}

#: Batch sizes of the reference work's batch-size grid.
DEFAULT_BATCH_SIZES = (16, 32, 48)

#: Learning rates of the default grid: 5e-5 ... 1e-2, roughly evenly spaced on a log scale.
DEFAULT_LRS = (5e-5, 1e-4, 3e-4, 1e-3, 3e-3, 1e-2)


def make_model(name, **params):
    """A new classifier by short name.

    Parameters
    ----------
    name : {"cnn", "gru", "cnn_gru", "cnn_gru_attn"}
        See :data:`MODELS`.
    **params
        Constructor parameters (``max_epochs=20``, ``verbose=0``, ``module__dropout=0.4``...).

    Returns
    -------
    estimator : CNNClassifier, GRUClassifier, CNNGRUClassifier or CNNGRUAttentionClassifier
    """
    try:
        cls = MODELS[name]
    except KeyError:
        raise ValueError(f"unknown model {name!r}; choose one of {sorted(MODELS)}") from None
    return cls(**params)


def _metric_names(scoring):
    if scoring is None:
        return ["score"], False
    if isinstance(scoring, str):
        return [scoring], False
    if callable(scoring):
        return ["score"], False
    if isinstance(scoring, dict):
        return list(scoring), True
    names = list(scoring)
    if not names or not all(isinstance(s, str) for s in names):
        raise ValueError(f"scoring must be a str, callable, list of str or dict; got {scoring!r}")
    return names, True


def _resolve_cv(cv, y, groups, estimator):
    """An int ``cv`` with ``groups`` means a stratified group K-fold (no group in two folds)."""
    if groups is not None and isinstance(cv, Integral):
        return StratifiedGroupKFold(n_splits=int(cv))
    return check_cv(5 if cv is None else cv, y, classifier=is_classifier(estimator))


def compare_models(
    X,
    y,
    *,
    models=None,
    params=None,
    cv=5,
    groups=None,
    scoring="accuracy",
    n_jobs=None,
    return_train_score=False,
    error_score="raise",
    verbose=0,
    n_resamples=2000,
    confidence=0.95,
    random_state=0,
):
    """Cross-validate several models on the same data and splits; one table row per model.

    Besides the spread of each score over the folds, every model is compared with the best
    one *on the same test items*: the out-of-fold predictions of all folds are pooled (each
    item predicted by the model of the fold that held it out), and a paired bootstrap over
    those items (over their groups when known) gives the pooled accuracy's interval and the
    interval of each model's difference to the best (see
    :func:`sklearn_genre.evaluation.paired_bootstrap_ci`). With one split (a validation set)
    there is no spread over folds; the intervals are then the only error bars.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_mels, n_frames)
        Precomputed log-mel spectrograms (see the module notes), or whatever the models take
        (file paths for Pipelines that start with a ``MelSpectrogramTransformer``).
    y : array-like of shape (n_samples,)
        Genres.
    models : dict of str to estimator, list of str, or None, default=None
        ``{name: estimator}``, or short names from :data:`MODELS`. ``None``: the four networks
        (``cnn``, ``gru``, ``cnn_gru``, ``cnn_gru_attn``), built with ``params``.
    params : dict, default=None
        Constructor parameters for models given by name (e.g. ``{"max_epochs": 20,
        "verbose": 0, "random_state": 0}``). Ignored for estimator instances.
    cv : int, cross-validation generator or iterable, default=5
        Any scikit-learn ``cv``: an int (stratified K-fold; with ``groups``, a
        :class:`~sklearn.model_selection.StratifiedGroupKFold` so no group, e.g. no artist,
        is in two folds), :class:`~sklearn_genre.datasets.ArtistGroupKFold`, a
        :class:`~sklearn.model_selection.PredefinedSplit` or
        :class:`~sklearn_genre.datasets.OfficialSplit` (one train/validation split), or a
        list of ``(train, test)`` index pairs. Every model sees the same splits.
    groups : array-like of shape (n_samples,), default=None
        Group of each sample (artist ids) for group-aware splitters; the bootstrap then
        resamples groups. ``None`` with an :class:`~sklearn_genre.datasets.ArtistGroupKFold`
        ``cv``: its artist ids are the groups.
    scoring : str, callable, list or dict, default="accuracy"
        As in :func:`sklearn.model_selection.cross_validate`.
    n_jobs : int, default=None
        Folds fitted in parallel (``joblib``; no backend forced, so a
        ``joblib.parallel_backend("dask")`` context distributes them).
    return_train_score : bool, default=False
        Also score the training folds.
    error_score : "raise" or float, default="raise"
        What a failing fit gives (see :func:`~sklearn.model_selection.cross_validate`).
    verbose : int, default=0
        Passed to ``cross_validate``; > 0 also prints one line per model.
    n_resamples : int, default=2000
        Bootstrap resamples of the pooled out-of-fold predictions; 0 skips the intervals and
        the paired comparison.
    confidence : float, default=0.95
    random_state : int, default=0
        Seed of the bootstrap (every model gets the same resamples).

    Returns
    -------
    table : pandas.DataFrame
        Index ``model``; for each metric ``m``: ``mean_m``, ``std_m`` (population standard
        deviation), ``min_m`` and ``max_m`` over the folds (and ``mean_train_m`` /
        ``std_train_m`` with ``return_train_score``), then ``mean_fit_time``,
        ``std_fit_time``, ``mean_score_time`` (seconds), ``n_splits`` and ``wall_time``
        (seconds for the whole cross-validation of that model). Unless ``n_resamples=0``,
        a fit failed (numeric ``error_score``) or an item is in two test folds:
        ``n_pooled`` (out-of-fold items),
        ``pooled_accuracy`` with ``pooled_accuracy_low`` / ``_high`` (its interval),
        ``diff_vs_best`` with ``diff_vs_best_low`` / ``_high`` (paired interval of the
        accuracy difference to the model with the highest pooled accuracy; 0 for that
        one) and ``tied_with_best`` (the difference's interval contains 0).
        ``table.attrs`` holds ``cv_results`` (each model's raw ``cross_validate``
        output), ``oof_predictions`` (model -> predictions of the pooled items),
        ``oof_index`` (the pooled items' rows), ``best`` and ``intervals`` (what was
        resampled, how many units, confidence). Print it with :func:`format_comparison`;
        plot it with :func:`sklearn_genre.figures.plot_model_comparison`.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn.dummy import DummyClassifier
    >>> from sklearn_genre.selection import compare_models
    >>> X = np.r_[np.zeros((10, 1)), np.ones((10, 1))]
    >>> y = np.array([0] * 10 + [1] * 10)
    >>> table = compare_models(X, y, models={"logreg": LogisticRegression(),
    ...                                      "dummy": DummyClassifier()}, cv=2)
    >>> table["mean_accuracy"].round(2).to_dict()
    {'logreg': 1.0, 'dummy': 0.5}
    """
    if models is None:
        models = list(MODELS)
    if isinstance(models, dict):
        named = dict(models)
    else:
        named = {name: make_model(name, **(params or {})) for name in models}
    if not named:
        raise ValueError("no models to compare")
    metrics, multi = _metric_names(scoring)
    y = np.asarray(y)
    first = next(iter(named.values()))
    splits = list(_resolve_cv(cv, y, groups, first).split(X, y, groups))

    test_rows = np.concatenate([np.asarray(test) for _, test in splits])
    pooled = bool(n_resamples) and len(np.unique(test_rows)) == len(test_rows)

    rows, raw, oof = [], {}, {}
    for name, estimator in named.items():
        start = time.perf_counter()
        res = cross_validate(
            clone(estimator),
            X,
            y,
            cv=splits,
            scoring=scoring,
            n_jobs=n_jobs,
            return_train_score=return_train_score,
            return_estimator=pooled,
            error_score=error_score,
            verbose=verbose,
        )
        if pooled:
            fitted = res.pop("estimator")
            failed = any(np.isnan(np.asarray(v, dtype=float)).any()
                         for k, v in res.items() if k.startswith("test_"))
            # a fit that failed under a numeric error_score has no predictions to pair
            oof[name] = None if failed else np.concatenate([
                np.asarray(est.predict(_rows(X, np.asarray(test))))
                for est, (_, test) in zip(fitted, splits)
            ])
            del fitted
        wall = time.perf_counter() - start
        row = {"model": name}
        for m in metrics:
            test = np.asarray(res[f"test_{m}" if multi else "test_score"], dtype=float)
            row[f"mean_{m}"], row[f"std_{m}"] = float(np.mean(test)), float(np.std(test))
            row[f"min_{m}"], row[f"max_{m}"] = float(np.min(test)), float(np.max(test))
            if return_train_score:
                train = np.asarray(res[f"train_{m}" if multi else "train_score"], dtype=float)
                row[f"mean_train_{m}"] = float(np.mean(train))
                row[f"std_train_{m}"] = float(np.std(train))
        row.update(
            mean_fit_time=float(np.mean(res["fit_time"])),
            std_fit_time=float(np.std(res["fit_time"])),
            mean_score_time=float(np.mean(res["score_time"])),
            n_splits=len(splits),
            wall_time=wall,
        )
        rows.append(row)
        raw[name] = res
        if verbose:
            m = metrics[0]
            spread = (f"+/- {row[f'std_{m}']:.4f} over {len(splits)} folds"
                      if len(splits) > 1 else "(one split)")
            print(f"[compare_models] {name}: {m} {row[f'mean_{m}']:.4f} {spread} "
                  f"({wall:.1f} s)")
    table = pd.DataFrame(rows).set_index("model")
    table.attrs["cv_results"] = raw
    if pooled and all(pred is not None for pred in oof.values()):
        if groups is None:
            groups = getattr(cv, "artist_ids", None)
        _paired_columns(table, y[test_rows], oof,
                        None if groups is None else np.asarray(groups)[test_rows],
                        n_resamples=n_resamples, confidence=confidence,
                        random_state=random_state)
        table.attrs["oof_index"] = test_rows
    return table


def _rows(X, index):
    """Rows ``index`` of ``X``: a DataFrame, an array (dense or sparse) or a list of paths."""
    if hasattr(X, "iloc"):
        return X.iloc[index]
    if hasattr(X, "shape"):
        return X[index]
    return [X[i] for i in index]


def _paired_columns(table, y_true, oof, groups, **bootstrap):
    """Pooled out-of-fold accuracy and paired differences to the best model, in place."""
    from .evaluation import bootstrap_ci, paired_bootstrap_ci

    accuracy = {name: float(np.mean(pred == y_true)) for name, pred in oof.items()}
    best = max(accuracy, key=accuracy.get)
    for name, pred in oof.items():
        ci = bootstrap_ci(y_true, pred, groups=groups, **bootstrap)
        diff = paired_bootstrap_ci(y_true, pred, oof[best], groups=groups, **bootstrap)
        table.loc[name, "n_pooled"] = len(y_true)
        table.loc[name, ["pooled_accuracy", "pooled_accuracy_low", "pooled_accuracy_high"]] = (
            ci.estimate, ci.low, ci.high)
        table.loc[name, ["diff_vs_best", "diff_vs_best_low", "diff_vs_best_high"]] = (
            diff.estimate, diff.low, diff.high)
        table.loc[name, "tied_with_best"] = name != best and diff.low <= 0 <= diff.high
    table["n_pooled"] = table["n_pooled"].astype(int)
    table["tied_with_best"] = table["tied_with_best"].astype(bool)
    table.attrs.update(best=best, oof_predictions=oof, intervals={
        k: v for k, v in ci.to_dict().items()
        if k in ("method", "confidence", "resampled", "n_units", "n_resamples")})


def format_comparison(table, *, metric="accuracy", unit=None):
    """The result of :func:`compare_models` as a text table, with its error bars explained.

    Parameters
    ----------
    table : pandas.DataFrame
        From :func:`compare_models`.
    metric : str, default="accuracy"
        The fold metric shown.
    unit : str, default=None
        Plural name of the bootstrap's groups (``"artists"``).

    Returns
    -------
    text : str
        One line per model, best first: the fold mean +/- standard deviation and the
        min-max range (with one split: the single score, and "one split: no spread over
        folds"), the pooled out-of-fold accuracy with its interval, and the paired
        difference to the best with its interval ("tied" when it contains 0); then notes.
    """
    n_splits = int(table["n_splits"].iloc[0])
    paired = "pooled_accuracy" in table
    order = table.sort_values("pooled_accuracy" if paired else f"mean_{metric}",
                              ascending=False)
    info = table.attrs.get("intervals", {})
    level = round(100 * info.get("confidence", 0.95))
    head_folds = f"{metric} over {n_splits} folds" if n_splits > 1 else f"{metric} (one split)"
    header = [f"{'model':<14}", f"{head_folds:<28}"]
    if paired:
        header += [f"{'held-out accuracy (' + str(level) + ' % CI)':<28}",
                   f"difference to the best ({level} % CI)"]
    lines = ["  ".join(header)]
    for name, r in order.iterrows():
        if n_splits > 1:
            folds = (f"{r[f'mean_{metric}']:.3f} +/- {r[f'std_{metric}']:.3f} "
                     f"({r[f'min_{metric}']:.2f}-{r[f'max_{metric}']:.2f})")
        else:
            folds = f"{r[f'mean_{metric}']:.3f}"
        cells = [f"{name:<14}", f"{folds:<28}"]
        if paired:
            cells.append(f"{r['pooled_accuracy']:.3f} ({r['pooled_accuracy_low']:.2f} to "
                         f"{r['pooled_accuracy_high']:.2f})".ljust(28))
            if name == table.attrs.get("best"):
                cells.append("best")
            else:
                cells.append(f"{r['diff_vs_best']:+.3f} ({r['diff_vs_best_low']:+.2f} to "
                             f"{r['diff_vs_best_high']:+.2f})"
                             + ("  tied" if r["tied_with_best"] else ""))
        lines.append("  ".join(cells).rstrip())
    notes = []
    if n_splits == 1:
        notes.append("one split: no spread over folds; the intervals are the error bars")
    elif n_splits < 5:
        notes.append(f"only {n_splits} folds: the standard deviation and range over folds are "
                     "a rough guide")
    if paired:
        what = unit if info.get("resampled") == "groups" and unit else info.get("resampled")
        notes.append(
            f"intervals: {info.get('method', 'percentile bootstrap')} over the "
            f"{info.get('n_units')} {what} of the {int(table['n_pooled'].iloc[0])} "
            "out-of-fold predictions, paired: every model scored on the same resamples; "
            "'tied': the difference's interval contains 0, the data cannot separate the two")
        ties = [n for n, t in table["tied_with_best"].items() if t]
        if ties:
            notes.append(f"tied with the best ({table.attrs['best']}): {', '.join(ties)}")
    return "\n".join(lines + [f"note: {n}" for n in notes])


def _prefix(estimator):
    """Parameter prefix of the classifier inside ``estimator`` ("" or "<last step>__")."""
    if isinstance(estimator, Pipeline):
        return f"{estimator.steps[-1][0]}__"
    return ""


def _final(estimator):
    return estimator.steps[-1][1] if isinstance(estimator, Pipeline) else estimator


def grid_search(
    estimator=None,
    *,
    batch_sizes=DEFAULT_BATCH_SIZES,
    lrs=DEFAULT_LRS,
    param_grid=None,
    cv=3,
    scoring="accuracy",
    n_jobs=None,
    refit=True,
    verbose=0,
    error_score="raise",
    return_train_score=False,
):
    """A ``GridSearchCV`` over batch size and learning rate (the reference work's grids).

    Parameters
    ----------
    estimator : estimator or Pipeline, default=None
        The classifier (or a Pipeline ending in one). ``None``:
        ``CNNGRUAttentionClassifier(verbose=0)``.
    batch_sizes : sequence of int, default=(16, 32, 48)
        Values of ``batch_size``. ``None`` leaves it out of the grid.
    lrs : sequence of float, default=(5e-5, 1e-4, 3e-4, 1e-3, 3e-3, 1e-2)
        Values of ``lr``. ``None`` leaves it out of the grid.
    param_grid : dict or list of dict, default=None
        A grid of your own, with full parameter names; replaces ``batch_sizes`` and ``lrs``.
    cv : int, cross-validation generator or iterable, default=3
        See :func:`compare_models`; e.g. ``OfficialSplit(bunch.split)`` to select on FMA's
        validation set, or ``ArtistGroupKFold(artist_ids)``.
    scoring, n_jobs, refit, verbose, error_score, return_train_score
        As in :class:`sklearn.model_selection.GridSearchCV`.

    Returns
    -------
    search : GridSearchCV
        Not fitted: call ``search.fit(X, y)`` with precomputed features ``X`` of shape
        (n_samples, n_mels, n_frames) (see the module notes). Then
        :func:`search_results_frame` and :func:`sklearn_genre.figures.plot_search_results`
        (``param="lr"``, ``hue="batch_size"``).

    Notes
    -----
    The full default grid is 3 x 6 = 18 candidates per fold. The reference work searched batch
    size and learning rate one after the other; two calls with ``lrs=None`` then
    ``batch_sizes=None`` reproduce that (with the best batch size fixed on the estimator).
    """
    if estimator is None:
        estimator = CNNGRUAttentionClassifier(verbose=0)
    if param_grid is None:
        p = _prefix(estimator)
        param_grid = {}
        if batch_sizes is not None:
            param_grid[f"{p}batch_size"] = [int(b) for b in batch_sizes]
        if lrs is not None:
            param_grid[f"{p}lr"] = [float(v) for v in lrs]
        if not param_grid:
            raise ValueError("batch_sizes and lrs are both None: nothing to search")
    return GridSearchCV(
        estimator,
        param_grid,
        scoring=scoring,
        cv=cv,
        n_jobs=n_jobs,
        refit=refit,
        verbose=verbose,
        error_score=error_score,
        return_train_score=return_train_score,
    )


def default_search_spaces(estimator):
    """The default Bayes search space for ``estimator`` (skopt dimensions).

    Dropouts the network has (``module__cnn_dropout`` for the convolutional front end,
    ``module__dropout`` before the output layer): uniform in [0, 0.5] and [0.1, 0.6];
    ``optimizer__weight_decay``: log-uniform in [1e-4, 1e-1]; ``beta2`` (Adam's second
    moment decay): uniform in [0.9, 0.9999]. Names are prefixed for a Pipeline.

    Parameters
    ----------
    estimator : classifier or Pipeline ending in one

    Returns
    -------
    spaces : dict of str to skopt.space.Dimension
    """
    from skopt.space import Real

    clf = _final(estimator)
    p = _prefix(estimator)
    module = getattr(clf, "module", None)
    accepted = set()
    if isinstance(module, type):
        accepted = set(inspect.signature(module.__init__).parameters)
    elif module is not None:  # an instance: its class decides
        accepted = set(inspect.signature(type(module).__init__).parameters)
    spaces = {}
    if "cnn_dropout" in accepted:
        spaces[f"{p}module__cnn_dropout"] = Real(0.0, 0.5, prior="uniform")
    if "dropout" in accepted:
        spaces[f"{p}module__dropout"] = Real(0.1, 0.6, prior="uniform")
    spaces[f"{p}optimizer__weight_decay"] = Real(1e-4, 1e-1, prior="log-uniform")
    if "beta2" in clf.get_params(deep=False):
        spaces[f"{p}beta2"] = Real(0.9, 0.9999, prior="uniform")
    return spaces


def bayes_search(
    estimator=None,
    *,
    search_spaces=None,
    n_iter=20,
    cv=3,
    scoring="accuracy",
    n_jobs=None,
    n_points=1,
    refit=True,
    random_state=None,
    verbose=0,
    error_score="raise",
    return_train_score=False,
):
    """A scikit-optimize ``BayesSearchCV`` over dropouts, weight decay and Adam's beta2.

    Parameters
    ----------
    estimator : estimator or Pipeline, default=None
        ``None``: ``CNNGRUAttentionClassifier(verbose=0)``.
    search_spaces : dict, default=None
        ``{name: skopt dimension or (low, high[, prior]) or list}``. ``None``:
        :func:`default_search_spaces` (the dropouts the network has, ``optimizer__weight_decay``
        and ``beta2``).
    n_iter : int, default=20
        Number of candidates (each fitted on every fold).
    cv : int, cross-validation generator or iterable, default=3
        See :func:`compare_models`.
    n_points : int, default=1
        Candidates proposed (and fitted in parallel with ``n_jobs``) per step.
    random_state : int or None, default=None
        Seeds the optimizer's proposals (not the networks: set the estimator's own
        ``random_state`` for that).
    scoring, n_jobs, refit, verbose, error_score, return_train_score
        As in :class:`skopt.BayesSearchCV`.

    Returns
    -------
    search : skopt.BayesSearchCV
        Not fitted: call ``search.fit(X, y)`` on precomputed features (see the module notes).

    Notes
    -----
    ``beta2`` is the classifiers' scalar stand-in for the second entry of
    ``optimizer__betas`` (a tuple that skopt cannot search).
    """
    from skopt import BayesSearchCV

    if estimator is None:
        estimator = CNNGRUAttentionClassifier(verbose=0)
    if search_spaces is None:
        search_spaces = default_search_spaces(estimator)
    return BayesSearchCV(
        estimator,
        search_spaces,
        n_iter=n_iter,
        scoring=scoring,
        cv=cv,
        n_jobs=n_jobs,
        n_points=n_points,
        refit=refit,
        random_state=random_state,
        verbose=verbose,
        error_score=error_score,
        return_train_score=return_train_score,
    )


def format_params(params):
    """Search parameters as plain ``name=value`` text (no ``OrderedDict``, no numpy types).

    Parameters
    ----------
    params : mapping
        E.g. ``search.best_params_`` of a ``GridSearchCV`` or ``BayesSearchCV``.

    Returns
    -------
    text : str
        ``"name=value, ..."`` in the mapping's order; floats with 4 significant digits.

    Examples
    --------
    >>> from collections import OrderedDict
    >>> import numpy as np
    >>> format_params(OrderedDict([("lr", np.float64(0.00123456)), ("batch_size", np.int64(16))]))
    'lr=0.001235, batch_size=16'
    """
    parts = []
    for name, value in dict(params).items():
        if isinstance(value, np.generic):
            value = value.item()
        text = f"{value:.4g}" if isinstance(value, float) else str(value)
        parts.append(f"{name}={text}")
    return ", ".join(parts)


def format_search_summary(table, *, max_listed=5):
    """The best candidate of a search and those tied with it, as text.

    Parameters
    ----------
    table : pandas.DataFrame
        From :func:`search_results_frame` (best first, with ``tied_with_best``).
    max_listed : int, default=5
        Tied candidates listed by name; the rest are counted.

    Returns
    -------
    text : str
        ``"best: lr=0.001, batch_size=16 (mean accuracy 0.571 +/- 0.040 over 3 folds)"``,
        then the candidates tied with it and the rule that says so (or that none is).
    """
    rank_cols = [c for c in table.columns if c.startswith("rank_test_")]
    if not rank_cols:
        raise ValueError("table has no rank_test_* column: pass search_results_frame(search)")
    metric = rank_cols[0][len("rank_test_"):]
    name = "accuracy" if metric == "score" else metric
    params = list(table.columns[: list(table.columns).index(rank_cols[0])])
    n_splits = sum(c.startswith("split") and c.endswith(f"_test_{metric}") for c in table)

    def describe(row):
        values = {p: row[p] for p in params if not (isinstance(row[p], float) and np.isnan(row[p]))}
        spread = (f" +/- {row[f'std_test_{metric}']:.3f} over {n_splits} folds"
                  if n_splits > 1 else "")
        return f"{format_params(values)} (mean {name} {row[f'mean_test_{metric}']:.3f}{spread})"

    lines = [f"best: {describe(table.iloc[0])}"]
    if "tied_with_best" in table:
        tied = table.iloc[1:][table["tied_with_best"].iloc[1:].to_numpy(dtype=bool)]
        rule = table.attrs.get("tie_rule") or "see tied_with_best"
        if len(tied):
            lines.append(f"{len(tied)} other candidate(s) of {len(table)} are statistically tied "
                         f"with it; the search cannot separate them ({rule}):")
            lines += [f"  {describe(row)}" for _, row in tied.head(max_listed).iterrows()]
            if len(tied) > max_listed:
                lines.append(f"  ... and {len(tied) - max_listed} more (search_results.csv)")
        else:
            lines.append(f"no other candidate is tied with it ({rule})")
    return "\n".join(lines)


def tied_with_best(search, *, n_test=None, test_train_ratio=None, confidence=0.95):
    """Which candidates of a fitted search the data cannot tell apart from the best.

    The rule, with ``k >= 2`` folds: for each candidate, the fold-by-fold differences
    ``d_i = best_i - candidate_i`` of the ranking score give a paired t-test with
    Nadeau and Bengio's correction for overlapping training sets (variance
    ``var(d) * (1 / k + n_test / n_train)``, ``k - 1`` degrees of freedom; scikit-learn's
    "Statistical comparison of models using grid search" example). A candidate is tied when
    the two-sided ``confidence`` interval of the mean difference contains 0. With one split
    there is nothing to pair: a candidate is tied when its score is inside the best score's
    Wilson interval for ``n_test`` validation items (without ``n_test``, only equal scores
    are tied). The best itself (and every candidate ranked 1) is marked tied too.

    Parameters
    ----------
    search : fitted search or its ``cv_results_`` dict
    n_test : int, default=None
        Items in a test fold (one split: the validation set's size).
    test_train_ratio : float, default=None
        ``n_test / n_train`` of a fold. ``None``: ``1 / (k - 1)`` (K-fold).
    confidence : float, default=0.95

    Returns
    -------
    tied : ndarray of bool, shape (n_candidates,)
        In the order of ``cv_results_``.
    rule : str
        The rule that was applied, for reports.
    """
    from scipy import stats

    results = search if isinstance(search, dict) else getattr(search, "cv_results_", None)
    if results is None:
        raise ValueError("search is not fitted: call search.fit(X, y) first")
    rank_key = next(k for k in results if k.startswith("rank_test_"))
    metric = rank_key[len("rank_test_"):]
    ranks = np.asarray(results[rank_key])
    folds = sorted((k for k in results if k.startswith("split") and k.endswith(f"_test_{metric}")),
                   key=lambda k: int(k[len("split"):].split("_", 1)[0]))
    scores = np.column_stack([np.asarray(results[k], dtype=float) for k in folds])
    best = int(np.flatnonzero(ranks == ranks.min())[0])
    k = scores.shape[1]
    level = round(100 * confidence)
    if k >= 2:
        ratio = 1 / (k - 1) if test_train_ratio is None else float(test_train_ratio)
        diffs = scores[best] - scores
        mean = diffs.mean(axis=1)
        se = np.sqrt(diffs.var(axis=1, ddof=1) * (1 / k + ratio))
        bound = stats.t.ppf(0.5 + confidence / 2, k - 1) * se
        tied = mean - bound <= 0
        rule = (f"tied: the {level} % interval of the mean fold-by-fold difference to the best "
                f"contains 0 (paired t-test over {k} folds, Nadeau-Bengio corrected variance)")
    elif n_test:
        p = scores[best, 0]
        z = stats.norm.ppf(0.5 + confidence / 2)
        centre = (p + z**2 / (2 * n_test)) / (1 + z**2 / n_test)
        half = z * np.sqrt(p * (1 - p) / n_test + z**2 / (4 * n_test**2)) / (1 + z**2 / n_test)
        tied = scores[:, 0] >= centre - half
        rule = (f"tied: the score lies in the best score's {level} % Wilson interval "
                f"({centre - half:.3f} to {centre + half:.3f}, {n_test} validation items; "
                "one split, no folds to pair)")
    else:
        tied = scores[:, 0] == scores[best, 0]
        rule = "tied: the same score as the best (one split of unknown size: no interval)"
    tied = np.asarray(tied, dtype=bool) | (ranks == ranks.min())
    return tied, rule


def search_results_frame(search, *, strip_prefix=True, n_test=None, confidence=0.95):
    """The results of a fitted search as a tidy table, best candidate first.

    Parameters
    ----------
    search : fitted GridSearchCV, RandomizedSearchCV or BayesSearchCV
        Or its ``cv_results_`` dict.
    strip_prefix : bool, default=True
        For a search over a Pipeline, name the parameter columns without the final step's
        prefix (``classifier__lr`` -> ``lr``). Parameter columns never have the ``param_``
        prefix of ``cv_results_``.
    n_test, confidence
        See :func:`tied_with_best`.

    Returns
    -------
    table : pandas.DataFrame
        One row per candidate: one column per searched parameter (numbers as numbers; a
        parameter a candidate did not set is NaN), then ``rank_test_*``, ``mean_test_*``,
        ``std_test_*`` (and train scores when recorded), ``mean_fit_time``, ``std_fit_time``,
        ``mean_score_time``, the per-split scores ``split<i>_test_*``, and
        ``tied_with_best`` (see :func:`tied_with_best`; its rule is in
        ``table.attrs["tie_rule"]``). Sorted by the first rank column.
    """
    results = search if isinstance(search, dict) else getattr(search, "cv_results_", None)
    if results is None:
        raise ValueError("search is not fitted: call search.fit(X, y) first")
    df = pd.DataFrame(results)
    param_cols = [c for c in df.columns if c.startswith("param_")]
    names = [c[len("param_") :] for c in param_cols]
    prefix = _prefix(search.estimator) if hasattr(search, "estimator") else ""
    if strip_prefix and prefix:
        short = [n[len(prefix) :] if n.startswith(prefix) else n for n in names]
        if len(set(short)) == len(short):
            names = short
    out = pd.DataFrame(index=df.index)
    for col, name in zip(param_cols, names):
        values = df[col].tolist()
        values = [np.nan if v is np.ma.masked or v is None else v for v in values]
        series = pd.Series(values, index=df.index, dtype=object)
        try:
            series = pd.to_numeric(series)
        except (TypeError, ValueError):
            pass
        out[name] = series
    score_cols = [
        c
        for c in df.columns
        if c.startswith(("rank_test_", "mean_test_", "std_test_", "mean_train_", "std_train_"))
    ]
    time_cols = [
        c for c in ("mean_fit_time", "std_fit_time", "mean_score_time") if c in df.columns
    ]
    split_cols = [c for c in df.columns if c.startswith("split") and "_test_" in c]
    out = pd.concat([out, df[score_cols + time_cols + split_cols]], axis=1)
    tie_rule = None
    if split_cols and any(c.startswith("rank_test_") for c in df.columns):
        out["tied_with_best"], tie_rule = tied_with_best(results, n_test=n_test,
                                                         confidence=confidence)
    rank_cols = [c for c in score_cols if c.startswith("rank_test_")]
    if rank_cols:
        out = out.sort_values(rank_cols[0], kind="stable")
    out = out.reset_index(drop=True)
    out.attrs["tie_rule"] = tie_rule
    return out
