"""Terminal output of the command line tool: messages, warnings, errors and exit codes.

Exit codes
    ``0`` success; ``1`` unexpected internal error (a bug: the message says how to get the
    traceback); ``2`` bad command line (argparse) or bad option value; ``3`` missing or
    unreadable input (data folder, audio file, run directory); ``4`` refused because of
    train/test leakage (``--on-leak raise``); ``5`` download failed; ``6`` finished, but some
    input files could not be read (``predict``, ``evaluate``, ``preprocess``: the results of
    the others are written, the failed files listed; ``--on-error skip`` exits 0 instead);
    ``130`` interrupted with Ctrl-C (a ``train`` run still saves its model, see
    ``sklearn-genre train --help``).
"""

from __future__ import annotations

import logging
import sys
import warnings
from contextlib import contextmanager

__all__ = [
    "EXIT_DATA",
    "EXIT_DOWNLOAD",
    "EXIT_INTERNAL",
    "EXIT_INTERRUPTED",
    "EXIT_LEAKAGE",
    "EXIT_OK",
    "EXIT_PARTIAL",
    "EXIT_USAGE",
    "CLIError",
    "Console",
    "add_on_error_option",
    "failures_listed_by_console",
    "report_failures",
]

EXIT_OK = 0
EXIT_INTERNAL = 1
EXIT_USAGE = 2
EXIT_DATA = 3
EXIT_LEAKAGE = 4
EXIT_DOWNLOAD = 5
EXIT_PARTIAL = 6
EXIT_INTERRUPTED = 130


class CLIError(Exception):
    """A user error: printed as ``error: <message>`` (and the hint) without a traceback.

    Parameters
    ----------
    message : str
        What went wrong.
    hint : str, default=None
        What to do about it (printed on its own line).
    code : int, default=2
        Exit code.
    """

    def __init__(self, message, *, hint=None, code=EXIT_USAGE):
        super().__init__(message)
        self.hint = hint
        self.code = code


class Console:
    """Where the tool writes: results to stdout, progress, warnings and errors to stderr.

    Parameters
    ----------
    quiet : bool, default=False
        Only results and errors (no progress bars, no per-epoch tables, no info lines).
    verbose : bool, default=False
        Tracebacks of unexpected errors and more detail.
    """

    def __init__(self, *, quiet=False, verbose=False):
        self.quiet = quiet
        self.verbose = verbose

    @property
    def progress(self):
        """Whether progress bars and training tables are shown."""
        return not self.quiet

    def info(self, message=""):
        """A status line on stdout (suppressed by ``--quiet``)."""
        if not self.quiet:
            print(message, flush=True)

    def result(self, message=""):
        """A result line on stdout (always shown)."""
        print(message, flush=True)

    def warn(self, message):
        """A warning on stderr (always shown)."""
        print(f"warning: {message}", file=sys.stderr, flush=True)

    def error(self, message, hint=None):
        """An error on stderr, with what to do about it."""
        print(f"error: {message}", file=sys.stderr, flush=True)
        if hint:
            print(f"hint: {hint}", file=sys.stderr, flush=True)

    @contextmanager
    def capture_warnings(self):
        """Show Python warnings as one ``warning: ...`` line each instead of file:line noise."""

        def show(message, category, filename, lineno, file=None, line=None):
            self.warn(f"{message} [{category.__name__}]" if self.verbose else str(message))

        with warnings.catch_warnings():
            warnings.showwarning = show
            yield

    @contextmanager
    def capture_logging(self):
        """Show the package's log records (logger ``"sklearn_genre"``) as console lines.

        INFO records are status lines on stdout (not with ``--quiet``), WARNING and above are
        ``warning: ...`` lines on stderr. The package's logger does not pass them on to the
        root logger meanwhile, so nothing is printed twice.
        """
        console = self

        class _Handler(logging.Handler):
            def emit(self, record):
                message = record.getMessage()
                if record.levelno >= logging.WARNING:
                    console.warn(message)
                else:
                    console.info(message)

        logger = logging.getLogger("sklearn_genre")
        handler = _Handler(level=logging.INFO)
        saved = logger.level, logger.propagate
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        logger.propagate = False
        try:
            yield
        finally:
            logger.removeHandler(handler)
            logger.setLevel(saved[0])
            logger.propagate = saved[1]

#: ``--on-error`` choices of the batch commands (``predict``, ``evaluate``, ``preprocess``).
ON_ERROR_CHOICES = ("report", "skip", "raise")


def add_on_error_option(parser, *, what, skip_alias=False):
    """``--on-error {report,skip,raise}``: what a batch command does with unreadable files.

    ``skip_alias``: also ``--skip-errors``, the older spelling of ``--on-error skip``.
    """
    parser.add_argument(
        "--on-error", choices=ON_ERROR_CHOICES, default="report",
        help=f"files that cannot be read: 'report' (default) writes the {what} of all others, "
        "lists the failed files with the reason and exits with code 6; 'skip' does the same "
        "but exits 0; 'raise' stops at the first one (exit code 3)")
    if skip_alias:
        parser.add_argument("--skip-errors", dest="on_error", action="store_const",
                            const="skip", help="same as --on-error skip")


def write_table(table, console, *, fmt, output, what):
    """Write a per-file result table as CSV or JSON to ``output`` (a path) or stdout."""
    import json
    from pathlib import Path

    if fmt == "csv":
        text = table.to_csv(index=False, float_format="%.6g")
    else:
        records = json.loads(table.to_json(orient="records", double_precision=6))
        text = json.dumps(records, indent=2) + "\n"
    if output:
        Path(output).write_text(text, encoding="utf-8")
        console.info(f"wrote {len(table)} {what} to {output}")
    else:
        sys.stdout.write(text)
        sys.stdout.flush()


def report_table_failures(console, on_error, table, *, output, what):
    """:func:`report_failures` of a per-file table with ``path`` and ``error`` columns."""
    failed = table[table["error"] != ""] if "error" in table else table.iloc[:0]
    return report_failures(
        console, on_error,
        [(row.path, row.error) for row in failed.itertuples()], n_total=len(table),
        done=f"{what} of the other {len(table) - len(failed)} are in "
        f"{output or 'the output'} (an 'error' column says why the others have none)",
    )


@contextmanager
def failures_listed_by_console():
    """Silence the library's summary warning of failed files; :func:`report_failures` lists
    every one of them instead."""
    from ..features import ExtractionWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ExtractionWarning)
        yield


def report_failures(console, on_error, failures, *, n_total, done):
    """List failed inputs on stderr and return the exit code of a batch command.

    Parameters
    ----------
    console : Console
    on_error : {"report", "skip", "raise"}
    failures : list of (source, reason)
    n_total : int
        Inputs processed.
    done : str
        Where the results of the others went.

    Returns
    -------
    code : int
        ``EXIT_OK``, or ``EXIT_PARTIAL`` with failures under ``on_error="report"``.
    """
    if not failures:
        return EXIT_OK
    for source, reason in failures:
        prefix = f"cannot decode audio file {source!r}: "  # AudioDecodeError's own prefix
        console.warn(f"{source}: {reason[len(prefix):] if reason.startswith(prefix) else reason}")
    summary = f"{len(failures)} of {n_total} files could not be read; {done}"
    if on_error == "skip":
        console.warn(summary)
        return EXIT_OK
    console.error(summary, "fix or remove those files; --on-error skip exits 0 with the same "
                  "output, --on-error raise stops at the first bad file")
    return EXIT_PARTIAL
