"""Every exception and warning that sklearn_genre raises on purpose, under one base class each.

An application catches everything the package raises deliberately with
``except SklearnGenreError`` and filters its warnings with
``warnings.simplefilter(..., SklearnGenreWarning)``, as with skorch's ``skorch.exceptions``.
Each class also keeps the builtin it has always subclassed (``AudioDecodeError`` is a
``ValueError``, ``FeatureCacheError`` an ``OSError``, ...), so existing ``except ValueError``
clauses keep working. The classes are also importable from the modules that raise them
(``sklearn_genre.audio.AudioDecodeError`` is this module's class).

Exceptions of the command line (``sklearn_genre.cli.console.CLIError``: a usage error turned
into an exit code) are not library exceptions and are not here.
"""

from __future__ import annotations

import functools
import os

__all__ = [
    "AudioDecodeError",
    "CacheCorruptionWarning",
    "CheckpointError",
    "CheckpointFormatError",
    "ChecksumError",
    "DatasetWarning",
    "DownloadError",
    "ExperimentError",
    "ExtractionWarning",
    "FeatureCacheError",
    "IncompleteStoreError",
    "LeakageError",
    "LeakageWarning",
    "ModelLoadError",
    "MusicnnWeightsNotFoundError",
    "SklearnGenreError",
    "SklearnGenreWarning",
]


class SklearnGenreError(Exception):
    """Base class of every exception sklearn_genre raises on purpose."""


class SklearnGenreWarning(UserWarning):
    """Base class of every warning sklearn_genre emits."""


class ExtractionWarning(SklearnGenreWarning):
    """Some clips could not be turned into features (``on_error="warn"``).

    Parameters
    ----------
    message : str
        The warning text (how many clips failed, and the first reasons).
    failures : iterable of ExtractionFailure, default=()
        The failed clips.

    Attributes
    ----------
    failures : list of ExtractionFailure
        One entry per failed clip: its row index, its source and the reason.
    """

    def __init__(self, message, failures=()):
        super().__init__(message)
        self.failures = list(failures)


class AudioDecodeError(SklearnGenreError, ValueError):
    """An audio file could not be decoded into a valid waveform.

    Parameters
    ----------
    path : str or os.PathLike
        The file that failed.
    reason : str
        What went wrong, in words.

    Attributes
    ----------
    path : str
        The file that failed.
    reason : str
        What went wrong.
    """

    def __init__(self, path, reason):
        self.path = os.fspath(path) if isinstance(path, (str, os.PathLike)) else str(path)
        self.reason = str(reason)
        super().__init__(f"cannot decode audio file {self.path!r}: {self.reason}")

    def __reduce__(self):
        # Exceptions with a custom __init__ must say how to rebuild themselves, otherwise
        # they cannot travel back from joblib/loky or Dask workers.
        return (type(self), (self.path, self.reason))


class FeatureCacheError(SklearnGenreError, OSError):
    """A feature cache entry could not be written (disk full, permissions, ...).

    Parameters
    ----------
    entry : str or os.PathLike
        The entry file that could not be written.
    reason : str
        What went wrong, in words.
    errno_ : int or None, default=None
        The operating system's error number, when there is one (``errno.ENOSPC``, ...);
        available as :attr:`errno` like on any :class:`OSError`.

    Attributes
    ----------
    entry : str
        The entry that could not be written.
    reason : str
        What went wrong.
    """

    def __init__(self, entry, reason, errno_=None):
        self.entry = str(entry)
        self.reason = str(reason)
        super().__init__(errno_, f"cannot write feature cache entry {self.entry!r}: {reason}")

    def __str__(self):
        return f"cannot write feature cache entry {self.entry!r}: {self.reason}"

    def __reduce__(self):
        return (type(self), (self.entry, self.reason, self.errno))


class CacheCorruptionWarning(SklearnGenreWarning):
    """A corrupt or truncated feature cache entry was found; it was deleted and recomputed."""


class IncompleteStoreError(SklearnGenreError, RuntimeError):
    """A feature store is missing, unfinished or inconsistent with its sidecar.

    Parameters
    ----------
    path : str or os.PathLike
        The store's ``.npy`` path.
    reason : str
        Why the store cannot be used, in words.

    Attributes
    ----------
    path : str
        The store's ``.npy`` path.
    reason : str
        Why the store cannot be used.
    """

    def __init__(self, path, reason):
        self.path = os.fspath(path)
        self.reason = str(reason)
        super().__init__(f"feature store {self.path!r} is not usable: {self.reason}")

    def __reduce__(self):
        return (type(self), (self.path, self.reason))


class CheckpointError(SklearnGenreError, OSError):
    """A checkpoint could not be written or read (full disk, missing or foreign checkpoint)."""


class ExperimentError(SklearnGenreError, ValueError):
    """An experiment cannot run as asked.

    A run directory that cannot be resumed or evaluated (completed, still running, no
    checkpoint, not written by :func:`~sklearn_genre.experiment.run_experiment`), or a split
    too small for the cross-validation of :func:`~sklearn_genre.experiment.run_comparison` /
    :func:`~sklearn_genre.experiment.run_search`.
    """


class ModelLoadError(SklearnGenreError, ValueError):
    """A file could not be loaded as a sklearn_genre model; the message names file and cause.

    Parameters
    ----------
    message : str
        The error message; it names the file and the cause.
    path : str or None, default=None
        The file.
    reason : str or None, default=None
        The cause, for programs: one of the values listed under Attributes.

    Attributes
    ----------
    path : str or None
        The file.
    reason : {"missing", "not_a_model_file", "corrupt", "incompatible_version", "not_a_model"}
        The cause, for programs.
    """

    def __init__(self, message, *, path=None, reason=None):
        super().__init__(message)
        self.path = path
        self.reason = reason

    def __reduce__(self):
        # Rebuilt with its attributes when it travels back from a worker process.
        rebuild = functools.partial(type(self), path=self.path, reason=self.reason)
        return (rebuild, (str(self),))


class LeakageError(SklearnGenreError, ValueError):
    """Training and test sets share files, audio content or artists (``on_leak="raise"``).

    To evaluate anyway (for example to reproduce a published result obtained on a random
    split), call :func:`check_leakage` with ``on_leak="warn"`` or ``on_leak="ignore"``; the
    report still records the overlap.

    Parameters
    ----------
    message : str
        What is shared, in words.
    report : LeakageReport
        The full outcome of the check.

    Attributes
    ----------
    report : LeakageReport
        The full outcome of the check.
    """

    def __init__(self, message, report):
        super().__init__(message)
        self.report = report

    def __reduce__(self):
        return (type(self), (str(self), self.report))


class LeakageWarning(SklearnGenreWarning):
    """Training and test sets share files, audio content or artists."""


class DatasetWarning(SklearnGenreWarning):
    """Warning about tracks a loader excluded (broken, missing or unusable files).

    A subclass of :class:`UserWarning`, so it can be filtered on its own with
    ``warnings.filterwarnings("ignore", category=DatasetWarning)``; the excluded
    tracks stay listed in the returned ``Bunch.excluded`` either way.
    """


class DownloadError(SklearnGenreError, OSError):
    """A download failed (no network, HTTP error); the message names the URL and what
    to do."""


class ChecksumError(SklearnGenreError, OSError):
    """A downloaded file's SHA1 does not match the published one; nothing was kept."""


class CheckpointFormatError(SklearnGenreError, ValueError):
    """A TensorFlow checkpoint file is corrupt, truncated or uses a feature the reader lacks.

    Raised by :mod:`sklearn_genre.pretrained.checkpoint`; the message names the file and what
    is wrong with it.
    """


class MusicnnWeightsNotFoundError(SklearnGenreError, FileNotFoundError):
    """The MusiCNN weights are not in the data home; the message says how to get them."""
