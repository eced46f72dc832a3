"""Zero-shot tags: the pretrained MusiCNN's most likely tags for audio files, no training.

:func:`predict_tags` is what ``sklearn-genre tag FILES`` prints. It runs
:class:`~sklearn_genre.pretrained.MusicnnTransformer` with ``output="tags"`` over whole files
(any length: every 3 s patch is tagged and the patches are pooled) and ranks the tags.
"""

from __future__ import annotations

import os
import warnings

import numpy as np
import pandas as pd

from ..exceptions import ExtractionWarning
from .transformer import MusicnnTransformer

__all__ = ["predict_tags"]


def predict_tags(paths, *, model="MSD_musicnn", top_k=5, pooling="mean", duration=None,
                 offset=0.0, data_home=None, device="auto", n_jobs=None, memory=None,
                 on_error="raise", verbose=0):
    """The pretrained model's most likely tags for each audio file.

    Parameters
    ----------
    paths : sequence of str or os.PathLike
        Audio files of any length (mp3, wav, flac, ogg).
    model : {"MSD_musicnn", "MTT_musicnn"}, default="MSD_musicnn"
        ``MSD_musicnn``'s tags are mostly genres (rock, pop, jazz, metal, Hip-Hop, ...), moods
        and eras; ``MTT_musicnn``'s are instruments, genres and moods.
    top_k : int, default=5
        Tags per file, most likely first (at most the model's 50).
    pooling : {"mean", "max"}, default="mean"
        How the 3 s patches of a file are combined (mean: the original ``top_tags``).
    duration, offset, data_home, device, n_jobs, memory, verbose
        See :class:`~sklearn_genre.pretrained.MusicnnTransformer`.
    on_error : {"raise", "record"}, default="raise"
        ``"record"``: a file that cannot be decoded gets empty tags, NaN probabilities and
        its reason in an ``error`` column (empty for the others), and one warning lists
        them, as :func:`sklearn_genre.inference.predict_tracks` does.

    Returns
    -------
    tags : pandas.DataFrame
        One row per path, in order: ``path``, ``top1``, ``p1``, ..., ``top<k>``, ``p<k>``
        (``p`` is the pooled sigmoid output: tags are not exclusive, so they do not sum to
        1), and with ``on_error="record"`` an ``error`` column.

    Raises
    ------
    AudioDecodeError
        A file cannot be decoded (``on_error="raise"``).
    MusicnnWeightsNotFoundError
        The weights have not been fetched (``sklearn-genre fetch-weights musicnn``).

    Examples
    --------
    >>> from sklearn_genre.pretrained import predict_tags
    >>> predict_tags(["song.mp3", "other.flac"], top_k=3)  # doctest: +SKIP
    """
    if isinstance(paths, (str, bytes, os.PathLike)):
        raise TypeError(f"paths must be a sequence of files, got a single "
                        f"{type(paths).__name__}; wrap it in a list: [paths]")
    if on_error not in ("raise", "record"):
        raise ValueError(f"on_error must be 'raise' or 'record', got {on_error!r}")
    if not isinstance(top_k, (int, np.integer)) or top_k < 1:
        raise ValueError(f"top_k must be a positive integer, got {top_k!r}")
    paths = [os.fspath(p) for p in paths]
    tagger = MusicnnTransformer(model, output="tags", pooling=pooling, duration=duration,
                                offset=offset, data_home=data_home, device=device,
                                n_jobs=n_jobs, memory=memory,
                                on_error="warn" if on_error == "record" else "raise",
                                verbose=verbose)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ExtractionWarning)  # reported once, below
        probs = tagger.fit_transform(paths)
    errors = {f.index: f.reason for f in getattr(tagger, "failures_", [])}
    names = tagger.tags_
    k = min(int(top_k), len(names))
    rows = []
    for i, (path, p) in enumerate(zip(paths, probs)):
        row = {"path": path}
        if i in errors:
            for r in range(1, k + 1):
                row[f"top{r}"], row[f"p{r}"] = None, np.nan
        else:
            for r, j in enumerate(np.argsort(-p, kind="stable")[:k], start=1):
                row[f"top{r}"], row[f"p{r}"] = names[j], float(p[j])
        if on_error == "record":
            row["error"] = errors.get(i, "")
        rows.append(row)
    if errors:
        first = min(errors)
        warnings.warn(f"{len(errors)} of {len(paths)} files could not be decoded and have no "
                      f"tags (see the 'error' column); first: {paths[first]}: "
                      f"{errors[first]}", ExtractionWarning, stacklevel=2)
    columns = ["path"] + [c for r in range(1, k + 1) for c in (f"top{r}", f"p{r}")]
    return pd.DataFrame(rows, columns=columns + (["error"] if on_error == "record" else []))
