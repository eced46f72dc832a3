"""Terminal output of the command line tool: messages, warnings, errors and exit codes.

Exit codes
    ``0`` success; ``1`` unexpected internal error (a bug: the message says how to get the
    traceback); ``2`` bad command line (argparse) or bad option value; ``3`` missing or
    unreadable input (data folder, audio file, run directory); ``4`` refused because of
    train/test leakage (``--on-leak raise``); ``5`` download failed; ``130`` interrupted with
    Ctrl-C (a ``train`` run still saves its model, see ``sklearn-genre train --help``).
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
    "EXIT_USAGE",
    "CLIError",
    "Console",
]

EXIT_OK = 0
EXIT_INTERNAL = 1
EXIT_USAGE = 2
EXIT_DATA = 3
EXIT_LEAKAGE = 4
EXIT_DOWNLOAD = 5
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
