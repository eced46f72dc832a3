"""Evaluation of a fitted genre classifier on a test set, with bootstrap confidence intervals.

Point scores are scikit-learn's metrics. Every score comes with a 95 % confidence interval
from a percentile bootstrap (:func:`bootstrap_ci`): over test *groups* (artists, albums, source
tracks) when they are known, since clips of one artist are not independent evidence, else
over clips. :func:`paired_bootstrap_ci` gives the interval of the difference between two
models scored on the same test items. :func:`evaluate_outside` scores a model on a folder of
its users' own music whose genres need not match the ones it was trained on.
"""

from __future__ import annotations

import warnings
from collections import Counter
from dataclasses import dataclass, field
from numbers import Integral, Real

import numpy as np
from sklearn.metrics import (
    accuracy_score,
    balanced_accuracy_score,
    classification_report,
    confusion_matrix,
    f1_score,
)

from .provenance import to_jsonable

__all__ = [
    "METRICS",
    "ConfidenceInterval",
    "EvaluationResult",
    "OutsideEvaluation",
    "bootstrap_ci",
    "evaluate",
    "evaluate_outside",
    "evaluate_predictions",
    "paired_bootstrap_ci",
]

#: Metrics with a bootstrap interval in every evaluation (names as in ``EvaluationResult``).
METRICS = ("accuracy", "balanced_accuracy", "macro_f1")


@dataclass(frozen=True)
class ConfidenceInterval:
    """A bootstrap confidence interval of one score (or of a difference of two scores).

    Attributes
    ----------
    metric : str
        The score: ``"accuracy"``, ``"balanced_accuracy"``, ``"macro_f1"`` or the name of a
        callable; prefixed ``"difference in "`` for :func:`paired_bootstrap_ci`.
    estimate : float
        The score on the full test set (not the mean of the resamples).
    low, high : float
        The percentile interval: the ``(1 - confidence) / 2`` and ``(1 + confidence) / 2``
        quantiles of the resampled scores.
    confidence : float
        E.g. 0.95.
    resampled : {"groups", "clips"}
        What was drawn with replacement: whole groups (all their clips) or single clips.
    n_units : int
        Number of groups (or clips) the test set has, and the size of every draw.
    n_resamples : int
        Number of bootstrap resamples.
    random_state : int or None
        Seed of the resamples.
    """

    metric: str
    estimate: float
    low: float
    high: float
    confidence: float
    resampled: str
    n_units: int
    n_resamples: int
    random_state: int | None = 0

    @property
    def key(self):
        """Suffix of the interval in ``results.json``: ``"ci95"`` for 95 %."""
        return f"ci{round(100 * self.confidence):d}"

    @property
    def half_width(self):
        """Half the interval's width, e.g. 0.05 for +/- 5 points."""
        return (self.high - self.low) / 2

    def to_list(self):
        """``[low, high]`` as plain floats."""
        return [float(self.low), float(self.high)]

    def to_dict(self):
        """Plain-JSON dict of every attribute."""
        return {
            "metric": self.metric,
            "estimate": float(self.estimate),
            "low": float(self.low),
            "high": float(self.high),
            "confidence": float(self.confidence),
            "resampled": self.resampled,
            "n_units": int(self.n_units),
            "n_resamples": int(self.n_resamples),
            "random_state": self.random_state,
            "method": "percentile bootstrap",
        }

    def describe(self, *, unit=None, digits=3):
        """E.g. ``"0.475 (95 % CI 0.33-0.63, bootstrap over 8 artists)"``.

        Parameters
        ----------
        unit : str, default=None
            Plural name of the resampled units (``"artists"``, ``"tracks"``). ``None``:
            ``"groups"`` or ``"clips"``.
        digits : int, default=3
            Digits of the estimate; the bounds get one fewer (at least 2).
        """
        unit = unit or self.resampled
        bound = max(2, digits - 1)
        return (
            f"{self.estimate:.{digits}f} ({round(100 * self.confidence):d} % CI "
            f"{self.low:.{bound}f} to {self.high:.{bound}f}, bootstrap over {self.n_units} "
            f"{unit})"
        )

    def __str__(self):
        return self.describe()


@dataclass
class EvaluationResult:
    """Scores of one evaluation, with the predictions they were computed from.

    Attributes
    ----------
    accuracy : float
        Fraction of correctly classified items.
    balanced_accuracy : float
        Mean per-genre recall (equals accuracy on a balanced test set such as FMA small's).
    macro_f1 : float
        Unweighted mean of the per-genre F1 scores.
    labels : ndarray of shape (n_labels,)
        Genre order of ``confusion_matrix`` and of the report.
    confusion_matrix : ndarray of shape (n_labels, n_labels)
        Counts; row ``i`` = true genre ``labels[i]``, column ``j`` = predicted ``labels[j]``.
    classification_report : dict
        :func:`sklearn.metrics.classification_report` with ``output_dict=True``: per genre
        ``precision``, ``recall``, ``f1-score``, ``support``, plus ``accuracy``, ``macro avg``
        and ``weighted avg``.
    y_true : ndarray of shape (n_samples,)
        True genres.
    y_pred : ndarray of shape (n_samples,)
        Predicted genres.
    intervals : dict of str to ConfidenceInterval
        Bootstrap interval of each of ``accuracy``, ``balanced_accuracy`` and ``macro_f1``
        (see :func:`bootstrap_ci`); empty when computed with ``n_resamples=0``.
    groups : ndarray of shape (n_samples,) or None
        Test groups the intervals resampled (``None``: clips).
    score_labels : ndarray or None
        Genres that macro F1 and the report average over, when not ``labels`` (see
        :func:`evaluate_outside`).
    failures : list of ExtractionFailure
        Test items that could not be turned into features (``evaluate(..., on_error="record")``)
        and are left out of every score: their row in the input, source and reason.
    """

    accuracy: float
    balanced_accuracy: float
    macro_f1: float
    labels: np.ndarray
    confusion_matrix: np.ndarray
    classification_report: dict
    y_true: np.ndarray
    y_pred: np.ndarray
    intervals: dict = field(default_factory=dict)
    groups: np.ndarray | None = None
    score_labels: np.ndarray | None = None
    failures: list = field(default_factory=list)

    @property
    def n_samples(self):
        """Number of evaluated items."""
        return len(self.y_true)

    def report_text(self, *, digits=3):
        """The classification report as text (:func:`sklearn.metrics.classification_report`).

        Parameters
        ----------
        digits : int, default=3
            Digits after the decimal point for precision, recall and F1.

        Returns
        -------
        text : str
            One row per genre, then accuracy, macro and weighted averages.
        """
        labels = self.labels if self.score_labels is None else self.score_labels
        return classification_report(
            self.y_true,
            self.y_pred,
            labels=labels,
            target_names=[str(lab) for lab in labels],
            digits=digits,
            zero_division=0.0,
        )

    def summary_lines(self, *, unit=None, digits=3):
        """Each score with its interval, one per line.

        E.g. ``["accuracy 0.475 (95 % CI 0.33 to 0.63, bootstrap over 8 artists)",
        "balanced accuracy ...", "macro F1 ..."]``.

        Parameters
        ----------
        unit : str, default=None
            Plural name of the resampled groups (``"artists"``); see
            :meth:`ConfidenceInterval.describe`. Unused when the intervals resampled clips.
        digits : int, default=3
        """
        names = {"accuracy": "accuracy", "balanced_accuracy": "balanced accuracy",
                 "macro_f1": "macro F1"}
        lines = []
        for metric, name in names.items():
            ci = self.intervals.get(metric)
            if ci is None:
                lines.append(f"{name} {getattr(self, metric):.{digits}f}")
            else:
                unit_name = unit if ci.resampled == "groups" else None
                lines.append(f"{name} {ci.describe(unit=unit_name, digits=digits)}")
        return lines

    def summary(self, *, unit=None, digits=3):
        """:meth:`summary_lines` joined by ``"; "``.

        Parameters
        ----------
        unit : str, default=None
            Plural name of the resampled groups (``"artists"``).
        digits : int, default=3
        """
        return "; ".join(self.summary_lines(unit=unit, digits=digits))

    def to_dict(self, *, include_predictions=False):
        """Plain-JSON dict: metrics and their intervals, labels, confusion matrix, report.

        Each interval is ``<metric>_ci95: [low, high]`` (the suffix follows the confidence),
        described once in ``intervals`` (``resampled``: ``"groups"`` or ``"clips"``,
        ``n_units``, ``n_resamples``, ``confidence``, ``method``, ``random_state``).

        Parameters
        ----------
        include_predictions : bool, default=False
            Also include ``y_true`` and ``y_pred`` (one entry per test item), and
            ``groups`` when known.
        """
        out = {
            "n_samples": int(self.n_samples),
            "accuracy": float(self.accuracy),
            "balanced_accuracy": float(self.balanced_accuracy),
            "macro_f1": float(self.macro_f1),
        }
        for metric, ci in self.intervals.items():
            out[f"{metric}_{ci.key}"] = ci.to_list()
        if self.intervals:
            first = next(iter(self.intervals.values())).to_dict()
            out["intervals"] = {k: first[k] for k in ("method", "confidence", "resampled",
                                                      "n_units", "n_resamples",
                                                      "random_state")}
        out.update({
            "labels": to_jsonable(self.labels),
            "confusion_matrix": self.confusion_matrix.tolist(),
            "classification_report": self.classification_report,
        })
        if self.score_labels is not None:
            out["score_labels"] = to_jsonable(self.score_labels)
        out["failures"] = [{"index": int(f.index), "source": f.source, "reason": f.reason}
                           for f in self.failures]
        if include_predictions:
            out["y_true"] = to_jsonable(self.y_true)
            out["y_pred"] = to_jsonable(self.y_pred)
            if self.groups is not None:
                out["groups"] = to_jsonable(self.groups)
        return out


def evaluate_predictions(y_true, y_pred, *, labels=None, groups=None, score_labels=None,
                         n_resamples=2000, confidence=0.95, random_state=0):
    """Scores of predictions ``y_pred`` against ``y_true``, with bootstrap intervals.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        True genres.
    y_pred : array-like of shape (n_samples,)
        Predicted genres.
    labels : array-like of shape (n_labels,), default=None
        Genre order of the confusion matrix and report. ``None``: the sorted union of the genres
        in ``y_true`` and ``y_pred``.
    groups : array-like of shape (n_samples,), default=None
        Group (artist, album, source track) of each item: the intervals resample groups
        (see :func:`bootstrap_ci`). ``None``: they resample clips.
    score_labels : array-like, default=None
        Genres macro F1 and the per-genre report average over, when they should not be all
        of ``labels`` (e.g. only the genres present in an outside test folder). ``None``:
        ``labels``.
    n_resamples : int, default=2000
        Bootstrap resamples of the intervals; 0 computes none.
    confidence : float, default=0.95
    random_state : int or None, default=0
        See :func:`bootstrap_ci`.

    Returns
    -------
    result : EvaluationResult

    Notes
    -----
    Precision and F1 of a genre that is never predicted (and recall of a genre absent from
    ``y_true``) are 0 (``zero_division=0``), without a warning; the confusion matrix shows why.
    """
    y_true = np.asarray(y_true)
    y_pred = np.asarray(y_pred)
    if y_true.ndim != 1 or y_true.shape != y_pred.shape:
        raise ValueError(
            f"y_true and y_pred must be 1-D of the same length; got shapes {y_true.shape} "
            f"and {y_pred.shape}"
        )
    if y_true.size == 0:
        raise ValueError("cannot evaluate on an empty test set")
    if labels is None:
        labels = np.unique(np.concatenate([y_true, y_pred]))
    else:
        labels = np.asarray(labels)
        missing = sorted(set(y_true.tolist()) - set(labels.tolist()), key=repr)
        if missing:
            raise ValueError(f"y_true holds genres not in labels: {missing[:10]}")
    averaged = labels if score_labels is None else np.asarray(score_labels)
    report = classification_report(
        y_true,
        y_pred,
        labels=averaged,
        target_names=[str(lab) for lab in averaged],
        output_dict=True,
        zero_division=0.0,
    )
    if groups is not None:
        groups = np.asarray(groups)
    intervals = {}
    if n_resamples:
        for metric in METRICS:
            intervals[metric] = bootstrap_ci(
                y_true, y_pred, groups=groups, metric=metric, labels=averaged,
                n_resamples=n_resamples, confidence=confidence, random_state=random_state)
    return EvaluationResult(
        accuracy=float(accuracy_score(y_true, y_pred)),
        balanced_accuracy=float(_balanced_accuracy(y_true, y_pred)),
        macro_f1=float(
            f1_score(y_true, y_pred, labels=averaged, average="macro", zero_division=0.0)
        ),
        labels=labels,
        confusion_matrix=_confusion_matrix(y_true, y_pred, labels),
        classification_report=report,
        y_true=y_true,
        y_pred=y_pred,
        intervals=intervals,
        groups=groups,
        score_labels=None if score_labels is None else averaged,
    )


def _confusion_matrix(y_true, y_pred, labels):
    with warnings.catch_warnings():
        # "A single label was found": a one-genre test set; ``labels`` fixes the shape.
        warnings.filterwarnings("ignore", message="A single label was found")
        return confusion_matrix(y_true, y_pred, labels=labels)


def _balanced_accuracy(y_true, y_pred):
    with warnings.catch_warnings():
        # "y_pred contains classes not in y_true": expected when a genre is absent from a
        # small test set; the score is still the mean recall over the genres present.
        warnings.filterwarnings("ignore", message="y_pred contains classes not in y_true")
        # "A single label was found": a test set (or outside folder) of one genre, all
        # predicted right or wrong; balanced accuracy is then that genre's recall.
        warnings.filterwarnings("ignore", message="A single label was found")
        return balanced_accuracy_score(y_true, y_pred)


def evaluate(estimator, X, y, *, labels=None, groups=None, n_resamples=2000, confidence=0.95,
             random_state=0, on_error="raise"):
    """Evaluate a fitted classifier on ``(X, y)``, with bootstrap confidence intervals.

    Parameters
    ----------
    estimator : fitted classifier or Pipeline
        Anything with ``predict``; e.g. a ``Pipeline`` of ``MelSpectrogramTransformer`` and a
        genre classifier, fed file paths.
    X : array-like or list of str of length n_samples
        Test input in whatever form ``estimator.predict`` accepts (paths, waveforms, log-mels
        of shape (n_samples, n_mels, n_frames)).
    y : array-like of shape (n_samples,)
        True genres.
    labels : array-like of shape (n_labels,), default=None
        Genre order of the confusion matrix and report. ``None``: ``estimator.classes_`` (plus,
        in sorted order, any genre of ``y`` the estimator never saw), else the genres present.
    groups : array-like of shape (n_samples,), default=None
        Group (artist) of each test item; the intervals then resample groups.
    n_resamples, confidence, random_state
        See :func:`evaluate_predictions`.
    on_error : {"raise", "record"}, default="raise"
        A test file that cannot be decoded: ``"raise"`` stops with its error; ``"record"``
        (for a Pipeline whose first step has an ``on_error`` parameter, such as
        :class:`~sklearn_genre.features.MelSpectrogramTransformer`) scores the other items and
        lists the failed ones in ``result.failures``. A ``ValueError`` when every item fails.

    Returns
    -------
    result : EvaluationResult
        Accuracy, balanced accuracy, macro F1 and their intervals, per-genre report,
        confusion matrix, the predictions and the failed items.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn_genre.evaluation import evaluate
    >>> X = np.array([[0.0], [0.1], [1.0], [1.1]])
    >>> y = np.array(["rock", "rock", "pop", "pop"])
    >>> result = evaluate(LogisticRegression().fit(X, y), X, y)
    >>> result.accuracy, list(result.labels)
    (1.0, [np.str_('pop'), np.str_('rock')])
    """
    y = np.asarray(y)
    if labels is None and hasattr(estimator, "classes_"):
        classes = np.asarray(estimator.classes_)
        unseen = np.setdiff1d(np.unique(y), classes)
        labels = np.concatenate([classes, unseen]) if unseen.size else classes
    if on_error not in ("raise", "record"):
        raise ValueError(f"on_error must be 'raise' or 'record', got {on_error!r}")
    failures = []
    if on_error == "raise" or not feature_step_records_failures(estimator):
        y_pred = estimator.predict(X)
    else:
        y_pred, failures = _predict_recording_failures(estimator, X)
        keep = np.ones(len(y), bool)
        keep[[f.index for f in failures]] = False
        y = y[keep]
        if groups is not None:
            groups = np.asarray(groups)[keep]
    result = evaluate_predictions(y, y_pred, labels=labels, groups=groups,
                                  n_resamples=n_resamples, confidence=confidence,
                                  random_state=random_state)
    result.failures = failures
    return result


def feature_step_records_failures(estimator):
    """Whether ``estimator`` is a Pipeline whose first step takes ``on_error`` (file input)."""
    from sklearn.pipeline import Pipeline

    return (isinstance(estimator, Pipeline) and len(estimator.steps) >= 2
            and "on_error" in estimator.steps[0][1].get_params(deep=False))


def transform_recording_failures(pipeline, X):
    """The first step's output for ``X`` with unreadable items recorded instead of raised.

    The feature step runs as a copy with ``on_error="warn"`` (the model is not changed).

    Returns
    -------
    Xt : ndarray of shape (n_items, ...)
        Features; the rows of failed items are placeholders to drop.
    failures : list of ExtractionFailure
        The failed items: row in ``X``, source and reason.

    Raises
    ------
    ValueError
        When no item can be read.
    """
    import copy

    from .exceptions import ExtractionWarning

    first = copy.copy(pipeline.steps[0][1])
    first.set_params(on_error="warn")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ExtractionWarning)  # listed by the caller instead
        Xt = first.transform(X)
    failures = list(getattr(first, "failures_", []))
    if len(failures) == len(Xt):
        raise ValueError(f"none of the {len(Xt)} test items could be read; first: "
                         f"{failures[0].source}: {failures[0].reason}")
    return Xt, failures


def _predict_recording_failures(pipeline, X):
    """Predictions of the items whose features could be computed, and the failures."""
    Xt, failures = transform_recording_failures(pipeline, X)
    keep = np.ones(len(Xt), bool)
    keep[[f.index for f in failures]] = False
    return pipeline[1:].predict(Xt[keep]), failures


# ----------------------------------------------------------------------------- bootstrap

_RESAMPLE_CHUNK = 256


def _check_bootstrap_params(n_resamples, confidence):
    if not isinstance(n_resamples, Integral) or n_resamples < 1:
        raise ValueError(f"n_resamples must be a positive integer, got {n_resamples!r}")
    if not isinstance(confidence, Real) or not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence!r}")


def _units(groups, n):
    """Index of each item's resampling unit (its group, or itself) and the units' count."""
    if groups is None:
        return np.arange(n), n, "clips"
    groups = np.asarray(groups)
    if groups.shape != (n,):
        raise ValueError(f"groups must have one entry per test item ({n}); got shape "
                         f"{groups.shape}")
    if groups.dtype == object and any(g is None for g in groups.tolist()):
        raise ValueError("groups holds None: give every test item a group, or groups=None")
    _, index = np.unique(groups, return_inverse=True)
    index = index.ravel()
    return index, int(index.max()) + 1, "groups"


def _encode(arrays):
    """Integer codes of each array over the sorted union of their values."""
    classes = np.unique(np.concatenate([np.asarray(a).ravel() for a in arrays]))
    return classes, [np.searchsorted(classes, np.asarray(a)) for a in arrays]


def _unit_confusions(unit, n_units, t, p, k):
    """Flattened confusion counts of every unit: shape (n_units, k * k)."""
    out = np.zeros((n_units, k * k))
    np.add.at(out, (unit, t * k + p), 1.0)
    return out


def _resample_weights(rng, n_units, size):
    """How often each unit is drawn in ``size`` resamples: shape (size, n_units).

    Resample ``b`` draws ``rng.integers(0, n_units, size=n_units)``: the b-th row of one
    ``rng.integers(0, n_units, size=(n_resamples, n_units))`` call.
    """
    draws = rng.integers(0, n_units, size=(size, n_units))
    flat = (draws + n_units * np.arange(size)[:, None]).ravel()
    return np.bincount(flat, minlength=size * n_units).reshape(size, n_units)


def _scores(conf, k, metric, average):
    """``metric`` of confusion matrices ``conf`` of shape (n, k * k) (sklearn's definitions).

    ``average``: boolean mask of the classes macro F1 averages over, or ``None`` for the
    classes present in the true or predicted genres of each matrix (sklearn's default).
    """
    conf = conf.reshape(-1, k, k)
    tp = np.diagonal(conf, axis1=1, axis2=2)
    support = conf.sum(axis=2)
    total = support.sum(axis=1)
    if metric == "accuracy":
        return tp.sum(axis=1) / total
    if metric == "balanced_accuracy":
        # balanced_accuracy_score: mean recall over the genres present in y_true
        present = support > 0
        recall = np.divide(tp, support, out=np.zeros_like(tp), where=present)
        return recall.sum(axis=1) / present.sum(axis=1)
    if metric == "macro_f1":
        # f1_score(average="macro", zero_division=0): 2 tp / (2 tp + fp + fn), 0 when undefined
        denom = 2 * tp + (conf.sum(axis=1) - tp) + (support - tp)
        f1 = np.divide(2 * tp, denom, out=np.zeros_like(tp), where=denom > 0)
        mask = (denom > 0) if average is None else np.broadcast_to(average, f1.shape)
        return (f1 * mask).sum(axis=1) / np.maximum(mask.sum(axis=1), 1)
    raise ValueError(f"metric must be one of {METRICS} or a callable; got {metric!r}")


def _bootstrap(y_true, preds, *, groups, metric, labels, n_resamples, confidence,
               random_state):
    """Resampled scores of each prediction array in ``preds``: shape (len(preds), B)."""
    _check_bootstrap_params(n_resamples, confidence)
    y_true = np.asarray(y_true)
    preds = [np.asarray(p) for p in preds]
    n = len(y_true)
    if y_true.ndim != 1 or n == 0 or any(p.shape != y_true.shape for p in preds):
        raise ValueError("y_true and the predictions must be non-empty 1-D arrays of the "
                         f"same length; got shapes {y_true.shape} and "
                         f"{[p.shape for p in preds]}")
    unit, n_units, resampled = _units(groups, n)
    rng = np.random.default_rng(random_state)
    out = np.empty((len(preds), n_resamples))
    if callable(metric):
        members = [np.flatnonzero(unit == u) for u in range(n_units)]
        for b in range(n_resamples):
            idx = np.concatenate([members[u] for u in rng.integers(0, n_units, size=n_units)])
            for i, p in enumerate(preds):
                out[i, b] = metric(y_true[idx], p[idx])
        return out, resampled, n_units
    extra = [] if labels is None else [np.asarray(labels)]
    classes, codes = _encode([y_true, *preds, *extra])
    t, codes = codes[0], codes[1 : 1 + len(preds)]
    k = len(classes)
    average = None if labels is None else np.isin(classes, np.asarray(labels))
    unit_conf = [_unit_confusions(unit, n_units, t, p, k) for p in codes]
    for start in range(0, n_resamples, _RESAMPLE_CHUNK):
        size = min(_RESAMPLE_CHUNK, n_resamples - start)
        weights = _resample_weights(rng, n_units, size)
        for i, conf in enumerate(unit_conf):
            out[i, start:start + size] = _scores(weights @ conf, k, metric, average)
    return out, resampled, n_units


def _point(y_true, y_pred, metric, labels):
    if callable(metric):
        return float(metric(np.asarray(y_true), np.asarray(y_pred)))
    classes, (t, p, *_) = _encode([y_true, y_pred] + ([] if labels is None else [labels]))
    k = len(classes)
    conf = np.bincount(t * k + p, minlength=k * k)[None].astype(float)
    average = None if labels is None else np.isin(classes, np.asarray(labels))
    return float(_scores(conf, k, metric, average)[0])


def _percentiles(values, confidence):
    alpha = 1 - confidence
    low, high = np.percentile(values, [100 * alpha / 2, 100 * (1 - alpha / 2)])
    return float(low), float(high)


def _metric_name(metric):
    return metric if isinstance(metric, str) else getattr(metric, "__name__", repr(metric))


def bootstrap_ci(y_true, y_pred, *, groups=None, metric="accuracy", labels=None,
                 n_resamples=2000, confidence=0.95, random_state=0):
    """Percentile-bootstrap confidence interval of a score, over test groups or clips.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        True genres.
    y_pred : array-like of shape (n_samples,)
        Predicted genres.
    groups : array-like of shape (n_samples,), default=None
        Group of each test item (artist, album, source track). Given: a *cluster bootstrap*:
        each resample draws as many groups as the test set has, with replacement, and takes
        all clips of every drawn group (a group drawn twice counts twice). Clips of one artist
        are not independent, so this is the interval to report whenever groups are known;
        it is wider than the clip bootstrap when a model is right or wrong artist by artist.
        ``None``: each resample draws ``n_samples`` clips with replacement.
    metric : {"accuracy", "balanced_accuracy", "macro_f1"} or callable, default="accuracy"
        The score, as :func:`sklearn.metrics.accuracy_score`,
        :func:`~sklearn.metrics.balanced_accuracy_score` and ``f1_score(average="macro",
        labels=labels, zero_division=0)`` compute it on each resample (computed from
        confusion counts, so 2000 resamples take milliseconds and warn about nothing). A
        resample that lacks a genre follows scikit-learn: balanced accuracy averages the
        recall of the genres present in the resample's ``y_true``; macro F1 averages over
        ``labels`` (an absent genre that is never predicted scores 0) or, with
        ``labels=None``, over the genres present in the resample's true or predicted genres.
        A callable ``metric(y_true, y_pred) -> float`` is called once per resample (slower).
    labels : array-like, default=None
        Genres macro F1 averages over (as ``f1_score``'s ``labels``). Ignored by the others.
    n_resamples : int, default=2000
        Bootstrap resamples. The percentile bounds move by about 0.005 between seeds at
        2000 for a 40-clip test set.
    confidence : float, default=0.95
        Coverage of the interval.
    random_state : int, numpy Generator or None, default=0
        Seed of ``numpy.random.default_rng``. Resample ``b`` draws
        ``rng.integers(0, n_units, size=n_units)`` (units: the sorted distinct groups, or the
        clips in order), so a plain loop with the same generator reproduces the interval.

    Returns
    -------
    interval : ConfidenceInterval
        ``estimate`` (the score on all items), ``low`` and ``high``: the
        ``(1 - confidence) / 2`` and ``(1 + confidence) / 2`` percentiles
        (:func:`numpy.percentile`, linear interpolation) of the resampled scores;
        ``resampled`` (``"groups"`` or ``"clips"``) and ``n_units``.

    Notes
    -----
    The percentile bootstrap is approximate for small test sets: with few groups (say fewer
    than 10) the interval tends to be too narrow, and with a single group it is the point
    itself. It captures the variability of the *test set*, not that of training (another
    seed or another training set moves a score as well; see the benchmarks).

    Examples
    --------
    >>> from sklearn_genre.evaluation import bootstrap_ci
    >>> y_true = ["rock", "rock", "pop", "pop", "jazz", "jazz"]
    >>> y_pred = ["rock", "pop", "pop", "pop", "jazz", "rock"]
    >>> ci = bootstrap_ci(y_true, y_pred, groups=["a", "a", "b", "b", "c", "c"])
    >>> ci.estimate, ci.resampled, ci.n_units
    (0.6666666666666666, 'groups', 3)
    >>> ci.low <= ci.estimate <= ci.high
    True
    """
    values, resampled, n_units = _bootstrap(
        y_true, [y_pred], groups=groups, metric=metric, labels=labels,
        n_resamples=n_resamples, confidence=confidence, random_state=random_state)
    low, high = _percentiles(values[0], confidence)
    return ConfidenceInterval(
        metric=_metric_name(metric), estimate=_point(y_true, y_pred, metric, labels),
        low=low, high=high, confidence=float(confidence), resampled=resampled,
        n_units=n_units, n_resamples=int(n_resamples),
        random_state=random_state if isinstance(random_state, (Integral, type(None))) else None)


def paired_bootstrap_ci(y_true, y_pred, y_pred_reference, *, groups=None, metric="accuracy",
                        labels=None, n_resamples=2000, confidence=0.95, random_state=0):
    """Interval of ``score(y_pred) - score(y_pred_reference)`` on the same test items.

    Both models are scored on the *same* resample each time (a paired bootstrap), so what the
    two get right or wrong together cancels out: the interval is much narrower than the two
    separate intervals suggest when the models agree on most items.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
    y_pred : array-like of shape (n_samples,)
        Predictions of the model of interest.
    y_pred_reference : array-like of shape (n_samples,)
        Predictions of the reference model (e.g. the best one) on the same items.
    groups, metric, labels, n_resamples, confidence, random_state
        As in :func:`bootstrap_ci`.

    Returns
    -------
    interval : ConfidenceInterval
        ``metric`` is ``"difference in <metric>"``; ``estimate`` the observed difference. An
        interval that contains 0 means the data cannot tell the two models apart.

    Examples
    --------
    >>> from sklearn_genre.evaluation import paired_bootstrap_ci
    >>> y = ["a", "b"] * 10
    >>> ci = paired_bootstrap_ci(y, ["a", "b"] * 9 + ["b", "a"], y)
    >>> round(ci.estimate, 2), ci.high <= 0
    (-0.1, True)
    """
    values, resampled, n_units = _bootstrap(
        y_true, [y_pred, y_pred_reference], groups=groups, metric=metric, labels=labels,
        n_resamples=n_resamples, confidence=confidence, random_state=random_state)
    low, high = _percentiles(values[0] - values[1], confidence)
    estimate = (_point(y_true, y_pred, metric, labels)
                - _point(y_true, y_pred_reference, metric, labels))
    return ConfidenceInterval(
        metric=f"difference in {_metric_name(metric)}", estimate=estimate, low=low, high=high,
        confidence=float(confidence), resampled=resampled, n_units=n_units,
        n_resamples=int(n_resamples),
        random_state=random_state if isinstance(random_state, (Integral, type(None))) else None)


# ----------------------------------------------------------------------------- outside test sets


@dataclass
class OutsideEvaluation:
    """A model scored on an outside test set whose genres need not match its own.

    Attributes
    ----------
    result : EvaluationResult
        Scores and intervals on the items whose genre the model was trained on. Its
        ``labels`` are those genres (trained order), then any trained genre absent from the
        set that the model predicted; macro F1 and the per-genre report average over the
        trained genres present (``result.score_labels``).
    trained_labels : ndarray of shape (n_classes,)
        Genres the model can predict.
    unknown_labels : dict of label to int
        Genres of the set the model was not trained on, with their item counts. These items
        are kept out of every score.
    unknown_predictions : dict of label to dict
        For each unknown genre, how often each trained genre was predicted for its items.
    missing_labels : list
        Trained genres with no item in the set (no recall can be measured for them).
    n_items : int
        Every item of the set.
    y_true, y_pred : ndarray of shape (n_items,)
        Genre and prediction of every item, unknown genres included.
    """

    result: EvaluationResult
    trained_labels: np.ndarray
    unknown_labels: dict
    unknown_predictions: dict
    missing_labels: list
    n_items: int
    y_true: np.ndarray
    y_pred: np.ndarray

    @property
    def n_scored(self):
        """Items whose genre the model was trained on (the scored ones)."""
        return self.result.n_samples

    def summary_lines(self, *, unit=None):
        """Human-readable lines: headline scores, then unknown and missing genres."""
        lines = [
            f"scored {self.n_scored} of {self.n_items} files (the genres the model was "
            f"trained on): {self.result.summary(unit=unit)}"
        ]
        if self.unknown_labels:
            listed = ", ".join(f"{lab} ({n})" for lab, n in self.unknown_labels.items())
            lines.append(
                f"not scored, genres the model was not trained on: {listed}; predicted as "
                + "; ".join(
                    f"{lab}: " + ", ".join(f"{p} {c}" for p, c in preds.items())
                    for lab, preds in self.unknown_predictions.items()
                )
            )
        if self.missing_labels:
            lines.append(
                "trained genres with no file here (no recall measured): "
                + ", ".join(str(lab) for lab in self.missing_labels)
            )
        return lines

    def to_dict(self, *, include_predictions=False):
        """Plain-JSON dict: ``result.to_dict()`` plus the outside-set bookkeeping."""
        out = self.result.to_dict(include_predictions=include_predictions)
        out.update({
            "n_items": int(self.n_items),
            "n_scored": int(self.n_scored),
            "trained_labels": to_jsonable(self.trained_labels),
            "unknown_labels": {str(k): int(v) for k, v in self.unknown_labels.items()},
            "unknown_predictions": {
                str(k): {str(p): int(c) for p, c in v.items()}
                for k, v in self.unknown_predictions.items()
            },
            "missing_labels": to_jsonable(self.missing_labels),
        })
        return out


def evaluate_outside(estimator, X, y, *, trained_labels=None, groups=None, n_resamples=2000,
                     confidence=0.95, random_state=0):
    """Score a fitted model on every item of an outside test set (e.g. a folder of your own).

    Every item is predicted once. Items whose genre the model was trained on are scored
    (with bootstrap intervals); items of other genres are listed with their counts and what
    the model called them, and kept out of the scores; trained genres the set lacks are
    listed too, and kept out of macro F1 and balanced accuracy (a set with one clip per genre
    is fine).

    Parameters
    ----------
    estimator : fitted classifier or Pipeline
        Anything with ``predict`` (a Pipeline starting with a ``MelSpectrogramTransformer``
        takes file paths).
    X : array-like or list of str of length n_items
        The items, as ``estimator.predict`` takes them.
    y : array-like of shape (n_items,)
        Their genres (e.g. the folder names of :func:`sklearn_genre.datasets.load_audio_folder`).
    trained_labels : array-like, default=None
        Genres the model was trained on. ``None``: ``estimator.classes_``.
    groups : array-like of shape (n_items,), default=None
        Group (artist, album) of each item; the intervals then resample groups.
    n_resamples, confidence, random_state
        See :func:`bootstrap_ci`.

    Returns
    -------
    outside : OutsideEvaluation

    Raises
    ------
    ValueError
        When no item has a genre the model was trained on (the message lists both sets of
        genres), or ``X`` and ``y`` differ in length.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn_genre.evaluation import evaluate_outside
    >>> clf = LogisticRegression().fit([[0.0], [1.0]], ["pop", "rock"])
    >>> out = evaluate_outside(clf, [[0.1], [0.2], [0.9]], ["pop", "jazz", "pop"])
    >>> out.n_scored, out.unknown_labels, out.missing_labels
    (2, {'jazz': 1}, ['rock'])
    """
    y = np.asarray(y)
    if trained_labels is None:
        if not hasattr(estimator, "classes_"):
            raise ValueError("pass trained_labels: the estimator has no classes_")
        trained_labels = estimator.classes_
    trained = np.asarray(trained_labels)
    if y.ndim != 1 or len(y) != len(X):
        raise ValueError(f"X and y must have the same length; got {len(X)} and {len(y)}")
    known = np.isin(y, trained)
    if not known.any():
        raise ValueError(
            f"none of the {len(y)} items has a genre the model was trained on "
            f"(trained: {sorted(map(str, trained))}; found: {sorted(map(str, np.unique(y)))})"
        )
    y_pred = np.asarray(estimator.predict(X))
    present = [lab for lab in trained.tolist() if lab in set(y[known].tolist())]
    missing = [lab for lab in trained.tolist() if lab not in set(present)]
    predicted_missing = [lab for lab in missing if lab in set(y_pred[known].tolist())]
    result = evaluate_predictions(
        y[known], y_pred[known], labels=np.asarray(present + predicted_missing),
        score_labels=np.asarray(present),
        groups=None if groups is None else np.asarray(groups)[known],
        n_resamples=n_resamples, confidence=confidence, random_state=random_state)
    names, counts = np.unique(y[~known], return_counts=True)
    unknown = dict(zip(names.tolist(), counts.tolist()))
    unknown_predictions = {
        lab: dict(Counter(y_pred[y == lab].tolist()).most_common()) for lab in unknown
    }
    return OutsideEvaluation(
        result=result, trained_labels=trained, unknown_labels=unknown,
        unknown_predictions=unknown_predictions, missing_labels=missing, n_items=len(y),
        y_true=y, y_pred=y_pred)
