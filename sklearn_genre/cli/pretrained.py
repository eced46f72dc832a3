"""Pretrained networks on the command line.

``fetch-weights``: download the weights of a pretrained network into the data home.
``tag``: the pretrained MusiCNN's zero-shot tags of audio files
(:func:`sklearn_genre.pretrained.predict_tags`).
"""

from __future__ import annotations

from .console import (
    EXIT_OK,
    add_on_error_option,
    failures_listed_by_console,
    report_table_failures,
    write_table,
)

__all__ = ["add_parsers", "run_fetch_weights", "run_tag"]


def add_parsers(subparsers, parents):
    """Register ``fetch-weights`` and ``tag``."""
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
    add_tag_parser(subparsers, parents)


def run_fetch_weights(args, console):
    """Run ``fetch-weights``."""
    from ..pretrained import MUSICNN_MODELS, fetch_musicnn_weights

    root = fetch_musicnn_weights(args.data_home, source=args.source, force=args.force,
                                 verbose=console.progress)
    console.result(f"MusiCNN weights ({', '.join(MUSICNN_MODELS)}) at {root}")
    return EXIT_OK


def add_tag_parser(subparsers, parents):
    """Register ``tag``."""
    p = subparsers.add_parser(
        "tag",
        parents=parents,
        help="zero-shot tags of audio files from the pretrained MusiCNN (no training)",
        description="The pretrained MusiCNN's most likely tags for each file, as CSV or JSON "
        "(any length: every 3 s patch is tagged and the patches are pooled). MSD_musicnn's "
        "50 tags are mostly genres, moods and eras; MTT_musicnn's instruments, genres and "
        "moods. Needs the weights once: sklearn-genre fetch-weights musicnn.",
    )
    p.add_argument("paths", nargs="+", metavar="PATH",
                   help="audio files or folders (searched recursively)")
    p.add_argument("--model", choices=["MSD_musicnn", "MTT_musicnn"], default="MSD_musicnn",
                   help="the pretrained model (default: MSD_musicnn)")
    p.add_argument("--top-k", type=int, default=5, metavar="K",
                   help="tags per file (default: 5)")
    p.add_argument("--pooling", choices=["mean", "max"], default="mean",
                   help="how the 3 s patches of a file are combined (default: mean)")
    p.add_argument("--format", choices=["csv", "json"], default="csv",
                   help="output format (default: csv)")
    p.add_argument("-o", "--output", metavar="FILE", default=None,
                   help="write here instead of stdout")
    add_on_error_option(p, what="tags", skip_alias=True)
    p.add_argument("--data-home", metavar="DIR", default=None,
                   help="where fetch-weights put the weights (default: $SKLEARN_GENRE_DATA "
                   "or ~/sklearn_genre_data)")
    p.add_argument("--device", default="auto",
                   help="torch device: auto (CUDA when available), cpu, cuda (default: auto)")
    p.add_argument("--jobs", type=int, default=None, metavar="N",
                   help="files decoded and tagged in parallel (default: 1)")
    p.set_defaults(handler=run_tag)


def run_tag(args, console):
    """Run ``tag``."""
    from ..pretrained import predict_tags
    from .console import CLIError
    from .evaluate import expand_audio_paths

    if args.top_k < 1:
        raise CLIError(f"--top-k must be at least 1, got {args.top_k}")
    paths = expand_audio_paths(args.paths)
    console.info(f"tagging {len(paths)} file(s) with {args.model}")
    with failures_listed_by_console():
        table = predict_tags(paths, model=args.model, top_k=args.top_k, pooling=args.pooling,
                             data_home=args.data_home, device=args.device, n_jobs=args.jobs,
                             on_error="raise" if args.on_error == "raise" else "record",
                             verbose=int(console.progress))
    write_table(table, console, fmt=args.format, output=args.output, what="files' tags")
    return report_table_failures(console, args.on_error, table, output=args.output,
                                 what="tags")
