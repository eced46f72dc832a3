"""Data source and feature options of the command line, and what they name.

Data source (one of):

- ``--fma-dir DIR``: an FMA folder (``DIR/fma_metadata/`` and ``DIR/fma_<subset>/``, as
  ``sklearn-genre fetch-fma`` or ``make-dataset --out DIR`` write), with ``--split official``
  (FMA's artist-filtered training/validation/test, the default) or ``--split random`` (the
  reference work's stratified random 70/10/20, ``random_state=42``, no artist filter);
- ``--folder DIR``: one sub-folder per genre (``DIR/<genre>/<file>``); split: random
  stratified 70/10/20. With ``--groups tags|csv:PATH|pattern:PATTERN`` (and ``--group-by``)
  the files' artists/albums/source tracks are known: the split keeps them apart and the
  leakage check checks them; without, the leakage report says the artist/track check did not
  run;
- neither: the embedded synthetic FMA-shaped set, generated into the data home once
  (``--synthetic-n-per-genre``, ``--synthetic-duration``).

The options become a data spec for :func:`sklearn_genre.datasets.load_data_source`, and a
:class:`~sklearn_genre.features.MelSpectrogramTransformer` (defaults: the transformer's own)
with its per-file cache in ``--cache`` (default ``<data home>/feature_cache``), so
``preprocess``, ``train``, ``compare`` and ``search`` compute each clip once.
"""

from __future__ import annotations

import os

from .console import EXIT_DATA, CLIError

__all__ = [
    "FEATURE_OPTIONS",
    "add_data_options",
    "add_feature_options",
    "cache_dir",
    "data_spec",
    "load_source",
    "make_transformer",
    "resolve_data",
]

#: The log-mel options: flag destination -> MelSpectrogramTransformer parameter (same name).
FEATURE_OPTIONS = ("n_mels", "sr", "n_fft", "hop_length")


def _feature_defaults():
    from ..features import MelSpectrogramTransformer  # imports scikit-learn, not torch

    return MelSpectrogramTransformer().get_params()


def add_data_options(parser, *, with_split=True):
    """Add the data source options (``--fma-dir``, ``--folder``, synthetic settings)."""
    from ..datasets.source import DEFAULT_SYNTHETIC

    g = parser.add_argument_group("data source (default: the embedded synthetic set)")
    src = g.add_mutually_exclusive_group()
    src.add_argument("--fma-dir", metavar="DIR", help="FMA folder (fma_metadata/, fma_small/)")
    src.add_argument("--folder", metavar="DIR", help="one sub-folder of audio files per genre")
    g.add_argument("--subset", default="small", choices=["small", "medium", "large"],
                   help="FMA subset (default: small)")
    g.add_argument("--groups", metavar="SOURCE", default=None,
                   help="with --folder: artists/albums/source tracks of the files, kept apart "
                   "by the split and checked for leakage: 'tags' (the files' own tags), "
                   "'csv:PATH' (a table with a path column and artist/album/track/group "
                   "columns) or 'pattern:PATTERN' (file names, e.g. "
                   "'pattern:{artist} - {track}_{clip}'). Default: none (the leakage report "
                   "then says the artist/track check did not run)")
    g.add_argument("--group-by", choices=["artist", "album", "track"], default="artist",
                   help="with --groups: which field makes the groups (default: artist, "
                   "falling back to album, then track, per file)")
    if with_split:
        g.add_argument("--split", choices=["official", "random"], default=None,
                       help="official: FMA's artist-filtered split (default for FMA and the "
                       "synthetic set); random: stratified random 70/10/20 without artist "
                       "filter (the reference work's; the only one for --folder)")
    g.add_argument("--data-home", metavar="DIR", default=None,
                   help="where generated/downloaded data live (default: $SKLEARN_GENRE_DATA "
                   "or ~/sklearn_genre_data)")
    g.add_argument("--synthetic-n-per-genre", type=int,
                   default=DEFAULT_SYNTHETIC["n_per_genre"],
                   metavar="N", help="clips per genre of the synthetic set (default: %(default)s)")
    g.add_argument("--synthetic-duration", type=float, default=DEFAULT_SYNTHETIC["duration"],
                   metavar="S", help="clip length of the synthetic set in seconds "
                   "(default: %(default)s)")


def add_feature_options(parser):
    """Add the log-mel options (defaults: the transformer's) and the feature cache options."""
    d = _feature_defaults()
    g = parser.add_argument_group("features (log-mel spectrograms)")
    g.add_argument("--n-mels", type=int, default=d["n_mels"],
                   help="mel bands (default: %(default)s)")
    g.add_argument("--duration", type=float, default=None, metavar="S",
                   help="clip length in seconds (default: the synthetic set's clip length, "
                   f"{d['duration']:g} for FMA and folders)")
    g.add_argument("--sr", type=int, default=d["sr"], help="sampling rate (default: %(default)s)")
    g.add_argument("--n-fft", type=int, default=d["n_fft"],
                   help="FFT length (default: %(default)s)")
    g.add_argument("--hop-length", type=int, default=d["hop_length"],
                   help="hop in samples (default: %(default)s)")
    g.add_argument("--cache", metavar="DIR", default=None,
                   help="feature cache folder (default: <data home>/feature_cache)")
    g.add_argument("--no-cache", action="store_true", help="do not cache features")
    g.add_argument("--n-jobs", type=int, default=1,
                   help="parallel workers for decoding/extraction (default: 1; -1: all cores)")


def _data_home(args):
    from ..datasets import get_data_home

    return get_data_home(getattr(args, "data_home", None))


def data_spec(args):
    """The data source the options name, as a spec for ``load_data_source``."""
    if getattr(args, "fma_dir", None):
        spec = {"kind": "fma", "root": os.path.abspath(args.fma_dir), "subset": args.subset}
    elif getattr(args, "folder", None):
        spec = {"kind": "folder", "root": os.path.abspath(args.folder)}
        groups = parse_groups_option(getattr(args, "groups", None))
        if groups is not None:
            spec["groups"], spec["group_by"] = groups, args.group_by
    else:
        spec = {
            "kind": "synthetic",
            "data_home": os.fspath(_data_home(args)),
            "n_per_genre": int(args.synthetic_n_per_genre),
            "duration": float(args.synthetic_duration),
            "random_state": 0,
        }
    if getattr(args, "groups", None) and spec["kind"] != "folder":
        raise CLIError("--groups applies to --folder data only",
                       hint="FMA and the synthetic set carry artist ids already")
    split = getattr(args, "split", None)
    if split is not None:
        spec["split"] = split
    return spec


def parse_groups_option(value):
    """The ``groups`` of a folder spec from ``--groups`` (see add_data_options)."""
    if value is None:
        return None
    if value == "tags":
        return "tags"
    kind, sep, arg = value.partition(":")
    if sep and arg and kind == "csv":
        return {"metadata": os.path.abspath(arg)}
    if sep and arg and kind == "pattern":
        return {"pattern": arg}
    raise CLIError(f"--groups {value!r}: expected 'tags', 'csv:PATH' or 'pattern:PATTERN'")


def load_source(spec, console):
    """:func:`~sklearn_genre.datasets.load_data_source`, its errors with what to do.

    Raises
    ------
    CLIError
        With a hint when the data is missing or the split is not available.
    """
    from ..datasets import load_data_source

    kind = spec.get("kind")
    split = spec.get("split", "random" if kind == "folder" else "official")
    if kind == "synthetic":
        console.info(
            f"data: synthetic FMA-shaped set, {spec['n_per_genre']} clips x 8 genres of "
            f"{spec['duration']:g} s (generated once into {spec['data_home']})"
        )
    try:
        return load_data_source(spec, verbose=console.progress)
    except FileNotFoundError as exc:
        if kind == "fma" and str(exc).startswith("no FMA metadata"):
            hint = ("download FMA with `sklearn-genre fetch-fma --data-home DIR` and pass "
                    "--fma-dir DIR/fma, or make a synthetic one with `sklearn-genre "
                    "make-dataset --out DIR`")
        elif kind == "fma":
            hint = (f"download the audio with `sklearn-genre fetch-fma --subset "
                    f"{spec.get('subset', 'small')}`")
        else:
            hint = None
        raise CLIError(str(exc), hint=hint, code=EXIT_DATA) from None
    except ValueError as exc:
        if "no predefined split" in str(exc):
            raise CLIError(str(exc).split(";")[0],
                           hint="use --split random (a genre-folder set has no official "
                           "split)") from None
        hint = "lay the files out as DIR/<genre>/<file>" if kind == "folder" else None
        if spec.get("groups") is not None:
            hint = "check the --groups source against the files"
        if split == "random" and "at random" in str(exc):
            hint = ("use --group-by track (or album) for more, smaller groups"
                    if spec.get("groups") is not None else "each genre needs at least 10 files")
        raise CLIError(str(exc), hint=hint, code=EXIT_DATA) from None


def cache_dir(args):
    """The feature cache folder the options name, or None (``--no-cache``)."""
    if getattr(args, "no_cache", False):
        return None
    if getattr(args, "cache", None):
        return os.path.abspath(args.cache)
    return os.fspath(_data_home(args) / "feature_cache")


def make_transformer(args, source, console):
    """The :class:`MelSpectrogramTransformer` the feature options describe."""
    from ..features import MelSpectrogramTransformer

    params = {name: getattr(args, name) for name in FEATURE_OPTIONS}
    if args.duration is not None:
        params["duration"] = args.duration
    elif source.clip_duration is not None:
        params["duration"] = source.clip_duration
    return MelSpectrogramTransformer(
        **params,
        n_jobs=args.n_jobs,
        memory=cache_dir(args),
        verbose=1 if console.progress else 0,
    )


def resolve_data(args, console, *, spec=None):
    """The data source the options (or a recorded ``spec``) name, loaded and split."""
    return load_source(spec if spec is not None else data_spec(args), console)
