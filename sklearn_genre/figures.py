"""Figures of a run: confusion matrix, learning curves, search results, model comparison.

Every function builds a :class:`matplotlib.figure.Figure` directly (no ``pyplot`` state, no
window: rendering goes through matplotlib's Agg canvas, so it works on a machine without a
display and figures are freed with the object), returns it, and saves it as PNG when ``path``
is given. Saving is atomic (temporary file + :func:`os.replace`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from .atomic import atomic_write

__all__ = [
    "plot_confusion_matrix",
    "plot_learning_curves",
    "plot_model_comparison",
    "plot_search_results",
    "save_figure",
]

_LOG_PARAMS = ("lr", "learning_rate", "weight_decay", "alpha", "C", "tol", "eps")


def save_figure(fig, path, *, dpi=120):
    """Save ``fig`` to ``path`` atomically; the format follows the suffix (PNG, SVG, PDF).

    Returns
    -------
    path : pathlib.Path
    """
    path = Path(path)
    fmt = path.suffix.lstrip(".").lower() or "png"
    with atomic_write(path, "wb") as f:
        fig.savefig(f, format=fmt, dpi=dpi)
    return path


def _finish(fig, path):
    if path is not None:
        save_figure(fig, path)
    return fig


# --------------------------------------------------------------------------- confusion matrix


def plot_confusion_matrix(
    confusion_matrix, labels=None, *, normalize=None, title=None, cmap="Blues", path=None
):
    """Confusion matrix as a heat map (:class:`sklearn.metrics.ConfusionMatrixDisplay`).

    Parameters
    ----------
    confusion_matrix : ndarray of shape (n_labels, n_labels) or EvaluationResult
        Counts, row = true genre, column = predicted genre; or the result of
        :func:`sklearn_genre.evaluation.evaluate` (its matrix and labels are used).
    labels : array-like of shape (n_labels,), default=None
        Genre names in matrix order; ``None``: taken from the EvaluationResult, else 0..n-1.
    normalize : {"true", "pred", "all"}, default=None
        ``"true"``: each row divided by its sum (the diagonal is the per-genre recall);
        ``"pred"``: each column by its sum (precision); ``"all"``: by the total; ``None``:
        counts. Rows/columns that sum to 0 stay 0.
    title : str, default=None
    cmap : str, default="Blues"
    path : str or path-like, default=None
        Where to save the PNG.

    Returns
    -------
    fig : matplotlib.figure.Figure
    """
    from sklearn.metrics import ConfusionMatrixDisplay

    if hasattr(confusion_matrix, "confusion_matrix"):
        result = confusion_matrix
        confusion_matrix = result.confusion_matrix
        labels = result.labels if labels is None else labels
    cm = np.asarray(confusion_matrix, dtype=float)
    if cm.ndim != 2 or cm.shape[0] != cm.shape[1]:
        raise ValueError(f"confusion_matrix must be square, got shape {cm.shape}")
    n = cm.shape[0]
    labels = list(range(n)) if labels is None else [str(lab) for lab in labels]
    if len(labels) != n:
        raise ValueError(f"{len(labels)} labels for a {n}x{n} confusion matrix")
    if normalize not in (None, "true", "pred", "all"):
        raise ValueError(f"normalize must be None, 'true', 'pred' or 'all', got {normalize!r}")
    if normalize is not None:
        axis = {"true": 1, "pred": 0, "all": None}[normalize]
        total = cm.sum(axis=axis, keepdims=axis is not None)
        with np.errstate(invalid="ignore", divide="ignore"):
            cm = np.nan_to_num(cm / total)
        values_format = ".2f"
    else:
        cm = cm.astype(np.int64)
        values_format = "d"

    size = max(4.5, 0.6 * n + 2.5)
    fig = Figure(figsize=(size + 1, size), layout="constrained")
    ax = fig.add_subplot()
    disp = ConfusionMatrixDisplay(cm, display_labels=labels)
    disp.plot(ax=ax, cmap=cmap, values_format=values_format, xticks_rotation=45, colorbar=True)
    if normalize is not None:
        disp.im_.set_clim(0, 1)
    suffix = f" (normalised: {normalize})" if normalize else ""
    ax.set_title(title or f"Confusion matrix{suffix}")
    return _finish(fig, path)


# --------------------------------------------------------------------------- learning curves


def _epoch_series(history, key):
    """Per-epoch values of ``key``; for a key recorded per batch, the epoch's last batch value."""
    values = []
    found = False
    for row in history:
        value = row.get(key)
        if value is None:
            batches = row.get("batches") or []
            batch_values = [b[key] for b in batches if isinstance(b, Mapping) and key in b]
            value = batch_values[-1] if batch_values else None
        if value is not None:
            found = True
        values.append(np.nan if value is None else float(value))
    return np.asarray(values, dtype=float) if found else None


def _history_keys(history):
    keys = set()
    for row in history:
        keys.update(row.keys())
        for b in row.get("batches") or []:
            if isinstance(b, Mapping):
                keys.update(b.keys())
    return keys


def plot_learning_curves(history, *, title=None, path=None, best_key=None):
    """Train/valid loss, accuracy and learning rate per epoch from a skorch History.

    Parameters
    ----------
    history : skorch.history.History or list of dict
        One dict per epoch, as ``net.history``. Used when present: ``train_loss``,
        ``valid_loss`` (loss panel); ``train_acc``, ``valid_acc`` and other keys containing
        ``acc`` (accuracy panel); ``event_lr``, ``lr`` or keys ending in ``_lr`` (learning-rate
        panel, log scale; a rate recorded per batch is shown per epoch as its last batch's
        value); ``valid_acc_best`` or else ``valid_loss_best`` (a dashed line at the best
        epoch); ``epoch`` (x axis; else 1, 2, ...). Missing keys, or epochs without a value,
        are tolerated: a panel without data says "not recorded".
    title : str, default=None
    path : str or path-like, default=None
        Where to save the PNG.
    best_key : str, default=None
        The history key flagging the restored (best) epoch, e.g. ``"valid_loss_best"`` when
        early stopping watched the validation loss. None: ``valid_acc_best``, else
        ``valid_loss_best``.

    Returns
    -------
    fig : matplotlib.figure.Figure
    """
    history = list(history)
    if not history:
        raise ValueError("history is empty: nothing was trained")
    keys = _history_keys(history)
    epochs = np.asarray([row.get("epoch", i + 1) for i, row in enumerate(history)], dtype=float)
    loss_keys = [k for k in ("train_loss", "valid_loss") if k in keys]
    acc_keys = sorted(k for k in keys if "acc" in k and not k.endswith("_best") and k != "batches")
    lr_keys = sorted(k for k in keys if k in ("lr", "event_lr") or k.endswith("_lr"))

    fig = Figure(figsize=(13, 4), layout="constrained")
    axes = fig.subplots(1, 3)
    panels = (
        (axes[0], loss_keys, "loss", False),
        (axes[1], acc_keys, "accuracy", False),
        (axes[2], lr_keys, "learning rate", True),
    )
    if best_key is None or best_key not in keys:
        best_key = next((k for k in ("valid_acc_best", "valid_loss_best") if k in keys), None)
    best_epoch = None
    if best_key is not None:
        flagged = [epochs[i] for i, row in enumerate(history) if row.get(best_key)]
        best_epoch = flagged[-1] if flagged else None
    for ax, panel_keys, ylabel, log in panels:
        plotted = False
        for key in panel_keys:
            series = _epoch_series(history, key)
            if series is None or np.all(np.isnan(series)):
                continue
            ax.plot(epochs, series, marker="o", markersize=3, label=key)
            plotted = True
            if log and np.nanmin(series) > 0:
                ax.set_yscale("log")
        if plotted:
            if best_epoch is not None:
                ax.axvline(
                    best_epoch,
                    color="grey",
                    linestyle="--",
                    linewidth=1,
                    label=f"best ({best_key})",
                )
            ax.legend(fontsize="small")
        else:
            ax.text(
                0.5,
                0.5,
                f"{ylabel}: not recorded",
                ha="center",
                va="center",
                transform=ax.transAxes,
                color="grey",
            )
        ax.set_xlabel("epoch")
        ax.set_ylabel(ylabel)
        ax.grid(True, alpha=0.3)
    fig.suptitle(title or f"Learning curves ({len(history)} epochs)")
    return _finish(fig, path)


# --------------------------------------------------------------------------- search results


def _param_column(df, param):
    for candidate in (f"param_{param}", param):
        if candidate in df.columns:
            return candidate
    matches = [c for c in df.columns if c.startswith("param_") and c.endswith(f"__{param}")]
    if len(matches) == 1:
        return matches[0]
    params = [c[len("param_") :] for c in df.columns if c.startswith("param_")]
    if matches:
        raise ValueError(f"parameter {param!r} is ambiguous: {[m[6:] for m in matches]}")
    raise ValueError(f"no parameter {param!r} in the search results; searched: {params}")


def _as_float(values):
    try:
        return np.asarray(values, dtype=float)
    except (TypeError, ValueError):
        return None


def plot_search_results(
    cv_results,
    param,
    *,
    score="mean_test_score",
    std="std_test_score",
    hue=None,
    log_x="auto",
    title=None,
    path=None,
):
    """Score against one searched parameter, with standard deviations as error bars.

    Parameters
    ----------
    cv_results : dict or DataFrame
        ``search.cv_results_`` of a ``GridSearchCV``/``RandomizedSearchCV``/``BayesSearchCV``,
        or ``pandas.DataFrame(search.cv_results_)``.
    param : str
        Parameter on the x axis: ``"classifier__batch_size"``, or just its last part
        (``"batch_size"``) when that is unambiguous.
    score : str, default="mean_test_score"
        Column on the y axis.
    std : str or None, default="std_test_score"
        Column of the error bars; ``None`` for none.
    hue : str, default=None
        Another parameter: one line per value of it. ``None``: one line whose point at each
        value of ``param`` is the best candidate with that value (over all other parameters).
    log_x : bool or "auto", default="auto"
        Logarithmic x axis. ``"auto"``: for learning rates, weight decays and similar names
        (``lr``, ``learning_rate``, ``weight_decay``, ``alpha``, ``C``), or positive values
        spanning at least two decades.
    title : str, default=None
    path : str or path-like, default=None
        Where to save the PNG.

    Returns
    -------
    fig : matplotlib.figure.Figure
    """
    import pandas as pd

    df = cv_results if isinstance(cv_results, pd.DataFrame) else pd.DataFrame(cv_results)
    if score not in df.columns:
        raise ValueError(f"no column {score!r} in the search results")
    if std is not None and std not in df.columns:
        raise ValueError(f"no column {std!r} in the search results (pass std=None)")
    xcol = _param_column(df, param)
    hcol = _param_column(df, hue) if hue is not None else None
    df = df[df[xcol].notna()].copy()
    if df.empty:
        raise ValueError(f"no candidate of the search sets {param!r}")
    x_num = _as_float(df[xcol].tolist())
    numeric = x_num is not None
    if numeric:
        df["_x"] = x_num
    else:
        cats = list(dict.fromkeys(str(v) for v in df[xcol]))
        df["_x"] = [cats.index(str(v)) for v in df[xcol]]
    if log_x == "auto":
        name = xcol[len("param_") :].rsplit("__", 1)[-1] if xcol.startswith("param_") else xcol
        positive = numeric and np.all(x_num > 0)
        log_x = bool(
            positive
            and (
                name in _LOG_PARAMS
                or "lr" in name.split("_")
                or np.max(x_num) / np.min(x_num) >= 100
            )
        )

    if hcol is None:
        groups = [(None, df)]
    else:
        hue_values = list(dict.fromkeys(df[hcol].dropna().tolist()))
        numeric_hue = _as_float(hue_values) is not None
        hue_values.sort(key=float if numeric_hue else str)
        groups = [(v, df[df[hcol] == v]) for v in hue_values]
    fig = Figure(figsize=(6.5, 4.5), layout="constrained")
    ax = fig.add_subplot()
    for hue_value, g in groups:
        best = g.loc[g.groupby("_x")[score].idxmax()].sort_values("_x")
        yerr = best[std].to_numpy(dtype=float) if std is not None else None
        label = None if hue_value is None else f"{hue}={hue_value}"
        ax.errorbar(
            best["_x"].to_numpy(dtype=float),
            best[score].to_numpy(dtype=float),
            yerr=yerr,
            marker="o",
            capsize=4,
            label=label,
        )
    if log_x:
        ax.set_xscale("log")
    if not numeric:
        ax.set_xticks(range(len(cats)), cats, rotation=30)
    elif not log_x and len(np.unique(x_num)) <= 12:
        ax.set_xticks(np.unique(x_num))
    ax.set_xlabel(param)
    ax.set_ylabel(score)
    ax.grid(True, alpha=0.3)
    if hcol is not None:
        ax.legend(fontsize="small")
    note = "" if hcol is not None or df[xcol].nunique() == len(df) else " (best per value)"
    ax.set_title(title or f"{score} vs {param}{note}")
    return _finish(fig, path)


# --------------------------------------------------------------------------- model comparison


def plot_model_comparison(results, *, metric="accuracy", title=None, path=None):
    """Bar chart of models' mean score with standard deviation (and fit time when known).

    Parameters
    ----------
    results : mapping or DataFrame
        Either a mapping ``{model name: per-fold scores}`` (e.g. ``cross_val_score`` outputs),
        or a DataFrame with one row per model (names in a ``model`` column or the index) and
        columns ``mean_<metric>`` and optionally ``std_<metric>`` and ``mean_fit_time``
        (seconds; drawn in a second panel, with ``std_fit_time`` when present).
    metric : str, default="accuracy"
        Name of the score, for the labels and the column names.
    title : str, default=None
    path : str or path-like, default=None
        Where to save the PNG.

    Returns
    -------
    fig : matplotlib.figure.Figure
    """
    import pandas as pd

    if isinstance(results, pd.DataFrame):
        df = results.set_index("model") if "model" in results.columns else results
        mean_col, std_col = f"mean_{metric}", f"std_{metric}"
        if mean_col not in df.columns:
            raise ValueError(f"no column {mean_col!r} in the comparison table: {list(df.columns)}")
        names = [str(i) for i in df.index]
        means = df[mean_col].to_numpy(dtype=float)
        stds = df[std_col].to_numpy(dtype=float) if std_col in df.columns else None
        fit = df["mean_fit_time"].to_numpy(dtype=float) if "mean_fit_time" in df.columns else None
        fit_std = df["std_fit_time"].to_numpy(dtype=float) if "std_fit_time" in df.columns else None
    elif isinstance(results, Mapping):
        names = [str(k) for k in results]
        scores = [np.atleast_1d(np.asarray(v, dtype=float)) for v in results.values()]
        means = np.array([s.mean() for s in scores])
        stds = np.array([s.std() for s in scores])
        fit = fit_std = None
    else:
        raise TypeError(f"results must be a mapping or a DataFrame, got {type(results).__name__}")
    if not names:
        raise ValueError("no models to compare")

    ncols = 1 if fit is None else 2
    fig = Figure(figsize=(max(5.0, 1.1 * len(names) + 2) * ncols, 4.5), layout="constrained")
    axes = np.atleast_1d(fig.subplots(1, ncols))
    pos = np.arange(len(names))
    bars = axes[0].bar(pos, means, yerr=stds, capsize=4, color="tab:blue", alpha=0.85)
    axes[0].bar_label(
        bars, labels=[f"{m:.3f}" if math.isfinite(m) else "n/a" for m in means], padding=3
    )
    axes[0].set_ylabel(metric)
    axes[0].set_ylim(0, max(1.0, float(np.nanmax(means + (stds if stds is not None else 0))) * 1.1))
    if fit is not None:
        axes[1].bar(pos, fit, yerr=fit_std, capsize=4, color="tab:orange", alpha=0.85)
        axes[1].set_ylabel("fit time (s)")
    for ax in axes:
        ax.set_xticks(pos, names, rotation=20)
        ax.grid(True, axis="y", alpha=0.3)
    fig.suptitle(title or f"Model comparison ({metric}, mean ± std)")
    return _finish(fig, path)
