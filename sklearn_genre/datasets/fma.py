"""Loader for the Free Music Archive data set (FMA, github.com/mdeff/fma).

``tracks.csv`` is read exactly as FMA's own code reads it,
``pd.read_csv(path, index_col=0, header=[0, 1])``, and audio paths follow FMA's scheme
``{audio_dir}/{tid[:3]}/{tid}.mp3`` with ``tid = f"{track_id:06d}"``.
"""

import os
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from .._compat import StrOptions, validate_params
from ._bunch import DatasetWarning, empty_excluded, make_bunch
from .home import get_data_home

__all__ = [
    "FMA_GENRES",
    "KNOWN_BROKEN_TRACKS",
    "SPLITS",
    "SUBSETS",
    "TRACKS_COLUMNS",
    "fma_audio_path",
    "load_fma",
    "read_genres",
    "read_tracks",
]

#: Subsets from smallest to largest. They are nested (small within medium within
#: large) but ``('set', 'subset')`` holds only the smallest one a track belongs to.
SUBSETS = ("small", "medium", "large")

#: Values of ``('set', 'split')``.
SPLITS = ("training", "validation", "test")

#: The eight top-level genres of ``fma_small`` and their FMA genre ids.
FMA_GENRES = {
    "Electronic": 15,
    "Experimental": 38,
    "Folk": 17,
    "Hip-Hop": 21,
    "Instrumental": 1235,
    "International": 2,
    "Pop": 10,
    "Rock": 12,
}

#: Clips of ``fma_small`` known to be unusable (FMA issues #8 and #44), with the reason
#: reported when they are excluded.
KNOWN_BROKEN_TRACKS = {
    99134: "no audio in the mp3 file (FMA issues #8, #44)",
    108925: "no audio in the mp3 file (FMA issues #8, #44)",
    133297: "no audio in the mp3 file (FMA issues #8, #44)",
    98565: "clip much shorter than 30 s (FMA issues #8, #44)",
    98567: "clip much shorter than 30 s (FMA issues #8, #44)",
    98569: "clip much shorter than 30 s (FMA issues #8, #44)",
}

#: The 52 columns of FMA's ``tracks.csv`` as (level 0, level 1), in file order.
TRACKS_COLUMNS = tuple(
    [("album", c) for c in (
        "comments", "date_created", "date_released", "engineer", "favorites", "id",
        "information", "listens", "producer", "tags", "title", "tracks", "type")]
    + [("artist", c) for c in (
        "active_year_begin", "active_year_end", "associated_labels", "bio", "comments",
        "date_created", "favorites", "id", "latitude", "location", "longitude", "members",
        "name", "related_projects", "tags", "website", "wikipedia_page")]
    + [("set", c) for c in ("split", "subset")]
    + [("track", c) for c in (
        "bit_rate", "comments", "composer", "date_created", "date_recorded", "duration",
        "favorites", "genre_top", "genres", "genres_all", "information", "interest",
        "language_code", "license", "listens", "lyricist", "number", "publisher", "tags",
        "title")]
)

# The columns load_fma needs.
_REQUIRED = (("set", "subset"), ("set", "split"), ("track", "genre_top"), ("artist", "id"))


def read_tracks(path):
    """Read FMA's ``tracks.csv`` the way FMA's own code does.

    Parameters
    ----------
    path : str or path-like
        Path to ``tracks.csv``.

    Returns
    -------
    tracks : DataFrame of shape (n_tracks, n_columns)
        Index ``track_id``, two-level columns such as ``('set', 'subset')``.
        List-valued columns (``('track', 'genres')``, tags) stay strings such as
        ``"[21]"``; parse them with :func:`ast.literal_eval` if needed.

    Raises
    ------
    FileNotFoundError
        If the file does not exist.
    ValueError
        If the file lacks one of the columns :func:`load_fma` needs.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"FMA metadata file not found: {path}")
    try:
        tracks = pd.read_csv(path, index_col=0, header=[0, 1])
    except (ValueError, IndexError) as exc:  # pandas' ParserError is a ValueError
        raise ValueError(f"{path} could not be read as FMA's tracks.csv "
                         f"(3-line header, index 'track_id'): {exc}") from exc
    absent = [col for col in _REQUIRED if col not in tracks.columns]
    if absent:
        raise ValueError(
            f"{path} is not FMA's tracks.csv: columns {absent} are missing "
            "(expected the 3-line header: level 0, level 1, then 'track_id')."
        )
    if tracks.index.name != "track_id":
        raise ValueError(f"{path}: the index column is {tracks.index.name!r}, not 'track_id'.")
    return tracks


def read_genres(path):
    """Read FMA's ``genres.csv`` (index ``genre_id``; ``#tracks``, ``parent``, ``title``,
    ``top_level``).

    Parameters
    ----------
    path : str or path-like
        Path to ``genres.csv``.

    Returns
    -------
    genres : DataFrame of shape (n_genres, 4)
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"FMA metadata file not found: {path}")
    return pd.read_csv(path, index_col=0)


def fma_audio_path(audio_dir, track_id):
    """Return FMA's path of a track's mp3: ``{audio_dir}/{tid[:3]}/{tid}.mp3``.

    Parameters
    ----------
    audio_dir : str or path-like
        Folder such as ``fma_small``.
    track_id : int
        FMA track id.

    Returns
    -------
    path : str

    Examples
    --------
    >>> fma_audio_path("fma_small", 2).replace("\\\\", "/")
    'fma_small/000/000002.mp3'
    >>> fma_audio_path("fma_small", 140421).replace("\\\\", "/")
    'fma_small/140/140421.mp3'
    """
    tid = f"{int(track_id):06d}"
    return os.path.join(os.fspath(audio_dir), tid[:3], tid + ".mp3")


def _select_subset(tracks, subset):
    """Boolean mask of the tracks in ``subset`` (nested: medium includes small).

    ``('set', 'subset')`` holds strings; comparing them with ``<=`` compares text
    ("large" <= "small" is True), so ranks are compared instead.
    """
    rank = {name: i for i, name in enumerate(SUBSETS)}
    values = tracks["set", "subset"]
    unknown = sorted(set(values.dropna().unique()) - set(rank))
    if unknown:
        raise ValueError(f"tracks.csv has unknown ('set', 'subset') values {unknown}; "
                         f"expected {list(SUBSETS)}.")
    ranks = values.map(rank)
    return (ranks <= rank[subset]).fillna(False).to_numpy(dtype=bool)


def _report(excluded_rows, reason_kind, what):
    if excluded_rows:
        ids = ", ".join(f"{tid:06d}" for tid in list(excluded_rows)[:6])
        more = "" if len(excluded_rows) <= 6 else f" and {len(excluded_rows) - 6} more"
        warnings.warn(
            f"{len(excluded_rows)} {what} excluded ({reason_kind}): {ids}{more}. "
            "See the returned Bunch's `excluded` for the reasons.",
            DatasetWarning,
            stacklevel=3,
        )


@validate_params(
    {
        "root": [str, os.PathLike, None],
        "metadata_dir": [str, os.PathLike, None],
        "audio_dir": [str, os.PathLike, None],
        "subset": [StrOptions(set(SUBSETS))],
        "exclude_broken": ["boolean"],
        "on_missing": [StrOptions({"warn", "raise", "keep"})],
        "return_X_y": ["boolean"],
        "as_frame": ["boolean"],
    },
    prefer_skip_nested_validation=True,
)
def load_fma(root=None, *, metadata_dir=None, audio_dir=None, subset="small",
             exclude_broken=True, on_missing="warn", return_X_y=False, as_frame=False):
    """Load an FMA subset: audio paths, top-level genres, artist ids and official split.

    Parameters
    ----------
    root : str or path-like, default=None
        Folder holding ``fma_metadata/`` and ``fma_{subset}/`` (the layout
        :func:`fetch_fma` and :func:`make_fma_like` create). Defaults to
        ``get_data_home() / "fma"``. Ignored for a folder given explicitly below.
    metadata_dir : str or path-like, default=None
        Folder holding ``tracks.csv``. Defaults to ``root / "fma_metadata"``.
    audio_dir : str or path-like, default=None
        Folder holding the mp3 tree (``000/000002.mp3``). Defaults to
        ``root / f"fma_{subset}"``.
    subset : {"small", "medium", "large"}, default="small"
        Which subset. Subsets are nested as in FMA: ``"medium"`` includes the
        ``small`` tracks, ``"large"`` every track with a top-level genre.
        ``"small"`` selects exactly the rows whose ``('set', 'subset')`` equals
        ``"small"``.
    exclude_broken : bool, default=True
        Exclude the six known-broken ``fma_small`` clips
        (:data:`KNOWN_BROKEN_TRACKS`: three without audio, three much shorter
        than 30 s). They are listed in ``excluded`` and a :class:`DatasetWarning`
        names them.
    on_missing : {"warn", "raise", "keep"}, default="warn"
        What to do with tracks whose mp3 is not on disk. ``"warn"``: drop them,
        list them in ``missing`` and ``excluded`` and issue one
        :class:`DatasetWarning`. ``"raise"``: raise :class:`FileNotFoundError`
        naming them. ``"keep"``: keep them (e.g. to look at metadata and splits
        before the audio is downloaded); they are still listed in ``missing``.
    return_X_y : bool, default=False
        Return ``(data, target)`` instead of a Bunch.
    as_frame : bool, default=False
        ``data`` is the DataFrame ``frame[["path", "artist_id", "split"]]`` and
        ``target`` a Series instead of arrays.

    Returns
    -------
    bunch : :class:`~sklearn.utils.Bunch`
        With the fields:

        data : ndarray of shape (n_tracks,) of str, or DataFrame
            Audio paths (what :class:`MelSpectrogramTransformer` takes).
        target : ndarray of shape (n_tracks,) of str, or Series
            Top-level genre names (``('track', 'genre_top')``).
        frame : DataFrame of shape (n_tracks, 4)
            Index ``track_id``; columns ``path`` (str), ``genre`` (str),
            ``artist_id`` (int64), ``split`` (``"training"`` / ``"validation"``
            / ``"test"``), sorted by ``track_id``.
        paths : ndarray of shape (n_tracks,) of str
        target_names : ndarray of shape (n_genres,) of str
            Sorted genre names.
        artist_ids : ndarray of shape (n_tracks,) of int64
            Groups for artist-filtered splits (:class:`ArtistGroupKFold`).
        split : ndarray of shape (n_tracks,) of str
            FMA's official artist-filtered split (:func:`official_split`).
        excluded : DataFrame of shape (n_excluded, 3)
            Tracks of the subset left out, index ``track_id``, columns ``path``,
            ``genre`` and ``reason``.
        missing : list of str
            Paths listed in the metadata but absent on disk.
        tracks : DataFrame
            The selected rows of ``tracks.csv`` as read (all 52 columns).
        root, metadata_dir, audio_dir, subset, DESCR
            Where the data came from and a description.

    (data, target) : tuple if ``return_X_y`` is True.

    Raises
    ------
    FileNotFoundError
        If ``tracks.csv`` or the audio folder does not exist, or files are missing
        and ``on_missing="raise"``.

    See Also
    --------
    fetch_fma : Download and extract FMA, then load it.
    make_fma_like : Generate a synthetic data set in FMA's layout.
    official_split : Train / validation / test indices of the official split.

    Notes
    -----
    FMA small has 8,000 clips, 1,000 per genre, split 6,400 / 800 / 800. With the
    broken clips excluded, 7,994 remain.
    """
    if root is None and (metadata_dir is None or audio_dir is None):
        root = get_data_home() / "fma"
    root = None if root is None else Path(root)
    metadata_dir = Path(metadata_dir) if metadata_dir is not None else root / "fma_metadata"
    audio_dir = Path(audio_dir) if audio_dir is not None else root / f"fma_{subset}"

    tracks = read_tracks(metadata_dir / "tracks.csv")
    tracks = tracks.loc[_select_subset(tracks, subset)].sort_index()
    if not audio_dir.is_dir() and on_missing != "keep":
        raise FileNotFoundError(
            f"FMA audio folder not found: {audio_dir}. Download it with "
            f"fetch_fma(subset={subset!r}), or pass audio_dir=, or on_missing='keep' to "
            "load the metadata only."
        )

    track_ids = tracks.index.to_numpy(dtype=np.int64)
    frame = pd.DataFrame(
        {
            "path": pd.array([fma_audio_path(audio_dir, t) for t in track_ids], dtype="str"),
            "genre": tracks["track", "genre_top"].astype("str").to_numpy(),
            "artist_id": tracks["artist", "id"].to_numpy(),
            "split": tracks["set", "split"].astype("str").to_numpy(),
        },
        index=pd.Index(track_ids, name="track_id"),
    )
    frame["genre"] = frame["genre"].where(tracks["track", "genre_top"].notna().to_numpy())

    reasons = {}
    no_genre = frame.index[frame["genre"].isna()]
    for tid in no_genre:
        reasons[tid] = "no top-level genre (('track', 'genre_top') is empty)"
    for tid in frame.index[frame["artist_id"].isna()]:
        reasons.setdefault(tid, "no artist id (('artist', 'id') is empty)")
    broken = []
    if exclude_broken:
        broken = [tid for tid in frame.index if tid in KNOWN_BROKEN_TRACKS
                  and tid not in reasons]
        for tid in broken:
            reasons[tid] = KNOWN_BROKEN_TRACKS[tid]

    exists = np.array([os.path.isfile(p) for p in frame["path"]], dtype=bool)
    candidates = ~frame.index.isin(list(reasons))
    missing_mask = ~exists & candidates
    missing = frame.loc[missing_mask, "path"].tolist()
    if missing and on_missing == "raise":
        shown = "\n  ".join(missing[:10])
        more = "" if len(missing) <= 10 else f"\n  ... and {len(missing) - 10} more"
        raise FileNotFoundError(
            f"{len(missing)} audio files of FMA {subset} listed in "
            f"{metadata_dir / 'tracks.csv'} are missing:\n  {shown}{more}"
        )
    if on_missing == "warn":
        for tid in frame.index[missing_mask]:
            reasons[tid] = "audio file missing on disk"

    excluded = empty_excluded()
    if reasons:
        ids = [tid for tid in frame.index if tid in reasons]
        excluded = pd.DataFrame(
            {
                "path": pd.array(frame.loc[ids, "path"].tolist(), dtype="str"),
                "genre": pd.array(frame.loc[ids, "genre"].tolist(), dtype="str"),
                "reason": pd.array([reasons[t] for t in ids], dtype="str"),
            },
            index=pd.Index(ids, dtype="int64", name="track_id"),
        )
    if exclude_broken:
        _report(broken, "known-broken FMA clips", "tracks")
    if on_missing == "warn" and missing:
        _report(frame.index[missing_mask].tolist(),
                f"audio file missing under {audio_dir}", "tracks")
    keep = ~frame.index.isin(list(reasons))
    frame = frame.loc[keep]
    frame["artist_id"] = frame["artist_id"].astype("int64")
    descr = (
        f"FMA {subset} from {metadata_dir} and {audio_dir}: {len(frame)} tracks, "
        f"{frame['genre'].nunique()} genres, {frame['artist_id'].nunique()} artists; "
        f"{len(excluded)} excluded, {len(missing)} missing."
    )
    return make_bunch(
        frame, excluded=excluded, missing=missing, has_artists=True, has_split=True,
        descr=descr, as_frame=as_frame, return_X_y=return_X_y,
        tracks=tracks.loc[keep], root=root, metadata_dir=metadata_dir,
        audio_dir=audio_dir, subset=subset,
    )
