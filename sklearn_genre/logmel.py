"""Log-mel spectrogram of a waveform: pure functions, no I/O, no parallelism.

The numerics of :class:`~sklearn_genre.features.MelSpectrogramTransformer`, usable on their own
(as ``librosa.filters.mel`` / ``librosa.feature.melspectrogram`` are): keyword-only parameters,
array shapes in every docstring.

- :func:`mel_filter_bank`: the mel filter bank of shape ``(n_mels, 1 + n_fft // 2)``;
- :func:`log_mel_spectrogram`: waveform ``(n_samples,)`` -> log-mel ``(n_mels, n_frames)``;
- :func:`n_frames`: the frame count a waveform length gives.

A centred STFT (periodic Hann window, ``n_fft`` samples, zero padding of ``n_fft // 2`` at both
ends, i.e. ``center=True, pad_mode="constant"``), the power spectrum, the Slaney mel filter bank
of :func:`librosa.filters.mel` (applied as a sparse matrix) and ``power_to_db``, all in float32.
For the same parameters the output equals ``librosa.power_to_db(librosa.feature.melspectrogram
(...))`` within :data:`PARITY_TOLERANCE_DB`, which the test suite asserts.

Decoding files, batching, parallelism and the cache are elsewhere: :mod:`sklearn_genre.audio`
and :mod:`sklearn_genre.extraction`.
"""

from __future__ import annotations

import functools
import math

import numpy as np
import scipy.fft
import scipy.sparse

__all__ = [
    "PARITY_TOLERANCE_DB",
    "log_mel_spectrogram",
    "mel_filter_bank",
    "mel_power_spectrogram",
    "n_frames",
]

#: Documented bound of the max abs difference (dB) between our output and librosa's
#: (``librosa.load`` + ``librosa.feature.melspectrogram`` + ``librosa.power_to_db``) for the
#: same parameters, over all values within 80 dB of the clip's peak (everything with the
#: default ``top_db=80``), checked by the test suite. Further down, at powers below ~1e-8 of
#: the peak, float32 FFT rounding dominates and differences of a few hundredths of a dB occur.
PARITY_TOLERANCE_DB = 0.01

#: Frames per STFT block in :func:`_log_mel`. The block's windowed frames and spectrum
#: (about 1 MiB each for ``n_fft=2048``) stay in cache and are reused from the allocator's
#: free lists, where one whole-clip spectrum (10 MiB for 30 s) is fresh memory that the kernel
#: zero-fills page by page on every clip. ``benchmarks/bench_features.py`` reports the log-mel
#: time per clip.
_FRAME_BLOCK = 128


@functools.lru_cache(maxsize=16)
def _mel_bank(sr, n_fft, n_mels, fmin, fmax):
    """Mel filter bank (dense, sparse CSR) of shape (n_mels, 1 + n_fft // 2), float32."""
    import librosa  # deferred: importing librosa costs ~0.5 s

    dense = librosa.filters.mel(
        sr=sr, n_fft=n_fft, n_mels=n_mels, fmin=fmin, fmax=fmax, dtype=np.float32
    )
    dense.setflags(write=False)
    return dense, scipy.sparse.csr_matrix(dense)


def mel_filter_bank(*, sr=22050, n_fft=2048, n_mels=128, fmin=0.0, fmax=None):
    """Mel filter bank (Slaney scale and norm), built once per parameter set.

    ``librosa.filters.mel(sr=sr, n_fft=n_fft, n_mels=n_mels, fmin=fmin, fmax=fmax,
    dtype=np.float32)``, cached (the last 16 parameter sets) and read-only.

    Parameters
    ----------
    sr : int, default=22050
        Sampling rate (Hz).
    n_fft : int, default=2048
        FFT length in samples.
    n_mels : int, default=128
        Number of mel bands.
    fmin : float, default=0.0
        Lowest filter edge (Hz).
    fmax : float or None, default=None
        Highest filter edge (Hz); None means ``sr / 2``.

    Returns
    -------
    mel_basis : ndarray of shape (n_mels, 1 + n_fft // 2), float32
        Read-only.
    """
    dense, _ = _mel_bank(int(sr), int(n_fft), int(n_mels), float(fmin),
                         None if fmax is None else float(fmax))
    return dense


@functools.lru_cache(maxsize=16)
def _hann(n_fft):
    """Periodic Hann window of length n_fft (``scipy.signal.get_window('hann', n_fft)``)."""
    n = np.arange(n_fft, dtype=np.float64)
    w = (0.5 - 0.5 * np.cos(2.0 * np.pi * n / n_fft)).astype(np.float32)
    w.setflags(write=False)
    return w


def n_frames(n_samples, *, n_fft=2048, hop_length=512):
    """STFT frames of a centred (``n_fft // 2`` zero-padded) signal.

    Parameters
    ----------
    n_samples : int
        Waveform length in samples.
    n_fft : int, default=2048
        FFT / window length.
    hop_length : int, default=512
        Samples between frames.

    Returns
    -------
    n_frames : int
        ``1 + (n_samples + 2 * (n_fft // 2) - n_fft) // hop_length``, which is
        ``1 + n_samples // hop_length`` for an even ``n_fft``.
    """
    return 1 + (n_samples + 2 * (n_fft // 2) - n_fft) // hop_length


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
    mel_basis=None,
):
    """Log-mel spectrogram of one waveform.

    Equivalent to ``librosa.power_to_db(librosa.feature.melspectrogram(y=y, sr=sr,
    n_fft=n_fft, hop_length=hop_length, n_mels=n_mels, fmin=fmin, fmax=fmax, power=2.0,
    center=True, pad_mode="constant"), ref=np.max if ref == "max" else ref, amin=amin,
    top_db=top_db)`` within :data:`PARITY_TOLERANCE_DB`.

    Parameters
    ----------
    y : ndarray of shape (n_samples,)
        Finite float32 waveform sampled at ``sr`` (other dtypes are converted).
    sr : int, default=22050
        Sampling rate (Hz).
    n_fft : int, default=2048
        FFT / window length in samples.
    hop_length : int, default=512
        Samples between frames.
    n_mels : int, default=128
        Number of mel bands.
    fmin, fmax : float, float or None, default=0.0, None
        Filter bank edges (Hz); ``fmax=None`` means ``sr / 2``.
    ref : "max" or float, default="max"
        Reference power: ``"max"`` is the clip's maximum (``ref=np.max``), a float is fixed.
    amin : float, default=1e-10
        Floor applied to the power before the logarithm.
    top_db : float or None, default=80.0
        Values below ``max - top_db`` are raised to it; None disables this.
    mel_basis : ndarray or scipy.sparse matrix of shape (n_mels, 1 + n_fft // 2), default=None
        A prebuilt filter bank; when given, ``sr``, ``n_mels``, ``fmin`` and ``fmax`` are not
        used. Passing a sparse (CSR) bank saves its conversion on every call.

    Returns
    -------
    S_db : ndarray of shape (n_mels, n_frames), float32
        ``n_frames = n_frames(n_samples, n_fft=n_fft, hop_length=hop_length)``.
    """
    mel_basis = _sparse_bank(mel_basis, sr=sr, n_fft=n_fft, n_mels=n_mels, fmin=fmin, fmax=fmax)
    return _log_mel(
        np.asarray(y, dtype=np.float32),
        mel_basis,
        n_fft=n_fft,
        hop_length=hop_length,
        ref=ref,
        amin=amin,
        top_db=top_db,
    )


def mel_power_spectrogram(y, *, sr=22050, n_fft=2048, hop_length=512, n_mels=128, fmin=0.0,
                          fmax=None, mel_basis=None):
    """Power mel spectrogram of one waveform (before any logarithm).

    Equivalent to ``librosa.feature.melspectrogram(y=y, sr=sr, n_fft=n_fft,
    hop_length=hop_length, n_mels=n_mels, fmin=fmin, fmax=fmax, power=2.0, center=True,
    pad_mode="constant")``; :func:`log_mel_spectrogram` is its decibel scale. Other
    compressions (MusiCNN's ``log10(10000 x + 1)``) start from here.

    Parameters
    ----------
    y : ndarray of shape (n_samples,)
        Finite float32 waveform sampled at ``sr`` (other dtypes are converted).
    sr, n_fft, hop_length, n_mels, fmin, fmax, mel_basis
        As in :func:`log_mel_spectrogram`.

    Returns
    -------
    S : ndarray of shape (n_mels, n_frames), float32
        ``n_frames = n_frames(n_samples, n_fft=n_fft, hop_length=hop_length)``.
    """
    mel_basis = _sparse_bank(mel_basis, sr=sr, n_fft=n_fft, n_mels=n_mels, fmin=fmin, fmax=fmax)
    return _mel_power(np.asarray(y, dtype=np.float32), mel_basis, n_fft=n_fft,
                      hop_length=hop_length)


def _sparse_bank(mel_basis, *, sr, n_fft, n_mels, fmin, fmax):
    """The CSR filter bank to use: ``mel_basis`` converted, or the cached bank of the params."""
    if mel_basis is None:
        return _mel_bank(int(sr), int(n_fft), int(n_mels), float(fmin),
                         None if fmax is None else float(fmax))[1]
    if scipy.sparse.issparse(mel_basis):
        return mel_basis
    return scipy.sparse.csr_matrix(np.asarray(mel_basis, dtype=np.float32))


def _log_mel(y, mel_sparse, *, n_fft, hop_length, ref, amin, top_db):
    """Log-mel of a float32 waveform with a prebuilt sparse mel bank; see log_mel_spectrogram."""
    mel = _mel_power(y, mel_sparse, n_fft=n_fft, hop_length=hop_length)
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


def _mel_power(y, mel_sparse, *, n_fft, hop_length):
    """Power mel of a float32 waveform with a prebuilt sparse mel bank, shape (n_mels, frames).

    The STFT runs over blocks of :data:`_FRAME_BLOCK` frames. Interior blocks window a view of
    ``y``; only the first and last blocks copy their samples into a zero-padded buffer (the
    ``center=True, pad_mode="constant"`` padding), so the clip is never copied whole. Each
    block does exactly what a whole-clip pass does, so the result is bit-identical to it.
    """
    n = y.shape[0]
    pad = n_fft // 2
    total = n_frames(n, n_fft=n_fft, hop_length=hop_length)
    window = _hann(n_fft)[:, None]
    mel = np.empty((mel_sparse.shape[0], total), dtype=np.float32)
    # (n_fft, block) in Fortran order, i.e. one contiguous frame per column: the windowing
    # writes it sequentially and pocketfft transforms contiguous frames along axis 0.
    windowed = np.empty((_FRAME_BLOCK, n_fft), dtype=np.float32).T
    for first in range(0, total, _FRAME_BLOCK):
        last = min(first + _FRAME_BLOCK, total)
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
    return mel
