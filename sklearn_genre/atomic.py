"""Atomic file writes: a temporary file in the target's folder, then :func:`os.replace`.

Readers (another process, a joblib or Dask worker, a user opening a results file) see either
the previous file or the complete new one, never a partial file. On any error, Ctrl-C included,
the temporary file is removed and the previous file is left as it was.

The feature cache (:mod:`sklearn_genre.cache`) writes its entries with raw file descriptors and
maps write errors to :class:`~sklearn_genre.cache.FeatureCacheError`; everything else that
writes a finished file goes through :func:`atomic_write`.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

__all__ = ["atomic_write", "new_file_mode"]


def _read_umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


# Read once at import: os.umask can only be read by setting it, which is not thread-safe.
_UMASK = _read_umask()


def new_file_mode():
    """Permission bits of a new file as ``open()`` would create it (``0o666`` less the umask).

    :func:`tempfile.mkstemp` creates files readable by their owner only; files renamed into
    place get these bits instead, so results, models and cache entries are readable by whoever
    could read a file written the ordinary way (other users of a shared cache, Dask workers).

    Returns
    -------
    mode : int
    """
    return 0o666 & ~_UMASK


@contextlib.contextmanager
def atomic_write(path, mode="wb", *, encoding=None, fsync=False, prefix=None, suffix=".tmp"):
    """Open a temporary file beside ``path``; on success, rename it to ``path``.

    Parameters
    ----------
    path : str or path-like
        The file to write. Its folder must exist.
    mode : {"wb", "w"}, default="wb"
        Binary or text mode.
    encoding : str, default=None
        Text encoding (text mode only).
    fsync : bool, default=False
        Flush the data to disk before the rename, so the new file survives a power loss.
    prefix : str, default=None
        Prefix of the temporary file's name; default ``".<name>."`` (a hidden file).
    suffix : str, default=".tmp"
        Suffix of the temporary file's name.

    Yields
    ------
    file : file object
        The open temporary file.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> target = pathlib.Path(tempfile.mkdtemp()) / "notes.txt"
    >>> with atomic_write(target, "w", encoding="utf-8") as f:
    ...     _ = f.write("done")
    >>> target.read_text(encoding="utf-8")
    'done'
    """
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=prefix or f".{path.name}.", suffix=suffix, dir=path.parent)
    try:
        if hasattr(os, "fchmod"):  # POSIX (Windows has no mode bits to fix)
            os.fchmod(fd, new_file_mode())
        with os.fdopen(fd, mode, encoding=encoding) as f:
            yield f
            if fsync:
                f.flush()
                os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
