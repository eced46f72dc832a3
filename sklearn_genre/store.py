"""Out-of-core feature store: log-mel features of many files in one memory-mapped ``.npy``.

:meth:`MelSpectrogramTransformer.transform <sklearn_genre.features.MelSpectrogramTransformer
.transform>` returns an in-memory array, which for FMA large (106,574 clips x 128 x 1292
float32, 70 GB) does not fit in RAM. :func:`extract_to_store` computes the same rows (same
code path, bit for bit) but writes them into an ``.npy`` file on disk as they arrive and returns
a read-only :class:`numpy.memmap`: the operating system pages rows in and out as they are read,
so neither extraction nor training needs all features in memory. The skorch classifiers of
:mod:`sklearn_genre.classifiers` accept the memmap as ``X`` without copying it (their input
checks and band statistics run in chunks, and skorch's ``Dataset`` indexes one sample at a
time), so a fit reads one mini-batch of rows at a time.

Layout
    For ``path = "feats.npy"``:

    ``feats.npy``
        The finished array: a standard NumPy ``.npy`` file (C order) of shape
        ``(n_clips, n_mels, n_frames)`` and the transformer's ``dtype`` (float32 or float16);
        row ``i`` holds the features of ``X[i]``. Read it with :func:`open_store` or
        ``np.load(path, mmap_mode="r")``.
    ``feats.npy.json``
        The sidecar, a small JSON document: ``format`` (``"sklearn_genre-feature-store"``),
        ``version``, ``shape``, ``dtype`` (NumPy ``dtype.str``), ``params`` (every transformer
        parameter that changes the values, plus ``dtype`` and ``feature_version``),
        ``sources_fingerprint`` (BLAKE2b of the ordered list of resolved source paths with
        their sizes and modification times), ``n_sources``, ``rows_done`` (leading rows that
        are final), ``failures`` (rows filled with NaN under ``on_error="warn"``: index,
        source, reason) and ``completed``.
    ``feats.npy.partial``
        The ``.npy`` being filled while extraction runs (the temporary name). When every row
        is written it is flushed and renamed to ``feats.npy`` (:func:`os.replace`, atomic),
        then the sidecar is rewritten with ``completed: true``. A reader therefore never sees
        a partial array under the final name.

Resuming
    Rows are written in order. Every ``chunk_size`` rows the memmap is flushed and the sidecar
    is rewritten atomically (temporary file + :func:`os.replace`) with the new ``rows_done``.
    When :func:`extract_to_store` finds a ``.partial`` file whose sidecar matches the
    requested parameters, sources and shape, it continues from ``rows_done``; rows after it
    are recomputed (cheaply when the transformer has a per-file cache, ``memory=``). A sidecar
    that does not match (other parameters, other or modified files) is never resumed: the
    partial file is started afresh. Killing the process at any point loses at most the rows
    after the last checkpoint. No ``fsync`` is done (as in :mod:`sklearn_genre.cache`):
    after a power loss, re-run with ``overwrite=True``.

One writer per store: two processes filling the same path at the same time are not
coordinated. Extraction itself runs in parallel through ``joblib`` (``n_jobs`` of the
transformer, or a cluster under ``joblib.parallel_backend("dask")``); the rows come back to
the calling process, which alone writes the file.

On a cluster, put the store (and the per-file cache) on a file system every worker and the
client can read; see ``docs/scaling.md``.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np
from numpy.lib.format import open_memmap
from sklearn.base import clone

from .atomic import write_json
from .cache import FEATURE_VERSION
from .exceptions import IncompleteStoreError
from .extraction import ExtractionFailure, extract, warn_failures
from .features import MelSpectrogramTransformer

__all__ = [
    "IncompleteStoreError",
    "extract_to_store",
    "open_store",
    "read_store_metadata",
]

STORE_FORMAT = "sklearn_genre-feature-store"
STORE_VERSION = 1


def _sidecar(path):
    return Path(f"{os.fspath(path)}.json")


def _partial(path):
    return Path(f"{os.fspath(path)}.partial")


def _write_json_atomic(target, doc):
    write_json(target, doc, indent=1, sort_keys=True, fsync=False)  # no fsync: see Resuming


def read_store_metadata(path):
    """Read the JSON sidecar of a feature store.

    Parameters
    ----------
    path : str or os.PathLike
        The store's ``.npy`` path (the sidecar is ``<path>.json``).

    Returns
    -------
    metadata : dict
        See the module docstring for the keys.

    Raises
    ------
    IncompleteStoreError
        If there is no readable sidecar.
    """
    sidecar = _sidecar(path)
    try:
        with open(sidecar, encoding="utf-8") as fh:
            meta = json.load(fh)
    except FileNotFoundError:
        raise IncompleteStoreError(path, f"no sidecar {str(sidecar)!r}") from None
    except (OSError, ValueError) as exc:
        raise IncompleteStoreError(path, f"unreadable sidecar {str(sidecar)!r}: {exc}") from exc
    if not isinstance(meta, dict) or meta.get("format") != STORE_FORMAT:
        raise IncompleteStoreError(path, f"{str(sidecar)!r} is not a feature store sidecar")
    return meta


def open_store(path, *, mmap_mode="r"):
    """Open a completed feature store as a memory-mapped array.

    Parameters
    ----------
    path : str or os.PathLike
        The store's ``.npy`` path.
    mmap_mode : {"r", "c"}, default="r"
        ``"r"``: read-only; ``"c"``: copy-on-write (changes stay in memory).

    Returns
    -------
    X : numpy.memmap of shape (n_clips, n_mels, n_frames)
        The features, float32 or float16.

    Raises
    ------
    IncompleteStoreError
        If the extraction has not completed, the sidecar is missing, or the file does not
        match the sidecar's shape and dtype.
    """
    if mmap_mode not in ("r", "c"):
        raise ValueError(f"mmap_mode must be 'r' or 'c', got {mmap_mode!r}")
    meta = read_store_metadata(path)
    if not meta.get("completed"):
        raise IncompleteStoreError(
            path,
            f"extraction did not complete ({meta.get('rows_done', 0)} of "
            f"{meta['shape'][0]} rows written); run extract_to_store again to resume",
        )
    try:
        X = np.load(path, mmap_mode=mmap_mode, allow_pickle=False)
    except FileNotFoundError:
        raise IncompleteStoreError(path, "the sidecar says completed but the file is missing") \
            from None
    except ValueError as exc:
        raise IncompleteStoreError(path, f"unreadable .npy file: {exc}") from exc
    if list(X.shape) != list(meta["shape"]) or X.dtype.str != meta["dtype"]:
        raise IncompleteStoreError(
            path,
            f"the file holds shape {X.shape} {X.dtype.str}, the sidecar says "
            f"{tuple(meta['shape'])} {meta['dtype']}",
        )
    return X


def _sources_fingerprint(paths):
    """BLAKE2b of the ordered (resolved path, size, mtime_ns) list; missing files count too."""
    h = hashlib.blake2b(digest_size=16)
    for p in paths:
        try:
            resolved = Path(p).resolve()
            st = resolved.stat()
            ident = [str(resolved), st.st_size, st.st_mtime_ns]
        except OSError:
            ident = [os.path.abspath(p), None, None]
        h.update(json.dumps(ident).encode("utf-8"))
        h.update(b"\n")
    return h.hexdigest()


def _mismatch(meta, expected):
    return [key for key, value in expected.items() if meta.get(key) != value]


def extract_to_store(transformer, X, path, *, chunk_size=256, overwrite=False):
    """Extract features of many files into an on-disk ``.npy`` store; return it memory-mapped.

    The rows equal ``transformer.transform(X)`` bit for bit, but they are written to ``path``
    as they are computed, so memory use does not grow with the number of files. An interrupted
    run is resumed by calling again with the same arguments; a completed store with the same
    parameters and sources is returned without recomputing anything.

    Parameters
    ----------
    transformer : MelSpectrogramTransformer
        Its parameters set the features (``duration`` must not be None: the store needs a
        fixed frame count); ``n_jobs`` and ``memory`` (the per-file cache, strongly advised
        for large runs) are used as in ``transform``. If it is not fitted, a clone is fitted
        on ``X``; the transformer given is not modified.
    X : sequence of str or os.PathLike
        Audio files, one row each, in this order.
    path : str or os.PathLike
        The ``.npy`` file to create (its directory must exist). ``<path>.json`` and, while
        running, ``<path>.partial`` are created next to it.
    chunk_size : int, default=256
        Rows between checkpoints (flush + sidecar update): the most work an interruption
        loses. It does not bound memory (rows go straight to the file) and does not slow
        down parallel extraction (there is no barrier at a checkpoint).
    overwrite : bool, default=False
        Replace a store at ``path`` that holds other features (other parameters or files).
        Without it that is an error; a matching completed store is always reused.

    Returns
    -------
    X_store : numpy.memmap of shape (n_clips, n_mels, n_frames)
        Read-only; dtype is the transformer's ``dtype``.

    Raises
    ------
    FileExistsError
        ``path`` holds a store of other features and ``overwrite`` is False.
    AudioDecodeError
        A file cannot be decoded (``on_error="raise"``); the rows before the last checkpoint
        are kept and the next call resumes from there.

    Warns
    -----
    ExtractionWarning
        With ``on_error="warn"``, listing every row filled with NaN (also in the sidecar's
        ``failures``).

    See Also
    --------
    open_store : Open a completed store.
    read_store_metadata : Its sidecar.

    Examples
    --------
    >>> from sklearn_genre.features import MelSpectrogramTransformer
    >>> from sklearn_genre.store import extract_to_store
    >>> mel = MelSpectrogramTransformer(n_jobs=-1, memory="cache/")  # doctest: +SKIP
    >>> X = extract_to_store(mel, paths, "fma_large_mel.npy")  # doctest: +SKIP
    >>> CNNGRUAttentionClassifier().fit(X, y)  # doctest: +SKIP
    """
    if not isinstance(transformer, MelSpectrogramTransformer):
        raise TypeError(
            f"transformer must be a MelSpectrogramTransformer, got {type(transformer).__name__}"
        )
    if not isinstance(chunk_size, int) or isinstance(chunk_size, bool) or chunk_size < 1:
        raise ValueError(f"chunk_size must be a positive int, got {chunk_size!r}")
    if isinstance(X, (str, bytes, os.PathLike)):
        raise TypeError("X must be a sequence of audio paths; wrap a single path in a list")
    items = list(X)
    for i, item in enumerate(items):
        if not isinstance(item, (str, os.PathLike)):
            raise TypeError(
                f"extract_to_store takes audio file paths; X[{i}] is {type(item).__name__} "
                "(waveforms already in memory: use transform)"
            )
    items = [os.fspath(item) for item in items]
    if transformer.duration is None:
        raise ValueError(
            "extract_to_store needs a fixed clip length: set the transformer's duration "
            "(duration=None gives a frame count per clip)"
        )
    if not hasattr(transformer, "mel_basis_"):
        transformer = clone(transformer).fit(items)
    path = Path(path)
    sidecar, partial = _sidecar(path), _partial(path)

    plan = transformer.extraction_plan()
    dtype = np.dtype(transformer.dtype)
    shape = [len(items), plan.n_mels, plan.n_frames]
    expected = {
        "format": STORE_FORMAT,
        "version": STORE_VERSION,
        "shape": shape,
        "dtype": dtype.str,
        "params": {
            **plan.cache_params(),
            "dtype": dtype.name,
            "feature_version": FEATURE_VERSION,
        },
        "sources_fingerprint": _sources_fingerprint(items),
        "n_sources": len(items),
    }
    # JSON round trip, so comparisons with a sidecar read back see the same types.
    expected = json.loads(json.dumps(expected))

    try:
        meta = read_store_metadata(path)
    except IncompleteStoreError:
        meta = None
    matches = meta is not None and not _mismatch(meta, expected)

    if path.exists():
        if matches and not meta.get("completed") and not partial.exists() \
                and int(meta.get("rows_done", 0)) == shape[0]:
            # Interrupted between the rename and the final sidecar write.
            meta["completed"] = True
            _write_json_atomic(sidecar, meta)
        if matches and meta.get("completed"):
            _warn_failures(meta, len(items))
            return open_store(path)
        if not overwrite:
            differs = "no sidecar" if meta is None else ", ".join(_mismatch(meta, expected))
            if matches:
                differs = "unfinished"
            raise FileExistsError(
                f"{str(path)!r} already holds a feature store of other features "
                f"(differs in: {differs or 'nothing'}); pass overwrite=True to replace it"
            )
        path.unlink()

    rows_done, failures = 0, []
    out = None
    if matches and not meta.get("completed") and partial.exists():
        try:
            out = open_memmap(partial, mode="r+")
        except (ValueError, OSError):
            out = None
        if out is not None and (list(out.shape) != shape or out.dtype != dtype):
            del out
            out = None
        if out is not None:
            rows_done = min(int(meta.get("rows_done", 0)), shape[0])
            failures = [
                ExtractionFailure(int(f["index"]), f["source"], f["reason"])
                for f in meta.get("failures", [])
                if int(f["index"]) < rows_done
            ]
    if out is None:
        out = open_memmap(partial, mode="w+", dtype=dtype, shape=tuple(shape))

    def checkpoint(rows, new_failures, target=out):
        target.flush()
        _write_json_atomic(
            sidecar,
            {
                **expected,
                "rows_done": int(rows),
                "failures": [
                    {"index": f.index, "source": f.source, "reason": f.reason}
                    for f in (*failures, *new_failures)
                ],
                "completed": False,
            },
        )

    checkpoint(rows_done, [])
    if rows_done < shape[0]:
        _, new_failures = extract(
            items,
            plan,
            memory=transformer.memory,
            n_jobs=transformer.n_jobs,
            on_error=transformer.on_error,
            dtype=dtype,
            verbose=transformer.verbose,
            out=out,
            start=rows_done,
            checkpoint=checkpoint,
            checkpoint_rows=chunk_size,
        )
        failures = [*failures, *new_failures]
    out.flush()
    del out, checkpoint  # unmap before the rename (required on Windows)
    os.replace(partial, path)
    meta = {
        **expected,
        "rows_done": shape[0],
        "failures": [{"index": f.index, "source": f.source, "reason": f.reason}
                     for f in failures],
        "completed": True,
    }
    _write_json_atomic(sidecar, meta)
    _warn_failures(meta, len(items))
    return open_store(path)


def _warn_failures(meta, n):
    failures = [ExtractionFailure(int(f["index"]), f["source"], f["reason"])
                for f in meta.get("failures", [])]
    warn_failures(failures, n, stacklevel=3)
