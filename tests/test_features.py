"""Tests of MelSpectrogramTransformer: parity with librosa, bad inputs, parallelism, cache,
sklearn API conformance."""

import contextlib
import os
import pickle
import subprocess
import sys
import textwrap
import threading
import warnings

import joblib
import librosa
import numpy as np
import pytest
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer
from sklearn.utils.estimator_checks import parametrize_with_checks

from sklearn_genre import cache as cache_mod
from sklearn_genre import extraction as extraction_mod
from sklearn_genre import features as features_mod
from sklearn_genre import logmel as logmel_mod
from sklearn_genre._compat import InvalidParameterError
from sklearn_genre.audio import AudioDecodeError, load_audio
from sklearn_genre.cache import CacheCorruptionWarning, FeatureCache, FeatureCacheError
from sklearn_genre.features import (
    PARITY_TOLERANCE_DB,
    ExtractionWarning,
    MelSpectrogramTransformer,
)

# Small settings for fast tests: 8 kHz, 16 mels, 0.5 s -> 1 + 4000 // 64 = 63 frames.
SMALL = {"sr": 8000, "n_mels": 16, "n_fft": 256, "hop_length": 64, "duration": 0.5}


def _reference(path, *, sr, n_mels, n_fft, hop_length, duration, offset=0.0, fmin=0.0,
               fmax=None, ref=np.max, amin=1e-10, top_db=80.0):
    """The reference extractor: librosa.load + melspectrogram + power_to_db."""
    y, _ = librosa.load(path, sr=sr, offset=offset, duration=duration)
    y = librosa.util.fix_length(y, size=int(duration * sr))
    S = librosa.feature.melspectrogram(
        y=y, sr=sr, n_mels=n_mels, n_fft=n_fft, hop_length=hop_length, fmin=fmin, fmax=fmax,
        power=2.0, center=True, pad_mode="constant",
    )
    return librosa.power_to_db(S, ref=ref, amin=amin, top_db=top_db)


# --------------------------------------------------------------------------- parity
def test_parity_with_librosa_default_recipe(make_audio):
    path = make_audio("m.mp3", "music", sr=44100, duration=2.0, channels=2)
    mel = MelSpectrogramTransformer(duration=2.0)
    out = mel.fit_transform([path])
    ref = _reference(path, sr=22050, n_mels=128, n_fft=2048, hop_length=512, duration=2.0)
    assert out.shape == (1, 128, 87) == (1, *ref.shape)
    assert out.dtype == np.float32
    assert np.abs(out[0] - ref).max() <= PARITY_TOLERANCE_DB


@pytest.mark.parametrize(
    "kw",
    [
        {"offset": 0.25, "fmin": 50.0, "fmax": 3000.0},
        {"ref": 1.0, "top_db": None},
        {"ref": 0.5, "amin": 1e-6, "top_db": 60.0},
    ],
)
def test_parity_with_librosa_options(make_audio, kw):
    path = make_audio("c.wav", "chord", sr=48000, duration=1.0, channels=2)
    mel = MelSpectrogramTransformer(**SMALL, **kw)
    out = mel.fit_transform([path])[0]
    rkw = dict(kw)
    if "ref" not in rkw:
        rkw["ref"] = np.max
    ref = _reference(path, **SMALL, **rkw)
    # The tolerance holds within 80 dB of the clip's peak (see PARITY_TOLERANCE_DB).
    near = ref >= ref.max() - 80.0
    assert np.abs(out - ref)[near].max() <= PARITY_TOLERANCE_DB
    assert np.abs(out - ref).max() <= 0.1


def test_default_frame_count_and_short_clip_padding(make_audio):
    short = make_audio("short.wav", "tone", duration=0.1)
    mel = MelSpectrogramTransformer().fit([short])
    assert mel.n_frames_ == 1292 and mel.n_samples_fixed_ == 661500
    assert mel.mel_basis_.shape == (128, 1025)
    out = mel.transform([short])
    assert out.shape == (1, 128, 1292)
    # 2205 samples reach frame (2205 + 1024) // 512 = 6; everything after is padding at the
    # top_db floor (ref = max -> the clip peaks at 0 dB).
    assert out.max() == 0.0
    np.testing.assert_array_equal(out[0, :, 8:], -80.0)
    assert (out[0, :, :5] > -80).any()


@pytest.mark.parametrize(
    ("n_samples", "n_fft", "hop_length"),
    [
        (7 * 22050 + 123, 2048, 512),  # 302 frames: three STFT blocks, ragged last block
        (128 * 512, 2048, 512),  # exactly one block's worth of hops
        (100, 2048, 512),  # shorter than one window: both edges in one block
        (64 * 512, 2047, 512),  # odd n_fft with a multiple of hop_length samples
        (40000, 256, 64),
    ],
)
@pytest.mark.filterwarnings("ignore:n_fft=2048 is too large")
def test_blocked_stft_matches_librosa(n_samples, n_fft, hop_length):
    y = np.random.default_rng(n_samples).standard_normal(n_samples).astype(np.float32)
    ours = features_mod.log_mel_spectrogram(y, n_fft=n_fft, hop_length=hop_length, n_mels=32)
    ref = librosa.power_to_db(
        librosa.feature.melspectrogram(
            y=y, sr=22050, n_fft=n_fft, hop_length=hop_length, n_mels=32, center=True,
            pad_mode="constant",
        ),
        ref=np.max,
    )
    assert ours.shape == ref.shape
    assert ours.shape[1] == logmel_mod.n_frames(n_samples, n_fft=n_fft, hop_length=hop_length)
    assert np.abs(ours - ref).max() <= PARITY_TOLERANCE_DB


def test_stft_blocks_are_bit_identical_to_one_pass(monkeypatch):
    y = np.random.default_rng(0).standard_normal(5 * 22050 + 7).astype(np.float32)
    blocked = features_mod.log_mel_spectrogram(y)
    monkeypatch.setattr(logmel_mod, "_FRAME_BLOCK", 10_000)  # the whole clip in one block
    np.testing.assert_array_equal(features_mod.log_mel_spectrogram(y), blocked)
    monkeypatch.setattr(logmel_mod, "_FRAME_BLOCK", 1)
    np.testing.assert_array_equal(features_mod.log_mel_spectrogram(y), blocked)


def test_odd_n_fft_frame_count_matches_output():
    # 8192 samples = 64 hops: an odd window gives one frame fewer than 1 + n // hop.
    X = np.random.default_rng(0).standard_normal((2, 8192)).astype(np.float32)
    mel = MelSpectrogramTransformer(sr=8192, n_fft=255, hop_length=128, n_mels=16, duration=1.0)
    out = mel.fit_transform(X)
    assert mel.n_frames_ == 64 == out.shape[2]


def test_resampled_inputs_match_reference(audio_files):
    mel = MelSpectrogramTransformer(**SMALL)
    out = mel.fit_transform(audio_files)
    assert out.shape == (4, 16, 63)
    for row, path in zip(out, audio_files):
        ref = _reference(path, **SMALL, ref=np.max)
        assert np.abs(row - ref).max() <= PARITY_TOLERANCE_DB


def test_waveform_inputs_equal_file_input(make_audio):
    path = make_audio("w.wav", "music", sr=8000, duration=0.7)
    y = load_audio(path, sr=8000)
    mel = MelSpectrogramTransformer(**SMALL)
    from_file = mel.fit_transform([path])
    np.testing.assert_array_equal(mel.transform([y]), from_file)
    matrix = np.stack([y, y[::-1].copy()])
    both = mel.transform(matrix)
    np.testing.assert_array_equal(both[0], from_file[0])
    np.testing.assert_array_equal(both, mel.transform(list(matrix)))
    np.testing.assert_array_equal(mel.transform(matrix.astype(np.float64)), both)


def test_silence_gives_finite_values(make_audio):
    path = make_audio("silent.wav", "silence", sr=8000, duration=0.5)
    out = MelSpectrogramTransformer(**SMALL).fit_transform([path])
    np.testing.assert_array_equal(out, 0.0)  # ref=max: 10 log10(amin / amin)
    fixed = MelSpectrogramTransformer(**SMALL, ref=1.0).fit_transform([path])
    np.testing.assert_allclose(fixed, -100.0)  # 10 log10(1e-10 / 1)


def test_float16_output(audio_files):
    mel32 = MelSpectrogramTransformer(**SMALL).fit(audio_files)
    out16 = clone(mel32).set_params(dtype="float16").fit_transform(audio_files)
    out32 = mel32.transform(audio_files)
    assert out16.dtype == np.float16
    assert np.abs(out16.astype(np.float32) - out32).max() <= 0.04


def _backend(name):
    """``joblib.parallel_config(backend=name)``, or no context for None (the default)."""
    return contextlib.nullcontext() if name is None else joblib.parallel_config(backend=name)


@pytest.mark.parametrize("backend", [None, "loky"])  # None: the default, threads
def test_n_jobs_2_equals_n_jobs_1(audio_files, backend):
    files = audio_files * 3
    one = MelSpectrogramTransformer(**SMALL, n_jobs=1).fit_transform(files)
    with _backend(backend):
        two = MelSpectrogramTransformer(**SMALL, n_jobs=2).fit_transform(files)
    np.testing.assert_array_equal(one, two)


@pytest.mark.parametrize("n_jobs", [1, 2])
def test_memory_is_the_output_plus_bounded_batches(make_audio, n_jobs):
    """Peak traced memory minus the output does not grow with the number of clips."""
    import tracemalloc

    path = make_audio("long.wav", "chord", sr=44100, duration=1.0, channels=2)
    mel = MelSpectrogramTransformer(**SMALL, n_jobs=n_jobs).fit([path])
    mel.transform([path] * 4)  # warm: imports, thread pool

    def extra(n_clips):
        tracemalloc.start()
        out = mel.transform([path] * n_clips)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        return peak - out.nbytes

    decoded = int(SMALL["duration"] * 44100) * 2 * 4  # one clip's decoded stereo float32
    small, large = extra(8), extra(64)
    # Holding every clip's samples would add 56 * decoded bytes; allow a few batches' worth.
    assert large - small < 8 * decoded, (small, large, decoded)


def test_n_jobs_prefers_threads_unless_a_backend_is_chosen(audio_files, monkeypatch):
    seen = []
    real = extraction_mod._extract_batch

    def spy(*args):
        seen.append((threading.current_thread() is threading.main_thread(), os.getpid()))
        return real(*args)

    monkeypatch.setattr(extraction_mod, "_extract_batch", spy)
    mel = MelSpectrogramTransformer(**SMALL, n_jobs=2).fit(audio_files)
    mel.transform(audio_files * 2)
    assert seen and all(not main and pid == os.getpid() for main, pid in seen)
    seen.clear()
    with joblib.parallel_config(backend="loky"):  # a chosen backend wins over the hint
        mel.transform(audio_files * 2)
    assert seen == []  # the spy is not called in this process: tasks ran in loky workers


def test_duration_none(synth_signal, audio_files):
    y = synth_signal("chord", sr=8000, duration=0.3)[:, 0]
    mel = MelSpectrogramTransformer(**{**SMALL, "duration": None}).fit([y, y])
    assert mel.n_frames_ is None
    assert mel.transform([y, y]).shape == (2, 16, 1 + 2400 // 64)
    with pytest.raises(ValueError, match="same number of frames"):
        mel.transform([y, y[:1000]])


def test_unicode_path(make_audio):
    path = make_audio("dossier é/日本語 ♫.mp3", "chord", sr=22050, duration=0.5)
    out = MelSpectrogramTransformer(**SMALL).fit_transform([path, str(path)])
    assert np.isfinite(out).all()
    np.testing.assert_array_equal(out[0], out[1])


# --------------------------------------------------------------------------- bad inputs
@pytest.fixture
def bad_files(tmp_path, make_audio):
    empty = tmp_path / "empty.mp3"
    empty.write_bytes(b"")
    text = tmp_path / "text.mp3"
    text.write_text("not audio\n" * 50)
    full = make_audio("full.mp3", "music", sr=44100, duration=3.0, channels=2)
    truncated = tmp_path / "truncated.mp3"
    truncated.write_bytes(full.read_bytes()[: full.stat().st_size // 3])
    return {
        "missing": tmp_path / "missing.mp3",
        "empty": empty,
        "text": text,
        "truncated": truncated,
    }


@pytest.mark.parametrize(
    ("which", "match"),
    [("missing", "no such file"), ("empty", "empty file"),
     ("text", "not a recognised audio file"), ("truncated", "truncated")],
)
def test_bad_file_raises_naming_the_file(bad_files, audio_files, which, match):
    mel = MelSpectrogramTransformer(**{**SMALL, "duration": 3.0}).fit(audio_files)
    with pytest.raises(AudioDecodeError, match=match) as info:
        mel.transform([audio_files[0], bad_files[which]])
    assert info.value.path == str(bad_files[which])


def test_on_error_warn_fills_nan_and_reports_every_failure(bad_files, audio_files):
    X = [audio_files[0], bad_files["missing"], audio_files[1], bad_files["text"]]
    mel = MelSpectrogramTransformer(**SMALL, on_error="warn").fit(X)
    with pytest.warns(ExtractionWarning, match="2 of 4 clips failed") as rec:
        out = mel.transform(X)
    assert out.shape == (4, 16, 63)
    assert np.isnan(out[[1, 3]]).all() and np.isfinite(out[[0, 2]]).all()
    msg = str(rec[0].message)
    assert str(bad_files["missing"]) in msg and str(bad_files["text"]) in msg
    assert [f.index for f in rec[0].message.failures] == [1, 3]
    assert [f.source for f in mel.failures_] == [str(bad_files["missing"]), str(bad_files["text"])]
    # A clean run reports no failures and leaves no stale list behind.
    with warnings.catch_warnings():
        warnings.simplefilter("error", ExtractionWarning)
        mel.transform(audio_files)
    assert mel.failures_ == []


def test_nan_waveform(synth_signal):
    good = synth_signal("tone", sr=8000, duration=0.5)[:, 0]
    bad = good.copy()
    bad[100] = np.nan
    mel = MelSpectrogramTransformer(**SMALL)
    with pytest.raises(ValueError, match=r"X\[1\] contains 1 non-finite"):
        mel.fit([good, bad])
    mel.fit([good])
    with pytest.raises(ValueError, match="NaN"):
        mel.transform(np.stack([good, bad]))
    warn = MelSpectrogramTransformer(**SMALL, on_error="warn").fit([good])
    with pytest.warns(ExtractionWarning, match=r"X\[1\]"):
        out = warn.transform([good, bad])
    assert np.isnan(out[1]).all() and np.isfinite(out[0]).all()


def test_non_finite_file_samples_are_caught_on_the_output(tmp_path, synth_signal):
    """The transformer decodes without a per-sample check; NaN or inf still raise."""
    import soundfile as sf

    y = synth_signal("tone", sr=8000, duration=0.5)[:, 0].astype(np.float32)
    for name, value in [("nan.wav", np.nan), ("inf.wav", np.inf)]:
        bad = y.copy()
        bad[-3] = value  # near the end: crosses the resampler and the last STFT frames
        path = tmp_path / name
        sf.write(path, bad, 8000, subtype="FLOAT")
        mel = MelSpectrogramTransformer(**SMALL).fit([path])
        with pytest.raises(AudioDecodeError, match="1 non-finite samples") as info:
            mel.transform([path])
        assert info.value.path == str(path)


def test_overflowing_samples_raise_instead_of_nan_features(tmp_path, synth_signal):
    import soundfile as sf

    y = 1e30 * synth_signal("tone", sr=8000, duration=0.5)[:, 0].astype(np.float32)
    assert np.isfinite(y).all()
    path = tmp_path / "loud.wav"
    sf.write(path, y, 8000, subtype="FLOAT")
    mel = MelSpectrogramTransformer(**SMALL).fit([path])
    with pytest.raises(AudioDecodeError, match="overflow") as info:
        mel.transform([path])
    assert info.value.path == str(path)
    with pytest.raises(ValueError, match=r"X\[0\]: .*overflow"):
        mel.transform([y])


def test_workers_do_not_import_librosa(audio_files):
    """The mel bank travels with the task: a fresh worker process never imports librosa."""
    mel = MelSpectrogramTransformer(**SMALL).fit(audio_files)
    task = pickle.dumps((mel.extraction_plan(), [str(p) for p in audio_files]))
    code = textwrap.dedent(
        """
        import pickle, sys
        from sklearn_genre.extraction import _extract_batch
        plan, paths = pickle.loads(sys.stdin.buffer.read())
        results, failures, _ = _extract_batch(list(enumerate(paths)), plan, None, "raise",
                                              "float32")
        assert len(results) == len(paths) and not failures
        print("librosa" in sys.modules)
        """
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], input=task, capture_output=True, check=True
    )
    assert proc.stdout.decode().strip() == "False"


@pytest.mark.parametrize(
    ("X", "exc", "match"),
    [
        ("song.mp3", TypeError, "single str"),
        ([], ValueError, "empty"),
        ([np.zeros((2, 3))], ValueError, "1-D numeric waveform"),
        ([b"song.mp3"], TypeError, "bytes"),
        (np.zeros(100), ValueError, "Reshape"),
    ],
)
def test_invalid_X(X, exc, match):
    with pytest.raises(exc, match=match):
        MelSpectrogramTransformer(**SMALL).fit(X)


def test_invalid_params():
    X = [np.zeros(4000, dtype=np.float32)]
    with pytest.raises(InvalidParameterError, match="n_mels"):
        MelSpectrogramTransformer(n_mels=0).fit(X)
    with pytest.raises(InvalidParameterError, match="on_error"):
        MelSpectrogramTransformer(on_error="ignore").fit(X)
    with pytest.raises(ValueError, match="Nyquist"):
        MelSpectrogramTransformer(sr=8000, fmax=5000.0).fit(X)
    with pytest.raises(ValueError, match="fmin"):
        MelSpectrogramTransformer(fmin=2000.0, fmax=1000.0).fit(X)


# --------------------------------------------------------------------------- cache
def test_cache_hit_is_identical_and_skips_decoding(audio_files, tmp_path, monkeypatch):
    mel = MelSpectrogramTransformer(**SMALL, memory=tmp_path / "c").fit(audio_files)
    first = mel.transform(audio_files)
    assert len(FeatureCache(tmp_path / "c").entries()) == 4

    def no_decoding(*args, **kwargs):
        raise AssertionError("decoded although cached")

    monkeypatch.setattr(features_mod, "load_audio", no_decoding)
    np.testing.assert_array_equal(mel.transform(audio_files), first)
    # float16 output shares the float32 entries; joblib.Memory is accepted.
    mem = joblib.Memory(tmp_path / "c", verbose=0)
    out16 = clone(mel).set_params(dtype="float16", memory=mem).fit_transform(audio_files)
    np.testing.assert_array_equal(out16, first.astype(np.float16))


def test_cache_param_change_and_edited_file_recompute(make_audio, tmp_path):
    path = make_audio("a.wav", "chord", sr=8000, duration=0.5)
    cache_dir = tmp_path / "c"
    mel = MelSpectrogramTransformer(**SMALL, memory=cache_dir).fit([path])
    before = mel.transform([path])
    other = clone(mel).set_params(top_db=40.0).fit_transform([path])
    assert len(FeatureCache(cache_dir).entries()) == 2
    assert not np.array_equal(other, before)
    make_audio("a.wav", "noise", sr=8000, duration=0.5, seed=3)  # edit the file in place
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    after = mel.transform([path])
    clean = clone(mel).set_params(memory=None).fit_transform([path])
    np.testing.assert_array_equal(after, clean)
    assert not np.array_equal(after, before)


def test_corrupt_cache_entry_is_recomputed(audio_files, tmp_path):
    cache_dir = tmp_path / "c"
    mel = MelSpectrogramTransformer(**SMALL, memory=cache_dir).fit(audio_files)
    clean = mel.transform(audio_files)
    entry = FeatureCache(cache_dir).entries()[0]
    data = bytearray(entry.read_bytes())
    entry.write_bytes(bytes(data[: len(data) // 2]))  # truncated entry
    with pytest.warns(CacheCorruptionWarning, match="corrupt feature cache entry"):
        again = mel.transform(audio_files)
    np.testing.assert_array_equal(again, clean)
    with warnings.catch_warnings():
        warnings.simplefilter("error", CacheCorruptionWarning)
        np.testing.assert_array_equal(mel.transform(audio_files), clean)  # rewritten


@pytest.mark.parametrize("backend", [None, "loky"])  # worker threads, worker processes
def test_cache_corruption_warning_reaches_parent_from_workers(audio_files, tmp_path, backend):
    cache_dir = tmp_path / "c"
    mel = MelSpectrogramTransformer(**SMALL, memory=cache_dir, n_jobs=2).fit(audio_files)
    clean = mel.transform(audio_files)
    for entry in FeatureCache(cache_dir).entries():
        entry.write_bytes(b"garbage")
    with pytest.warns(CacheCorruptionWarning) as rec, _backend(backend):
        np.testing.assert_array_equal(mel.transform(audio_files), clean)
    assert len([w for w in rec if w.category is CacheCorruptionWarning]) == 4


def test_disk_full_during_cache_write(audio_files, tmp_path, monkeypatch):
    import errno

    def full_disk(fd, data):
        os.write(fd, memoryview(data).cast("B")[:5])
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(cache_mod, "_write_fully", full_disk)
    cache_dir = tmp_path / "c"
    mel = MelSpectrogramTransformer(**SMALL, memory=cache_dir, on_error="warn").fit(audio_files)
    with pytest.raises(FeatureCacheError, match="no space left on device"):
        mel.transform(audio_files)
    leftovers = [p for p in cache_dir.rglob("*") if p.is_file()]
    assert leftovers == []


def test_interrupted_extraction_resumes_from_cache(audio_files, tmp_path, monkeypatch):
    calls, crash = [], [True]

    def counting(*args, **kwargs):
        calls.append(args[0])
        if crash[0] and len(calls) == 3:
            raise RuntimeError("simulated crash")
        return load_audio(*args, **kwargs)

    monkeypatch.setattr(features_mod, "load_audio", counting)
    mel = MelSpectrogramTransformer(**SMALL, memory=tmp_path / "c").fit(audio_files)
    with pytest.raises(RuntimeError, match="simulated crash"):
        mel.transform(audio_files)
    calls.clear()
    crash[0] = False
    out = mel.transform(audio_files)
    assert calls == [str(p) for p in audio_files[2:]]  # only the missing ones decoded
    clean = MelSpectrogramTransformer(**SMALL).fit_transform(audio_files)
    np.testing.assert_array_equal(out, clean)


_CONCURRENT_SCRIPT = textwrap.dedent(
    """
    import sys, numpy as np
    from sklearn_genre.features import MelSpectrogramTransformer
    files, out, cache, reverse = sys.argv[1].split("|"), sys.argv[2], sys.argv[3], sys.argv[4]
    if reverse == "1":
        files = files[::-1]
    mel = MelSpectrogramTransformer(sr=8000, n_mels=16, n_fft=256, hop_length=64,
                                    duration=0.5, memory=cache)
    Xt = mel.fit_transform(files)
    np.save(out, Xt[::-1] if reverse == "1" else Xt)
    """
)


def test_two_processes_share_one_cache(audio_files, make_audio, tmp_path):
    files = audio_files + [
        make_audio(f"extra{i}.wav", "music", sr=8000, duration=0.5, seed=i) for i in range(6)
    ]
    cache_dir = tmp_path / "shared"
    arg = "|".join(str(f) for f in files)
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _CONCURRENT_SCRIPT, arg, str(tmp_path / f"out{i}.npy"),
             str(cache_dir), str(i)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )
        for i in range(2)
    ]
    for p in procs:
        _, err = p.communicate(timeout=120)
        assert p.returncode == 0, err.decode()
    clean = MelSpectrogramTransformer(**SMALL).fit_transform(files)
    for i in range(2):
        np.testing.assert_array_equal(np.load(tmp_path / f"out{i}.npy"), clean)
    cache = FeatureCache(cache_dir)
    assert len(cache.entries()) == len(files)
    assert not [p for p in cache.directory.rglob(".tmp-*")]
    with warnings.catch_warnings():
        warnings.simplefilter("error", CacheCorruptionWarning)
        warm = MelSpectrogramTransformer(**SMALL, memory=cache_dir).fit_transform(files)
    np.testing.assert_array_equal(warm, clean)


# --------------------------------------------------------------------------- sklearn API
def _flatten(X):
    return X.reshape(len(X), -1)


def test_pipeline_clone_pickle(synth_signal):
    X = np.stack(
        [synth_signal(k, sr=8000, duration=0.5, seed=i)[:, 0]
         for i in range(6) for k in ("tone", "noise")]
    )
    y = np.array([0, 1] * 6)
    pipe = Pipeline(
        [("mel", MelSpectrogramTransformer(**SMALL)),
         ("flat", FunctionTransformer(_flatten)),
         ("clf", LogisticRegression(max_iter=200))]
    )
    pipe.set_params(mel__n_mels=8)
    assert pipe.get_params()["mel__n_mels"] == 8
    pipe.fit(X, y)
    assert pipe.score(X, y) == 1.0
    back = pickle.loads(pickle.dumps(pipe))
    np.testing.assert_array_equal(back.predict(X), pipe.predict(X))
    mel = pipe.named_steps["mel"]
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(mel)).transform(X), mel.transform(X))
    fresh = clone(mel)
    assert fresh.get_params() == mel.get_params() and not hasattr(fresh, "n_frames_")
    assert not hasattr(mel, "get_feature_names_out")  # 3-D output: no feature names


def test_verbose_progress_bar(audio_files, capsys):
    MelSpectrogramTransformer(**SMALL, verbose=1).fit_transform(audio_files)
    assert "log-mel" in capsys.readouterr().err


def _expected_failed_checks(estimator):
    if estimator.duration is None:
        return {}
    reason = (
        "with a fixed duration every waveform is cropped/padded, so a waveform length in "
        "transform that differs from fit is valid input, not a feature-count mismatch"
    )
    return {
        "check_n_features_in_after_fitting": reason,
        "check_transformer_general": reason,
    }


# Waveform input (2-D numeric arrays) is what the common checks can generate; file-path input
# is covered by the tests above. The check-sized settings keep them fast.
@parametrize_with_checks(
    [
        MelSpectrogramTransformer(sr=8000, n_mels=8, n_fft=64, hop_length=16, duration=None),
        MelSpectrogramTransformer(sr=8000, n_mels=8, n_fft=64, hop_length=16, duration=0.01),
    ],
    expected_failed_checks=_expected_failed_checks,
)
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)
