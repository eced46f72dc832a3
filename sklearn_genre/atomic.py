"""Atomic file writes: a temporary file in the target's folder, then :func:`os.replace`.

Readers (another process, a joblib or Dask worker, a user opening a results file) see either
the previous file or the complete new one, never a partial file. On any error, Ctrl-C included,
the temporary file is removed and the previous file is left as it was.

Everything in the package that writes a finished file goes through :func:`atomic_write`
(feature cache entries, store sidecars, results, reports, figures, models, generated audio),
every JSON document through :func:`write_json`, and every finished folder (checkpoints, the
generated synthetic data set) through :func:`atomic_directory`. Two files are renamed into
place by their own code because they are resumable partial files, not temporary ones: a
download's ``.part`` and a feature store's ``.partial`` (both kept on purpose when interrupted).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from pathlib import Path

__all__ = ["atomic_directory", "atomic_write", "new_file_mode", "write_json"]


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


def write_json(path, obj, *, indent=2, sort_keys=False, fsync=True):
    """Write a JSON document atomically: the one JSON writer of the package.

    Parameters
    ----------
    path : str or os.PathLike
        The target file.
    obj : dict or list
        Plain JSON values (convert numpy and pandas values first, e.g. with
        :func:`sklearn_genre.provenance.to_jsonable`); NaN and infinity are refused.
    indent : int or None, default=2
        As in :func:`json.dumps`.
    sort_keys : bool, default=False
        As in :func:`json.dumps`.
    fsync : bool, default=True
        Flush to the disk before the rename (results that must survive a power loss);
        False for frequently rewritten bookkeeping.

    Returns
    -------
    path : pathlib.Path
    """
    path = Path(path)
    text = json.dumps(obj, indent=indent, sort_keys=sort_keys, allow_nan=False)
    with atomic_write(path, "w", encoding="utf-8", fsync=fsync) as f:
        f.write(text)
        f.write("\n")
    return path


@contextlib.contextmanager
def atomic_directory(path, *, prefix=None, replace=False):
    """Build a folder under a temporary name next to ``path``, then rename it to ``path``.

    Parameters
    ----------
    path : str or os.PathLike
        The finished folder.
    prefix : str, default=None
        Prefix of the temporary folder's name; default ``".<name>.tmp-"`` (hidden).
    replace : bool, default=False
        Remove an existing ``path`` before the rename (otherwise :func:`os.replace` fails
        on a non-empty folder).

    Yields
    ------
    tmp : pathlib.Path
        The temporary folder to fill. On any error it is removed and ``path`` is untouched.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=prefix or f".{path.name}.tmp-", dir=path.parent))
    try:
        os.chmod(tmp, 0o777 & ~_UMASK)  # mkdtemp's 0700 would hide it from other users
        yield tmp
        if replace and path.exists():
            shutil.rmtree(path)
        os.replace(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
