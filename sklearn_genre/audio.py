"""Audio decoding: file -> float32 waveform at a fixed sampling rate.

:func:`load_audio` decodes mp3, wav, flac and ogg files with :mod:`soundfile` (libsndfile),
reads only the frames needed for ``offset``/``duration``, mixes down to mono and resamples
with :mod:`soxr`. With the defaults it returns the same samples as
``librosa.load(path, sr=22050)`` (librosa >= 0.10 also decodes with soundfile and resamples with
``soxr_hq``); the mixdown is the channel mean and the resampled length is
``ceil(n_native * sr / sr_native)`` exactly as in :func:`librosa.resample`.

Every failure is an :class:`AudioDecodeError` naming the file and the cause; a decoder never
returns a silent array of zeros. The catalogue of bad inputs and what happens to them:

==========================================  ===============================================
input                                       behaviour
==========================================  ===============================================
missing path, a directory                   ``AudioDecodeError`` ("no such file" / "not a
                                            regular file")
empty file (0 bytes)                        ``AudioDecodeError`` ("empty file")
non-audio file (text renamed ``.mp3``)      ``AudioDecodeError`` ("not a recognised audio
                                            file", with libsndfile's message)
corrupt mp3 (garbage inside the stream)     ``AudioDecodeError`` (libsndfile's read error)
truncated mp3 (stream ends before the       ``AudioDecodeError`` ("truncated") when fewer
length its header declares)                 frames decode than the header declares (beyond
                                            a tolerance of 1 % or 2 mp3 frames); the frames
                                            that *were* requested are checked, so a file
                                            truncated after ``offset + duration`` loads.
zero-length audio, offset past the end      ``AudioDecodeError`` ("no audio frames")
NaN or inf samples                          ``AudioDecodeError`` ("non-finite samples")
short clip (e.g. 0.1 s)                     loads; fixing the length is the caller's job
other rate / channel count (8 kHz mono,     loads; mixed down (channel mean) and resampled
48 kHz stereo)                              to ``sr``
silence                                     loads (all zeros is valid audio)
==========================================  ===============================================

:func:`validate_waveform` applies the same checks to a waveform given directly.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from .exceptions import AudioDecodeError

__all__ = ["AudioDecodeError", "load_audio", "validate_waveform", "RESAMPLE_QUALITIES"]

#: ``res_type`` values accepted by :func:`load_audio` (soxr qualities, as in librosa).
RESAMPLE_QUALITIES = ("soxr_vhq", "soxr_hq", "soxr_mq", "soxr_lq", "soxr_qq")

# A truncated stream is reported when it decodes to fewer frames than its header declares by
# more than this fraction of the expected length or this many frames (2 mp3 frames), whichever
# is larger. Encoder delay / padding differences are far below both.
_TRUNCATION_REL_TOL = 0.01
_TRUNCATION_ABS_TOL = 2 * 1152


def _check_finite(y, what):
    """Return None when ``y`` is finite, otherwise a description of the bad samples."""
    finite = np.isfinite(y)
    if finite.all():
        return None
    bad = np.flatnonzero(~finite.ravel())
    return (
        f"{what} contains {bad.size} non-finite samples (NaN or inf), first at flat index "
        f"{bad[0]}"
    )


def validate_waveform(y, *, name="waveform", dtype=np.float32):
    """Check a waveform given directly and return it as a contiguous 1-D array.

    Parameters
    ----------
    y : array-like of shape (n_samples,)
        Audio samples (any real dtype).
    name : str, default="waveform"
        How to call the waveform in error messages (e.g. ``"X[3]"``).
    dtype : numpy dtype, default=np.float32
        Output dtype.

    Returns
    -------
    y : ndarray of shape (n_samples,)
        The waveform as a C-contiguous array of ``dtype``.

    Raises
    ------
    ValueError
        If ``y`` is not 1-D, not real-valued, empty, or contains NaN or inf.
    """
    arr = np.asarray(y)
    if arr.dtype == object or not (
        np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer)
    ):
        raise ValueError(f"{name} must be a real numeric array, got dtype {arr.dtype}")
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D (n_samples,), got shape {arr.shape}")
    if arr.size == 0:
        raise ValueError(f"{name} is empty (0 samples)")
    arr = np.ascontiguousarray(arr, dtype=dtype)
    problem = _check_finite(arr, name)
    if problem is not None:
        raise ValueError(problem)
    return arr


def _mixdown(y):
    """Channel mean of a (n_frames, n_channels) block -> (n_frames,), float32.

    For two channels this is ``(a + b) * 0.5``, bit-identical to ``np.mean(y, axis=1)`` (and
    to librosa's ``to_mono``): halving is exact, so both round once, at the sum. It is one
    elementwise pass, faster than numpy's strided reduction and free of BLAS, whose thread
    pool would compete with the transformer's own threads.
    """
    n_channels = y.shape[1]
    if n_channels == 1:
        return np.ascontiguousarray(y[:, 0])
    if n_channels == 2:
        mono = np.add(y[:, 0], y[:, 1])
        mono *= y.dtype.type(0.5)
        return mono
    return np.mean(y, axis=1, dtype=y.dtype)


def _resample(y, sr_native, sr, res_type):
    """Resample along the last axis like ``librosa.resample(..., fix=True, scale=False)``."""
    if sr_native == sr:
        return y
    n_out = int(np.ceil(y.shape[-1] * float(sr) / sr_native))
    # soxr takes (n_frames, n_channels); librosa resamples each channel on its own.
    out = soxr.resample(y.T, sr_native, sr, quality=res_type).T
    if out.shape[-1] > n_out:
        out = out[..., :n_out]
    elif out.shape[-1] < n_out:
        pad = [(0, 0)] * (out.ndim - 1) + [(0, n_out - out.shape[-1])]
        out = np.pad(out, pad)
    return np.ascontiguousarray(out, dtype=y.dtype)


def load_audio(
    path,
    *,
    sr=22050,
    mono=True,
    offset=0.0,
    duration=None,
    dtype=np.float32,
    res_type="soxr_hq",
    check_finite=True,
):
    """Decode an audio file into a waveform.

    Parameters
    ----------
    path : str or os.PathLike
        An mp3, wav, flac or ogg file (anything libsndfile reads).
    sr : int or None, default=22050
        Target sampling rate in Hz. ``None`` keeps the file's native rate
        (``soundfile.info(path).samplerate``).
    mono : bool, default=True
        Mix all channels down to one (channel mean).
    offset : float, default=0.0
        Start reading this many seconds into the file (frame ``int(offset * sr_native)``).
    duration : float or None, default=None
        Read at most this many seconds (``int(duration * sr_native)`` native frames).
        ``None`` reads to the end. Only the requested frames are decoded.
    dtype : numpy dtype, default=np.float32
        Output floating dtype (float32 or float64).
    res_type : {"soxr_vhq", "soxr_hq", "soxr_mq", "soxr_lq", "soxr_qq"}, default="soxr_hq"
        soxr resampling quality (librosa's names; ``"soxr_hq"`` is librosa's default).
    check_finite : bool, default=True
        Raise :class:`AudioDecodeError` when a decoded sample is NaN or inf. Disabling it
        saves one pass over all decoded samples; the caller must then check what it computes
        from them, as :class:`~sklearn_genre.features.MelSpectrogramTransformer` does with its
        output (non-finite samples always give non-finite log-mel values).

    Returns
    -------
    y : ndarray of shape (n_samples,) or (n_channels, n_samples)
        The waveform, 1-D when ``mono`` (or for a mono file), otherwise channels first.
        Files shorter than ``duration`` give fewer samples; nothing is padded here.

    Raises
    ------
    AudioDecodeError
        When the file is missing, empty, not audio, corrupt, truncated, has no frames in the
        requested range or decodes to non-finite samples (see the module docstring).
    ValueError
        For invalid arguments (negative offset, non-positive duration or sr, unknown res_type).

    Examples
    --------
    >>> import numpy as np, soundfile as sf, tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "tone.wav")
    >>> sf.write(path, 0.1 * np.sin(np.arange(44100) / 10.0), 44100)
    >>> y = load_audio(path, sr=22050)
    >>> y.shape, y.dtype
    ((22050,), dtype('float32'))
    """
    if sr is not None and (not isinstance(sr, (int, np.integer)) or sr <= 0):
        raise ValueError(f"sr must be a positive integer or None, got {sr!r}")
    if not np.isfinite(offset) or offset < 0:
        raise ValueError(f"offset must be a finite number >= 0, got {offset!r}")
    if duration is not None and (not np.isfinite(duration) or duration <= 0):
        raise ValueError(f"duration must be a positive number or None, got {duration!r}")
    if res_type not in RESAMPLE_QUALITIES:
        raise ValueError(f"res_type must be one of {RESAMPLE_QUALITIES}, got {res_type!r}")
    dtype = np.dtype(dtype)
    if dtype not in (np.float32, np.float64):
        raise ValueError(f"dtype must be float32 or float64, got {dtype}")

    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be str or os.PathLike, got {type(path).__name__}")
    p = Path(path)
    try:
        st = p.stat()
    except FileNotFoundError:
        raise AudioDecodeError(path, "no such file") from None
    except OSError as exc:
        raise AudioDecodeError(path, f"cannot access file ({exc.strerror or exc})") from exc
    if not p.is_file():
        raise AudioDecodeError(path, "not a regular file")
    if st.st_size == 0:
        raise AudioDecodeError(path, "empty file (0 bytes)")

    try:
        f = sf.SoundFile(p)
    except sf.SoundFileError as exc:
        raise AudioDecodeError(
            path, f"not a recognised audio file or unreadable header (libsndfile: {exc})"
        ) from exc
    with f:
        sr_native = f.samplerate
        declared = f.frames
        start = int(offset * sr_native)
        if declared == 0:
            raise AudioDecodeError(path, "zero-length audio: the file declares no frames")
        if start >= declared:
            raise AudioDecodeError(
                path,
                f"no audio frames at offset {offset} s (file declares {declared} frames, "
                f"{declared / sr_native:.3f} s)",
            )
        n_req = -1 if duration is None else int(duration * sr_native)
        try:
            if start:
                f.seek(start)
            y = f.read(frames=n_req, dtype=dtype, always_2d=True)
        except (sf.SoundFileError, RuntimeError) as exc:
            raise AudioDecodeError(path, f"corrupt audio stream (libsndfile: {exc})") from exc

    n_got = y.shape[0]
    if n_got == 0:
        raise AudioDecodeError(path, "no audio frames could be decoded (zero-length audio)")
    expected = declared - start if n_req < 0 else min(n_req, declared - start)
    if expected - n_got > max(_TRUNCATION_REL_TOL * expected, _TRUNCATION_ABS_TOL):
        raise AudioDecodeError(
            path,
            f"truncated or corrupt stream: the header declares {declared / sr_native:.3f} s but "
            f"decoding stopped after {(start + n_got) / sr_native:.3f} s",
        )
    if check_finite:
        problem = _check_finite(y, "decoded audio")
        if problem is not None:
            raise AudioDecodeError(path, problem)

    if mono:
        y = _mixdown(y)  # (n_frames,)
    else:
        y = np.ascontiguousarray(y.T)  # (n_channels, n_frames)
        if y.shape[0] == 1:
            y = y[0]
    if sr is not None:
        y = _resample(y, sr_native, int(sr), res_type)
    return y
