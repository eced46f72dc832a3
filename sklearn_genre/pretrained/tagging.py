"""Zero-shot tags: the pretrained MusiCNN's most likely tags for audio files, no training.

:func:`predict_tags` is what ``sklearn-genre tag FILES`` prints. It runs
:class:`~sklearn_genre.pretrained.MusicnnTransformer` with ``output="tags"`` over whole files
(any length: every 3 s patch is tagged and the patches are pooled) and ranks the tags.
"""

from __future__ import annotations

import os

import numpy as np
import pandas as pd

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
    top_k : int or None, default=5
        Tags per file, most likely first; None: all 50.
    pooling : {"mean", "max"}, default="mean"
        How the 3 s patches of a file are combined (mean: the original ``top_tags``).
    duration, offset, data_home, device, n_jobs, memory, on_error, verbose
        See :class:`~sklearn_genre.pretrained.MusicnnTransformer`.

    Returns
    -------
    tags : pandas.DataFrame
        One row per (file, rank), ``top_k`` rows per file in input order, with columns
        ``path`` (str), ``rank`` (1 = most likely), ``tag`` (str) and ``probability``
        (float, the pooled sigmoid output; tags are not exclusive, so they do not sum to 1).
        With ``on_error="warn"`` a file that cannot be decoded has no rows (the
        :class:`~sklearn_genre.exceptions.ExtractionWarning` names it).

    Raises
    ------
    AudioDecodeError
        A file cannot be decoded (``on_error="raise"``).
    MusicnnWeightsNotFoundError
        The weights have not been fetched (``sklearn-genre fetch-weights musicnn``).

    Examples
    --------
    >>> from sklearn_genre.pretrained import predict_tags
    >>> table = predict_tags(["song.mp3", "other.flac"], top_k=3)  # doctest: +SKIP
    >>> table.pivot(index="path", columns="rank", values="tag")  # doctest: +SKIP
    """
    if isinstance(paths, (str, bytes, os.PathLike)):
        raise TypeError(f"paths must be a sequence of files, got a single "
                        f"{type(paths).__name__}; wrap it in a list: [paths]")
    paths = [os.fspath(p) for p in paths]
    if top_k is not None and (not isinstance(top_k, (int, np.integer)) or top_k < 1):
        raise ValueError(f"top_k must be a positive integer or None, got {top_k!r}")
    tagger = MusicnnTransformer(model, output="tags", pooling=pooling, duration=duration,
                                offset=offset, data_home=data_home, device=device,
                                n_jobs=n_jobs, memory=memory, on_error=on_error,
                                verbose=verbose)
    probs = tagger.fit_transform(paths)
    names = np.asarray(tagger.tags_, dtype=object)
    k = len(names) if top_k is None else min(int(top_k), len(names))
    rows = []
    for path, p in zip(paths, probs):
        if not np.isfinite(p).all():  # a failed file (on_error="warn")
            continue
        order = np.argsort(-p, kind="stable")[:k]
        rows.extend((path, rank, names[i], float(p[i])) for rank, i in enumerate(order, 1))
    return pd.DataFrame(rows, columns=["path", "rank", "tag", "probability"])
