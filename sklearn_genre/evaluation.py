"""Evaluation of a fitted genre classifier on a test set (scikit-learn metrics only)."""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
from sklearn.metrics import (
    accuracy_score,
    balanced_accuracy_score,
    classification_report,
    confusion_matrix,
    f1_score,
)

from .provenance import to_jsonable

__all__ = ["EvaluationResult", "evaluate", "evaluate_predictions"]


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
        return classification_report(
            self.y_true,
            self.y_pred,
            labels=self.labels,
            target_names=[str(lab) for lab in self.labels],
            digits=digits,
            zero_division=0.0,
        )

    def to_dict(self, *, include_predictions=False):
        """Plain-JSON dict: metrics, labels, confusion matrix, per-genre report.

        Parameters
        ----------
        include_predictions : bool, default=False
            Also include ``y_true`` and ``y_pred`` (one entry per test item).
        """
        out = {
            "n_samples": int(self.n_samples),
            "accuracy": float(self.accuracy),
            "balanced_accuracy": float(self.balanced_accuracy),
            "macro_f1": float(self.macro_f1),
            "labels": to_jsonable(self.labels),
            "confusion_matrix": self.confusion_matrix.tolist(),
            "classification_report": self.classification_report,
        }
        out["failures"] = [{"index": int(f.index), "source": f.source, "reason": f.reason}
                           for f in self.failures]
        if include_predictions:
            out["y_true"] = to_jsonable(self.y_true)
            out["y_pred"] = to_jsonable(self.y_pred)
        return out


def evaluate_predictions(y_true, y_pred, *, labels=None):
    """Scores of predictions ``y_pred`` against ``y_true``.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        True genres.
    y_pred : array-like of shape (n_samples,)
        Predicted genres.
    labels : array-like of shape (n_labels,), default=None
        Genre order of the confusion matrix and report. ``None``: the sorted union of the genres
        in ``y_true`` and ``y_pred``.

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
    report = classification_report(
        y_true,
        y_pred,
        labels=labels,
        target_names=[str(lab) for lab in labels],
        output_dict=True,
        zero_division=0.0,
    )
    return EvaluationResult(
        accuracy=float(accuracy_score(y_true, y_pred)),
        balanced_accuracy=float(_balanced_accuracy(y_true, y_pred)),
        macro_f1=float(f1_score(y_true, y_pred, labels=labels, average="macro", zero_division=0.0)),
        labels=labels,
        confusion_matrix=confusion_matrix(y_true, y_pred, labels=labels),
        classification_report=report,
        y_true=y_true,
        y_pred=y_pred,
    )


def _balanced_accuracy(y_true, y_pred):
    with warnings.catch_warnings():
        # "y_pred contains classes not in y_true": expected when a genre is absent from a
        # small test set; the score is still the mean recall over the genres present.
        warnings.filterwarnings("ignore", message="y_pred contains classes not in y_true")
        return balanced_accuracy_score(y_true, y_pred)


def evaluate(estimator, X, y, *, labels=None, on_error="raise"):
    """Evaluate a fitted classifier on ``(X, y)``.

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
    on_error : {"raise", "record"}, default="raise"
        A test file that cannot be decoded: ``"raise"`` stops with its error; ``"record"``
        (for a Pipeline whose first step has an ``on_error`` parameter, such as
        :class:`~sklearn_genre.features.MelSpectrogramTransformer`) scores the other items and
        lists the failed ones in ``result.failures``. A ``ValueError`` when every item fails.

    Returns
    -------
    result : EvaluationResult
        Accuracy, balanced accuracy, macro F1, per-genre report, confusion matrix, the
        predictions and the failed items.

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
    if on_error == "raise" or not _records_failures(estimator):
        return evaluate_predictions(y, estimator.predict(X), labels=labels)
    y_pred, failures = _predict_recording_failures(estimator, X)
    keep = np.ones(len(y), bool)
    keep[[f.index for f in failures]] = False
    result = evaluate_predictions(y[keep], y_pred, labels=labels)
    result.failures = failures
    return result


def _records_failures(estimator):
    from sklearn.pipeline import Pipeline

    return (isinstance(estimator, Pipeline) and len(estimator.steps) >= 2
            and "on_error" in estimator.steps[0][1].get_params(deep=False))


def _predict_recording_failures(pipeline, X):
    """Predictions of the items whose features could be computed, and the failures.

    The feature step runs as a copy with ``on_error="warn"`` (the model is not changed); the
    rows of failed items are dropped before the rest of the pipeline.
    """
    import copy

    from .features import ExtractionWarning

    first = copy.copy(pipeline.steps[0][1])
    first.set_params(on_error="warn")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ExtractionWarning)  # listed in the result instead
        Xt = first.transform(X)
    failures = list(getattr(first, "failures_", []))
    keep = np.ones(len(Xt), bool)
    keep[[f.index for f in failures]] = False
    if not keep.any():
        raise ValueError(f"none of the {len(Xt)} test items could be read; first: "
                         f"{failures[0].source}: {failures[0].reason}")
    return pipeline[1:].predict(Xt[keep]), failures
