"""A labelled data set together with its train / validation / test split.

:class:`DataSource` is what an experiment (:mod:`sklearn_genre.experiment`) runs on: the audio
paths, genres and artist ids of a data set and the positional indices of its training,
validation and test rows, with the name of the split protocol and, when known, how to load it
again (a plain ``spec`` dict, recorded in run directories so ``resume`` and ``evaluate`` can
reload the data).

- :func:`make_data_source` splits a data set you already have: the Bunch of
  :func:`~sklearn_genre.datasets.load_fma`, :func:`~sklearn_genre.datasets.load_audio_folder`,
  :func:`~sklearn_genre.datasets.make_fma_like` or
  :func:`~sklearn_genre.datasets.load_default_dataset`, with ``split="official"`` (FMA's
  artist-filtered split), ``split="random"`` (the reference work's stratified random 70/10/20,
  ``random_state=42``, no artist filter) or explicit index arrays.
- :func:`load_data_source` loads and splits the data set a ``spec`` names
  (``{"kind": "fma", "root": ..., "subset": ..., "split": ...}``, ``{"kind": "folder", ...}``
  or ``{"kind": "synthetic", "data_home": ..., "n_per_genre": ..., "duration": ...}``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .splits import TrainValidTest, official_split, random_split

__all__ = [
    "DEFAULT_SYNTHETIC",
    "DataSource",
    "load_data_source",
    "make_data_source",
]

#: The synthetic set used when no data set is named (the command line's default and ``demo``):
#: clips per genre and clip length in seconds.
DEFAULT_SYNTHETIC = {"n_per_genre": 50, "duration": 10.0}

#: The random split of :func:`make_data_source` (``split="random"``): the reference work's.
RANDOM_SPLIT = {"test_size": 0.2, "valid_size": 0.1, "random_state": 42}


@dataclass
class DataSource:
    """A labelled data set with its train / validation / test split.

    Attributes
    ----------
    paths : ndarray of shape (n_tracks,) of str
        Audio files.
    y : ndarray of shape (n_tracks,) of str
        Genres.
    artist_ids : ndarray of shape (n_tracks,) or None
        Artist of each track when known.
    train, valid, test : ndarray of int
        Positional indices into ``paths`` (``valid`` may be empty).
    protocol : str
        Split protocol name for the results (see :mod:`sklearn_genre.leakage`).
    description : str
        One line saying what the data is.
    spec : dict
        How to load this source again (:func:`load_data_source`); ``{"kind": "given", ...}``
        for a data set passed in as a Bunch.
    clip_duration : float or None
        Known clip length in seconds (synthetic sets), else None.
    """

    paths: np.ndarray
    y: np.ndarray
    artist_ids: np.ndarray | None
    train: np.ndarray
    valid: np.ndarray
    test: np.ndarray
    protocol: str
    description: str = ""
    spec: dict = field(default_factory=dict)
    clip_duration: float | None = None

    @property
    def kind(self):
        """``spec["kind"]``: ``"fma"``, ``"folder"``, ``"synthetic"`` or ``"given"``."""
        return self.spec.get("kind", "given")

    def items(self, index):
        """Paths (and artist ids when known) of some rows, for the leakage check.

        Parameters
        ----------
        index : array-like of int
            Positional rows.

        Returns
        -------
        items : DataFrame
            Columns ``path`` and, when artists are known, ``artist_id``.
        """
        import pandas as pd

        frame = {"path": self.paths[index]}
        if self.artist_ids is not None:
            frame["artist_id"] = self.artist_ids[index]
        return pd.DataFrame(frame)

    def split_table(self):
        """One row per track: ``path``, ``genre``, ``artist_id``, ``role`` (train/valid/test).

        Returns
        -------
        table : DataFrame of shape (n_tracks, 4)
            What a run directory's ``split.csv`` holds.
        """
        import pandas as pd

        role = np.full(len(self.paths), "", dtype=object)
        role[self.train], role[self.valid], role[self.test] = "train", "valid", "test"
        return pd.DataFrame(
            {
                "path": self.paths,
                "genre": self.y,
                "artist_id": self.artist_ids if self.artist_ids is not None else np.nan,
                "role": role,
            }
        )

    def fingerprint(self):
        """:func:`sklearn_genre.provenance.data_fingerprint` of the files, labels and roles.

        Returns
        -------
        fingerprint : dict
        """
        from ..provenance import data_fingerprint

        return data_fingerprint(self.paths, labels=self.y, splits=self.split_table()["role"])


def _resolve_split(split, y, bunch, description):
    """``(TrainValidTest, protocol, name)`` of a ``split`` argument."""
    from ..leakage import FMA_OFFICIAL, PREDEFINED, random_split_protocol

    if isinstance(split, str):
        if split == "official":
            if getattr(bunch, "split", None) is None:
                raise ValueError(f"{description} has no predefined split; use split='random' "
                                 "or pass index arrays")
            return official_split(bunch), FMA_OFFICIAL, "official"
        if split == "random":
            try:
                tvt = random_split(y, **RANDOM_SPLIT)
            except ValueError as exc:
                raise ValueError(f"cannot split {description} at random (each genre needs at "
                                 f"least 10 files): {exc}") from None
            train = 1 - RANDOM_SPLIT["test_size"] - RANDOM_SPLIT["valid_size"]
            protocol = random_split_protocol(train, RANDOM_SPLIT["valid_size"],
                                             RANDOM_SPLIT["test_size"])
            return tvt, protocol, "random"
        raise ValueError(f"split must be 'official', 'random', a (train, valid, test) tuple or "
                         f"a dict of index arrays; got {split!r}")
    if isinstance(split, dict):
        unknown = set(split) - {"train", "valid", "test"}
        if unknown or not {"train", "test"} <= set(split):
            raise ValueError("a split dict needs keys 'train' and 'test' (and optionally "
                             f"'valid'); got {sorted(split)}")
        parts = (split["train"], split.get("valid", ()), split["test"])
    else:
        parts = tuple(split)
        if len(parts) != 3:
            raise ValueError(f"a split tuple is (train, valid, test); got {len(parts)} parts")
    n = len(y)
    arrays = []
    for name, part in zip(("train", "valid", "test"), parts):
        a = np.asarray(part, dtype=np.int64).reshape(-1)
        if a.size and (a.min() < -n or a.max() >= n):
            raise ValueError(f"{name} indices out of range for {n} tracks")
        arrays.append(np.sort(a % n if a.size else a))
    tvt = TrainValidTest(*arrays)
    for a, b in (("train", "valid"), ("train", "test"), ("valid", "test")):
        shared = np.intersect1d(getattr(tvt, a), getattr(tvt, b))
        if shared.size:
            raise ValueError(f"the {a} and {b} indices share {shared.size} rows, e.g. "
                             f"{shared[:5].tolist()}")
    return tvt, PREDEFINED, "given"


def make_data_source(data, split="official", *, description=None, spec=None,
                     clip_duration=None):
    """Split a data set into training, validation and test rows.

    Parameters
    ----------
    data : Bunch or DataSource
        A Bunch with ``paths``, ``target`` and optionally ``artist_ids``, ``split`` and
        ``DESCR`` (what :func:`~sklearn_genre.datasets.load_fma`,
        :func:`~sklearn_genre.datasets.load_audio_folder`,
        :func:`~sklearn_genre.datasets.make_fma_like` and
        :func:`~sklearn_genre.datasets.load_default_dataset` return). A DataSource is
        returned as it is (``split`` must then be left at its default).
    split : "official", "random", tuple or dict, default="official"
        ``"official"``: the data set's predefined split (FMA's artist-filtered
        training / validation / test); ``"random"``: stratified random 70/10/20 with
        ``random_state=42`` (the reference work's; no artist filter);
        ``(train, valid, test)`` or ``{"train": ..., "valid": ..., "test": ...}``: positional
        index arrays (``valid`` may be empty: the classifier then holds out its own
        validation fraction).
    description : str, default=None
        One line describing the data; default: the first sentence of ``DESCR``.
    spec : dict, default=None
        How to load the data again (see :func:`load_data_source`); recorded in run
        directories. Default: ``{"kind": "given", "description": ...}``.
    clip_duration : float, default=None
        Clip length in seconds when all clips have the same known length (the feature
        duration of the command line defaults to it).

    Returns
    -------
    source : DataSource

    Raises
    ------
    ValueError
        Fewer than 2 genres, a split the data set does not have, index arrays that overlap or
        an empty training or test set.
    """
    if isinstance(data, DataSource):
        if not (isinstance(split, str) and split == "official"):
            raise ValueError("data is already split (a DataSource); pass split only with a "
                             "Bunch")
        return data
    for name in ("paths", "target"):
        if not hasattr(data, name):
            raise TypeError(f"data must be a Bunch with 'paths' and 'target' (as load_fma, "
                            f"load_audio_folder and make_fma_like return); it has no {name!r}")
    if description is None:
        descr = str(getattr(data, "DESCR", "") or "")
        description = descr.split(";")[0].split("\n")[0].strip() or "the given data set"
    y = np.asarray(data.target, dtype=object).astype(str)
    paths = np.asarray(data.paths, dtype=object)
    if len(paths) != len(y):
        raise ValueError(f"data has {len(paths)} paths but {len(y)} labels")
    genres = np.unique(y)
    if len(genres) < 2:
        raise ValueError(f"{description} has fewer than 2 genres: {genres.tolist()}")
    tvt, protocol, split_name = _resolve_split(split, y, data, description)
    if len(tvt.train) == 0 or len(tvt.test) == 0:
        raise ValueError(f"{description}: the {split_name} split has an empty training or "
                         "test set")
    spec = dict(spec) if spec is not None else {"kind": "given", "description": description}
    spec.setdefault("split", split_name)
    artist_ids = getattr(data, "artist_ids", None)
    return DataSource(
        paths=paths,
        y=y,
        artist_ids=None if artist_ids is None else np.asarray(artist_ids),
        train=np.asarray(tvt.train),
        valid=np.asarray(tvt.valid),
        test=np.asarray(tvt.test),
        protocol=protocol,
        description=description,
        spec=spec,
        clip_duration=clip_duration,
    )


def load_data_source(spec, *, verbose=False):
    """Load and split the data set a ``spec`` names.

    Parameters
    ----------
    spec : dict
        ``kind`` and its settings, plus ``split`` (``"official"`` or ``"random"``; default:
        ``"random"`` for folders, else ``"official"``):

        - ``{"kind": "fma", "root": DIR, "subset": "small"}``: :func:`load_fma` of ``DIR``;
        - ``{"kind": "folder", "root": DIR}``: :func:`load_audio_folder` of ``DIR``;
        - ``{"kind": "synthetic", "data_home": DIR, "n_per_genre": N, "duration": S,
          "random_state": 0, "n_jobs": None}``: :func:`load_default_dataset` (generated
          once into ``DIR``).
    verbose : bool, default=False
        Progress bar while a synthetic set is generated.

    Returns
    -------
    source : DataSource
        With ``spec`` recorded (without ``n_jobs``, which says how it was generated, not
        what it is).

    Raises
    ------
    FileNotFoundError
        No FMA metadata or audio, or no such folder.
    ValueError
        An unknown kind, a folder without genre sub-folders, or a split the data set does
        not have (see :func:`make_data_source`).
    """
    from .fma import load_fma
    from .folder import load_audio_folder
    from .synthetic import load_default_dataset

    spec = dict(spec)
    kind = spec.get("kind")
    spec.setdefault("split", "random" if kind == "folder" else "official")
    clip_duration = None
    if kind == "fma":
        root = Path(spec["root"])
        tracks = root / "fma_metadata" / "tracks.csv"
        if not tracks.is_file():
            raise FileNotFoundError(f"no FMA metadata at {tracks}")
        subset = spec.setdefault("subset", "small")
        bunch = load_fma(root, subset=subset)
        description = f"FMA {subset} at {root}"
    elif kind == "folder":
        root = Path(spec["root"])
        if not root.is_dir():
            raise FileNotFoundError(f"audio folder not found: {root}")
        bunch = load_audio_folder(root)
        description = f"genre folders at {root}"
    elif kind == "synthetic":
        n_jobs = spec.pop("n_jobs", None)
        bunch = load_default_dataset(
            spec["data_home"],
            n_per_genre=spec["n_per_genre"],
            duration=spec["duration"],
            random_state=spec.setdefault("random_state", 0),
            n_jobs=n_jobs,
            verbose=verbose,
        )
        clip_duration = float(spec["duration"])
        description = bunch.DESCR.split(";")[0]
    else:
        raise ValueError(f"unknown data source kind {kind!r}; expected 'fma', 'folder' or "
                         "'synthetic'")
    if "root" in spec:
        spec["root"] = os.path.abspath(spec["root"])
    return make_data_source(bunch, spec["split"], description=description, spec=spec,
                            clip_duration=clip_duration)
