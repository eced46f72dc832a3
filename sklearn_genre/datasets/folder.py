"""Loader for genre-folder data sets (GTZAN style): ``root/<genre>/<file>``."""

import os
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from .._compat import validate_params
from ._bunch import DatasetWarning, empty_excluded, make_bunch

__all__ = ["AUDIO_EXTENSIONS", "find_audio_files", "load_audio_folder"]

#: File extensions (lower case) taken as audio. Whether a file decodes is
#: :func:`sklearn_genre.audio.load_audio`'s business: a file that does not is a clear
#: error naming it, never a silent skip.
AUDIO_EXTENSIONS = frozenset({
    ".aif", ".aifc", ".aiff", ".au", ".flac", ".m4a", ".mp3", ".oga", ".ogg", ".opus",
    ".snd", ".wav", ".wma",
})


def _visible_files(root):
    """``(relative Path, path str)`` of every file under ``root`` in sorted walk order.

    The one place of the hidden-file rule: a file or folder whose name starts with ``.`` is
    skipped, with everything below it (``.git``, ``.DS_Store``, editors' temporary files).
    """
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        rel_dir = Path(dirpath).relative_to(root)
        for name in sorted(filenames):
            if not name.startswith("."):
                yield rel_dir / name, os.path.join(dirpath, name)


def _is_audio(name, extensions=None):
    exts = AUDIO_EXTENSIONS if extensions is None else extensions
    return Path(name).suffix.lower() in exts


def find_audio_files(root, *, extensions=None):
    """Audio files under a folder, recursively, sorted; hidden files and folders skipped.

    The package's one audio-folder scanner (:func:`load_audio_folder` and the command line's
    ``predict``/``evaluate`` use it). Whether a file decodes is not checked here.

    Parameters
    ----------
    root : str or os.PathLike
        The folder.
    extensions : iterable of str or None, default=None
        Lower-case suffixes with the dot; None means :data:`AUDIO_EXTENSIONS`.

    Returns
    -------
    paths : list of str
        ``root``-joined paths, sorted by their path below ``root`` compared component by
        component (as :class:`pathlib.Path` objects sort).

    Raises
    ------
    NotADirectoryError
        ``root`` is not a folder.
    """
    if not os.path.isdir(root):
        raise NotADirectoryError(f"not a folder: {os.fspath(root)}")
    exts = None if extensions is None else {e.lower() for e in extensions}
    found = [(rel.parts, path) for rel, path in _visible_files(root) if _is_audio(rel.name, exts)]
    return [path for _, path in sorted(found)]


@validate_params(
    {
        "root": [str, os.PathLike],
        "extensions": ["array-like", set, frozenset, None],
        "return_X_y": ["boolean"],
        "as_frame": ["boolean"],
    },
    prefer_skip_nested_validation=True,
)
def load_audio_folder(root, *, extensions=None, return_X_y=False, as_frame=False):
    """Load a data set laid out as one folder per genre: ``root/<genre>/<file>``.

    The genre of a file is the name of the first-level folder it is in (files in
    sub-folders of a genre folder count for that genre). Files whose extension is an
    audio one (case-insensitive) are taken; other files, and files directly in
    ``root``, are ignored and reported (a :class:`DatasetWarning` and the Bunch's
    ``excluded``). Hidden files and folders (name starting with ``.``) are skipped
    without a report. Order is stable: sorted by genre, then relative path.

    Parameters
    ----------
    root : str or path-like
        The data set folder.
    extensions : set of str, default=None
        Audio extensions with the dot, e.g. ``{".wav"}``. Defaults to
        :data:`AUDIO_EXTENSIONS` (mp3, wav, flac, ogg, au, aiff, ...).
    return_X_y : bool, default=False
        Return ``(data, target)`` instead of a Bunch.
    as_frame : bool, default=False
        As in :func:`load_fma`.

    Returns
    -------
    bunch : Bunch
        The same fields as :func:`load_fma`'s. The index ``track_id`` is the position
        (0 .. n_tracks - 1). Genre folders carry no artist or split information:
        ``artist_ids`` and ``split`` are None and the ``frame`` columns ``artist_id``
        and ``split`` are NaN / None, so artist-filtered splits are not available
        (use :func:`random_split`). ``missing`` is empty. ``excluded`` lists the
        ignored non-audio files (``track_id`` -1, reason). Also ``root``.

    (data, target) : tuple if ``return_X_y`` is True.

    Raises
    ------
    FileNotFoundError
        If ``root`` is not a folder.
    ValueError
        If no audio file is found.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> root = pathlib.Path(tempfile.mkdtemp())
    >>> for name in ["rock/b.wav", "rock/a.mp3", "jazz/c.flac", "jazz/notes.txt"]:
    ...     (root / name).parent.mkdir(exist_ok=True)
    ...     _ = (root / name).write_bytes(b"")
    >>> import warnings
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore")
    ...     bunch = load_audio_folder(root)
    >>> [pathlib.Path(p).name for p in bunch.paths], bunch.target.tolist()
    (['c.flac', 'a.mp3', 'b.wav'], ['jazz', 'rock', 'rock'])
    """
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"audio folder not found: {root}")
    exts = AUDIO_EXTENSIONS if extensions is None else {e.lower() for e in extensions}
    rows, ignored = [], []
    for rel, path in _visible_files(root):
        if len(rel.parts) < 2:
            ignored.append((path, None, "file directly in the root folder, not in a "
                                        "genre folder"))
        elif not _is_audio(rel.name, exts):
            ignored.append((path, rel.parts[0], "not an audio file extension"))
        else:
            rows.append((rel.parts[0], rel.as_posix(), path))
    if not rows:
        raise ValueError(f"no audio files ({', '.join(sorted(exts))}) in genre folders "
                         f"under {root}.")
    rows.sort(key=lambda r: (r[0], r[1]))
    n = len(rows)
    frame = pd.DataFrame(
        {
            "path": pd.array([r[2] for r in rows], dtype="str"),
            "genre": pd.array([r[0] for r in rows], dtype="str"),
            "artist_id": np.full(n, np.nan),
            "split": pd.Series([None] * n, dtype=object),
        },
        index=pd.Index(np.arange(n, dtype=np.int64), name="track_id"),
    )
    excluded = empty_excluded()
    if ignored:
        excluded = pd.DataFrame(
            {
                "path": pd.array([r[0] for r in ignored], dtype="str"),
                "genre": pd.array([r[1] for r in ignored], dtype="str"),
                "reason": pd.array([r[2] for r in ignored], dtype="str"),
            },
            index=pd.Index(np.full(len(ignored), -1, dtype=np.int64), name="track_id"),
        )
        shown = ", ".join(os.path.relpath(r[0], root) for r in ignored[:5])
        more = "" if len(ignored) <= 5 else f" and {len(ignored) - 5} more"
        warnings.warn(
            f"{len(ignored)} files under {root} ignored (not audio, or not in a genre "
            f"folder): {shown}{more}. See the returned Bunch's `excluded`.",
            DatasetWarning, stacklevel=2,
        )
    descr = (f"Genre folders under {root}: {n} tracks, {frame['genre'].nunique()} genres; "
             f"{len(ignored)} files ignored. No artist ids or predefined split.")
    return make_bunch(frame, excluded=excluded, missing=[], has_artists=False,
                      has_split=False, descr=descr, as_frame=as_frame,
                      return_X_y=return_X_y, root=root)
