"""Artist, album and track of audio files, for splits that keep related clips apart.

Clips by one artist, from one album or cut from one source track share production,
mastering and voice; a model evaluated on such a clip after training on its siblings
recognises the recording, not the genre. :func:`~sklearn_genre.datasets.load_audio_folder`
learns who made which file from one of three sources:

- the files' own tags (:func:`read_tags`, with `mutagen <https://mutagen.readthedocs.io>`_:
  ID3 ``TPE1``/``TALB``/``TIT2`` in MP3, WAV and AIFF, Vorbis comments ``ARTIST``/``ALBUM``/
  ``TITLE`` in FLAC, Ogg Vorbis and Opus, MP4 ``©ART``/``©alb``/``©nam`` in M4A, ASF
  ``Author``/``WM/AlbumTitle``/``Title`` in WMA, APEv2, ...);
- a metadata table (:func:`read_metadata`): a CSV with a ``path`` column and any of
  ``artist``, ``album``, ``track``, ``group`` and a ``genre`` (or ``label``) column;
- the file names (:func:`compile_pattern`): a regular expression with named groups, or a
  format such as ``"{artist} - {track}_{clip}"``.

:func:`group_keys` turns those fields into one group per file: the explicit ``group`` where
given, else the artist, else the album, else the track (``group_by`` chooses where the chain
starts). A file with none of them belongs to no group (``None``): it cannot be kept together
with anything and is counted as unchecked by the leakage guard.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = [
    "GROUP_FIELDS",
    "compile_pattern",
    "group_keys",
    "match_pattern",
    "read_metadata",
    "read_tags",
]

#: Fields a group source may give, coarsest first.
GROUP_FIELDS = ("group", "artist", "album", "track")

# Tag keys per field, by container. mutagen's "easy" interfaces (EasyID3, EasyMP4, Vorbis
# comments) use the lower-case names; files without one (WAV/AIFF with ID3, ASF, APEv2)
# keep their native keys.
_TAG_KEYS = {
    "artist": ("artist", "TPE1", "Author", "Artist", "ARTIST", "\xa9ART"),
    "albumartist": ("albumartist", "TPE2", "WM/AlbumArtist", "Album Artist", "aART"),
    "album": ("album", "TALB", "WM/AlbumTitle", "Album", "ALBUM", "\xa9alb"),
    "title": ("title", "TIT2", "Title", "TITLE", "\xa9nam"),
}


def _first_text(value):
    """The first non-empty text of a tag value (a list, an ID3 frame, an ASF attribute...)."""
    if value is None:
        return None
    if hasattr(value, "text") and not isinstance(value, str):  # ID3 frame
        value = value.text
    if isinstance(value, (list, tuple)):
        for v in value:
            text = _first_text(v)
            if text:
                return text
        return None
    if hasattr(value, "value") and not isinstance(value, str):  # ASF / APE attribute
        value = value.value
    text = str(value).strip()
    return text or None


def read_tags(path):
    """Artist, album and title of one audio file, from its own tags.

    Read with ``mutagen.File(path, easy=True)``. The artist is the track artist (``TPE1``,
    ``ARTIST``, ``©ART``, ...); when a file has none, its album artist (``TPE2``,
    ``ALBUMARTIST``, ``aART``) is used instead. The album artist is not preferred because
    compilations carry "Various Artists" there, which would put unrelated files into one
    group. Of a multi-valued tag the first value counts.

    Parameters
    ----------
    path : str or path-like
        An audio file.

    Returns
    -------
    tags : dict
        ``{"artist": str or None, "album": str or None, "title": str or None}``; all None
        for a format mutagen does not know (e.g. ``.au``) or a file without tags.

    Raises
    ------
    ValueError
        If mutagen cannot parse the file (a corrupt or mislabelled file), naming it.
    """
    import mutagen

    try:
        audio = mutagen.File(os.fspath(path), easy=True)
    except mutagen.MutagenError as exc:
        raise ValueError(f"cannot read the tags of {path}: {exc}") from exc
    tags = getattr(audio, "tags", None)
    found = {}
    for name, keys in _TAG_KEYS.items():
        text = None
        if tags is not None:
            for key in keys:
                try:
                    text = _first_text(tags.get(key)) if hasattr(tags, "get") else None
                except (KeyError, ValueError):  # EasyID3 refuses unregistered keys
                    text = None
                if text:
                    break
        found[name] = text
    albumartist = found.pop("albumartist")
    if not found["artist"]:
        found["artist"] = albumartist
    return found


def compile_pattern(pattern):
    """A regular expression from a file-name pattern.

    Parameters
    ----------
    pattern : str or re.Pattern
        Either a regular expression with named groups (``(?P<artist>...)``), or a format with
        fields in braces: ``"{artist} - {track}_{clip}"``. In a format, each field matches
        one or more characters other than ``/``, as few as possible, and the rest is literal
        text. Fields named ``group``, ``artist``, ``album`` and ``track`` are used; others
        (``clip``, ``n``, ...) only have to match.

    Returns
    -------
    regex : re.Pattern
        Matched with ``fullmatch`` against a file's path relative to its genre folder,
        without the extension, with ``/`` separators (``"Artist - Song_3"`` for
        ``rock/Artist - Song_3.wav``; ``"Artist/Album/01 Song"`` for nested folders).

    Raises
    ------
    ValueError
        If the pattern names none of the used fields or is not a valid expression.

    Examples
    --------
    >>> compile_pattern("{artist} - {track}_{clip}").fullmatch("Foo - Bar_2").groupdict()
    {'artist': 'Foo', 'track': 'Bar', 'clip': '2'}
    """
    if isinstance(pattern, re.Pattern):
        regex = pattern
    elif "(?P<" in pattern:
        try:
            regex = re.compile(pattern)
        except re.error as exc:
            raise ValueError(f"invalid file-name pattern {pattern!r}: {exc}") from None
    else:
        parts, pos = [], 0
        for m in re.finditer(r"\{(\w+)\}", pattern):
            parts.append(re.escape(pattern[pos:m.start()]))
            parts.append(f"(?P<{m.group(1)}>[^/]+?)")
            pos = m.end()
        parts.append(re.escape(pattern[pos:]))
        try:
            regex = re.compile("".join(parts))
        except re.error as exc:
            raise ValueError(f"invalid file-name pattern {pattern!r}: {exc}") from None
    if not set(regex.groupindex) & set(GROUP_FIELDS):
        raise ValueError(
            f"file-name pattern {pattern!r} names none of the fields {list(GROUP_FIELDS)}; "
            "e.g. '{artist} - {track}_{clip}' or '(?P<artist>[^_]+)_.*'"
        )
    return regex


def match_pattern(regex, relative_names):
    """Fields of each name matched by ``regex`` (see :func:`compile_pattern`).

    Parameters
    ----------
    regex : re.Pattern
    relative_names : sequence of str
        Names relative to the genre folder, without extension.

    Returns
    -------
    fields : DataFrame of shape (n_files, 4)
        Columns ``group``, ``artist``, ``album``, ``track`` (None where the pattern has no
        such field or it matched nothing).

    Raises
    ------
    ValueError
        Naming (up to 10 of) the files the pattern does not match.
    """
    rows, unmatched = [], []
    for name in relative_names:
        m = regex.fullmatch(name)
        if m is None:
            unmatched.append(name)
            continue
        d = m.groupdict()
        rows.append({f: (d.get(f) or "").strip() or None for f in GROUP_FIELDS})
    if unmatched:
        shown = ", ".join(repr(n) for n in unmatched[:10])
        more = "" if len(unmatched) <= 10 else f" and {len(unmatched) - 10} more"
        raise ValueError(
            f"the file-name pattern {regex.pattern!r} does not match {len(unmatched)} of "
            f"{len(relative_names)} files (names relative to the genre folder, without "
            f"extension): {shown}{more}"
        )
    return pd.DataFrame(rows, columns=list(GROUP_FIELDS), dtype=object)


_LABEL_COLUMNS = ("genre", "label")


def read_metadata(metadata, root):
    """Read a metadata table: one row per audio file, with its groups (and label).

    Parameters
    ----------
    metadata : str, path-like or DataFrame
        A CSV file (or a DataFrame) with a ``path`` column (relative to ``root``, or
        absolute) and any of ``group``, ``artist``, ``album``, ``track``, and ``genre`` or
        ``label``. Other columns are ignored. Empty cells mean unknown.
    root : str or path-like
        The data set folder, against which relative paths are resolved.

    Returns
    -------
    table : DataFrame
        Index: the normalised absolute path of each row's file; columns ``group``,
        ``artist``, ``album``, ``track`` (object, None where unknown) and ``label`` (None
        when the table has no label column). ``table.attrs["has_label"]`` says whether it
        has one; ``table.attrs["line"]`` maps each path to its CSV line number.

    Raises
    ------
    ValueError
        If there is no ``path`` column, none of the group columns, or a path is listed twice.
    """
    name = "the metadata table"
    if isinstance(metadata, pd.DataFrame):
        frame = metadata.copy()
    else:
        name = os.fspath(metadata)
        if not os.path.isfile(name):
            raise FileNotFoundError(f"metadata file not found: {name}")
        frame = pd.read_csv(name, dtype=str, keep_default_na=False)
    frame.columns = [str(c).strip().lower() for c in frame.columns]
    if "path" not in frame.columns:
        raise ValueError(f"{name} has no 'path' column; columns: {list(frame.columns)}")
    fields = [f for f in GROUP_FIELDS if f in frame.columns]
    label_col = next((c for c in _LABEL_COLUMNS if c in frame.columns), None)
    if not fields:
        raise ValueError(
            f"{name} has none of the group columns {list(GROUP_FIELDS)}; columns: "
            f"{list(frame.columns)}"
        )
    root = Path(root)

    def clean(v):
        if v is None or (isinstance(v, float) and np.isnan(v)):
            return None
        return str(v).strip() or None

    lines = np.arange(len(frame)) + 2  # header is line 1
    paths = [os.path.normpath(os.path.abspath(root / str(p).strip())) for p in frame["path"]]
    out = pd.DataFrame(
        {f: [clean(v) for v in frame[f]] if f in frame.columns else [None] * len(frame)
         for f in GROUP_FIELDS},
        index=pd.Index(paths, name="path"), dtype=object,
    )
    out["label"] = [clean(v) for v in frame[label_col]] if label_col else None
    dup = out.index[out.index.duplicated()].unique()
    if len(dup):
        raise ValueError(f"{name} lists {len(dup)} files twice: "
                         + ", ".join(os.path.relpath(p, root) for p in dup[:10]))
    out.attrs["has_label"] = label_col is not None
    out.attrs["line"] = dict(zip(paths, lines.tolist()))
    out.attrs["name"] = name
    return out


def _norm(value):
    return None if value is None else " ".join(str(value).split()).casefold()


def group_keys(fields, *, group_by="artist"):
    """One group key per file from its fields.

    Parameters
    ----------
    fields : DataFrame of shape (n_files, 4)
        Columns ``group``, ``artist``, ``album``, ``track`` (None where unknown).
    group_by : {"artist", "album", "track"}, default="artist"
        Where the chain starts: the explicit ``group`` if given, else the first known of
        this field and the finer ones (``"artist"``: artist, album, track; ``"album"``:
        album, track; ``"track"``: track only). Keys compare case- and space-insensitively;
        an album or track key includes the artist where known, so two artists' "Intro"
        stay apart.

    Returns
    -------
    groups : ndarray of shape (n_files,) of object
        ``"group:<g>"``, ``"artist:<a>"``, ``"album:<a>/<b>"`` or ``"track:<a>/<t>"``; None
        for a file with none of the fields.

    Examples
    --------
    >>> f = pd.DataFrame({"group": [None, None, "x"], "artist": ["A", None, None],
    ...                   "album": [None, None, None], "track": ["t", "t", None]})
    >>> group_keys(f).tolist()
    ['artist:a', 'track:/t', 'group:x']
    """
    if group_by not in ("artist", "album", "track"):
        raise ValueError(f"group_by must be 'artist', 'album' or 'track', got {group_by!r}")
    chain = GROUP_FIELDS[GROUP_FIELDS.index(group_by):]
    out = np.empty(len(fields), dtype=object)
    for i, row in enumerate(fields.itertuples(index=False)):
        row = row._asdict()
        artist = _norm(row.get("artist")) or ""
        key = None
        if row.get("group") is not None:
            key = f"group:{_norm(row['group'])}"
        else:
            for f in chain:
                v = _norm(row.get(f))
                if v is None:
                    continue
                key = f"artist:{v}" if f == "artist" else f"{f}:{artist}/{v}"
                break
        out[i] = key
    return out
