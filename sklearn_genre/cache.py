"""On-disk per-file feature cache (the ``memory`` parameter of the feature transformers).

One entry holds the finished feature array of one audio file for one set of parameters, so a
repeated or interrupted extraction only computes what is missing.

Key
    ``blake2b`` (128 bit, hex) of a canonical JSON document holding: the namespace (feature
    kind and :data:`FEATURE_VERSION`), every parameter that changes the output (chosen by the
    caller, e.g. ``sr``, ``n_mels``, ``ref``, ...), and the file's identity: its resolved
    absolute path, size in bytes and modification time in nanoseconds. Editing, replacing or
    touching the file changes the key, so a stale entry is never served. Parameters that do not
    change the values (``n_jobs``, ``verbose``, the output ``dtype``: entries are stored in
    float32 and cast on the way out) are left out, so such runs share entries.

Layout
    ``<root>/<namespace>/<key[:2]>/<key>.feat`` where ``<root>`` is the path given as
    ``memory`` (or ``joblib.Memory.location``) and ``<namespace>`` is e.g.
    ``sklearn_genre-mel-v1``. Each entry file is::

        8 bytes   magic  b"SKGFEAT1"
        4 bytes   header length N (unsigned little-endian)
        N bytes   UTF-8 JSON header: {"shape": [...], "dtype": "<f4", "crc32": int,
                  "nbytes": int, "source": "<path>", ...}
        nbytes    the array's bytes in C order

Atomicity
    An entry is written to a temporary file (``.tmp-*``) in its final directory and moved into
    place with :func:`os.replace`, which is atomic on POSIX and Windows file systems. Readers
    therefore see either no entry or a complete one, whatever the number of concurrent writers
    (joblib/loky workers, Dask workers, separate processes); two writers of the same key write
    the same bytes and the last rename wins. No ``fsync`` is done: after a power loss an entry
    may be empty or partial, which the checksum catches.

Integrity
    Every read checks the magic, the header, the byte count, the expected shape/dtype (when the
    caller gives them) and the CRC-32 of the array bytes. A bad entry is reported with a
    :class:`CacheCorruptionWarning`, deleted and reported as a miss, so the caller recomputes
    it. A corrupt entry is never returned.

Write errors
    Any ``OSError`` while writing (disk full, permissions, read-only file system) raises
    :class:`FeatureCacheError` naming the entry; the temporary file is removed, so no partial
    entry is left behind.

Waveforms given directly (not files) are not cached: they are already decoded, and hashing
their content would cost a sizeable part of the extraction itself.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import struct
import warnings
import zlib
from pathlib import Path

import numpy as np

from .atomic import atomic_write
from .exceptions import CacheCorruptionWarning, FeatureCacheError

__all__ = [
    "FEATURE_VERSION",
    "CacheCorruptionWarning",
    "FeatureCache",
    "FeatureCacheError",
    "resolve_cache",
]

#: Version of the feature computation. Bump it whenever a change of code changes the values
#: produced for the same parameters; every old cache entry then misses.
FEATURE_VERSION = 1

_MAGIC = b"SKGFEAT1"
_LEN = struct.Struct("<I")
_SUFFIX = ".feat"


def _write_fully(fd, data):
    """Write all of ``data`` (bytes-like) to the file descriptor ``fd``."""
    view = memoryview(data).cast("B")
    while view:
        n = os.write(fd, view)
        view = view[n:]


def _file_identity(path):
    """(resolved path, size, mtime_ns) of an existing file."""
    p = Path(path).resolve()
    st = p.stat()
    return str(p), st.st_size, st.st_mtime_ns


class FeatureCache:
    """A directory of per-file feature arrays with atomic writes and checksummed reads.

    Parameters
    ----------
    location : str or os.PathLike
        Root directory; created on first write.
    namespace : str, default="sklearn_genre-mel-v1"
        Sub-directory separating feature kinds and :data:`FEATURE_VERSION` values.

    See Also
    --------
    resolve_cache : Build one from a transformer's ``memory`` parameter.
    """

    def __init__(self, location, namespace=f"sklearn_genre-mel-v{FEATURE_VERSION}"):
        self.location = Path(location)
        self.namespace = namespace

    def __repr__(self):
        return f"FeatureCache({str(self.location)!r}, namespace={self.namespace!r})"

    @property
    def directory(self):
        """Path: the namespace directory holding the entries."""
        return self.location / self.namespace

    def key(self, path, params):
        """Cache key of ``path`` computed with ``params``.

        Parameters
        ----------
        path : str or os.PathLike
            An existing audio file.
        params : dict
            Every parameter that changes the output (JSON-serialisable values).

        Returns
        -------
        key : str
            32 hex characters.

        Raises
        ------
        OSError
            If the file cannot be ``stat``-ed.
        """
        resolved, size, mtime_ns = _file_identity(path)
        doc = {
            "namespace": self.namespace,
            "feature_version": FEATURE_VERSION,
            "params": params,
            "file": resolved,
            "size": size,
            "mtime_ns": mtime_ns,
        }
        blob = json.dumps(doc, sort_keys=True, separators=(",", ":"), default=repr)
        return hashlib.blake2b(blob.encode("utf-8"), digest_size=16).hexdigest()

    def entry_path(self, key):
        """Path of the entry file for ``key``.

        Parameters
        ----------
        key : str
            A cache key from :meth:`key`.

        Returns
        -------
        path : pathlib.Path
            ``directory / key[:2] / (key + ".feat")``; it need not exist.
        """
        return self.directory / key[:2] / f"{key}{_SUFFIX}"

    def _corrupt(self, entry, reason):
        warnings.warn(
            CacheCorruptionWarning(
                f"corrupt feature cache entry {str(entry)!r} ({reason}); "
                "it was deleted and will be recomputed"
            ),
            stacklevel=3,
        )
        try:
            entry.unlink()
        except FileNotFoundError:  # another worker got there first
            pass
        except OSError:  # cannot delete (read-only cache): it is still never returned
            pass
        return None

    def load(self, key, *, shape=None, dtype=None):
        """Return the cached array for ``key``, or None on a miss.

        Parameters
        ----------
        key : str
            From :meth:`key`.
        shape : tuple of int, optional
            Expected shape; an entry of another shape counts as corrupt.
        dtype : numpy dtype, optional
            Expected dtype; an entry of another dtype counts as corrupt.

        Returns
        -------
        array : ndarray or None
            A read-only array, or None when there is no (valid) entry. A corrupt entry gives a
            :class:`CacheCorruptionWarning`, is deleted and gives None.
        """
        entry = self.entry_path(key)
        try:
            with open(entry, "rb") as fh:
                blob = fh.read()
        except FileNotFoundError:
            return None
        except OSError as exc:
            return self._corrupt(entry, f"unreadable: {exc}")
        head = len(_MAGIC) + _LEN.size
        if len(blob) < head or blob[: len(_MAGIC)] != _MAGIC:
            return self._corrupt(entry, "bad magic number or truncated header")
        (n_header,) = _LEN.unpack_from(blob, len(_MAGIC))
        try:
            header = json.loads(blob[head : head + n_header].decode("utf-8"))
            entry_shape = tuple(int(s) for s in header["shape"])
            entry_dtype = np.dtype(header["dtype"])
            crc = int(header["crc32"])
            nbytes = int(header["nbytes"])
        except (ValueError, KeyError, TypeError, UnicodeDecodeError) as exc:
            return self._corrupt(entry, f"unreadable header ({exc})")
        data = memoryview(blob)[head + n_header :]
        if len(data) != nbytes or nbytes != int(np.prod(entry_shape)) * entry_dtype.itemsize:
            return self._corrupt(entry, f"expected {nbytes} data bytes, found {len(data)}")
        if zlib.crc32(data) != crc:
            return self._corrupt(entry, "checksum mismatch")
        if shape is not None and entry_shape != tuple(shape):
            return self._corrupt(entry, f"shape {entry_shape} instead of {tuple(shape)}")
        if dtype is not None and entry_dtype != np.dtype(dtype):
            return self._corrupt(entry, f"dtype {entry_dtype} instead of {np.dtype(dtype)}")
        return np.frombuffer(data, dtype=entry_dtype).reshape(entry_shape)

    def store(self, key, array, *, source=None):
        """Write ``array`` as the entry for ``key``, atomically.

        Parameters
        ----------
        key : str
            From :meth:`key`.
        array : ndarray
            Numeric array to store (written in C order).
        source : str, optional
            The file the features came from, recorded in the header for humans.

        Returns
        -------
        entry : Path
            The entry written.

        Raises
        ------
        FeatureCacheError
            On any ``OSError`` (e.g. ``ENOSPC``); no partial file is left behind.
        """
        array = np.ascontiguousarray(array)
        entry = self.entry_path(key)
        header = json.dumps(
            {
                "shape": list(array.shape),
                "dtype": array.dtype.str,
                "crc32": zlib.crc32(memoryview(array).cast("B")),
                "nbytes": array.nbytes,
                "source": None if source is None else os.fspath(source),
                "feature_version": FEATURE_VERSION,
            }
        ).encode("utf-8")
        try:
            entry.parent.mkdir(parents=True, exist_ok=True)
            # atomic_write removes the temporary file on any error.
            with atomic_write(entry, "wb", prefix=".tmp-", suffix=_SUFFIX) as f:
                fd = f.fileno()  # unbuffered writes: the array is not copied into a buffer
                _write_fully(fd, _MAGIC + _LEN.pack(len(header)) + header)
                _write_fully(fd, array)
        except OSError as exc:
            reason = exc.strerror or str(exc)
            if exc.errno == errno.ENOSPC:
                reason = f"no space left on device ({reason})"
            raise FeatureCacheError(entry, reason, exc.errno) from exc
        return entry

    def entries(self):
        """List of the entry files currently in the cache."""
        if not self.directory.is_dir():
            return []
        return sorted(self.directory.glob(f"*/*{_SUFFIX}"))

    def clear(self):
        """Delete every entry (and leftover temporary file) of this namespace."""
        if not self.directory.is_dir():
            return
        for sub in self.directory.iterdir():
            if sub.is_dir():
                for f in sub.iterdir():
                    if f.suffix == _SUFFIX:
                        f.unlink(missing_ok=True)


def resolve_cache(memory, namespace=f"sklearn_genre-mel-v{FEATURE_VERSION}"):
    """Turn a ``memory`` parameter into a :class:`FeatureCache` (or None).

    Parameters
    ----------
    memory : None, str, os.PathLike or joblib.Memory
        A directory, or a ``joblib.Memory`` whose ``location`` is used (a Memory with
        ``location=None`` means no caching, as in joblib).
    namespace : str
        See :class:`FeatureCache`.

    Returns
    -------
    cache : FeatureCache or None
    """
    if memory is None:
        return None
    if isinstance(memory, (str, os.PathLike)):
        return FeatureCache(memory, namespace)
    location = getattr(memory, "location", None)
    if location is None:
        if hasattr(memory, "cache"):
            return None
        raise TypeError(
            "memory must be None, a str or os.PathLike directory or a joblib.Memory, "
            f"got {type(memory).__name__}"
        )
    return FeatureCache(location, namespace)
