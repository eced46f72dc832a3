"""Log-mel spectrogram features: :class:`MelSpectrogramTransformer`.

The transformer turns audio files (or waveforms) into an array of log-mel spectrograms of shape
``(n_samples, n_mels, n_frames)``, the input of the networks in :mod:`sklearn_genre.classifiers`.

Numerics
    Per clip: :func:`sklearn_genre.audio.load_audio` (soundfile decode, channel mean, soxr
    resampling: the same samples as ``librosa.load``), crop or zero-pad to the fixed length,
    a centred STFT (periodic Hann window, ``n_fft`` samples, zero padding of ``n_fft // 2`` at
    both ends, i.e. ``center=True, pad_mode="constant"``), power spectrum, the mel filter bank
    of :func:`librosa.filters.mel` (Slaney scale and norm, built once per parameter set and
    applied as a sparse matrix) and ``power_to_db``. Everything stays float32. For the same
    parameters the output equals ``librosa.power_to_db(librosa.feature.melspectrogram(...))``
    on ``librosa.load(...)`` within :data:`PARITY_TOLERANCE_DB` = 0.01 dB (max abs difference;
    the difference comes from float32 FFT rounding and summation order), which the test suite
    asserts on short clips. On the default recipe ``benchmarks/bench_features.py`` measured a
    max abs difference of 1.75e-4 dB over 40 generated 30 s mp3 clips
    (``benchmarks/results/bench_features.md``).

Speed and memory
    The output array is allocated once and filled in order from bounded batches computed by
    ``joblib.Parallel(n_jobs=..., return_as="generator", prefer="threads")``; peak memory is
    the output plus a few batches of work, independent of the number of files. Threads are
    only joblib's default here: decoding (libsndfile through cffi), soxr, ``scipy.fft``,
    scipy's sparse product and numpy's loops release the GIL (``docs/scaling.md`` has the
    measurement), so threads scale without worker start-up, pickled results or a copy of the
    imports per process. A backend the user chooses wins:
    ``joblib.parallel_config(backend="loky")`` runs worker processes, and
    ``joblib.parallel_backend("dask")`` distributes the batches. The ``"multiprocessing"``
    joblib backend cannot return a generator; under it the batches run as consecutive
    ``Parallel`` calls over windows of ``4 * n_jobs`` batches (same output, same memory bound,
    each window waits for its slowest batch). Per clip, the STFT runs over blocks of 128
    frames that stay in cache, and non-finite samples are caught on the output rather than by
    a pass over the decoded samples. See ``benchmarks/bench_features.py`` for the measured
    speed against the reference extractor and the decode floor, and
    ``benchmarks/bench_scaling.py`` / ``docs/scaling.md`` for threads, loky and Dask scaling.
    For more clips than fit in memory, write the same rows into an on-disk store with
    :func:`sklearn_genre.store.extract_to_store`.
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import math
import os
import warnings
from dataclasses import dataclass, field
from numbers import Integral, Real

import numpy as np
import scipy.fft
import scipy.sparse
from joblib import Parallel, delayed, effective_n_jobs
from joblib.parallel import SequentialBackend, get_active_backend
from sklearn.base import BaseEstimator, TransformerMixin, _fit_context
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils.validation import check_array, check_is_fitted

from .audio import RESAMPLE_QUALITIES, AudioDecodeError, load_audio, validate_waveform
from .cache import FEATURE_VERSION, resolve_cache

__all__ = [
    "MelSpectrogramTransformer",
    "ExtractionFailure",
    "ExtractionWarning",
    "PARITY_TOLERANCE_DB",
    "ShortClipWarning",
    "log_mel_spectrogram",
]

#: Documented bound of the max abs difference (dB) between our output and librosa's
#: (``librosa.load`` + ``librosa.feature.melspectrogram`` + ``librosa.power_to_db``) for the
#: same parameters, over all values within 80 dB of the clip's peak (everything with the
#: default ``top_db=80``), checked by the test suite. Further down, at powers below ~1e-8 of
#: the peak, float32 FFT rounding dominates and differences of a few hundredths of a dB occur.
PARITY_TOLERANCE_DB = 0.01

#: Upper bound on clips per parallel task.
_MAX_BATCH = 16

#: joblib backend hint. Decoding (libsndfile through cffi), resampling (soxr), the FFT
#: (scipy.fft) and numpy's array loops release the GIL, so threads run clips in parallel with
#: no worker start-up and no pickling of results; ``benchmarks/bench_features.py`` measured
#: them faster than loky processes at n_jobs=2. A hint only: ``joblib.parallel_config(
#: backend="loky")`` or ``"dask"`` overrides it.
_PREFER = "threads"


class ExtractionWarning(UserWarning):
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


@functools.lru_cache(maxsize=16)
def _mel_bank(sr, n_fft, n_mels, fmin, fmax):
    """Mel filter bank (dense, sparse CSR) of shape (n_mels, 1 + n_fft // 2), float32."""
    import librosa  # deferred: importing librosa costs ~0.5 s

    dense = librosa.filters.mel(
        sr=sr, n_fft=n_fft, n_mels=n_mels, fmin=fmin, fmax=fmax, dtype=np.float32
    )
    dense.setflags(write=False)
    return dense, scipy.sparse.csr_matrix(dense)


@functools.lru_cache(maxsize=16)
def _hann(n_fft):
    """Periodic Hann window of length n_fft (``scipy.signal.get_window('hann', n_fft)``)."""
    n = np.arange(n_fft, dtype=np.float64)
    w = (0.5 - 0.5 * np.cos(2.0 * np.pi * n / n_fft)).astype(np.float32)
    w.setflags(write=False)
    return w


def log_mel_spectrogram(
    y,
    *,
    sr=22050,
    n_fft=2048,
    hop_length=512,
    n_mels=128,
    fmin=0.0,
    fmax=None,
    ref="max",
    amin=1e-10,
    top_db=80.0,
):
    """Log-mel spectrogram of one waveform (the per-clip core of the transformer).

    Equivalent to ``librosa.power_to_db(librosa.feature.melspectrogram(y=y, sr=sr,
    n_fft=n_fft, hop_length=hop_length, n_mels=n_mels, fmin=fmin, fmax=fmax, power=2.0,
    center=True, pad_mode="constant"), ref=np.max if ref == "max" else ref, amin=amin,
    top_db=top_db)`` within :data:`PARITY_TOLERANCE_DB`.

    Parameters
    ----------
    y : ndarray of shape (n_samples,)
        Finite float32 waveform sampled at ``sr``.
    sr, n_fft, hop_length, n_mels, fmin, fmax, ref, amin, top_db
        See :class:`MelSpectrogramTransformer`.

    Returns
    -------
    S_db : ndarray of shape (n_mels, n_frames), float32
        ``n_frames = 1 + (n_samples + 2 * (n_fft // 2) - n_fft) // hop_length``, which is
        ``1 + n_samples // hop_length`` for an even ``n_fft``.
    """
    _, mel_sparse = _mel_bank(sr, n_fft, n_mels, float(fmin), fmax)
    return _log_mel(
        np.asarray(y, dtype=np.float32),
        mel_sparse,
        n_fft=n_fft,
        hop_length=hop_length,
        ref=ref,
        amin=amin,
        top_db=top_db,
    )


#: Frames per STFT block in :func:`_log_mel`. The block's windowed frames and spectrum
#: (about 1 MiB each for ``n_fft=2048``) stay in cache and are reused from the allocator's
#: free lists, where one whole-clip spectrum (10 MiB for 30 s) is fresh memory that the kernel
#: zero-fills page by page on every clip. ``benchmarks/bench_features.py`` reports the log-mel
#: time per clip.
_FRAME_BLOCK = 128


def _n_frames(n_samples, n_fft, hop_length):
    """STFT frames of a centred (``n_fft // 2`` padded) signal of ``n_samples`` samples."""
    return 1 + (n_samples + 2 * (n_fft // 2) - n_fft) // hop_length


def _log_mel(y, mel_sparse, *, n_fft, hop_length, ref, amin, top_db):
    """Log-mel of a float32 waveform with a prebuilt sparse mel bank; see log_mel_spectrogram.

    The STFT runs over blocks of :data:`_FRAME_BLOCK` frames. Interior blocks window a view of
    ``y``; only the first and last blocks copy their samples into a zero-padded buffer (the
    ``center=True, pad_mode="constant"`` padding), so the clip is never copied whole. Each
    block does exactly what a whole-clip pass does, so the result is bit-identical to it.
    """
    n = y.shape[0]
    pad = n_fft // 2
    n_frames = _n_frames(n, n_fft, hop_length)
    window = _hann(n_fft)[:, None]
    mel = np.empty((mel_sparse.shape[0], n_frames), dtype=np.float32)
    # (n_fft, block) in Fortran order, i.e. one contiguous frame per column: the windowing
    # writes it sequentially and pocketfft transforms contiguous frames along axis 0.
    windowed = np.empty((_FRAME_BLOCK, n_fft), dtype=np.float32).T
    for first in range(0, n_frames, _FRAME_BLOCK):
        last = min(first + _FRAME_BLOCK, n_frames)
        lo = first * hop_length - pad  # first sample of the block in y's coordinates
        hi = (last - 1) * hop_length - pad + n_fft  # one past its last sample
        if lo >= 0 and hi <= n:
            segment = y[lo:hi]
        else:  # an edge block: zero padding outside y
            segment = np.zeros(hi - lo, dtype=np.float32)
            a, b = max(lo, 0), min(hi, n)
            segment[a - lo : b - lo] = y[a:b]
        frames = np.lib.stride_tricks.sliding_window_view(segment, n_fft)[::hop_length]
        block = np.multiply(frames.T, window, out=windowed[:, : last - first])
        spec = scipy.fft.rfft(block, axis=0, overwrite_x=True)  # complex64 (n_bins, block)
        power = np.square(spec.real)
        power += np.square(spec.imag)
        mel[:, first:last] = mel_sparse @ power

    # Same precision as librosa.power_to_db: float32 for ref=np.max (so a silent clip gives
    # exactly 0 dB), float64 for a fixed reference.
    if isinstance(ref, str):
        peak = mel.max() if mel.size else np.float32(0.0)
        ref_db = np.float32(10.0) * np.log10(np.maximum(np.float32(amin), peak))
    else:
        ref_db = 10.0 * math.log10(max(amin, float(ref)))
    np.maximum(mel, np.float32(amin), out=mel)
    np.log10(mel, out=mel)
    mel *= np.float32(10.0)
    mel -= np.float32(ref_db)
    if top_db is not None:
        np.maximum(mel, mel.max() - np.float32(top_db), out=mel)
    return mel


@dataclass(frozen=True)
class _Plan:
    """Everything a worker needs to turn one clip into features (small and picklable)."""

    sr: int
    n_mels: int
    n_fft: int
    hop_length: int
    n_samples: int | None  # fixed waveform length, None = keep the clip's own length
    offset: float
    fmin: float
    fmax: float | None
    ref: str | float
    amin: float
    top_db: float | None
    res_type: str
    # The sparse mel bank, built once in the parent and shipped with each task, so that
    # workers never import librosa (about 0.5 s per fresh worker process).
    mel_basis: scipy.sparse.csr_matrix = field(compare=False, repr=False)

    def cache_params(self):
        """Every parameter that changes the output, for the cache key."""
        return {
            "kind": "log-mel",
            "sr": self.sr,
            "n_mels": self.n_mels,
            "n_fft": self.n_fft,
            "hop_length": self.hop_length,
            "n_samples": self.n_samples,
            "offset": self.offset,
            "fmin": self.fmin,
            "fmax": self.fmax,
            "ref": self.ref,
            "amin": self.amin,
            "top_db": self.top_db,
            "res_type": self.res_type,
        }

    @property
    def n_frames(self):
        """Frames per clip for a fixed length, None for ``n_samples=None``."""
        if self.n_samples is None:
            return None
        return _n_frames(self.n_samples, self.n_fft, self.hop_length)

    def fix_length(self, y):
        if self.n_samples is None or y.shape[0] == self.n_samples:
            return y
        if y.shape[0] > self.n_samples:
            return y[: self.n_samples]
        return np.pad(y, (0, self.n_samples - y.shape[0]))

    def features(self, y):
        return _log_mel(
            self.fix_length(y),
            self.mel_basis,
            n_fft=self.n_fft,
            hop_length=self.hop_length,
            ref=self.ref,
            amin=self.amin,
            top_db=self.top_db,
        )

    def from_file(self, path):
        """Features of one file; non-finite samples are caught on the (smaller) output."""
        kwargs = dict(
            sr=self.sr,
            mono=True,
            offset=self.offset,
            duration=None if self.n_samples is None else self.n_samples / self.sr,
            res_type=self.res_type,
        )
        y = load_audio(path, check_finite=False, **kwargs)
        S = self.features(y)
        if not np.isfinite(S).all():
            # NaN or inf samples always reach the output. Decode again with the check on,
            # which raises the precise AudioDecodeError; otherwise finite samples overflowed.
            load_audio(path, check_finite=True, **kwargs)
            raise AudioDecodeError(path, _overflow_reason(y))
        return S

    def from_waveform(self, y, name):
        y = validate_waveform(y, name=name)
        start = int(self.offset * self.sr)
        if start:
            if start >= y.shape[0]:
                raise ValueError(
                    f"{name} has {y.shape[0]} samples, fewer than offset={self.offset} s"
                )
            y = y[start:]
        S = self.features(y)
        if not np.isfinite(S).all():
            raise ValueError(f"{name}: {_overflow_reason(y)}")
        return S


def _overflow_reason(y):
    return (
        "the log-mel spectrogram is not finite although every sample is: sample magnitudes "
        f"up to {float(np.abs(y).max()):.3g} overflow the float32 power spectrum"
    )


def _extract_batch(batch, plan, cache, on_error, out_dtype, capture_warnings=True):
    """Features of a batch of (index, item) pairs, run in a joblib worker.

    Returns the per-clip arrays (None for failures), the failures and the warnings raised on
    the way: a worker process's warnings are not shown by joblib, so they are recorded here
    and the parent re-emits them. In a thread of the parent process (``capture_warnings``
    False) warnings are left to take their normal course: ``warnings.catch_warnings`` swaps
    process-wide state and is not safe to enter from several threads at once.
    """
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
    shape = None
    if plan.n_samples is not None:
        shape = (plan.n_mels, plan.n_frames)
    S = cache.load(key, shape=shape, dtype=np.float32)
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


class MelSpectrogramTransformer(TransformerMixin, BaseEstimator):
    """Audio files or waveforms -> log-mel spectrograms.

    The reference recipe (22050 Hz, 128 mels, ``n_fft=2048``, ``hop_length=512``, 30 s,
    ``power_to_db(ref=np.max)``) is the default.

    Parameters
    ----------
    sr : int, default=22050
        Sampling rate (Hz) the audio is resampled to; waveforms given directly are assumed to
        be at this rate.
    n_mels : int, default=128
        Number of mel bands.
    n_fft : int, default=2048
        FFT / window length in samples.
    hop_length : int, default=512
        Samples between frames.
    duration : float or None, default=30.0
        Clip length in seconds. Each waveform is cropped or zero-padded at the end to
        ``int(duration * sr)`` samples, which gives ``n_frames = 1 + int(duration * sr) //
        hop_length`` frames for an even ``n_fft`` (1292 for the defaults); files are only
        decoded up to ``offset + duration``. Padded frames are silent, i.e. at the ``top_db`` floor.
        ``None`` keeps each clip's length, which then must be the same for all clips.
    offset : float, default=0.0
        Start this many seconds into each clip.
    fmin : float, default=0.0
        Lowest mel filter edge (Hz).
    fmax : float or None, default=None
        Highest mel filter edge (Hz); None means ``sr / 2``.
    ref : "max" or float, default="max"
        Reference power of ``power_to_db``: ``"max"`` uses each clip's maximum (``ref=np.max``,
        the reference work's choice: every clip peaks at 0 dB), a float is a fixed reference
        (levels comparable across clips). A silent clip gives 0 dB everywhere with ``"max"``
        and ``10 * log10(amin / ref)`` with a fixed reference, never NaN or -inf.
    amin : float, default=1e-10
        Floor applied to the power before the logarithm.
    top_db : float or None, default=80.0
        Values below ``max - top_db`` (per clip) are raised to it; None disables this.
    dtype : {"float32", "float16"}, default="float32"
        Output dtype; float16 halves memory. Values are computed in float32 and rounded to
        the nearest float16: the error is at most half the float16 spacing, which is 0.0625 dB
        at magnitudes from 64 to 128 dB, so <= 0.03125 dB in the [-80, 0] dB range.
    res_type : str, default="soxr_hq"
        soxr resampling quality (``"soxr_vhq"``, ``"soxr_hq"``, ``"soxr_mq"``, ``"soxr_lq"``,
        ``"soxr_qq"``); ``"soxr_hq"`` is librosa's default and gives parity.
    n_jobs : int or None, default=None
        Number of joblib workers (None means 1 unless in a ``joblib.parallel_config``
        context; -1 means all cores). joblib is asked to prefer threads (the work releases
        the GIL); a backend set with ``joblib.parallel_config`` or
        ``joblib.parallel_backend`` (loky processes, Dask) is used instead.
    memory : None, str, os.PathLike or joblib.Memory, default=None
        Directory of the per-file feature cache (see :mod:`sklearn_genre.cache`), or a
        ``joblib.Memory`` whose ``location`` is used. Only file inputs are cached.
    verbose : int, default=0
        Show a tqdm progress bar when > 0.
    on_error : {"raise", "warn"}, default="raise"
        What to do when a clip cannot be decoded or is invalid. ``"raise"`` raises the
        :class:`~sklearn_genre.audio.AudioDecodeError` (or ``ValueError`` for a bad waveform).
        ``"warn"`` fills that clip's row with NaN, keeps going, then emits one
        :class:`ExtractionWarning` listing every failed clip (also in its ``failures``
        attribute and in :attr:`failures_`). Rows are never dropped, so ``X`` and ``y`` stay
        aligned in a ``Pipeline``; remove the NaN rows (``np.isnan(Xt).any(axis=(1, 2))``)
        before fitting a model.

    Attributes
    ----------
    n_frames_ : int or None
        Frames per clip (None when ``duration`` is None: set by the input).
    n_samples_fixed_ : int or None
        Waveform length every clip is cropped/padded to (None when ``duration`` is None).
    mel_basis_ : ndarray of shape (n_mels, 1 + n_fft // 2)
        The mel filter bank (float32, read-only).
    n_features_in_ : int
        Waveform length, only when fit on a 2-D numeric array.
    failures_ : list of ExtractionFailure
        Failed clips of the last ``transform`` (only set when ``on_error="warn"``).

    See Also
    --------
    sklearn_genre.audio.load_audio : The decoder used for files.
    log_mel_spectrogram : The per-clip computation.

    Notes
    -----
    ``get_feature_names_out`` is not provided: the output is 3-D, so there is no list of
    feature columns, and ``set_output(transform="pandas")`` does not apply. Flatten with
    ``Xt.reshape(len(Xt), -1)`` if a 2-D matrix is needed.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_genre.features import MelSpectrogramTransformer
    >>> X = np.random.default_rng(0).standard_normal((2, 22050)).astype(np.float32)
    >>> mel = MelSpectrogramTransformer(n_mels=64, duration=1.0).fit(X)
    >>> mel.transform(X).shape
    (2, 64, 44)
    """

    _parameter_constraints: dict = {
        "sr": [Interval(Integral, 1, None, closed="left")],
        "n_mels": [Interval(Integral, 1, None, closed="left")],
        "n_fft": [Interval(Integral, 2, None, closed="left")],
        "hop_length": [Interval(Integral, 1, None, closed="left")],
        "duration": [Interval(Real, 0, None, closed="neither"), None],
        "offset": [Interval(Real, 0, None, closed="left")],
        "fmin": [Interval(Real, 0, None, closed="left")],
        "fmax": [Interval(Real, 0, None, closed="neither"), None],
        "ref": [StrOptions({"max"}), Interval(Real, 0, None, closed="neither")],
        "amin": [Interval(Real, 0, None, closed="neither")],
        "top_db": [Interval(Real, 0, None, closed="left"), None],
        "dtype": [StrOptions({"float32", "float16"})],
        "res_type": [StrOptions(set(RESAMPLE_QUALITIES))],
        "n_jobs": [Integral, None],
        "memory": [None, str, os.PathLike, HasMethods(["cache"])],
        "verbose": ["verbose"],
        "on_error": [StrOptions({"raise", "warn"})],
    }

    def __init__(
        self,
        *,
        sr=22050,
        n_mels=128,
        n_fft=2048,
        hop_length=512,
        duration=30.0,
        offset=0.0,
        fmin=0.0,
        fmax=None,
        ref="max",
        amin=1e-10,
        top_db=80.0,
        dtype="float32",
        res_type="soxr_hq",
        n_jobs=None,
        memory=None,
        verbose=0,
        on_error="raise",
    ):
        self.sr = sr
        self.n_mels = n_mels
        self.n_fft = n_fft
        self.hop_length = hop_length
        self.duration = duration
        self.offset = offset
        self.fmin = fmin
        self.fmax = fmax
        self.ref = ref
        self.amin = amin
        self.top_db = top_db
        self.dtype = dtype
        self.res_type = res_type
        self.n_jobs = n_jobs
        self.memory = memory
        self.verbose = verbose
        self.on_error = on_error

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = True  # (n_clips, n_samples) waveforms
        tags.input_tags.string = True  # file paths
        tags.transformer_tags.preserves_dtype = [self.dtype]
        return tags

    # ------------------------------------------------------------------ validation
    def _check_params(self):
        nyquist = self.sr / 2
        fmax = nyquist if self.fmax is None else self.fmax
        if fmax > nyquist:
            raise ValueError(f"fmax={self.fmax} is above the Nyquist frequency sr / 2 = {nyquist}")
        if self.fmin >= fmax:
            raise ValueError(f"fmin={self.fmin} must be below fmax={fmax}")
        if self.duration is not None and int(self.duration * self.sr) < 1:
            raise ValueError(
                f"duration={self.duration} s is shorter than one sample at sr={self.sr}"
            )

    def _validate_X(self, X, *, reset):
        """Return the clips of X as a list-like of str paths / 1-D arrays (or a 2-D array)."""
        X = _paths_from_frame(X)
        if isinstance(X, (str, bytes, os.PathLike)):
            raise TypeError(
                "X must be a sequence of audio paths or waveforms, got a single "
                f"{type(X).__name__}; wrap it in a list: [X]"
            )
        if scipy.sparse.issparse(X):
            raise TypeError(
                "X must be audio paths or dense waveforms; sparse input is not supported"
            )
        if not isinstance(X, (list, tuple)) and hasattr(X, "__array__"):
            arr = np.asarray(X)
            if arr.dtype.kind in "fiubc" or (arr.dtype == object and arr.ndim == 2):
                return self._validate_waveform_matrix(X, reset=reset)
            X = list(arr) if arr.ndim else [arr.item()]
        try:
            items = list(X)
        except TypeError:
            raise TypeError(
                f"X must be a sequence of audio paths or waveforms, got {type(X).__name__}"
            ) from None
        if len(items) == 0:
            raise ValueError("X is empty: 0 clips")
        out = []
        for i, item in enumerate(items):
            if isinstance(item, (str, os.PathLike)):
                out.append(os.fspath(item))
            elif isinstance(item, bytes):
                raise TypeError(f"X[{i}] is bytes; pass file paths as str or os.PathLike")
            else:
                arr = np.asarray(item)
                if arr.ndim != 1 or arr.dtype.kind not in "fiub":
                    raise ValueError(
                        f"X[{i}] must be a str/PathLike path or a 1-D numeric waveform, got "
                        f"{type(item).__name__} with shape {arr.shape} and dtype {arr.dtype}"
                    )
                if self.on_error == "raise":
                    validate_waveform(arr, name=f"X[{i}]")
                out.append(arr)
        if reset and hasattr(self, "n_features_in_"):
            del self.n_features_in_
        return out

    def _validate_waveform_matrix(self, X, *, reset):
        """Validate a 2-D numeric X of shape (n_clips, n_samples) (one clip per row)."""
        arr = check_array(
            X,
            dtype=[np.float32, np.float64],
            ensure_all_finite=self.on_error == "raise",
            input_name="X",
        )
        if reset:
            self.n_features_in_ = arr.shape[1]
        elif self.duration is None and hasattr(self, "n_features_in_"):
            # Without a fixed duration the frame count follows the waveform length, so a
            # different length than in fit would change the output shape.
            if arr.shape[1] != self.n_features_in_:
                raise ValueError(
                    f"X has {arr.shape[1]} features, but {type(self).__name__} is expecting "
                    f"{self.n_features_in_} features as input (waveform length; with "
                    "duration=None it sets the number of frames)."
                )
        return arr

    def _plan(self):
        fmin, fmax = float(self.fmin), None if self.fmax is None else float(self.fmax)
        _, mel_sparse = _mel_bank(int(self.sr), int(self.n_fft), int(self.n_mels), fmin, fmax)
        return _Plan(
            sr=int(self.sr),
            n_mels=int(self.n_mels),
            n_fft=int(self.n_fft),
            hop_length=int(self.hop_length),
            n_samples=None if self.duration is None else int(self.duration * self.sr),
            offset=float(self.offset),
            fmin=fmin,
            fmax=fmax,
            ref=self.ref if isinstance(self.ref, str) else float(self.ref),
            amin=float(self.amin),
            top_db=None if self.top_db is None else float(self.top_db),
            res_type=self.res_type,
            mel_basis=mel_sparse,
        )

    # ------------------------------------------------------------------ API
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Validate the parameters and the input; build the mel filter bank.

        Parameters
        ----------
        X : sequence of str or os.PathLike, sequence of ndarray of shape (n_samples,), or \
ndarray of shape (n_clips, n_samples), or pandas DataFrame/Series
            Audio files, or waveforms at ``sr``. A DataFrame gives its ``path`` column (or
            its only column) of paths, a Series its values.
        y : None
            Ignored.

        Returns
        -------
        self : MelSpectrogramTransformer
        """
        self._check_params()
        self._validate_X(X, reset=True)
        plan = self._plan()
        self.n_samples_fixed_ = plan.n_samples
        self.n_frames_ = plan.n_frames
        self.mel_basis_, _ = _mel_bank(plan.sr, plan.n_fft, plan.n_mels, plan.fmin, plan.fmax)
        return self

    def transform(self, X):
        """Compute the log-mel spectrograms.

        Parameters
        ----------
        X : sequence of str or os.PathLike, sequence of ndarray of shape (n_samples,), or \
ndarray of shape (n_clips, n_samples), or pandas DataFrame/Series
            Audio files, or waveforms at ``sr``. A DataFrame gives its ``path`` column (or
            its only column) of paths, a Series its values.

        Returns
        -------
        Xt : ndarray of shape (n_clips, n_mels, n_frames)
            Log-mel spectrograms in dB, of ``dtype``. With ``on_error="warn"``, rows of failed
            clips are NaN.

        Raises
        ------
        AudioDecodeError
            A file cannot be decoded (``on_error="raise"``).
        FeatureCacheError
            A cache entry cannot be written (whatever ``on_error``).

        Warns
        -----
        ShortClipWarning
            With a fixed ``duration``, when clips have sound in less than half the window
            (shorter clips are padded with silence at the end): how many, the shortest, and
            the first few (``warning.clips`` lists them all). Judged from the output: the
            trailing frames at the clip's floor value (padding or digital silence).
        """
        check_is_fitted(self, "mel_basis_")
        items = self._validate_X(X, reset=False)
        out, failures = self._extract(items)
        n = len(items)
        if self.duration is not None:
            _warn_short_clips(out, items, sr=self.sr, hop_length=self.hop_length,
                              n_fft=self.n_fft, duration=self.duration)
        if self.on_error == "warn":
            self.failures_ = failures
            if failures:
                listing = "\n".join(f"  row {f.index}: {f.source}: {f.reason}" for f in failures)
                warnings.warn(
                    ExtractionWarning(
                        f"{len(failures)} of {n} clips failed and were filled with NaN:\n"
                        f"{listing}",
                        failures,
                    ),
                    stacklevel=2,
                )
        return out

    def _extract(self, items, *, out=None, start=0, checkpoint=None, checkpoint_rows=None):
        """Fill ``out[start:]`` with the features of ``items[start:]``, in order.

        Shared by :meth:`transform` (``out`` allocated here) and
        :func:`sklearn_genre.store.extract_to_store` (``out`` is a memory-mapped ``.npy``).

        Parameters
        ----------
        items : list of str or ndarray, or ndarray of shape (n_clips, n_samples)
            Validated clips (see ``_validate_X``).
        out : ndarray of shape (n_clips, n_mels, n_frames) or None
            Destination; None allocates it (or, with ``duration=None``, allocates it from
            the first clip's shape).
        start : int
            First row to compute; rows before it are left untouched.
        checkpoint : callable or None
            Called as ``checkpoint(rows_done, failures)`` after at least ``checkpoint_rows``
            new rows have been written (and once at the end), where ``rows_done`` is the
            number of leading rows of ``out`` that are final.
        checkpoint_rows : int or None
            See ``checkpoint``.

        Returns
        -------
        out : ndarray of shape (n_clips, n_mels, n_frames)
        failures : list of ExtractionFailure
            Failures among rows ``start:`` (``on_error="warn"``).
        """
        plan = self._plan()
        cache = resolve_cache(self.memory, namespace=f"sklearn_genre-mel-v{FEATURE_VERSION}")
        out_dtype = np.dtype(self.dtype)
        n = len(items)

        n_workers = max(1, effective_n_jobs(self.n_jobs))
        batch_size = max(1, min(_MAX_BATCH, math.ceil((n - start) / (4 * n_workers))))
        backend, _ = get_active_backend(prefer=_PREFER)
        in_threads = getattr(backend, "uses_threads", False)  # threading or sequential
        tasks = (
            delayed(_extract_batch)(
                [(i, items[i]) for i in range(s, min(s + batch_size, n))],
                plan,
                cache,
                self.on_error,
                out_dtype,
                not in_threads,
            )
            for s in range(start, n, batch_size)
        )

        if out is None and plan.n_samples is not None:
            out = np.empty((n, plan.n_mels, plan.n_frames), out_dtype)
        failures, pending_nan = [], []
        progress = _progress(n - start, self.verbose)
        row = last_checkpoint = start
        try:
            for batch_results, batch_failures, batch_warnings in _ordered_results(
                tasks, self.n_jobs, backend, window=4 * n_workers
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
                            raise ValueError(
                                "with duration=None every clip must give the same number of "
                                f"frames: {_source(items, row)} gives {S.shape[1]}, expected "
                                f"{out.shape[2]}; set duration to crop/pad clips"
                            )
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
            if progress is not None:
                progress.close()

        if out is None:
            raise ValueError(
                f"every one of the {n} clips failed and duration=None leaves the frame count "
                f"unknown; first failure: {failures[0].source}: {failures[0].reason}"
            )
        if checkpoint is not None and row != last_checkpoint:
            checkpoint(row, failures)
        return out, failures


def _ordered_results(tasks, n_jobs, backend, *, window):
    """Results of ``tasks`` in order, with a bounded number of results held at once.

    Uses ``joblib.Parallel(return_as="generator", prefer="threads")`` when the active backend
    supports generators (sequential, threading, loky, dask, ray). ``prefer`` is only a hint:
    a backend chosen with ``joblib.parallel_config`` wins. The ``"multiprocessing"`` backend
    cannot return a generator (``joblib.Parallel`` raises ``ValueError`` for it); there the
    tasks run as consecutive ``Parallel`` calls over ``window`` tasks each, which keeps the
    same order and memory bound but waits for the slowest task of each window. ``backend``
    is the active one, ``joblib.parallel.get_active_backend(prefer="threads")[0]``.
    """
    if getattr(backend, "supports_return_generator", False) or isinstance(
        backend, SequentialBackend
    ):
        yield from Parallel(n_jobs=n_jobs, return_as="generator", prefer=_PREFER)(tasks)
        return
    parallel = Parallel(n_jobs=n_jobs, prefer=_PREFER)
    with parallel:
        while True:
            chunk = list(itertools.islice(tasks, max(1, window)))
            if not chunk:
                return
            yield from parallel(chunk)


def _paths_from_frame(X):
    """The paths of a pandas DataFrame (``path`` column, or its only column) or Series.

    scikit-learn transformers take DataFrames; a table of file paths is what a metadata file
    gives. Other input (and a numeric DataFrame of waveforms) is returned unchanged.
    """
    columns = getattr(X, "columns", None)
    if columns is not None and hasattr(X, "iloc"):  # a DataFrame
        if "path" in columns:
            return X["path"].tolist()
        if len(columns) == 1 and X.iloc[:, 0].dtype.kind not in "fiub":
            return X.iloc[:, 0].tolist()
        if all(X[c].dtype.kind in "fiub" for c in columns):
            return X  # waveforms, one per row
        raise ValueError(
            "a DataFrame X must hold the audio paths in a 'path' column or as its only "
            f"column (or waveforms as numeric rows); got columns {list(columns)}"
        )
    if hasattr(X, "to_list") and hasattr(X, "dtype") and X.dtype.kind not in "fiub":
        return X.to_list()  # a Series of paths
    return X


#: A clip with sound in less than this fraction of the window is reported by ``transform``.
SHORT_CLIP_FRACTION = 0.5


class ShortClipWarning(UserWarning):
    """Clips with sound in less than half the window (shorter clips are padded with silence).

    Attributes
    ----------
    clips : list of (int, str, float)
        Row, source and seconds of sound (before the silent end) of each such clip.
    window : float
        The window (``duration``) in seconds.
    """

    def __init__(self, message, clips=(), window=None):
        super().__init__(message)
        self.clips = list(clips)
        self.window = window


def _sound_seconds(Xt, *, sr, hop_length, n_fft):
    """Seconds before each clip's silent end: the trailing frames at the clip's floor value.

    Zero padding (a clip shorter than the window) gives frames at the floor in every band
    (``max - top_db``, or the ``amin`` floor); so does digital silence. Frame ``k`` is
    centred on sample ``k * hop_length`` and spans ``n_fft`` samples, so the first silent
    frame ``k`` gives a length of about ``k * hop_length - n_fft / 2`` (within one hop).
    """
    n, _, n_frames = Xt.shape
    seconds = np.full(n, n_frames * hop_length / sr)
    for row in range(n):
        S = Xt[row]
        floor = S.min()
        if not np.isfinite(floor):
            continue
        at_floor = (S == floor).all(axis=0)
        trailing = int(np.argmin(at_floor[::-1])) if not at_floor.all() else n_frames
        if trailing:
            seconds[row] = max(0, (n_frames - trailing) * hop_length - n_fft // 2) / sr
    return seconds


def _warn_short_clips(Xt, items, *, sr, hop_length, n_fft, duration):
    """Count clips with sound in less than half the window and say so (ShortClipWarning)."""
    seconds = _sound_seconds(Xt, sr=sr, hop_length=hop_length, n_fft=n_fft)
    short = np.flatnonzero(seconds < SHORT_CLIP_FRACTION * duration)
    if not short.size:
        return
    clips = [(int(r), _source(items, r), float(min(seconds[r], duration))) for r in short]
    warnings.warn(
        short_clip_warning(clips, len(seconds), duration, what="clips",
                           judged="shorter than half the {window} window or silent for most "
                           "of it"),
        stacklevel=3,
    )


def short_clip_warning(clips, n, window, *, what="clips",
                       judged="shorter than half the {window} window"):
    """The :class:`ShortClipWarning` for ``clips`` (row, source, seconds) out of ``n``.

    Shared by :meth:`MelSpectrogramTransformer.transform` and
    :func:`sklearn_genre.inference.predict_tracks`, so both count and word it the same way.
    """
    shortest = min(clips, key=lambda c: c[2])
    listing = ", ".join(f"{src} ({sec:.1f} s)" for _, src, sec in clips[:3])
    more = f" and {len(clips) - 3} more" if len(clips) > 3 else ""
    judged = judged.format(window=f"{window:g} s")
    return ShortClipWarning(
        f"{len(clips)} of {n} {what} are {judged} (shortest {shortest[2]:.1f} s of sound; "
        f"shorter ones are padded with silence to the window): {listing}{more}",
        clips, float(window))


def _source(items, row):
    item = items[row]
    return item if isinstance(item, str) else f"X[{row}]"


def _progress(total, verbose):
    if not verbose or verbose <= 0:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, desc="log-mel", unit="clip")
