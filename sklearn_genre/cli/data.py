"""Data sources and features of the command line: options, resolution, one extraction.

Data source (one of):

- ``--fma-dir DIR``: an FMA folder (``DIR/fma_metadata/`` and ``DIR/fma_<subset>/``, as
  ``sklearn-genre fetch-fma`` or ``make-dataset --out DIR`` write), with ``--split official``
  (FMA's artist-filtered training/validation/test, the default) or ``--split random`` (the
  reference work's stratified random 70/10/20, ``random_state=42``, no artist filter);
- ``--folder DIR``: one sub-folder per genre (``DIR/<genre>/<file>``); split: random
  stratified 70/10/20 (no artist ids, so the artist check cannot run);
- neither: the embedded synthetic FMA-shaped set, generated into the data home once
  (``--synthetic-n-per-genre``, ``--synthetic-duration``).

Features: a :class:`~sklearn_genre.features.MelSpectrogramTransformer` from ``--n-mels``,
``--duration`` and friends, with its per-file cache in ``--cache`` (default
``<data home>/feature_cache``), so ``preprocess``, ``train``, ``compare`` and ``search``
compute each clip once.
"""

from __future__ import annotations

import os
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .console import EXIT_DATA, CLIError

__all__ = [
    "DEMO_DATA",
    "DataSource",
    "add_data_options",
    "add_feature_options",
    "extract_features",
    "make_transformer",
    "resolve_data",
    "resolve_data_spec",
]

#: Synthetic set used by default (and by ``demo``): clips per genre, clip length (s).
DEMO_DATA = {"n_per_genre": 50, "duration": 10.0}


@dataclass
class DataSource:
    """A labelled data set with its train / validation / test split.

    Attributes
    ----------
    kind : {"fma", "folder", "synthetic"}
    description : str
    paths : ndarray of shape (n_tracks,) of str
    y : ndarray of shape (n_tracks,) of str
    artist_ids : ndarray of shape (n_tracks,) or None
    train, valid, test : ndarray of int
        Positional indices (``valid`` may be empty).
    protocol : str
        Split protocol name for the results (see :mod:`sklearn_genre.leakage`).
    spec : dict
        How to load this source again (recorded in run configs).
    clip_duration : float or None
        Known clip length in seconds (synthetic sets), else None.
    """

    kind: str
    description: str
    paths: np.ndarray
    y: np.ndarray
    artist_ids: np.ndarray | None
    train: np.ndarray
    valid: np.ndarray
    test: np.ndarray
    protocol: str
    spec: dict = field(default_factory=dict)
    clip_duration: float | None = None

    def items(self, index):
        """DataFrame of ``path`` (and ``artist_id`` when known) for the leakage check."""
        import pandas as pd

        frame = {"path": self.paths[index]}
        if self.artist_ids is not None:
            frame["artist_id"] = self.artist_ids[index]
        return pd.DataFrame(frame)

    def split_table(self):
        """One row per track: ``path``, ``genre``, ``artist_id``, ``role`` (train/valid/test)."""
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
        """:func:`sklearn_genre.provenance.data_fingerprint` of the files, labels and roles."""
        from ..provenance import data_fingerprint

        return data_fingerprint(self.paths, labels=self.y, splits=self.split_table()["role"])


def add_data_options(parser, *, with_split=True):
    """Add the data source options (``--fma-dir``, ``--folder``, synthetic settings)."""
    g = parser.add_argument_group("data source (default: the embedded synthetic set)")
    src = g.add_mutually_exclusive_group()
    src.add_argument("--fma-dir", metavar="DIR", help="FMA folder (fma_metadata/, fma_small/)")
    src.add_argument("--folder", metavar="DIR", help="one sub-folder of audio files per genre")
    g.add_argument("--subset", default="small", choices=["small", "medium", "large"],
                   help="FMA subset (default: small)")
    if with_split:
        g.add_argument("--split", choices=["official", "random"], default=None,
                       help="official: FMA's artist-filtered split (default for FMA and the "
                       "synthetic set); random: stratified random 70/10/20 without artist "
                       "filter (the reference work's; the only one for --folder)")
    g.add_argument("--data-home", metavar="DIR", default=None,
                   help="where generated/downloaded data live (default: $SKLEARN_GENRE_DATA "
                   "or ~/sklearn_genre_data)")
    g.add_argument("--synthetic-n-per-genre", type=int, default=DEMO_DATA["n_per_genre"],
                   metavar="N", help="clips per genre of the synthetic set (default: %(default)s)")
    g.add_argument("--synthetic-duration", type=float, default=DEMO_DATA["duration"],
                   metavar="S", help="clip length of the synthetic set in seconds "
                   "(default: %(default)s)")


def add_feature_options(parser):
    """Add the log-mel options and the feature cache options."""
    g = parser.add_argument_group("features (log-mel spectrograms)")
    g.add_argument("--n-mels", type=int, default=128, help="mel bands (default: 128)")
    g.add_argument("--duration", type=float, default=None, metavar="S",
                   help="clip length in seconds (default: the synthetic set's clip length, "
                   "30 for FMA and folders)")
    g.add_argument("--sr", type=int, default=22050, help="sampling rate (default: 22050)")
    g.add_argument("--n-fft", type=int, default=2048, help="FFT length (default: 2048)")
    g.add_argument("--hop-length", type=int, default=512, help="hop in samples (default: 512)")
    g.add_argument("--cache", metavar="DIR", default=None,
                   help="feature cache folder (default: <data home>/feature_cache)")
    g.add_argument("--no-cache", action="store_true", help="do not cache features")
    g.add_argument("--n-jobs", type=int, default=1,
                   help="parallel workers for decoding/extraction (default: 1; -1: all cores)")


def _data_home(args):
    from ..datasets import get_data_home

    return get_data_home(getattr(args, "data_home", None))


def resolve_data_spec(args):
    """The data source the options name, as a plain dict (recorded in run configs)."""
    if getattr(args, "fma_dir", None):
        spec = {"kind": "fma", "root": os.path.abspath(args.fma_dir), "subset": args.subset}
    elif getattr(args, "folder", None):
        spec = {"kind": "folder", "root": os.path.abspath(args.folder)}
    else:
        spec = {
            "kind": "synthetic",
            "data_home": os.fspath(_data_home(args)),
            "n_per_genre": int(args.synthetic_n_per_genre),
            "duration": float(args.synthetic_duration),
            "random_state": 0,
        }
    split = getattr(args, "split", None)
    if split is None:
        split = "random" if spec["kind"] == "folder" else "official"
    spec["split"] = split
    return spec


def resolve_data(args, console, *, spec=None):
    """Load the data source named by ``args`` (or by a recorded ``spec``).

    Raises
    ------
    CLIError
        With what to do when the data is missing or the split is not available.
    """
    from ..datasets import load_default_dataset, load_fma, official_split, random_split
    from ..leakage import FMA_OFFICIAL, random_split_protocol

    spec = dict(spec) if spec is not None else resolve_data_spec(args)
    kind = spec["kind"]
    clip_duration = None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        if kind == "fma":
            root = Path(spec["root"])
            if not (root / "fma_metadata" / "tracks.csv").is_file():
                raise CLIError(
                    f"no FMA metadata at {root / 'fma_metadata' / 'tracks.csv'}",
                    hint="download FMA with `sklearn-genre fetch-fma --data-home DIR` and pass "
                    "--fma-dir DIR/fma, or make a synthetic one with `sklearn-genre "
                    "make-dataset --out DIR`",
                    code=EXIT_DATA,
                )
            try:
                bunch = load_fma(root, subset=spec.get("subset", "small"))
            except FileNotFoundError as exc:
                raise CLIError(
                    str(exc),
                    hint=f"download the audio with `sklearn-genre fetch-fma --subset "
                    f"{spec.get('subset', 'small')}`",
                    code=EXIT_DATA,
                ) from None
            description = f"FMA {spec.get('subset', 'small')} at {root}"
        elif kind == "folder":
            from ..datasets import load_audio_folder

            root = Path(spec["root"])
            if not root.is_dir():
                raise CLIError(f"audio folder not found: {root}", code=EXIT_DATA)
            try:
                bunch = load_audio_folder(root)
            except ValueError as exc:
                raise CLIError(str(exc), hint="lay the files out as DIR/<genre>/<file>",
                               code=EXIT_DATA) from None
            description = f"genre folders at {root}"
        elif kind == "synthetic":
            console.info(
                f"data: synthetic FMA-shaped set, {spec['n_per_genre']} clips x 8 genres of "
                f"{spec['duration']:g} s (generated once into {spec['data_home']})"
            )
            bunch = load_default_dataset(
                spec["data_home"],
                n_per_genre=spec["n_per_genre"],
                duration=spec["duration"],
                random_state=spec.get("random_state", 0),
                n_jobs=spec.get("n_jobs"),
                verbose=console.progress,
            )
            clip_duration = float(spec["duration"])
            description = bunch.DESCR.split(";")[0]
        else:
            raise CLIError(f"unknown data source kind {kind!r} in the recorded config")
    for w in caught:  # e.g. DatasetWarning: excluded tracks
        console.warn(str(w.message))

    y = np.asarray(bunch.target, dtype=object).astype(str)
    paths = np.asarray(bunch.paths, dtype=object)
    if len(np.unique(y)) < 2:
        raise CLIError(f"{description} has fewer than 2 genres: {np.unique(y).tolist()}",
                       code=EXIT_DATA)
    if spec["split"] == "official":
        if getattr(bunch, "split", None) is None:
            raise CLIError(
                f"{description} has no predefined split",
                hint="use --split random (a genre-folder set has no official split)",
            )
        tvt = official_split(bunch)
        protocol = FMA_OFFICIAL
    elif spec["split"] == "random":
        try:
            tvt = random_split(y, test_size=0.2, valid_size=0.1, random_state=42)
        except ValueError as exc:
            raise CLIError(f"cannot split {description} at random: {exc}",
                           hint="each genre needs at least 10 files", code=EXIT_DATA) from None
        protocol = random_split_protocol(0.7, 0.1, 0.2)
    else:
        raise CLIError(f"unknown split {spec['split']!r}")
    if len(tvt.train) == 0 or len(tvt.test) == 0:
        raise CLIError(f"{description}: the {spec['split']} split has an empty training or "
                       "test set", code=EXIT_DATA)
    return DataSource(
        kind=kind,
        description=description,
        paths=paths,
        y=y,
        artist_ids=None if bunch.artist_ids is None else np.asarray(bunch.artist_ids),
        train=np.asarray(tvt.train),
        valid=np.asarray(tvt.valid),
        test=np.asarray(tvt.test),
        protocol=protocol,
        spec=spec,
        clip_duration=clip_duration,
    )


def cache_dir(args):
    """The feature cache folder the options name, or None (``--no-cache``)."""
    if getattr(args, "no_cache", False):
        return None
    if getattr(args, "cache", None):
        return os.path.abspath(args.cache)
    return os.fspath(_data_home(args) / "feature_cache")


def make_transformer(args, data, console):
    """The :class:`MelSpectrogramTransformer` the feature options describe."""
    from ..features import MelSpectrogramTransformer

    duration = args.duration
    if duration is None:
        duration = data.clip_duration if data.clip_duration is not None else 30.0
    return MelSpectrogramTransformer(
        sr=args.sr,
        n_mels=args.n_mels,
        n_fft=args.n_fft,
        hop_length=args.hop_length,
        duration=duration,
        n_jobs=args.n_jobs,
        memory=cache_dir(args),
        verbose=1 if console.progress else 0,
    )


def extract_features(transformer, paths, console, *, what="features"):
    """Fit ``transformer`` and compute the log-mels of ``paths`` (cached), with timing."""
    start = time.perf_counter()
    X = transformer.fit_transform(list(paths))
    console.info(
        f"{what}: {X.shape[0]} clips -> array {X.shape[1:]} (n_mels, n_frames) in "
        f"{time.perf_counter() - start:.1f} s"
        + (f"; cache: {transformer.memory}" if transformer.memory else "")
    )
    return X
