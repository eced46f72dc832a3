"""The ``sklearn-genre`` command line tool.

Subcommands: ``make-dataset``, ``fetch-fma``, ``fetch-weights``, ``preprocess``, ``train``,
``evaluate``, ``predict``, ``tag``, ``compare``, ``search``, ``demo``; ``sklearn-genre COMMAND
--help`` for each.
Exit codes are listed in :mod:`sklearn_genre.cli.console`.
"""

from __future__ import annotations

import argparse
import os
import sys
import traceback

from .console import (
    EXIT_DATA,
    EXIT_DOWNLOAD,
    EXIT_INTERNAL,
    EXIT_INTERRUPTED,
    EXIT_LEAKAGE,
    EXIT_USAGE,
    CLIError,
    Console,
)

__all__ = ["CLIError", "build_parser", "main"]


def _verbosity_parent(suppress):
    parent = argparse.ArgumentParser(add_help=False)
    default = argparse.SUPPRESS if suppress else False
    g = parent.add_argument_group("output verbosity")
    g.add_argument("-q", "--quiet", action="store_true", default=default,
                   help="only results and errors: no progress bars or training tables")
    g.add_argument("-v", "--verbose", action="store_true", default=default,
                   help="more detail, and the traceback of unexpected errors")
    return parent


class _HelpFormatter(argparse.HelpFormatter):
    """argparse's formatter, with the classifiers' own recipe defaults filled into the help."""

    def _expand_help(self, action):
        from .train import RECIPE_DEFAULT

        text = super()._expand_help(action)
        if RECIPE_DEFAULT in text:
            from ..experiment import recipe_defaults  # imports torch: only when help is shown

            value = recipe_defaults()[action.dest]
            text = text.replace(RECIPE_DEFAULT,
                                f"{value:g}" if isinstance(value, float) else str(value))
        return text


def build_parser():
    """The argument parser of ``sklearn-genre``."""
    from .. import __version__
    from . import datasets, demo, evaluate, preprocess, pretrained, selection, train

    parser = argparse.ArgumentParser(
        prog="sklearn-genre",
        description="Music genre classification the scikit-learn way: synthetic and FMA data, "
        "log-mel features, CNN / GRU / CNN-GRU / CNN-GRU-Attention models, searches, "
        "evaluation with a leakage check, track-level prediction.",
        epilog="Start with: sklearn-genre demo. Exit codes: 0 ok, 1 internal error, 2 bad "
        "usage, 3 missing or unreadable data, 4 leakage refused, 5 download failed, "
        "6 finished but some input files could not be read (listed), 130 interrupted.",
        parents=[_verbosity_parent(suppress=False)],
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    parents = [_verbosity_parent(suppress=True)]
    demo.add_parser(sub, parents)
    datasets.add_parsers(sub, parents)
    preprocess.add_parser(sub, parents)
    train.add_parser(sub, parents)
    evaluate.add_parsers(sub, parents)
    selection.add_parsers(sub, parents)
    pretrained.add_parsers(sub, parents)
    for subparser in sub.choices.values():
        subparser.formatter_class = _HelpFormatter
    return parser


def _native_stderr(console):
    """Under ``--quiet``, drop what C libraries print on stderr (mpg123's decoder notes)."""
    from contextlib import nullcontext

    from ..audio import quiet_native_stderr

    return quiet_native_stderr() if console.quiet else nullcontext()


def _error_code(exc):
    """Exit code and hint for an exception that is the user's to fix, else None."""
    from .._compat import InvalidParameterError
    from ..exceptions import (
        AudioDecodeError,
        CheckpointError,
        ChecksumError,
        DownloadError,
        ExperimentError,
        FeatureCacheError,
        LeakageError,
        ModelLoadError,
    )

    # Only raised once torch is imported; not importing it here keeps other errors fast.
    classifiers = sys.modules.get("sklearn_genre.classifiers")
    if classifiers is not None and isinstance(exc, classifiers.DeviceUnavailableError):
        return EXIT_USAGE, "pass --device auto (CUDA when available, else the CPU) or --device cpu"
    if isinstance(exc, LeakageError):
        return EXIT_LEAKAGE, "pass --on-leak warn to evaluate anyway (the overlap is recorded)"
    if isinstance(exc, (DownloadError, ChecksumError)):
        return EXIT_DOWNLOAD, None
    if isinstance(exc, AudioDecodeError):
        return EXIT_DATA, ("remove or replace the file, or re-download the data set; predict, "
                           "evaluate and preprocess keep going past unreadable files unless "
                           "--on-error raise")
    if isinstance(exc, CheckpointError):
        return EXIT_DATA, ("check the run's checkpoints/ folder (space, permissions); a "
                           "complete earlier checkpoint is kept for `train --resume`")
    if isinstance(exc, ExperimentError):
        return EXIT_DATA, None
    if isinstance(exc, ModelLoadError):
        return EXIT_DATA, None
    if isinstance(exc, FeatureCacheError):
        return EXIT_DATA, "check the --cache folder (space, permissions) or pass --no-cache"
    if isinstance(exc, (FileNotFoundError, NotADirectoryError, IsADirectoryError,
                        PermissionError, FileExistsError)):
        return EXIT_DATA, None
    if isinstance(exc, InvalidParameterError):
        return EXIT_USAGE, None
    return None


def main(argv=None):
    """Run the command line tool.

    Parameters
    ----------
    argv : list of str, default=None
        Arguments without the program name; ``None``: ``sys.argv[1:]``.

    Returns
    -------
    code : int
        Exit status (see :mod:`sklearn_genre.cli.console`).
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version, or a usage error (already printed)
        return int(exc.code or 0)
    console = Console(quiet=args.quiet, verbose=args.verbose and not args.quiet)
    if args.command is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    args.command_line = ["sklearn-genre", *argv]
    os.environ.setdefault("MPLBACKEND", "Agg")
    try:
        with console.capture_warnings(), console.capture_logging(), _native_stderr(console):
            return int(args.handler(args, console))
    except CLIError as exc:
        console.error(str(exc), exc.hint)
        return exc.code
    except KeyboardInterrupt:
        console.error("interrupted (Ctrl-C)")
        return EXIT_INTERRUPTED
    except Exception as exc:
        known = _error_code(exc)
        if known is not None:
            code, hint = known
            console.error(str(exc), hint)
            if console.verbose:
                traceback.print_exc()
            return code
        console.error(f"unexpected {type(exc).__name__}: {exc}",
                      "this is a bug; rerun with --verbose for the traceback and report it"
                      if not console.verbose else None)
        if console.verbose:
            traceback.print_exc()
        return EXIT_INTERNAL
