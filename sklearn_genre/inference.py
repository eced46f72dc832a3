"""Track-level genre prediction for audio of any length.

A model trained on 30 s clips sees 30 s at a time. :func:`predict_track` decodes a whole track,
cuts it into windows of the training clip length, asks the fitted pipeline for each window's
genre probabilities and aggregates them (mean by default) into the track's top-k genres.

Windows (``window`` and ``hop`` in seconds, ``n`` = track length):

- windows start at ``0, hop, 2 * hop, ...`` as long as they fit in the track;
- when the last of them ends before the track does, one more window aligned to the end of the
  track is added, so every sample is seen (that window overlaps the one before). This needs
  ``hop <= window`` and ``window <=`` the transformer's ``duration`` (a longer window would be
  cropped to it); other values are refused with a ``ValueError``;
- a track shorter than one window gives a single window, zero-padded at the end (silence) to the
  window length, and ``padded=True`` in the result; tracks shorter than half the window are
  reported with a :class:`~sklearn_genre.features.ShortClipWarning` (how many, the shortest);
- the transformer's ``offset`` (where a training clip starts inside its file) is not applied to
  the windows: each window is used from its first sample.
"""

from __future__ import annotations

import copy
import os
import warnings
from dataclasses import dataclass

import numpy as np

from .audio import AudioDecodeError, load_audio, validate_waveform
from .features import (
    SHORT_CLIP_FRACTION,
    ExtractionFailure,
    ExtractionWarning,
    ShortClipWarning,
    short_clip_warning,
)
from .provenance import to_jsonable

__all__ = [
    "TrackPrediction",
    "find_feature_transformer",
    "predict_track",
    "predict_tracks",
    "resolve_windows",
    "window_starts",
]

_AGGREGATES = ("mean", "geometric", "vote")


def find_feature_transformer(pipeline):
    """The step of ``pipeline`` that turns waveforms into features.

    The first step that is a :class:`~sklearn_genre.features.MelSpectrogramTransformer`, or
    else the first step with ``sr`` and ``duration`` attributes (duck typing, for other
    waveform transformers).

    Parameters
    ----------
    pipeline : sklearn.pipeline.Pipeline

    Returns
    -------
    transformer : estimator
        The step (it has ``sr`` in Hz and ``duration`` in seconds).

    Raises
    ------
    TypeError
        When ``pipeline`` is not a Pipeline.
    ValueError
        When no step qualifies.
    """
    from sklearn.pipeline import Pipeline

    if not isinstance(pipeline, Pipeline):
        raise TypeError(
            "track prediction needs a Pipeline whose first steps turn waveforms into features "
            f"(e.g. MelSpectrogramTransformer, classifier); got {type(pipeline).__name__}"
        )
    try:
        from .features import MelSpectrogramTransformer
    except ImportError:  # features.py not importable: duck typing below still works
        MelSpectrogramTransformer = ()
    steps = [step for _, step in pipeline.steps if step not in (None, "passthrough")]
    for step in steps:
        if MelSpectrogramTransformer and isinstance(step, MelSpectrogramTransformer):
            return step
    for step in steps:
        if hasattr(step, "sr") and hasattr(step, "duration"):
            return step
    raise ValueError(
        "no step of the pipeline takes waveforms: expected a MelSpectrogramTransformer or a "
        f"step with 'sr' and 'duration' attributes; steps: {[n for n, _ in pipeline.steps]}"
    )


def resolve_windows(pipeline, *, window=None, hop=None):
    """The window and hop (seconds) :func:`predict_track` uses, checked to cover every sample.

    Parameters
    ----------
    pipeline : sklearn.pipeline.Pipeline
        See :func:`predict_track`.
    window, hop : float or None
        As in :func:`predict_track`.

    Returns
    -------
    window, hop : float

    Raises
    ------
    ValueError
        For a non-positive value, a transformer with ``duration=None`` and no ``window``, a
        ``hop`` longer than the window (the gaps between windows would never be seen) or a
        window longer than the transformer's ``duration`` (each window would be cropped).
    """
    transformer = find_feature_transformer(pipeline)
    if window is None:
        window = transformer.duration
        if window is None:
            raise ValueError(
                "the transformer has duration=None (variable length); pass window= in seconds"
            )
    hop = window if hop is None else hop
    if not (window > 0 and hop > 0):
        raise ValueError(f"window and hop must be positive seconds, got {window} and {hop}")
    if hop > window:
        raise ValueError(
            f"hop={hop:g} s is longer than the window={window:g} s: the {hop - window:g} s "
            "between consecutive windows would never be seen; use a hop <= the window"
        )
    if transformer.duration is not None and window > transformer.duration:
        raise ValueError(
            f"window={window:g} s is longer than the {transformer.duration:g} s clips the "
            "feature step makes: it would crop each window to its first "
            f"{transformer.duration:g} s and never see the rest; use a window <= "
            f"{transformer.duration:g} s"
        )
    return float(window), float(hop)


def window_starts(n_samples, window, hop):
    """Start samples of the windows covering a signal (see the module notes).

    Parameters
    ----------
    n_samples : int
        Length of the signal.
    window, hop : int
        Window length and hop in samples (``hop`` > 0).

    Returns
    -------
    starts : ndarray of shape (n_windows,)
    """
    if window <= 0 or hop <= 0:
        raise ValueError(f"window and hop must be positive, got {window} and {hop}")
    if n_samples <= window:
        return np.zeros(1, dtype=np.int64)
    starts = np.arange(0, n_samples - window + 1, hop, dtype=np.int64)
    if starts[-1] + window < n_samples:
        starts = np.append(starts, n_samples - window)
    return starts


@dataclass
class TrackPrediction:
    """Genre prediction for one track.

    Attributes
    ----------
    source : str or None
        The file, or ``None`` for a waveform.
    top_k : list of (label, float)
        The ``k`` most probable genres, most probable first.
    classes : ndarray of shape (n_classes,)
        Genre order of the probabilities.
    probabilities : ndarray of shape (n_classes,)
        Aggregated probabilities of the track (sum to 1).
    window_probabilities : ndarray of shape (n_windows, n_classes)
        Probabilities of each window.
    window_starts_s : ndarray of shape (n_windows,)
        Start of each window in seconds.
    duration_s : float
        Length of the decoded track in seconds.
    window_s, hop_s : float
        Window length and hop in seconds.
    padded : bool
        The track was shorter than one window and was zero-padded.
    aggregate : str
        How window probabilities were combined.
    """

    source: str | None
    top_k: list
    classes: np.ndarray
    probabilities: np.ndarray
    window_probabilities: np.ndarray
    window_starts_s: np.ndarray
    duration_s: float
    window_s: float
    hop_s: float
    padded: bool
    aggregate: str

    @property
    def n_windows(self):
        """Number of windows."""
        return len(self.window_starts_s)

    def to_dict(self, *, include_windows=False):
        """Plain-JSON dict; ``include_windows`` adds per-window starts and probabilities."""
        out = {
            "source": self.source,
            "top_k": [{"genre": to_jsonable(g), "probability": float(p)} for g, p in self.top_k],
            "probabilities": {
                str(to_jsonable(c)): float(p) for c, p in zip(self.classes, self.probabilities)
            },
            "n_windows": self.n_windows,
            "duration_s": float(self.duration_s),
            "window_s": float(self.window_s),
            "hop_s": float(self.hop_s),
            "padded": bool(self.padded),
            "aggregate": self.aggregate,
        }
        if include_windows:
            out["window_starts_s"] = self.window_starts_s.tolist()
            out["window_probabilities"] = self.window_probabilities.tolist()
        return out


def _without_offset(pipeline, transformer):
    """``pipeline`` with a copy of ``transformer`` whose ``offset`` is 0 (when it is not).

    ``offset`` says where a training clip starts inside its file; a window cut by
    :func:`predict_track` is used from its first sample. The copy keeps the fitted state.
    """
    if not getattr(transformer, "offset", 0):
        return pipeline
    from sklearn.pipeline import Pipeline

    unshifted = copy.copy(transformer)
    unshifted.set_params(offset=0.0)
    steps = [(n, unshifted if s is transformer else s) for n, s in pipeline.steps]
    return Pipeline(steps, memory=pipeline.memory)


def _aggregate(proba, how):
    if how == "mean":
        p = proba.mean(axis=0)
    elif how == "geometric":
        p = np.exp(np.log(np.clip(proba, 1e-12, None)).mean(axis=0))
    else:  # vote
        p = np.bincount(proba.argmax(axis=1), minlength=proba.shape[1]).astype(float)
    return p / p.sum()


def predict_track(pipeline, path_or_waveform, *, window=None, hop=None, top_k=3, aggregate="mean",
                  warn_short=True):
    """Top-k genres of a track of any length, from windows of the training clip length.

    Parameters
    ----------
    pipeline : fitted sklearn.pipeline.Pipeline
        A waveform-to-features step (see :func:`find_feature_transformer`) followed by a
        classifier with ``predict_proba`` and ``classes_``.
    path_or_waveform : str, path-like or ndarray of shape (n_samples,)
        An audio file (decoded with :func:`~sklearn_genre.audio.load_audio` at the
        transformer's ``sr``, mono) or a waveform already at that rate.
    window : float, default=None
        Window length in seconds. ``None``: the transformer's ``duration`` (the training clip
        length). Another value is allowed, but the transformer then pads or crops each window
        to its own ``duration``.
    hop : float, default=None
        Seconds between window starts. ``None``: ``window`` (non-overlapping windows; the
        end of the track is covered by one extra end-aligned window, see the module notes).
        Smaller values overlap windows (more windows, smoother, slower).
    top_k : int, default=3
        Number of genres returned (at most the number of classes).
    aggregate : {"mean", "geometric", "vote"}, default="mean"
        ``"mean"``: mean of the window probabilities. ``"geometric"``: normalised geometric
        mean (a window that rules a genre out weighs more). ``"vote"``: fraction of windows
        whose most probable genre it is.
    warn_short : bool, default=True
        Emit a :class:`~sklearn_genre.features.ShortClipWarning` when the track is shorter than
        half the window (it is padded with silence).

    Returns
    -------
    prediction : TrackPrediction

    Raises
    ------
    AudioDecodeError
        When the file cannot be decoded (the message names it).
    ValueError
        For an empty or non-finite waveform, bad ``window``/``hop``/``top_k``/``aggregate``,
        a ``hop`` longer than the window or a window longer than the transformer's
        ``duration`` (parts of the track would never be seen).
    """
    transformer = find_feature_transformer(pipeline)
    sr = transformer.sr
    window, hop = resolve_windows(pipeline, window=window, hop=hop)
    if aggregate not in _AGGREGATES:
        raise ValueError(f"aggregate must be one of {_AGGREGATES}, got {aggregate!r}")
    if int(top_k) != top_k or top_k < 1:
        raise ValueError(f"top_k must be a positive integer, got {top_k!r}")

    if isinstance(path_or_waveform, (str, os.PathLike)):
        source = os.fspath(path_or_waveform)
        y = load_audio(source, sr=sr, mono=True)
    else:
        source = None
        y = validate_waveform(path_or_waveform)

    win = int(round(window * sr))
    hop_n = int(round(hop * sr))
    starts = window_starts(len(y), win, hop_n)
    padded = len(y) < win
    if padded:
        windows = [np.pad(y, (0, win - len(y)))]
    else:
        windows = [y[s : s + win] for s in starts]

    with warnings.catch_warnings():
        # Windows are cut from the track: the track-level check below replaces the
        # transformer's per-window one (which a silent passage would also trigger).
        warnings.simplefilter("ignore", ShortClipWarning)
        proba = np.asarray(
            _without_offset(pipeline, transformer).predict_proba(windows), dtype=float)
    if warn_short and len(y) < SHORT_CLIP_FRACTION * win:
        warnings.warn(short_clip_warning([(0, source or "the waveform", len(y) / sr)], 1,
                                         window, what="tracks"), stacklevel=2)
    classes = np.asarray(pipeline.classes_)
    if proba.shape != (len(windows), len(classes)):
        raise ValueError(
            f"predict_proba returned shape {proba.shape} for {len(windows)} windows and "
            f"{len(classes)} classes"
        )
    p = _aggregate(proba, aggregate)
    order = np.argsort(-p, kind="stable")[: min(int(top_k), len(classes))]
    return TrackPrediction(
        source=source,
        top_k=[(to_jsonable(classes[i]), float(p[i])) for i in order],
        classes=classes,
        probabilities=p,
        window_probabilities=proba,
        window_starts_s=starts / sr,
        duration_s=len(y) / sr,
        window_s=float(window),
        hop_s=float(hop),
        padded=padded,
        aggregate=aggregate,
    )


def predict_tracks(
    pipeline,
    paths,
    *,
    window=None,
    hop=None,
    top_k=3,
    aggregate="mean",
    on_error="record",
    progress=False,
):
    """Top-k genres of many audio files, as a table for CSV/JSON output.

    Parameters
    ----------
    pipeline : fitted sklearn.pipeline.Pipeline
        See :func:`predict_track`.
    paths : sequence of str or path-like
        Audio files (expand folders before calling).
    window, hop, top_k, aggregate
        See :func:`predict_track`.
    on_error : {"record", "raise"}, default="record"
        A file that cannot be decoded: ``"record"`` keeps a row with empty predictions and
        the reason in the ``error`` column (and its class, see
        :attr:`~sklearn_genre.audio.AudioDecodeError.kind`, in ``error_kind``), predicts
        every other file, and emits one :class:`UserWarning` at the end listing the failed
        files; ``"raise"`` stops at the first one with its
        :class:`~sklearn_genre.audio.AudioDecodeError` (the predictions made so far are lost).
    progress : bool, default=False
        Show a tqdm progress bar.

    Returns
    -------
    table : pandas.DataFrame
        One row per path, in order: ``path``, ``top1``, ``p1``, ..., ``top<k>``, ``p<k>``,
        ``n_windows``, ``duration_s``, and with ``on_error="record"`` the ``error`` and
        ``error_kind`` columns (empty strings for files that were predicted).

    Warns
    -----
    ExtractionWarning
        Files that could not be decoded (``on_error="record"``); ``warning.failures`` lists
        them.
    ShortClipWarning
        Tracks shorter than half the window: how many and the shortest.
    """
    import pandas as pd
    from tqdm.auto import tqdm

    if on_error not in ("raise", "record"):
        raise ValueError(f"on_error must be 'raise' or 'record', got {on_error!r}")
    n_classes = len(pipeline.classes_)
    k = min(int(top_k), n_classes)
    rows, failed, short = [], [], []
    window_s = None
    for index, path in enumerate(tqdm(list(paths), desc="predict", unit="file",
                                      disable=not progress)):
        row = {"path": os.fspath(path)}
        try:
            pred = predict_track(
                pipeline, path, window=window, hop=hop, top_k=top_k, aggregate=aggregate,
                warn_short=False,
            )
        except AudioDecodeError as exc:
            if on_error == "raise":
                raise
            failed.append(ExtractionFailure(index, exc.path, exc.reason))
            for i in range(1, k + 1):
                row[f"top{i}"], row[f"p{i}"] = None, np.nan
            row.update(n_windows=0, duration_s=np.nan, error=exc.reason, error_kind=exc.kind)
            rows.append(row)
            continue
        for i, (genre, prob) in enumerate(pred.top_k, start=1):
            row[f"top{i}"], row[f"p{i}"] = genre, prob
        row.update(n_windows=pred.n_windows, duration_s=pred.duration_s)
        if on_error == "record":
            row.update(error="", error_kind="")
        rows.append(row)
        window_s = pred.window_s
        if pred.duration_s < SHORT_CLIP_FRACTION * pred.window_s:
            short.append((index, row["path"], pred.duration_s))
    columns = ["path"]
    for i in range(1, k + 1):
        columns += [f"top{i}", f"p{i}"]
    columns += ["n_windows", "duration_s"]
    columns += ["error", "error_kind"] if on_error == "record" else []
    if short:
        warnings.warn(short_clip_warning(short, len(rows) - len(failed), window_s,
                                         what="tracks"), stacklevel=2)
    if failed:
        listing = "; ".join(f"{f.source}: {f.reason}" for f in failed[:5])
        more = f"; and {len(failed) - 5} more" if len(failed) > 5 else ""
        warnings.warn(
            ExtractionWarning(
                f"{len(failed)} of {len(rows)} files could not be decoded and have no "
                f"prediction (their 'error' column says why): {listing}{more}", failed),
            stacklevel=2,
        )
    return pd.DataFrame(rows, columns=columns)
