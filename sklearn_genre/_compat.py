"""The only place sklearn_genre touches non-public names of its dependencies (filled in below)."""

from joblib.parallel import SequentialBackend, get_active_backend
from sklearn.base import _fit_context as fit_context
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions

__all__ = [
    "HasMethods",
    "Interval",
    "SequentialBackend",
    "StrOptions",
    "fit_context",
    "get_active_backend",
]
