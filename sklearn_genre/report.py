"""The evaluation report of a run, written into its run directory in one call.

:func:`write_report` evaluates a fitted model on a test set and writes:

- ``confusion_matrix.png`` (counts) and ``confusion_matrix_normalized.png`` (rows sum to 1:
  the diagonal is each genre's recall);
- ``learning_curves.png`` when a training history is available;
- ``classification_report.txt`` (per-genre precision, recall, F1, support; split protocol and
  leakage status in its header);
- ``predictions.csv`` (one row per test item: input when it is a path, true and predicted
  genre, group when known);
- ``results.json``, last, so its presence means the report is complete: metrics with their
  95 % bootstrap intervals (``accuracy_ci95``, ``balanced_accuracy_ci95``, ``macro_f1_ci95``
  and ``intervals``: what was resampled, groups or clips, and how many) and the
  ``collapsed`` and ``at_chance`` flags (their sentences in ``warnings``, from
  :func:`sklearn_genre.diagnostics.diagnose_predictions`), confusion
  matrix, per-genre report, split protocol, leakage check outcome, training summary, config,
  data fingerprint, package versions and platform.
"""

from __future__ import annotations

import datetime as _dt
import os
from pathlib import Path

import numpy as np

from .atomic import atomic_write
from .diagnostics import diagnose_predictions
from .evaluation import evaluate
from .figures import plot_confusion_matrix, plot_learning_curves
from .provenance import package_versions, platform_info, write_results_json

__all__ = ["SCHEMA_VERSION", "find_history", "history_summary", "write_report"]

#: Version of the layout of ``results.json``.
SCHEMA_VERSION = 1

_STANDARD_KEYS = frozenset(
    {
        "schema_version",
        "created_at",
        "split_protocol",
        "leakage",
        "metrics",
        "labels",
        "confusion_matrix",
        "classification_report",
        "training",
        "estimator",
        "config",
        "data_fingerprint",
        "versions",
        "platform",
        "files",
        "evaluation",
        "warnings",
        "failures",
    }
)


def find_history(estimator):
    """The skorch History of ``estimator`` or of a Pipeline's final step, else ``None``."""
    for candidate in (estimator, getattr(estimator, "_final_estimator", None)):
        history = getattr(candidate, "history", None) if candidate is not None else None
        if history is not None and not callable(history) and len(history):
            return history
    return None


def early_stopping_monitor(estimator):
    """The score whose best epoch a fitted estimator restored, e.g. ``"valid_loss"``, or None.

    Read from the ``early_stopping`` callback's ``monitor`` parameter (of the estimator or of
    a Pipeline's final step); None when there is no such callback.
    """
    for candidate in (estimator, getattr(estimator, "_final_estimator", None)):
        if candidate is None or not hasattr(candidate, "get_params"):
            continue
        monitor = candidate.get_params().get("callbacks__early_stopping__monitor")
        if isinstance(monitor, str):
            return monitor
    return None


def history_summary(history, *, monitor=None):
    """Short summary of a training history for ``results.json``.

    Parameters
    ----------
    history : skorch.history.History or list of dict
    monitor : str, default=None
        The score early stopping watched (and whose best epoch was restored), e.g.
        ``"valid_loss"``: ``best_epoch`` is that score's best. None: ``valid_acc``, else
        ``valid_loss``.

    Returns
    -------
    summary : dict
        ``n_epochs``; the last epoch's ``train_loss``, ``valid_loss``, ``valid_acc`` (those
        recorded); ``best_epoch`` and ``best_valid_acc`` (highest ``valid_acc``) or
        ``best_valid_loss`` when no accuracy was recorded.
    """
    history = list(history)
    out = {"n_epochs": len(history)}
    if not history:
        return out
    last = history[-1]
    for key in ("train_loss", "valid_loss", "train_acc", "valid_acc", "dur"):
        if last.get(key) is not None:
            out[f"last_{key}"] = float(last[key])
    order = (("valid_acc", np.nanargmax), ("valid_loss", np.nanargmin))
    if monitor is not None:
        order = ((monitor, np.nanargmin if "loss" in monitor else np.nanargmax),)
    for key, better in order:
        values = np.array([np.nan if row.get(key) is None else float(row[key]) for row in history])
        if np.isfinite(values).any():
            i = int(better(values))
            out["best_epoch"] = int(history[i].get("epoch", i + 1))
            out[f"best_{key}"] = float(values[i])
            break
    return out


def write_report(
    run_dir,
    *,
    estimator,
    X_test,
    y_test,
    split_protocol,
    leakage_report=None,
    history="auto",
    config=None,
    data_fingerprint=None,
    labels=None,
    extra=None,
    groups=None,
    group_name="groups",
    evaluation_result=None,
    on_error="record",
):
    """Evaluate ``estimator`` on the test set and write the full report into ``run_dir``.

    Parameters
    ----------
    run_dir : str or path-like
        An existing run directory (see :func:`sklearn_genre.provenance.make_run_dir`).
    estimator : fitted classifier or Pipeline
        Anything with ``predict`` (and ``classes_`` for the label order).
    X_test : array-like or list of str of length n_samples
        Test input as ``estimator.predict`` takes it (paths for a full Pipeline).
    y_test : array-like of shape (n_samples,)
        True genres.
    split_protocol : str
        How training and test sets were made, e.g. ``"fma-official (artist-filtered)"`` or
        ``sklearn_genre.leakage.random_split_protocol(0.7, 0.1, 0.2)``. Required: every results
        file states it.
    leakage_report : LeakageReport, default=None
        Outcome of :func:`sklearn_genre.leakage.check_leakage`. ``None``: the results say
        ``"not checked"``.
    history : "auto", skorch History, list of dict or None, default="auto"
        Training history for ``learning_curves.png`` and the training summary. ``"auto"``:
        ``estimator.history`` or the Pipeline's final step's ``history`` when present.
        ``None``: no learning curves.
    config : mapping, default=None
        Parameters of the run (model, features, training), recorded as given.
    data_fingerprint : mapping, default=None
        :func:`sklearn_genre.provenance.data_fingerprint` of the data. ``None``: recorded as
        not computed.
    labels : array-like of shape (n_labels,), default=None
        Genre order (see :func:`sklearn_genre.evaluation.evaluate`).
    extra : mapping, default=None
        More top-level entries for ``results.json`` (must not replace the standard ones).
    groups : array-like of shape (n_samples,), default=None
        Group (artist, album, source track) of each test item. The 95 % intervals of the
        metrics then come from a bootstrap over groups, else over clips (see
        :func:`sklearn_genre.evaluation.bootstrap_ci`).
    group_name : str, default="groups"
        Plural name of the groups in the text report, e.g. ``"artists"``.
    evaluation_result : EvaluationResult, default=None
        Scores computed already (e.g. ``evaluate_outside(...).result``, whose items are
        ``X_test``); then ``estimator`` is not called, and ``y_test``, ``labels`` and
        ``groups`` are taken from it.
    on_error : {"record", "raise"}, default="record"
        A test file that cannot be decoded (see :func:`~sklearn_genre.evaluation.evaluate`):
        ``"record"`` scores the other files, lists the failed ones in ``results.json``
        (``failures``, ``metrics.n_failed``), in ``predictions.csv`` (an ``error`` column,
        empty predictions) and in the text report; ``"raise"`` stops at the first one.

    Returns
    -------
    results : dict
        What was written to ``results.json``, plus the key ``"evaluation"`` holding the
        :class:`~sklearn_genre.evaluation.EvaluationResult` (not written).
    """
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise FileNotFoundError(f"run directory {run_dir} does not exist; create it first")
    if not isinstance(split_protocol, str) or not split_protocol:
        raise ValueError("split_protocol must name how the data was split, e.g. 'predefined'")

    clash = set(extra or ()) & _STANDARD_KEYS
    if clash:
        raise ValueError(f"extra must not replace standard results entries: {sorted(clash)}")

    if evaluation_result is None:
        result = evaluate(estimator, X_test, y_test, labels=labels, groups=groups,
                          on_error=on_error)
    else:
        result = evaluation_result
        if len(X_test) != result.n_samples + len(result.failures):
            raise ValueError(f"X_test has {len(X_test)} items but evaluation scored "
                             f"{result.n_samples}")
    files = {}

    plot_confusion_matrix(result, path=run_dir / "confusion_matrix.png")
    files["confusion_matrix"] = "confusion_matrix.png"
    plot_confusion_matrix(
        result, normalize="true", path=run_dir / "confusion_matrix_normalized.png"
    )
    files["confusion_matrix_normalized"] = "confusion_matrix_normalized.png"

    if isinstance(history, str):
        if history != "auto":
            raise ValueError(f"history must be 'auto', a History, a list or None; got {history!r}")
        history = find_history(estimator)
    training = None
    if history is not None and len(history):
        monitor = early_stopping_monitor(estimator)
        plot_learning_curves(history, path=run_dir / "learning_curves.png",
                             best_key=None if monitor is None else f"{monitor}_best")
        files["learning_curves"] = "learning_curves.png"
        training = history_summary(history, monitor=monitor)

    leakage = (
        leakage_report.to_dict()
        if leakage_report is not None
        else {"status": "not checked", "leaked": None}
    )
    header = (
        f"split protocol: {split_protocol}\n"
        f"leakage check: {leakage['status']}\n"
        f"test items: {result.n_samples}"
        + (f" ({len(result.failures)} more could not be read and are not scored: "
           + "; ".join(f"{f.source}: {f.reason}" for f in result.failures) + ")"
           if result.failures else "") + "\n"
        + "".join(f"{line}\n" for line in result.summary_lines(unit=group_name))
        + "\n"
    )
    flags = diagnose_predictions(result.y_true, result.y_pred)
    _write_text(run_dir / "classification_report.txt",
                header + _flags_text(flags) + result.report_text())
    files["classification_report"] = "classification_report.txt"
    _write_predictions(run_dir / "predictions.csv", X_test, result, y_test)
    files["predictions"] = "predictions.csv"

    evaluation = result.to_dict()
    results = {
        "schema_version": SCHEMA_VERSION,
        "created_at": _dt.datetime.now(_dt.timezone.utc).astimezone().isoformat(),
        "split_protocol": split_protocol,
        "leakage": leakage,
        "metrics": {
            "n_test": evaluation["n_samples"],
            **{k: v for k, v in evaluation.items()
               if k.startswith(("accuracy", "balanced_accuracy", "macro_f1", "intervals"))},
            "n_failed": len(evaluation["failures"]),
        },
        "failures": evaluation["failures"],
        "labels": evaluation["labels"],
        "confusion_matrix": evaluation["confusion_matrix"],
        "classification_report": evaluation["classification_report"],
        "training": training,
        "estimator": repr(estimator)[:4000],
        "config": config,
        "data_fingerprint": (
            data_fingerprint if data_fingerprint is not None else {"status": "not computed"}
        ),
        "versions": package_versions(),
        "platform": platform_info(),
        "files": files,
    }
    results["metrics"].update({name: any(f["flag"] == name for f in flags)
                               for name in ("collapsed", "at_chance")})
    results["warnings"] = [f["message"] for f in flags]
    if result.groups is not None and "intervals" in results["metrics"]:
        results["metrics"]["intervals"]["unit"] = group_name
    results.update(extra or {})
    write_results_json(run_dir, results)
    results["evaluation"] = result
    return results


def _flags_text(flags):
    """``WARNING: ...`` lines for the text report (see :mod:`sklearn_genre.diagnostics`)."""
    return "".join(f"WARNING: {f['message']}\n" for f in flags) + ("\n" if flags else "")


def _write_text(path, text):
    with atomic_write(path, "w", encoding="utf-8") as f:
        f.write(text)


def _write_predictions(path, X, result, y_test):
    import pandas as pd

    frame = pd.DataFrame({"y_true": result.y_true, "y_pred": result.y_pred})
    if result.groups is not None:
        frame["group"] = result.groups
    if result.failures:  # every test item gets a row; failed ones say why
        failed = {f.index: f.reason for f in result.failures}
        n = len(frame) + len(failed)
        kept = [i for i in range(n) if i not in failed]
        full = pd.DataFrame({"y_true": list(np.asarray(y_test)), "y_pred": [None] * n,
                             "error": [""] * n})
        full.loc[kept, "y_pred"] = list(result.y_pred)
        if result.groups is not None:
            full["group"] = None
            full.loc[kept, "group"] = list(result.groups)
        for i, reason in failed.items():
            full.loc[i, "error"] = reason
        frame = full
    if isinstance(X, (list, tuple, np.ndarray, pd.Series)) and len(X) == len(frame):
        first = X[0] if not isinstance(X, pd.Series) else X.iloc[0]
        if isinstance(first, (str, os.PathLike)):
            frame.insert(0, "path", [os.fspath(x) for x in X])
    frame["correct"] = (frame["y_true"] == frame["y_pred"]).where(frame["y_pred"].notna())
    with atomic_write(path, "w", encoding="utf-8") as f:
        frame.to_csv(f, index=False)
