"""Saving and loading fitted models with a version check and a clear error for bad files.

:func:`save_model` writes an ordinary joblib file whose object records the file format,
the sklearn_genre version and the versions of the packages the model depends on, with a
SHA-256 digest of the model's bytes. :func:`load_model` checks all of that *before* the model
itself is unpickled, and raises :class:`ModelLoadError` naming the file and the cause: missing,
not a model file, corrupt or truncated, written by an incompatible version, or not a model.

The file stays a joblib file of the model: ``joblib.load(path)`` returns the fitted estimator
itself (the checks run during unpickling), so code that loads models with joblib keeps
working. Pickling or joblib-dumping a fitted Pipeline directly (without :func:`save_model`)
works as before, and :func:`load_model` accepts such files too (without version information).

Compatibility rule: a model loads when its format version is one this code reads and its
sklearn_genre major version equals the installed one; a model from a newer minor version
loads with a warning. Pickles run code when loaded: load models only from sources you trust.
"""

from __future__ import annotations

import contextvars
import hashlib
import io
import pickle
import warnings
import zlib
from pathlib import Path

import joblib

from .atomic import atomic_write
from .exceptions import ModelLoadError
from .provenance import package_versions

__all__ = ["FORMAT_NAME", "FORMAT_VERSION", "ModelLoadError", "load_model", "save_model"]

#: Name and version of the file format written by :func:`save_model`.
FORMAT_NAME = "sklearn_genre.model"
FORMAT_VERSION = 1

# Package versions recorded with a model (what unpickling it depends on).
_PACKAGES = ("sklearn_genre", "scikit-learn", "skorch", "torch", "numpy", "librosa", "joblib")

# load_model collects the header of the model it loads here (unpickling cannot return it).
_HEADERS = contextvars.ContextVar("sklearn_genre_model_headers", default=None)


def _version():
    from . import __version__

    return __version__


def _major_minor(version):
    parts = str(version).split(".")
    try:
        return int(parts[0]), int(parts[1]) if len(parts) > 1 else 0
    except ValueError:
        return None


def _restore_model(header, payload):
    """Unpickling hook of a saved model: check ``header``, then unpickle ``payload``."""
    if not isinstance(header, dict) or header.get("format") != FORMAT_NAME:
        raise ModelLoadError("not a sklearn_genre model file (unknown header)",
                             reason="not_a_model_file")
    fmt = header.get("format_version")
    saved = header.get("versions", {}).get("sklearn_genre")
    if not isinstance(fmt, int) or fmt > FORMAT_VERSION:
        raise ModelLoadError(
            f"written in model file format {fmt!r} by sklearn_genre {saved}; sklearn_genre "
            f"{_version()} reads format {FORMAT_VERSION} and older: upgrade sklearn_genre",
            reason="incompatible_version",
        )
    here, there = _major_minor(_version()), _major_minor(saved)
    if there is None or here[0] != there[0]:
        raise ModelLoadError(
            f"written by sklearn_genre {saved}, incompatible with the installed "
            f"{_version()} (a different major version): load it with sklearn_genre "
            f"{saved} (the file records the versions of every package it needs) or retrain",
            reason="incompatible_version",
        )
    if there > here:
        warnings.warn(
            f"the model was written by sklearn_genre {saved}, newer than the installed "
            f"{_version()}; it may use features this version lacks",
            UserWarning, stacklevel=2,
        )
    if hashlib.sha256(payload).hexdigest() != header.get("sha256"):
        raise ModelLoadError("the model data does not match its SHA-256 digest: the file is "
                             "corrupt", reason="corrupt")
    headers = _HEADERS.get()
    if headers is not None:
        headers.append(header)
    return joblib.load(io.BytesIO(payload))


class _SavedModel:
    """What :func:`save_model` pickles: unpickles as ``_restore_model(header, payload)``."""

    def __init__(self, header, payload):
        self.header = header
        self.payload = payload

    def __reduce__(self):
        return _restore_model, (self.header, self.payload)


def save_model(model, path, *, compress=3):
    """Save a fitted model (e.g. a Pipeline) with its format and package versions.

    Parameters
    ----------
    model : estimator
        The fitted model; usually a ``Pipeline([("mel", MelSpectrogramTransformer(...)),
        ("classifier", ...)])``.
    path : str or path-like
        Destination file (conventionally ``*.joblib``). Written atomically: a temporary file
        in the same folder renamed into place, so an existing file is either kept or replaced
        by a complete one, never left half-written.
    compress : int, default=3
        zlib compression level of the model bytes (0: none).

    Returns
    -------
    path : pathlib.Path

    See Also
    --------
    load_model : the checked counterpart.

    Notes
    -----
    The file is a joblib file: ``joblib.load(path)`` returns ``model`` (after the same version
    and integrity checks as :func:`load_model`, without the friendlier error).
    """
    path = Path(path)
    buffer = io.BytesIO()
    joblib.dump(model, buffer, compress=compress)
    payload = buffer.getvalue()
    header = {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "estimator": f"{type(model).__module__}.{type(model).__qualname__}",
        # sklearn_genre's own entry is _version(), the one _restore_model compares with.
        "versions": {**package_versions(_PACKAGES), "sklearn_genre": _version()},
        "sha256": hashlib.sha256(payload).hexdigest(),
    }
    with atomic_write(path, "wb", fsync=True) as f:
        joblib.dump(_SavedModel(header, payload), f)
    return path


# How pickle and joblib's compressed files begin: pickle's PROTO opcode, zlib, gzip, bz2,
# xz, lzma, lz4.
_PICKLE_PREFIXES = (b"\x80", b"\x78", b"\x1f\x8b", b"BZh", b"\xfd7zXZ", b"]\x00\x00",
                    b"\x04\x22\x4d\x18")


def _looks_like_pickle(path):
    """Whether the file starts like a pickle or a compressed joblib file."""
    with open(path, "rb") as f:
        return f.read(8).startswith(_PICKLE_PREFIXES)


def _is_model(obj):
    from sklearn.base import BaseEstimator
    from sklearn.utils.validation import check_is_fitted

    if not (isinstance(obj, BaseEstimator) and hasattr(obj, "predict")):
        return False
    try:
        check_is_fitted(obj)
    except Exception:  # NotFittedError, or estimators check_is_fitted cannot inspect
        return False
    return True


def load_model(path, *, return_info=False):
    """Load a model written by :func:`save_model` (or a joblib/pickle of a fitted estimator).

    Parameters
    ----------
    path : str or path-like
        The model file.
    return_info : bool, default=False
        Also return the file's header: ``format``, ``format_version``, ``estimator``,
        ``versions`` (package versions at save time) and ``sha256``; None for a plain
        joblib/pickle file.

    Returns
    -------
    model : estimator
        The fitted model.
    info : dict or None
        Only with ``return_info=True``.

    Raises
    ------
    ModelLoadError
        With the file name and the cause: the file is missing (``reason="missing"``); it is
        not a joblib/pickle file at all (``"not_a_model_file"``); it is truncated or its
        bytes do not match the recorded digest (``"corrupt"``); it was written by an
        incompatible format or major version (``"incompatible_version"``); or it holds
        something other than a fitted estimator with ``predict`` (``"not_a_model"``).
    """
    path = Path(path)
    if not path.is_file():
        reason = "is a directory, not a file" if path.is_dir() else "does not exist"
        raise ModelLoadError(f"cannot load the model {path}: the file {reason}", path=str(path),
                             reason="missing")
    headers = []
    token = _HEADERS.set(headers)
    try:
        obj = joblib.load(path)
    except ModelLoadError as exc:
        raise ModelLoadError(f"cannot load the model {path}: {exc}", path=str(path),
                             reason=exc.reason) from exc
    except MemoryError:
        raise
    except Exception as exc:  # unpickling fails in many ways (UnpicklingError, EOFError, ...)
        if isinstance(exc, (pickle.UnpicklingError, EOFError, zlib.error, ValueError,
                            KeyError, IndexError, TypeError, OSError)) \
                and not _looks_like_pickle(path):
            raise ModelLoadError(
                f"cannot load the model {path}: it is not a model file (not a joblib or "
                f"pickle file: {type(exc).__name__}: {exc})", path=str(path),
                reason="not_a_model_file",
            ) from exc
        if isinstance(exc, (ModuleNotFoundError, AttributeError, ImportError)):
            raise ModelLoadError(
                f"cannot load the model {path}: it needs code that is not installed or has "
                f"changed ({type(exc).__name__}: {exc}); it was probably written with other "
                "package versions", path=str(path), reason="incompatible_version",
            ) from exc
        raise ModelLoadError(
            f"cannot load the model {path}: the file is corrupt or truncated "
            f"({type(exc).__name__}: {exc})", path=str(path), reason="corrupt",
        ) from exc
    finally:
        _HEADERS.reset(token)
    if not _is_model(obj):
        raise ModelLoadError(
            f"cannot load the model {path}: it holds a {type(obj).__module__}."
            f"{type(obj).__qualname__}, not a fitted estimator with predict", path=str(path),
            reason="not_a_model",
        )
    info = headers[-1] if headers else None
    return (obj, info) if return_info else obj
