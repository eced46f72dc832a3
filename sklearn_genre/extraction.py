"""The extraction engine: many clips -> one feature array, for any per-clip computation.

Transformers such as :class:`~sklearn_genre.features.MelSpectrogramTransformer` say *what* is
computed for one clip (a *plan*); this module does the rest for every clip: bounded batches,
joblib parallelism, the per-file cache, the decode-failure policy, a progress bar and the
warnings of worker processes. :func:`sklearn_genre.store.extract_to_store` and the CLI's
``preprocess`` use it through the same public interface.

Interface
---------
``extract(items, plan, *, memory=None, n_jobs=None, on_error="raise", dtype="float32",
verbose=0, progress=None, out=None, start=0, checkpoint=None, checkpoint_rows=None)
-> Extraction(features, failures)``
    ``items`` is a list of ``str`` paths and/or 1-D waveforms (or a 2-D array, one waveform
    per row), already validated by the caller. Row ``i`` of ``features`` holds
    ``plan.from_file(items[i])`` or ``plan.from_waveform(items[i], "X[i]")`` cast to ``dtype``.

A plan is any small picklable object with:

``from_file(path) -> ndarray``
    Decode one file and compute its features (float32). Raise
    :class:`~sklearn_genre.exceptions.AudioDecodeError` for a file that cannot be used.
``from_waveform(y, name) -> ndarray``
    The same for a waveform given in memory; raise ``ValueError`` naming ``name`` for a bad one.
``cache_params() -> dict``
    JSON-serialisable: every parameter that changes the output (the cache key).
``cache_namespace : str``
    The cache folder of this kind of feature, with a version that changes with the numerics,
    e.g. ``"sklearn_genre-mel-v1"``.
``output_shape : tuple of int or None``
    The shape of one clip's features, or None when it depends on the clip (then every clip
    must still give the same shape as the first, or :func:`extract` raises ``ValueError``).
``progress_label : str`` (optional)
    The progress bar's label (default ``"features"``).
``describe_shape_mismatch(source, got, expected) -> str`` (optional)
    The error message when a clip's shape differs from the first clip's.

The plan is shipped to the workers with each batch, so it should hold what is expensive to
build (a filter bank, a network's weights) rather than build it per clip, and import nothing
heavy at unpickling time.

Failure policy
    ``on_error="raise"``: the first ``AudioDecodeError``/``ValueError`` propagates.
    ``on_error="warn"``: that row is NaN, an :class:`ExtractionFailure` is recorded and
    :func:`warn_failures` summarises them in one
    :class:`~sklearn_genre.exceptions.ExtractionWarning` (the caller decides when to emit it).
    Any other exception propagates. A cache write error (``FeatureCacheError``) always raises.

Parallelism
    Batches of at most 16 clips (about four per worker) run through ``joblib.Parallel(n_jobs,
    return_as="generator", prefer="threads")``; results are written in order into ``out`` as they
    arrive, so peak memory is the output plus a few batches. Threads are only a hint: a backend
    chosen with ``joblib.parallel_config(backend="loky")`` or ``joblib.parallel_backend("dask")``
    wins. Warnings raised in worker processes are recorded and re-emitted in the caller. The
    ``"multiprocessing"`` backend cannot return a generator; there the batches run as
    consecutive ``Parallel`` calls over windows of ``4 * n_jobs`` batches (same output).

Cache
    ``memory`` (a folder, a ``joblib.Memory`` or a :class:`~sklearn_genre.cache.FeatureCache`)
    caches file inputs only, under ``plan.cache_namespace``, keyed by ``plan.cache_params()``
    and the file's identity; entries are float32 and cast to ``dtype`` on the way out.
"""

from __future__ import annotations

import contextlib
import itertools
import math
import os
import warnings
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
from joblib import Parallel, delayed, effective_n_jobs

from .audio import AudioDecodeError
from .cache import FeatureCache, resolve_cache
from .exceptions import ExtractionWarning

__all__ = [
    "Extraction",
    "ExtractionFailure",
    "ExtractionWarning",
    "extract",
    "progress_bar",
    "warn_failures",
]

#: Upper bound on clips per parallel task.
_MAX_BATCH = 16

#: joblib backend hint. Decoding (libsndfile through cffi), resampling (soxr), the FFT
#: (scipy.fft) and numpy's array loops release the GIL, so threads run clips in parallel with
#: no worker start-up and no pickling of results; ``benchmarks/bench_features.py`` measured
#: them faster than loky processes at n_jobs=2. A hint only: ``joblib.parallel_config(
#: backend="loky")`` or ``"dask"`` overrides it.
_PREFER = "threads"


@dataclass(frozen=True)
class ExtractionFailure:
    """One clip that failed under ``on_error="warn"``.

    Attributes
    ----------
    index : int
        Row of the output (filled with NaN).
    source : str
        The file path, or ``"X[i]"`` for a waveform.
    reason : str
        The error message.
    """

    index: int
    source: str
    reason: str


class Extraction(NamedTuple):
    """What :func:`extract` returns (unpacks as ``features, failures``).

    Attributes
    ----------
    features : ndarray of shape (n_clips, *plan.output_shape)
        One row per item, NaN for failed clips.
    failures : list of ExtractionFailure
        Failed clips among rows ``start:`` (``on_error="warn"``; empty otherwise).
    """

    features: np.ndarray
    failures: list


def warn_failures(failures, n_clips, *, stacklevel=1):
    """Emit one :class:`ExtractionWarning` listing ``failures`` (nothing when there are none).

    Parameters
    ----------
    failures : sequence of ExtractionFailure
        The failed clips.
    n_clips : int
        How many clips were extracted in all (for the message).
    stacklevel : int, default=1
        As in :func:`warnings.warn`, counted from the caller of this function.
    """
    failures = list(failures)
    if not failures:
        return
    listing = "\n".join(f"  row {f.index}: {f.source}: {f.reason}" for f in failures)
    warnings.warn(
        ExtractionWarning(
            f"{len(failures)} of {n_clips} clips failed and were filled with NaN:\n{listing}",
            failures,
        ),
        stacklevel=stacklevel + 1,
    )


def progress_bar(total, *, verbose=1, desc="log-mel"):
    """A tqdm progress bar over ``total`` clips, or None when ``verbose`` is 0.

    Parameters
    ----------
    total : int
        Number of clips.
    verbose : int, default=1
        No bar unless > 0.
    desc : str, default="log-mel"
        The bar's label.

    Returns
    -------
    bar : tqdm.tqdm or None
        Call ``update(n)`` and ``close()`` on it; :func:`extract` takes it as ``progress``.
    """
    if not verbose or verbose <= 0:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit="clip")


def _extract_batch(batch, plan, cache, on_error, out_dtype, parent_pid=None):
    """Features of a batch of (index, item) pairs, run in a joblib worker.

    Returns the per-clip arrays (None for failures), the failures and the warnings raised on
    the way: a worker process's warnings are not shown by joblib, so they are recorded here
    and the parent re-emits them. In the parent process itself (a thread, or sequential; its
    pid is ``parent_pid``) warnings are left to take their normal course:
    ``warnings.catch_warnings`` swaps process-wide state and is not safe to enter from several
    threads at once.
    """
    capture_warnings = parent_pid is None or os.getpid() != parent_pid
    results, failures = [], []
    recording = (
        warnings.catch_warnings(record=True) if capture_warnings else contextlib.nullcontext([])
    )
    with recording as caught:
        if capture_warnings:
            warnings.simplefilter("always")
        for index, item in batch:
            is_path = isinstance(item, str)
            source = item if is_path else f"X[{index}]"
            try:
                if not is_path:
                    S = plan.from_waveform(item, source)
                elif cache is None:
                    S = plan.from_file(item)
                else:
                    S = _cached_from_file(item, plan, cache)
            except (AudioDecodeError, ValueError) as exc:
                if on_error == "raise":
                    raise
                failures.append(ExtractionFailure(index, source, str(exc)))
                results.append(None)
                continue
            results.append(S.astype(out_dtype, copy=False))
    found = [(w.category, str(w.message)) for w in caught]
    return results, failures, found


def _cached_from_file(path, plan, cache):
    try:
        key = cache.key(path, plan.cache_params())
    except FileNotFoundError:
        raise AudioDecodeError(path, "no such file") from None
    except OSError as exc:
        raise AudioDecodeError(path, f"cannot access file ({exc})") from exc
    S = cache.load(key, shape=plan.output_shape, dtype=np.float32)
    if S is not None:
        return S
    S = plan.from_file(path)
    # Only store when the file did not change while it was being decoded.
    try:
        unchanged = cache.key(path, plan.cache_params()) == key
    except OSError:
        unchanged = False
    if unchanged:
        cache.store(key, S, source=path)
    return S


def extract(
    items,
    plan,
    *,
    memory=None,
    n_jobs=None,
    on_error="raise",
    dtype="float32",
    verbose=0,
    progress=None,
    out=None,
    start=0,
    checkpoint=None,
    checkpoint_rows=None,
):
    """Fill ``out[start:]`` with ``plan``'s features of ``items[start:]``, in order.

    Parameters
    ----------
    items : list of str or ndarray of shape (n_samples,), or ndarray of shape (n_clips, \
n_samples)
        Validated clips: file paths (``str``) and/or waveforms.
    plan : object
        The per-clip computation (see the module docstring for what it must provide).
    memory : None, str, os.PathLike, joblib.Memory or FeatureCache, default=None
        Per-file cache of file inputs, in ``plan.cache_namespace`` unless a
        :class:`~sklearn_genre.cache.FeatureCache` is given.
    n_jobs : int or None, default=None
        joblib workers (threads unless a backend is chosen with ``joblib.parallel_config``).
    on_error : {"raise", "warn"}, default="raise"
        Failure policy (module docstring). With "warn" no warning is emitted here: pass the
        failures to :func:`warn_failures`.
    dtype : str or numpy dtype, default="float32"
        Output dtype.
    verbose : int, default=0
        Show a progress bar when > 0 and ``progress`` is None.
    progress : tqdm-like or None, default=None
        A bar to advance (``update(n)``) instead; not closed here, so one bar can span
        several calls.
    out : ndarray of shape (n_clips, *plan.output_shape) or None, default=None
        Destination (e.g. a memory-mapped ``.npy``); None allocates it (from the first clip's
        shape when ``plan.output_shape`` is None).
    start : int, default=0
        First row to compute; rows before it are left untouched.
    checkpoint : callable or None, default=None
        Called as ``checkpoint(rows_done, failures)`` after at least ``checkpoint_rows`` new
        rows have been written (and once at the end), where ``rows_done`` is the number of
        leading rows of ``out`` that are final.
    checkpoint_rows : int or None, default=None
        See ``checkpoint``.

    Returns
    -------
    result : Extraction
        ``(features, failures)``: ``out`` filled, and the failures among rows ``start:``.

    Raises
    ------
    AudioDecodeError
        A file cannot be decoded (``on_error="raise"``).
    ValueError
        A bad waveform (``on_error="raise"``), or clips of different shapes.
    FeatureCacheError
        A cache entry cannot be written.
    """
    if on_error not in ("raise", "warn"):
        raise ValueError(f"on_error must be 'raise' or 'warn', got {on_error!r}")
    cache = memory if isinstance(memory, FeatureCache) else resolve_cache(
        memory, namespace=plan.cache_namespace
    )
    out_dtype = np.dtype(dtype)
    n = len(items)
    shape = plan.output_shape

    n_workers = max(1, effective_n_jobs(n_jobs))
    batch_size = max(1, min(_MAX_BATCH, math.ceil((n - start) / (4 * n_workers))))
    tasks = (
        delayed(_extract_batch)(
            [(i, items[i]) for i in range(s, min(s + batch_size, n))],
            plan,
            cache,
            on_error,
            out_dtype,
            os.getpid(),
        )
        for s in range(start, n, batch_size)
    )

    if out is None and shape is not None:
        out = np.empty((n, *shape), out_dtype)
    failures, pending_nan = [], []
    own_bar = progress is None
    if own_bar:
        progress = progress_bar(n - start, verbose=verbose,
                                desc=getattr(plan, "progress_label", "features"))
    row = last_checkpoint = start
    try:
        for batch_results, batch_failures, batch_warnings in _ordered_results(
            tasks, n_jobs, window=4 * n_workers
        ):
            for category, message in batch_warnings:
                warnings.warn(message, category, stacklevel=3)
            failures.extend(batch_failures)
            for S in batch_results:
                if S is None:
                    if out is None:
                        pending_nan.append(row)
                    else:
                        out[row] = np.nan
                else:
                    if out is None:
                        out = np.empty((n, *S.shape), out_dtype)
                        for r in pending_nan:
                            out[r] = np.nan
                        pending_nan = []
                    if S.shape != out.shape[1:]:
                        raise ValueError(_shape_mismatch(plan, items, row, S, out))
                    out[row] = S
                row += 1
            if progress is not None:
                progress.update(len(batch_results))
            if (
                checkpoint is not None
                and out is not None
                and row - last_checkpoint >= (checkpoint_rows or 1)
            ):
                checkpoint(row, failures)
                last_checkpoint = row
    finally:
        if own_bar and progress is not None:
            progress.close()

    if out is None:
        raise ValueError(
            f"every one of the {n} clips failed and the plan's output shape depends on the "
            f"clip, so it is unknown; first failure: {failures[0].source}: "
            f"{failures[0].reason}"
        )
    if checkpoint is not None and row != last_checkpoint:
        checkpoint(row, failures)
    return Extraction(out, failures)


def _shape_mismatch(plan, items, row, S, out):
    explain = getattr(plan, "describe_shape_mismatch", None)
    if explain is not None:
        return explain(_source(items, row), S.shape, out.shape[1:])
    return (
        f"every clip must give features of the same shape: {_source(items, row)} gives "
        f"{S.shape}, expected {out.shape[1:]}"
    )


def _ordered_results(tasks, n_jobs, *, window):
    """Results of ``tasks`` in order, with a bounded number of results held at once.

    Uses ``joblib.Parallel(return_as="generator", prefer="threads")`` when the active backend
    supports generators (sequential, threading, loky, dask, ray). ``prefer`` is only a hint:
    a backend chosen with ``joblib.parallel_config`` wins. The ``"multiprocessing"`` backend
    cannot return a generator (``joblib.Parallel`` raises ``ValueError`` for it); there the
    tasks run as consecutive ``Parallel`` calls over ``window`` tasks each, which keeps the
    same order and memory bound but waits for the slowest task of each window. Asking
    ``Parallel`` is joblib's public way to learn what the active backend supports.
    """
    try:
        streaming = Parallel(n_jobs=n_jobs, return_as="generator", prefer=_PREFER)
    except ValueError:  # "Backend ... does not support return_as=generator"
        streaming = None
    if streaming is not None:
        yield from streaming(tasks)
        return
    parallel = Parallel(n_jobs=n_jobs, prefer=_PREFER)
    with parallel:
        while True:
            chunk = list(itertools.islice(tasks, max(1, window)))
            if not chunk:
                return
            yield from parallel(chunk)


def _source(items, row):
    item = items[row]
    return item if isinstance(item, str) else f"X[{row}]"
