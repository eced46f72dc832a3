"""Every exception and warning that sklearn_genre raises on purpose, under one base class each.

An application catches everything the package raises deliberately with
``except SklearnGenreError`` and filters its warnings with
``warnings.simplefilter(..., SklearnGenreWarning)``, as with skorch's ``skorch.exceptions``.
Each class also keeps the builtin it has always subclassed (``AudioDecodeError`` is a
``ValueError``, ``FeatureCacheError`` an ``OSError``, ...), so existing ``except ValueError``
clauses keep working. The classes are also importable from the modules that raise them
(``sklearn_genre.audio.AudioDecodeError`` is this module's class).
"""

from __future__ import annotations

__all__ = [
    "ExtractionWarning",
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
