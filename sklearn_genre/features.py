"""Log-mel spectrogram features: :class:`MelSpectrogramTransformer`.

The transformer turns audio files (or waveforms) into an array of log-mel spectrograms of shape
``(n_samples, n_mels, n_frames)``, the input of the networks in :mod:`sklearn_genre.classifiers`.

Numerics
    Per clip (:class:`LogMelPlan`): :func:`sklearn_genre.audio.load_audio` (soundfile decode,
    channel mean, soxr resampling: the same samples as ``librosa.load``), crop or zero-pad to
    the fixed length, then :func:`sklearn_genre.logmel.log_mel_spectrogram` (centred STFT,
    power, Slaney mel bank built once per parameter set, ``power_to_db``; float32). For the
    same parameters the output equals ``librosa.power_to_db(librosa.feature.melspectrogram(...))``
    on ``librosa.load(...)`` within :data:`PARITY_TOLERANCE_DB` = 0.01 dB (max abs difference;
    the difference comes from float32 FFT rounding and summation order), which the test suite
    asserts on short clips. On the default recipe ``benchmarks/bench_features.py`` measured a
    max abs difference of 1.75e-4 dB over 40 generated 30 s mp3 clips
    (``benchmarks/results/bench_features.md``).

Speed and memory
    ``transform`` hands the plan to the extraction engine, :func:`sklearn_genre.extraction.extract`:
    bounded batches through ``joblib.Parallel(return_as="generator", prefer="threads")``
    written in order into one preallocated output, so peak memory is the output plus a few
    batches. Threads are only a hint (decoding, soxr, ``scipy.fft`` and numpy release the GIL,
    ``docs/scaling.md`` has the measurement); ``joblib.parallel_config(backend="loky")`` or
    ``joblib.parallel_backend("dask")`` wins. See :mod:`sklearn_genre.extraction` for the
    details, ``benchmarks/bench_features.py`` for the measured speed against the reference
    extractor, and ``benchmarks/bench_scaling.py`` / ``docs/scaling.md`` for scaling. For more
    clips than fit in memory, write the same rows into an on-disk store with
    :func:`sklearn_genre.store.extract_to_store`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from numbers import Integral, Real

import numpy as np
import scipy.sparse
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_array, check_is_fitted

from ._compat import HasMethods, Interval, StrOptions, fit_context
from .audio import RESAMPLE_QUALITIES, AudioDecodeError, load_audio, validate_waveform
from .cache import FEATURE_VERSION
from .exceptions import ExtractionWarning
from .extraction import ExtractionFailure, extract, warn_failures
from .logmel import PARITY_TOLERANCE_DB, _log_mel, _mel_bank, log_mel_spectrogram, n_frames

__all__ = [
    "MelSpectrogramTransformer",
    "LogMelPlan",
    "ExtractionFailure",
    "ExtractionWarning",
    "PARITY_TOLERANCE_DB",
    "log_mel_spectrogram",
]


@dataclass(frozen=True)
class LogMelPlan:
    """The per-clip computation of :class:`MelSpectrogramTransformer`: decode, crop/pad, log-mel.

    A plan in the sense of :mod:`sklearn_genre.extraction` (small and picklable; the mel bank
    travels with it). Get one from :meth:`MelSpectrogramTransformer.extraction_plan`.

    Attributes
    ----------
    sr, n_mels, n_fft, hop_length, offset, fmin, fmax, ref, amin, top_db, res_type
        The transformer's parameters (normalised types).
    n_samples : int or None
        Fixed waveform length, None = keep each clip's own length.
    mel_basis : scipy.sparse.csr_matrix of shape (n_mels, 1 + n_fft // 2)
        The filter bank.
    """

    cache_namespace = f"sklearn_genre-mel-v{FEATURE_VERSION}"
    progress_label = "log-mel"

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
        return n_frames(self.n_samples, n_fft=self.n_fft, hop_length=self.hop_length)

    @property
    def output_shape(self):
        """``(n_mels, n_frames)`` for a fixed length, None for ``n_samples=None``."""
        if self.n_samples is None:
            return None
        return (self.n_mels, self.n_frames)

    def describe_shape_mismatch(self, source, got, expected):
        """The error message when clips of different lengths meet (``duration=None``).

        Parameters
        ----------
        source : str
            The clip (path or ``"X[i]"``).
        got, expected : tuple of int
            Its features' shape ``(n_mels, n_frames)``, and the first clip's.

        Returns
        -------
        message : str
        """
        return (
            "with duration=None every clip must give the same number of frames: "
            f"{source} gives {got[1]}, expected {expected[1]}; set duration to crop/pad clips"
        )

    def fix_length(self, y):
        """Crop or zero-pad a waveform to ``n_samples`` (unchanged when that is None).

        Parameters
        ----------
        y : ndarray of shape (n,)

        Returns
        -------
        y_fixed : ndarray of shape (n_samples,)
        """
        if self.n_samples is None or y.shape[0] == self.n_samples:
            return y
        if y.shape[0] > self.n_samples:
            return y[: self.n_samples]
        return np.pad(y, (0, self.n_samples - y.shape[0]))

    def features(self, y):
        """Log-mel of a waveform after :meth:`fix_length`.

        Parameters
        ----------
        y : ndarray of shape (n,), float32

        Returns
        -------
        S_db : ndarray of shape (n_mels, n_frames), float32
        """
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
        """Features of one file; non-finite samples are caught on the (smaller) output.

        Parameters
        ----------
        path : str
            The audio file.

        Returns
        -------
        S_db : ndarray of shape (n_mels, n_frames), float32

        Raises
        ------
        AudioDecodeError
            The file cannot be decoded, or gives non-finite samples or features.
        """
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
        """Features of a waveform given in memory.

        Parameters
        ----------
        y : ndarray of shape (n,)
            Samples at ``sr``.
        name : str
            How errors name it (``"X[i]"``).

        Returns
        -------
        S_db : ndarray of shape (n_mels, n_frames), float32

        Raises
        ------
        ValueError
            A bad waveform (non-finite, too short for ``offset``, overflowing).
        """
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

    def _build_plan(self):
        fmin, fmax = float(self.fmin), None if self.fmax is None else float(self.fmax)
        _, mel_sparse = _mel_bank(int(self.sr), int(self.n_fft), int(self.n_mels), fmin, fmax)
        return LogMelPlan(
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
    @fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Validate the parameters and the input; build the mel filter bank.

        Parameters
        ----------
        X : sequence of str or os.PathLike, sequence of ndarray of shape (n_samples,), or \
ndarray of shape (n_clips, n_samples)
            Audio files, or waveforms at ``sr``.
        y : None
            Ignored.

        Returns
        -------
        self : MelSpectrogramTransformer
        """
        self._check_params()
        self._validate_X(X, reset=True)
        plan = self._build_plan()
        self.n_samples_fixed_ = plan.n_samples
        self.n_frames_ = plan.n_frames
        self.mel_basis_, _ = _mel_bank(plan.sr, plan.n_fft, plan.n_mels, plan.fmin, plan.fmax)
        return self

    def transform(self, X):
        """Compute the log-mel spectrograms.

        Parameters
        ----------
        X : sequence of str or os.PathLike, sequence of ndarray of shape (n_samples,), or \
ndarray of shape (n_clips, n_samples)
            Audio files, or waveforms at ``sr``.

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
        """
        check_is_fitted(self, "mel_basis_")
        items = self._validate_X(X, reset=False)
        out, failures = extract(
            items,
            self._build_plan(),
            memory=self.memory,
            n_jobs=self.n_jobs,
            on_error=self.on_error,
            dtype=self.dtype,
            verbose=self.verbose,
        )
        if self.on_error == "warn":
            self.failures_ = failures
            warn_failures(failures, len(items), stacklevel=2)
        return out

    def extraction_plan(self):
        """The per-clip computation of this fitted transformer (see :mod:`.extraction`).

        ``sklearn_genre.extraction.extract(items, mel.extraction_plan(), memory=mel.memory,
        n_jobs=mel.n_jobs, on_error=mel.on_error, dtype=mel.dtype)`` computes what
        ``mel.transform(items)`` returns (for validated ``items``), bit for bit; the feature
        store and the CLI's ``preprocess`` work this way.

        Returns
        -------
        plan : LogMelPlan
        """
        check_is_fitted(self, "mel_basis_")
        return self._build_plan()
