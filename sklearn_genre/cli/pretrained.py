"""``fetch-weights``: download the weights of a pretrained network into the data home."""

from __future__ import annotations

from .console import EXIT_OK

__all__ = ["add_parsers", "run_fetch_weights"]


def add_parsers(subparsers, parents):
    """Register ``fetch-weights``."""
    p = subparsers.add_parser(
        "fetch-weights",
        parents=parents,
        help="download the pretrained MusiCNN weights (29 MB wheel from PyPI, SHA-256 checked)",
        description="Download the musicnn 0.1.0 wheel (Pons and Serra, ISC licence), check "
        "its SHA-256 and unpack the MSD_musicnn and MTT_musicnn checkpoints into "
        "<data home>/musicnn/0.1.0. Nothing happens when they are already there.",
    )
    p.add_argument("network", choices=["musicnn"], help="the pretrained network")
    p.add_argument("--data-home", metavar="DIR", default=None,
                   help="where to put them (default: $SKLEARN_GENRE_DATA or "
                   "~/sklearn_genre_data)")
    p.add_argument("--source", metavar="URL_OR_PATH", default=None,
                   help="package index URL (PEP 503/691), wheel URL, wheel file or folder "
                   "holding it (default: $SKLEARN_GENRE_MUSICNN_SOURCE, else $PIP_INDEX_URL, "
                   "else https://pypi.org/simple/)")
    p.add_argument("--force", action="store_true",
                   help="download and unpack again even if present (repairs a damaged copy)")
    p.set_defaults(handler=run_fetch_weights)


def run_fetch_weights(args, console):
    """Run ``fetch-weights``."""
    from ..pretrained import MUSICNN_MODELS, fetch_musicnn_weights

    root = fetch_musicnn_weights(args.data_home, source=args.source, force=args.force,
                                 verbose=console.progress)
    console.result(f"MusiCNN weights ({', '.join(MUSICNN_MODELS)}) at {root}")
    return EXIT_OK
