"""``make-dataset`` (write the synthetic FMA-shaped set) and ``fetch-fma`` (download FMA)."""

from __future__ import annotations

import os

from ..datasets.source import DEFAULT_SYNTHETIC
from .console import EXIT_OK, CLIError

__all__ = ["add_parsers", "run_fetch_fma", "run_make_dataset"]


def add_parsers(subparsers, parents):
    """Register ``make-dataset`` and ``fetch-fma``."""
    p = subparsers.add_parser(
        "make-dataset",
        parents=parents,
        help="write the synthetic FMA-shaped data set (FMA's layout, 8 genres, official split)",
        description="Write a synthetic data set in FMA's exact layout (fma_metadata/tracks.csv, "
        "fma_small/000/000002.mp3 ...). It tests that a pipeline works; it says nothing "
        "about real music.",
    )
    p.add_argument("--out", metavar="DIR", default=None,
                   help="folder to write (then use it with --fma-dir DIR); default: the data "
                   "home's synthetic set that commands use without a data option")
    p.add_argument("--data-home", metavar="DIR", default=None,
                   help="data home for the default location")
    p.add_argument("--n-per-genre", type=int, default=DEFAULT_SYNTHETIC["n_per_genre"],
                   help="clips per genre (default: %(default)s)")
    p.add_argument("--duration", type=float, default=DEFAULT_SYNTHETIC["duration"],
                   help="clip length in seconds (default: %(default)s)")
    p.add_argument("--difficulty", type=float, default=0.5,
                   help="genre overlap in [0, 1] (default: 0.5)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    p.add_argument("--n-jobs", type=int, default=None, help="parallel workers (-1: all cores)")
    p.set_defaults(handler=run_make_dataset)

    p = subparsers.add_parser(
        "fetch-fma",
        parents=parents,
        help="download and extract FMA (metadata + audio subset), verifying checksums",
        description="Download fma_metadata.zip and fma_<subset>.zip from FMA's published "
        "location into <data home>/fma, verify their SHA1, extract them. Interrupted "
        "downloads resume.",
    )
    p.add_argument("--subset", choices=["small", "medium", "large"], default="small",
                   help="small: 8,000 clips, 7.2 GiB (default); medium: 22 GiB; large: 93 GiB")
    p.add_argument("--data-home", metavar="DIR", default=None,
                   help="where to put it (default: $SKLEARN_GENRE_DATA or ~/sklearn_genre_data)")
    p.add_argument("--base-url", default=None, help="mirror URL of the archives")
    p.add_argument("--keep-archives", action="store_true", help="keep the zip files")
    p.set_defaults(handler=run_fetch_fma)


def run_make_dataset(args, console):
    """Run ``make-dataset``."""
    from ..datasets import load_default_dataset, make_fma_like

    if args.n_per_genre < 3:
        raise CLIError(f"--n-per-genre must be at least 3, got {args.n_per_genre}")
    if not args.duration > 0:
        raise CLIError(f"--duration must be positive, got {args.duration}")
    if not 0 <= args.difficulty <= 1:
        raise CLIError(f"--difficulty must be in [0, 1], got {args.difficulty}")
    if args.out is not None:
        bunch = make_fma_like(args.out, n_per_genre=args.n_per_genre, duration=args.duration,
                              difficulty=args.difficulty, random_state=args.seed,
                              n_jobs=args.n_jobs, verbose=console.progress)
        where = os.path.abspath(args.out)
        console.result(f"wrote {len(bunch.paths)} clips to {where}")
        console.result(f"use it with: sklearn-genre train --fma-dir {where}")
    else:
        bunch = load_default_dataset(args.data_home, n_per_genre=args.n_per_genre,
                                     duration=args.duration, difficulty=args.difficulty,
                                     random_state=args.seed, n_jobs=args.n_jobs,
                                     verbose=console.progress)
        where = bunch.root
        state = "generated" if bunch.generated else "already present"
        console.result(f"synthetic set {state}: {len(bunch.paths)} clips at {where}")
    return EXIT_OK


def run_fetch_fma(args, console):
    """Run ``fetch-fma``."""
    from ..datasets import FMA_BASE_URL, fetch_fma

    bunch = fetch_fma(args.subset, args.data_home, base_url=args.base_url or FMA_BASE_URL,
                      keep_archives=args.keep_archives, verbose=console.progress)
    console.result(f"FMA {args.subset}: {len(bunch.paths)} tracks at {bunch.root}")
    console.result(f"use it with: sklearn-genre train --fma-dir {bunch.root}")
    return EXIT_OK
