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
non-audio file (text renamed ``.mp3``, an   ``AudioDecodeError`` ("not audio: the file holds
HTML error page, zeros, unknown bytes)      text: '...'"), judged from the first bytes, not
                                            from libsndfile's message (which can say "File
                                            does not exist" for a file that exists)
unsupported audio format (MP4/M4A, WMA,     ``AudioDecodeError`` ("unsupported format: a
WavPack, APE, Matroska)                     MP4/M4A file ...")
corrupt mp3 (garbage inside the stream)     ``AudioDecodeError`` (libsndfile's read error)
truncated mp3 (stream ends before the       ``AudioDecodeError`` ("truncated") when fewer
length its header declares)                 frames decode than the header declares (beyond
                                            a tolerance of 1 % or 2 mp3 frames); the frames
                                            that *were* requested are checked, so a file
                                            truncated after ``offset + duration`` loads.
truncated WAV (data chunk runs past the     ``AudioDecodeError`` ("truncated WAV"):
end of the file)                            libsndfile itself would load the shorter clip
zero-length audio, offset past the end      ``AudioDecodeError`` ("no audio frames")
NaN or inf samples                          ``AudioDecodeError`` ("non-finite samples")
short clip (e.g. 0.1 s)                     loads; fixing the length is the caller's job
other rate / channel count (8 kHz mono,     loads; mixed down (channel mean) and resampled
48 kHz stereo)                              to ``sr``
silence                                     loads (all zeros is valid audio)
==========================================  ===============================================

:func:`validate_waveform` applies the same checks to a waveform given directly. Each error's
``kind`` classifies it (:data:`DECODE_ERROR_KINDS`). libsndfile's MP3 decoder writes notes such
as "Note: Illegal Audio-MPEG-Header ..." straight to file descriptor 2;
:func:`quiet_native_stderr` discards them (the command line tool uses it under ``--quiet``).
"""

from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from .exceptions import AudioDecodeError

__all__ = [
    "AudioDecodeError",
    "DECODE_ERROR_KINDS",
    "RESAMPLE_QUALITIES",
    "load_audio",
    "quiet_native_stderr",
    "validate_waveform",
]

#: Values of :attr:`AudioDecodeError.kind`.
DECODE_ERROR_KINDS = ("missing", "empty", "not_audio", "unsupported", "truncated", "corrupt",
                      "no_frames", "non_finite")

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


# Leading bytes of formats libsndfile reads, and of audio formats it does not.
_READABLE_MAGIC = (
    (b"RIFF", 0, "WAV"), (b"RIFX", 0, "WAV"), (b"RF64", 0, "WAV (RF64)"), (b"fLaC", 0, "FLAC"),
    (b"OggS", 0, "Ogg"), (b"ID3", 0, "MP3"), (b"FORM", 0, "AIFF"), (b".snd", 0, "AU"),
)
_UNSUPPORTED_MAGIC = (
    (b"ftyp", 4, "MP4/M4A (AAC or ALAC)"), (b"0&\xb2u\x8ef\xcf\x11", 0, "WMA/ASF"),
    (b"MAC ", 0, "Monkey's Audio (APE)"), (b"wvpk", 0, "WavPack"), (b"\x1aE\xdf\xa3", 0,
                                                                   "Matroska/WebM"),
)
_HEAD_BYTES = 4096


def _looks_like_mp3_frame(head):
    return len(head) >= 2 and head[0] == 0xFF and (head[1] & 0xE0) == 0xE0


def _text_snippet(head):
    """The start of ``head`` when it is text (UTF-8, no control bytes but whitespace), else None."""
    if b"\0" in head:
        return None
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(head) - 4:  # not merely a character cut at the end of the block
            return None
        text = head[: exc.start].decode("utf-8")
    if any(ord(c) < 32 and c not in "\t\r\n\f" for c in text):
        return None
    text = " ".join(text.split())
    return text[:40] + ("..." if len(text) > 40 else "")


def _unreadable_reason(path, exc):
    """(reason, kind) for a file that libsndfile cannot open, from its first bytes.

    libsndfile's own messages can mislead ("File does not exist or is not a regular file" for
    a text file named ``.mp3``, which exists); the file's content says what it is.
    """
    with open(path, "rb") as fh:
        head = fh.read(_HEAD_BYTES)
    detail = str(exc).split(": ", 1)[-1] if ": " in str(exc) else str(exc)
    if not head.strip(b"\0"):
        return (f"not audio: the first {len(head)} bytes are all zero (an incomplete download "
                "or a placeholder file?)", "not_audio")
    snippet = _text_snippet(head)
    if snippet is not None:
        what = ("an HTML/XML page (a failed download saves one?)" if snippet.startswith("<")
                else "text")
        return f"not audio: the file holds {what}: {snippet!r}", "not_audio"
    for magic, at, name in _UNSUPPORTED_MAGIC:
        if head[at : at + len(magic)] == magic:
            return (f"unsupported format: a {name} file, which libsndfile does not decode "
                    "(it reads WAV, FLAC, Ogg Vorbis/Opus, MP3, AIFF); convert it, e.g. "
                    "`ffmpeg -i IN OUT.flac`", "unsupported")
    for magic, at, name in _READABLE_MAGIC:
        if head[at : at + len(magic)] == magic:
            return f"damaged or unsupported {name} header (libsndfile: {detail})", "corrupt"
    if _looks_like_mp3_frame(head):
        return f"damaged MP3 stream (libsndfile: {detail})", "corrupt"
    return (f"not a recognised audio format: the file starts with bytes {head[:8].hex(' ')} "
            "(WAV, FLAC, Ogg, MP3 and AIFF are read)", "not_audio")


def _wav_missing_bytes(path, size):
    """Bytes a WAV file's ``data`` chunk declares beyond the end of the file (0 if none).

    libsndfile quietly shortens a WAV whose data chunk runs past the end of the file, so a
    truncated WAV would load as a shorter clip; the chunk size in the header says otherwise.
    """
    with open(path, "rb") as fh:
        riff = fh.read(12)
        if len(riff) < 12 or riff[:4] != b"RIFF" or riff[8:12] != b"WAVE":
            return 0
        pos = 12
        while pos + 8 <= size:
            fh.seek(pos)
            header = fh.read(8)
            chunk_id, chunk_size = header[:4], int.from_bytes(header[4:8], "little")
            if chunk_id == b"data":
                if chunk_size == 0xFFFFFFFF:  # streaming writers: size unknown
                    return 0
                return max(0, pos + 8 + chunk_size - size)
            pos += 8 + chunk_size + (chunk_size & 1)
    return 0


@contextlib.contextmanager
def quiet_native_stderr():
    """Discard what C libraries write to the process's stderr (file descriptor 2).

    libsndfile's MP3 decoder (mpg123) prints notes such as ``Note: Illegal Audio-MPEG-Header
    0x00000000 at offset 14.`` straight to file descriptor 2, past Python's ``sys.stderr``.
    Inside this context, descriptor 2 points to ``os.devnull`` and ``sys.stderr`` is a new
    text stream on a duplicate of the original descriptor, so Python's own output (warnings,
    progress bars, error messages) still reaches the terminal. Worker processes started
    inside the context inherit the silenced descriptor.

    The redirection is process-wide, so enter it once around a whole batch, from the main
    thread (as the command line tool does under ``--quiet``), not around each file from
    worker threads. Where descriptor 2 cannot be duplicated (no real stderr, e.g. some
    embedded interpreters), it does nothing.
    """
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, AttributeError, ValueError):
        yield
        return
    python_stderr = sys.stderr
    try:
        # Only a sys.stderr that writes to descriptor 2 needs a new stream; one that does not
        # (a capture in tests, a notebook's stream) keeps working as it is.
        on_fd2 = python_stderr.fileno() == 2
    except (AttributeError, OSError, ValueError):
        on_fd2 = False
    stream = None
    if on_fd2:
        stream = os.fdopen(os.dup(saved), "w", buffering=1, encoding=getattr(
            python_stderr, "encoding", None) or "utf-8", errors="backslashreplace")
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        if stream is not None:
            sys.stderr = stream
        yield
    finally:
        try:
            if stream is not None:
                stream.flush()
        finally:
            sys.stderr = python_stderr
            os.dup2(saved, 2)
            for fd in (saved, devnull):
                os.close(fd)
            if stream is not None:
                stream.close()


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
        raise AudioDecodeError(path, "no such file", "missing") from None
    except OSError as exc:
        raise AudioDecodeError(
            path, f"cannot access file ({exc.strerror or exc})", "missing") from exc
    if not p.is_file():
        raise AudioDecodeError(path, "not a regular file", "missing")
    if st.st_size == 0:
        raise AudioDecodeError(path, "empty file (0 bytes)", "empty")

    try:
        f = sf.SoundFile(p)
    except sf.SoundFileError as exc:
        try:
            reason, kind = _unreadable_reason(p, exc)
        except OSError as read_exc:
            reason, kind = f"cannot read file ({read_exc.strerror or read_exc})", "missing"
        raise AudioDecodeError(path, reason, kind) from exc
    missing = _wav_missing_bytes(p, st.st_size) if f.format == "WAV" else 0
    if missing > f.channels * 4:  # more than one frame of the widest sample format
        f.close()
        raise AudioDecodeError(
            path, f"truncated WAV: the header declares {missing} more bytes of audio than the "
            f"file holds ({st.st_size} bytes)", "truncated")
    with f:
        sr_native = f.samplerate
        declared = f.frames
        start = int(offset * sr_native)
        if declared == 0:
            raise AudioDecodeError(
                path, "zero-length audio: the file declares no frames", "no_frames")
        if start >= declared:
            raise AudioDecodeError(
                path,
                f"no audio frames at offset {offset} s (file declares {declared} frames, "
                f"{declared / sr_native:.3f} s)",
                "no_frames",
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
        raise AudioDecodeError(
            path, "no audio frames could be decoded (zero-length audio)", "no_frames")
    expected = declared - start if n_req < 0 else min(n_req, declared - start)
    if expected - n_got > max(_TRUNCATION_REL_TOL * expected, _TRUNCATION_ABS_TOL):
        raise AudioDecodeError(
            path,
            f"truncated or corrupt stream: the header declares {declared / sr_native:.3f} s but "
            f"decoding stopped after {(start + n_got) / sr_native:.3f} s",
            "truncated",
        )
    if check_finite:
        problem = _check_finite(y, "decoded audio")
        if problem is not None:
            raise AudioDecodeError(path, problem, "non_finite")

    if mono:
        y = _mixdown(y)  # (n_frames,)
    else:
        y = np.ascontiguousarray(y.T)  # (n_channels, n_frames)
        if y.shape[0] == 1:
            y = y[0]
    if sr is not None:
        y = _resample(y, sr_native, int(sr), res_type)
    return y
