"""Loader for genre-folder data sets (GTZAN style): ``root/<genre>/<file>``."""

import os
import re
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from .._compat import StrOptions, validate_params
from ._bunch import DatasetWarning, empty_excluded, make_bunch
from .groups import (
    GROUP_FIELDS,
    compile_pattern,
    group_keys,
    match_pattern,
    read_metadata,
    read_tags,
)

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
        "tags": ["boolean"],
        "metadata": [str, os.PathLike, pd.DataFrame, None],
        "pattern": [str, re.Pattern, None],
        "group_by": [StrOptions({"artist", "album", "track"})],
        "return_X_y": ["boolean"],
        "as_frame": ["boolean"],
    },
    prefer_skip_nested_validation=True,
)
def load_audio_folder(root, *, extensions=None, tags=False, metadata=None, pattern=None,
                      group_by="artist", return_X_y=False, as_frame=False):
    """Load a data set laid out as one folder per genre: ``root/<genre>/<file>``.

    The genre of a file is the name of the first-level folder it is in (files in
    sub-folders of a genre folder count for that genre). Files whose extension is an
    audio one (case-insensitive) are taken; other files, and files directly in
    ``root``, are ignored and reported (a :class:`DatasetWarning` and the Bunch's
    ``excluded``). Hidden files and folders (name starting with ``.``) are skipped
    without a report. Order is stable: sorted by genre, then relative path.

    Artists, albums and source tracks (groups): clips by one artist, from one album or cut
    from one recording must not be split between training and test, or the test score
    measures recognition of the recording. Genre folders carry no such information, so it
    comes from one of three sources (see :mod:`sklearn_genre.datasets.groups`):

    - ``tags=True``: the files' own tags, read with mutagen (artist, else album artist;
      album; title as the track);
    - ``metadata=CSV``: a table with a ``path`` column (relative to ``root``) and any of
      ``artist``, ``album``, ``track``, ``group``; with a ``genre`` (or ``label``) column
      the labels come from the table and the files may lie anywhere under ``root``. Every
      audio file needs a row and every row a file, else a ValueError names them;
    - ``pattern="{artist} - {track}_{clip}"`` (or a regular expression with named groups
      ``artist``, ``album``, ``track``, ``group``), matched against each file's path
      relative to its genre folder without the extension.

    Parameters
    ----------
    root : str or path-like
        The data set folder.
    extensions : set of str, default=None
        Audio extensions with the dot, e.g. ``{".wav"}``. Defaults to
        :data:`AUDIO_EXTENSIONS` (mp3, wav, flac, ogg, au, aiff, ...).
    tags : bool, default=False
        Read artist, album and title from each file's tags.
    metadata : str, path-like or DataFrame, default=None
        A metadata table, as described above.
    pattern : str or re.Pattern, default=None
        A file-name pattern, as described above.
    group_by : {"artist", "album", "track"}, default="artist"
        Which field makes the ``groups`` used for splitting: a file's explicit ``group``
        if given, else the first known of this field and the finer ones (see
        :func:`~sklearn_genre.datasets.groups.group_keys`). ``"artist"`` keeps every
        artist on one side (also their tracks); ``"track"`` only keeps clips of one
        recording together, for data sets with too few artists per genre.
    return_X_y : bool, default=False
        Return ``(data, target)`` instead of a Bunch.
    as_frame : bool, default=False
        As in :func:`load_fma`.

    Returns
    -------
    bunch : Bunch
        The same fields as :func:`load_fma`'s. The index ``track_id`` is the position
        (0 .. n_tracks - 1). ``split`` is None (no predefined split; use
        :func:`random_split`, which keeps ``groups`` apart). ``missing`` is empty.
        ``excluded`` lists the ignored non-audio files (``track_id`` -1, reason). Also
        ``root`` and:

        groups : ndarray of shape (n_tracks,) of object, or None
            Group key of each file (``"artist:<name>"``, ``"track:<artist>/<title>"``,
            ...; None where a file has no information), for :func:`random_split`,
            :class:`ArtistGroupKFold` and :func:`sklearn_genre.leakage.check_leakage`.
            None without a group source.
        artist_ids : ndarray of shape (n_tracks,) of object, or None
            The artist names (None where unknown); None when no file has an artist.
        group_source : {"tags", "metadata", "pattern", "none"}
            Where the groups came from.
        group_by : str
            The ``group_by`` argument.

        With a group source, ``frame`` also has the columns ``album``, ``track`` and
        ``group``.

    (data, target) : tuple if ``return_X_y`` is True.

    Raises
    ------
    FileNotFoundError
        If ``root`` is not a folder.
    ValueError
        If no audio file is found; if a metadata table and the files do not match, or a
        pattern does not match a file name (naming them); if a file's tags cannot be read.

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
    if sum([bool(tags), metadata is not None, pattern is not None]) > 1:
        raise ValueError("give at most one group source: tags=True, metadata= or pattern=")
    table = read_metadata(metadata, root) if metadata is not None else None
    labels_from_table = table is not None and table.attrs["has_label"]
    regex = compile_pattern(pattern) if pattern is not None else None
    exts = AUDIO_EXTENSIONS if extensions is None else {e.lower() for e in extensions}
    rows, ignored = [], []
    for rel, path in _visible_files(root):
        is_audio = _is_audio(rel.name, exts)
        if labels_from_table and is_audio:
            rows.append((None, rel.as_posix(), path))
        elif len(rel.parts) < 2:
            ignored.append((path, None, "file directly in the root folder, not in a "
                                        "genre folder"))
        elif not is_audio:
            ignored.append((path, rel.parts[0], "not an audio file extension"))
        else:
            rows.append((rel.parts[0], rel.as_posix(), path))
    if not rows:
        raise ValueError(f"no audio files ({', '.join(sorted(exts))}) in genre folders "
                         f"under {root}.")
    fields = None
    if table is not None:
        fields, genres = _fields_from_table(table, rows, root)
        if labels_from_table:
            rows = [(g, rel, path) for g, (_, rel, path) in zip(genres, rows)]
    order = sorted(range(len(rows)), key=lambda i: (rows[i][0], rows[i][1]))
    rows = [rows[i] for i in order]
    if fields is not None:
        fields = fields.iloc[order].reset_index(drop=True)
    elif regex is not None:
        fields = match_pattern(
            regex, [os.path.splitext(rel.split("/", 1)[1])[0] for _, rel, _ in rows])
    elif tags:
        fields = pd.DataFrame([_tag_fields(r[2]) for r in rows], columns=list(GROUP_FIELDS),
                              dtype=object)
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
    groups = None
    source = "none"
    if fields is not None:
        source = ("tags" if tags else "metadata" if table is not None else "pattern")
        groups = group_keys(fields, group_by=group_by)
        frame["artist_id"] = pd.Series(fields["artist"].to_numpy(), index=frame.index,
                                       dtype=object)
        frame["album"] = pd.Series(fields["album"].to_numpy(), index=frame.index, dtype=object)
        frame["track"] = pd.Series(fields["track"].to_numpy(), index=frame.index, dtype=object)
        frame["group"] = pd.Series(groups, index=frame.index, dtype=object)
        unknown = [i for i in range(n) if groups[i] is None]
        if unknown:
            shown = ", ".join(os.path.relpath(rows[i][2], root) for i in unknown[:5])
            more = "" if len(unknown) <= 5 else f" and {len(unknown) - 5} more"
            warnings.warn(
                f"{len(unknown)} of {n} files under {root} have no artist, album, track or "
                f"group ({source}): {shown}{more}. Each is a group of its own, and "
                "leakage through them cannot be checked.",
                DatasetWarning, stacklevel=2,
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
        shown = "; ".join(f"{os.path.relpath(r[0], root)} ({r[2]})" for r in ignored[:5])
        more = "" if len(ignored) <= 5 else f"; and {len(ignored) - 5} more"
        warnings.warn(
            f"{len(ignored)} files under {root} are not used: {shown}{more}. Tracks are audio "
            f"files ({', '.join(sorted(exts))}) inside a genre folder (ROOT/GENRE/...); in "
            "Python, the returned Bunch's `excluded` lists every ignored file.",
            DatasetWarning, stacklevel=2,
        )
    if groups is None:
        about_groups = "No artist or group information; no predefined split."
    else:
        n_groups = len({g for g in groups if g is not None})
        n_artists = frame["artist_id"].dropna().nunique()
        about_groups = (f"Groups from {source} (group_by={group_by!r}): {n_groups} groups, "
                        f"{n_artists} artists; no predefined split.")
    descr = (f"Genre folders under {root}: {n} tracks, {frame['genre'].nunique()} genres; "
             f"{len(ignored)} files ignored. {about_groups}")
    has_artists = groups is not None and frame["artist_id"].notna().any()
    return make_bunch(frame, excluded=excluded, missing=[], has_artists=has_artists,
                      has_split=False, descr=descr, as_frame=as_frame,
                      return_X_y=return_X_y, groups=groups, root=root,
                      group_source=source, group_by=group_by)


def _tag_fields(path):
    found = read_tags(path)
    return {"group": None, "artist": found["artist"], "album": found["album"],
            "track": found["title"]}


def _fields_from_table(table, rows, root):
    """Group fields (and labels) of the scanned ``rows`` from a metadata table.

    Raises a ValueError naming the rows whose files are missing and the files without a row.
    """
    scanned = [os.path.normpath(os.path.abspath(path)) for _, _, path in rows]
    scanned_set = set(scanned)
    name = table.attrs["name"]
    problems = []
    extra = [p for p in table.index if p not in scanned_set]
    if extra:
        lines = table.attrs["line"]
        desc = []
        for p in extra[:10]:
            why = ("file missing" if not os.path.exists(p)
                   else "not an audio file in a genre folder")
            desc.append(f"line {lines[p]}: {os.path.relpath(p, root)} ({why})")
        more = "" if len(extra) <= 10 else f"; and {len(extra) - 10} more"
        problems.append(f"{len(extra)} rows name no audio file of the data set: "
                        + "; ".join(desc) + more)
    no_row = [p for p in scanned if p not in table.index]
    if no_row:
        more = "" if len(no_row) <= 10 else f" and {len(no_row) - 10} more"
        problems.append(f"{len(no_row)} audio files have no row: "
                        + ", ".join(os.path.relpath(p, root) for p in no_row[:10]) + more)
    if table.attrs["has_label"]:
        no_label = [p for p in scanned if p in table.index and table.at[p, "label"] is None]
        if no_label:
            problems.append(f"{len(no_label)} rows have an empty label: "
                            + ", ".join(os.path.relpath(p, root) for p in no_label[:10]))
    if problems:
        raise ValueError(f"{name} does not match the files under {root}: "
                         + " | ".join(problems))
    sub = table.loc[scanned]
    fields = sub.loc[:, list(GROUP_FIELDS)].reset_index(drop=True)
    genres = sub["label"].tolist() if table.attrs["has_label"] else None
    return fields, genres
