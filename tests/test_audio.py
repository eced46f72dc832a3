"""Tests of sklearn_genre.audio: decoding, resampling, and the bad-input catalogue."""

import pickle

import librosa
import numpy as np
import pytest
import soundfile as sf

from sklearn_genre.audio import AudioDecodeError, load_audio, validate_waveform


@pytest.mark.parametrize(
    ("name", "sr", "channels"),
    [("a.wav", 22050, 1), ("b.mp3", 44100, 2), ("c.flac", 48000, 2), ("d.ogg", 44100, 1)],
)
def test_load_audio_equals_librosa_load(make_audio, name, sr, channels):
    path = make_audio(name, "music", sr=sr, duration=1.2, channels=channels)
    y = load_audio(path)
    ref, ref_sr = librosa.load(path, sr=22050)
    assert ref_sr == 22050
    assert y.dtype == np.float32 and y.ndim == 1
    np.testing.assert_array_equal(y, ref)


def test_offset_duration_and_stereo_equal_librosa(make_audio):
    path = make_audio("s.mp3", "music", sr=44100, duration=2.0, channels=2)
    y = load_audio(path, offset=0.3, duration=1.1)
    ref, _ = librosa.load(path, sr=22050, offset=0.3, duration=1.1)
    np.testing.assert_array_equal(y, ref)
    assert y.shape == (int(np.ceil(int(1.1 * 44100) * 0.5)),)

    stereo = load_audio(path, mono=False)
    ref_st, _ = librosa.load(path, sr=22050, mono=False)
    assert stereo.shape == ref_st.shape == (2, 22050 * 2)
    np.testing.assert_array_equal(stereo, ref_st)

    native = load_audio(path, sr=None)
    assert native.shape == (44100 * 2,)


def test_8khz_mono_and_48khz_stereo_are_resampled(make_audio):
    low = make_audio("low.wav", "chord", sr=8000, duration=1.0)
    y = load_audio(low)
    assert y.shape == (int(np.ceil(8000 * 22050 / 8000)),)
    high = make_audio("high.wav", "chord", sr=48000, duration=1.0, channels=2)
    y = load_audio(high, sr=16000)
    assert y.shape == (16000,)
    np.testing.assert_array_equal(y, librosa.load(high, sr=16000)[0])


def test_unicode_path(make_audio):
    path = make_audio("ünïcødé/日本語 ♫.mp3", "tone", sr=22050, duration=0.5)
    y = load_audio(path)
    assert y.shape[0] > 0 and np.isfinite(y).all()
    assert np.abs(y).max() > 0.1


def test_short_clip_and_silence_load(make_audio):
    y = load_audio(make_audio("short.wav", "tone", duration=0.1))
    assert y.shape == (2205,)
    y = load_audio(make_audio("silent.wav", "silence", duration=0.5))
    assert y.shape == (11025,) and not y.any()


# --------------------------------------------------------------------------- bad inputs
def _assert_decode_error(path, match, **kw):
    with pytest.raises(AudioDecodeError, match=match) as info:
        load_audio(path, **kw)
    assert info.value.path == str(path)
    assert str(path) in str(info.value)
    return info.value


def test_missing_file(tmp_path):
    _assert_decode_error(tmp_path / "nope.mp3", "no such file")


def test_directory(tmp_path):
    _assert_decode_error(tmp_path, "not a regular file")


def test_empty_file(tmp_path):
    path = tmp_path / "empty.mp3"
    path.write_bytes(b"")
    _assert_decode_error(path, r"empty file \(0 bytes\)")


def test_text_renamed_mp3(tmp_path):
    path = tmp_path / "notes.mp3"
    path.write_text("this is not audio\n" * 100)
    err = _assert_decode_error(path, r"not audio: the file holds text: 'this is not audio")
    # libsndfile says "File does not exist or is not a regular file" here; it exists.
    assert "does not exist" not in str(err) and err.kind == "not_audio"


@pytest.mark.parametrize(
    ("content", "match", "kind"),
    [
        (b"<!DOCTYPE html><html>404</html>", "HTML/XML page", "not_audio"),
        (b"\0" * 5000, "first 4096 bytes are all zero", "not_audio"),
        (bytes(range(200, 256)) * 50, "not a recognised audio format: the file starts with "
         "bytes c8 c9", "not_audio"),
        (b"\0\0\0\x20ftypM4A " + b"\0" * 2000, "unsupported format: a MP4/M4A", "unsupported"),
        (b"RIFF\x24\0\0\0WAVEjunk" + b"\x01" * 100, "damaged or unsupported WAV header",
         "corrupt"),
    ],
)
def test_unreadable_files_say_what_they_are(tmp_path, content, match, kind):
    path = tmp_path / "clip.mp3"
    path.write_bytes(content)
    assert _assert_decode_error(path, match).kind == kind


def test_truncated_wav_is_an_error(make_audio, tmp_path):
    # libsndfile alone loads the part that is left, silently.
    path = make_audio("full.wav", "tone", duration=1.0)
    cut = tmp_path / "cut.wav"
    cut.write_bytes(path.read_bytes()[:20000])
    err = _assert_decode_error(cut, "truncated WAV: the header declares")
    assert err.kind == "truncated"
    assert pickle.loads(pickle.dumps(err)).kind == "truncated"


def test_quiet_native_stderr_drops_decoder_notes_only(tmp_path):
    import subprocess
    import sys

    bad = tmp_path / "zeros.mp3"
    bad.write_bytes(b"\0" * 5000)
    script = (
        "import sys\n"
        "from sklearn_genre.audio import load_audio, quiet_native_stderr\n"
        "def run():\n"
        "    try:\n"
        "        load_audio(sys.argv[1])\n"
        "    except Exception as exc:\n"
        "        print('python:', exc.kind, file=sys.stderr)\n"
        "if sys.argv[2] == 'quiet':\n"
        "    with quiet_native_stderr():\n"
        "        run()\n"
        "else:\n"
        "    run()\n"
        "print('after', file=sys.stderr)\n"
    )
    # A text file named .mp3 is what makes mpg123 print "Illegal Audio-MPEG-Header".
    text = tmp_path / "text.mp3"
    text.write_text("hello this is not audio\n" * 20)
    for path in (bad, text):
        loud = subprocess.run([sys.executable, "-c", script, str(path), "loud"],
                              capture_output=True, text=True, check=True).stderr
        quiet = subprocess.run([sys.executable, "-c", script, str(path), "quiet"],
                               capture_output=True, text=True, check=True).stderr
        assert "python: not_audio" in quiet and quiet.rstrip().endswith("after")
        assert "Note:" not in quiet
        assert "Note: Illegal Audio-MPEG-Header" in loud  # the test would notice a quiet libsndfile


def test_truncated_mp3_is_an_error(make_audio, tmp_path):
    path = make_audio("full.mp3", "music", sr=44100, duration=4.0, channels=2)
    data = path.read_bytes()
    cut = tmp_path / "cut.mp3"
    cut.write_bytes(data[: len(data) // 2])
    err = _assert_decode_error(cut, "truncated")
    assert "declares 4.000 s" in err.reason
    # The documented exception: frames before the cut can still be requested.
    y = load_audio(cut, duration=1.0)
    np.testing.assert_array_equal(y, load_audio(path, duration=1.0))


def test_truncated_to_header_only(make_audio, tmp_path):
    path = make_audio("full.mp3", "music", sr=44100, duration=2.0, channels=2)
    cut = tmp_path / "stub.mp3"
    cut.write_bytes(path.read_bytes()[:300])
    _assert_decode_error(cut, "cannot decode")


def test_corrupt_mp3_stream(make_audio, tmp_path):
    path = make_audio("full.mp3", "music", sr=44100, duration=4.0, channels=2)
    data = bytearray(path.read_bytes())
    mid = len(data) // 2
    data[mid : mid + 20000] = np.random.default_rng(0).integers(0, 256, 20000, np.uint8).tobytes()
    bad = tmp_path / "corrupt.mp3"
    bad.write_bytes(bytes(data))
    _assert_decode_error(bad, "corrupt|truncated")


def test_zero_length_audio(tmp_path):
    path = tmp_path / "zero.wav"
    sf.write(path, np.zeros(0, dtype=np.float32), 22050)
    _assert_decode_error(path, "zero-length")


def test_offset_past_end(make_audio):
    path = make_audio("short.wav", "tone", duration=0.5)
    _assert_decode_error(path, "no audio frames at offset", offset=2.0)


def test_nan_samples_in_file(tmp_path):
    y = np.full(1000, 0.1, dtype=np.float32)
    y[10] = np.nan
    path = tmp_path / "nan.wav"
    sf.write(path, y, 22050, subtype="FLOAT")
    _assert_decode_error(path, "non-finite")
    # check_finite=False hands the samples over unchecked (the caller checks its output).
    unchecked = load_audio(path, sr=None, check_finite=False)
    assert np.isnan(unchecked[10]) and np.isfinite(np.delete(unchecked, 10)).all()


def test_error_pickles_and_is_value_error(tmp_path):
    err = AudioDecodeError(tmp_path / "x.mp3", "empty file")
    assert isinstance(err, ValueError)
    back = pickle.loads(pickle.dumps(err))
    assert (back.path, back.reason, str(back)) == (err.path, err.reason, str(err))


@pytest.mark.parametrize(
    "kw",
    [{"sr": 0}, {"offset": -1.0}, {"duration": 0.0}, {"res_type": "kaiser_best"},
     {"dtype": np.int16}],
)
def test_invalid_arguments(make_audio, kw):
    path = make_audio("a.wav", "tone", duration=0.2)
    with pytest.raises(ValueError):
        load_audio(path, **kw)


def test_validate_waveform():
    y = validate_waveform(np.arange(5, dtype=np.int16))
    assert y.dtype == np.float32 and y.flags.c_contiguous
    with pytest.raises(ValueError, match="clip contains 1 non-finite"):
        validate_waveform(np.array([0.0, np.nan, 1.0]), name="clip")
    with pytest.raises(ValueError, match="non-finite"):
        validate_waveform(np.array([0.0, np.inf]))
    with pytest.raises(ValueError, match="1-D"):
        validate_waveform(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="empty"):
        validate_waveform(np.zeros(0))
    with pytest.raises(ValueError, match="real numeric"):
        validate_waveform(np.array(["a", "b"]))
