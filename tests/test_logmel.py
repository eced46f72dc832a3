"""The pure log-mel functions (the transformer's parity tests are in test_features.py)."""

import librosa
import numpy as np
import pytest

from sklearn_genre.logmel import (
    PARITY_TOLERANCE_DB,
    log_mel_spectrogram,
    mel_filter_bank,
    n_frames,
)


def test_mel_filter_bank_is_librosa_and_read_only():
    bank = mel_filter_bank(sr=8000, n_fft=256, n_mels=16)
    ref = librosa.filters.mel(sr=8000, n_fft=256, n_mels=16, dtype=np.float32)
    np.testing.assert_array_equal(bank, ref)
    assert bank.shape == (16, 129) and not bank.flags.writeable
    assert mel_filter_bank(sr=8000, n_fft=256, n_mels=16) is bank  # built once


@pytest.mark.parametrize("n_fft, hop", [(256, 64), (255, 100), (2048, 512)])
def test_n_frames_matches_librosa(n_fft, hop):
    y = np.zeros(3001, np.float32)
    S = librosa.stft(y, n_fft=n_fft, hop_length=hop, center=True, pad_mode="constant")
    assert n_frames(3001, n_fft=n_fft, hop_length=hop) == S.shape[1]


def test_prebuilt_bank_gives_the_same_result():
    y = np.random.default_rng(0).standard_normal(8000).astype(np.float32)
    kw = dict(n_fft=256, hop_length=64)
    direct = log_mel_spectrogram(y, sr=8000, n_mels=16, **kw)
    bank = mel_filter_bank(sr=8000, n_fft=256, n_mels=16)
    np.testing.assert_array_equal(log_mel_spectrogram(y, mel_basis=bank, **kw), direct)
    ref = librosa.power_to_db(
        librosa.feature.melspectrogram(y=y, sr=8000, n_mels=16, center=True,
                                       pad_mode="constant", **kw), ref=np.max)
    assert np.abs(direct - ref).max() <= PARITY_TOLERANCE_DB


def test_keyword_only():
    with pytest.raises(TypeError):
        log_mel_spectrogram(np.zeros(100, np.float32), 8000)
    with pytest.raises(TypeError):
        mel_filter_bank(8000)


def test_mel_power_spectrogram_is_librosas_and_the_log_mels_input():
    import librosa

    from sklearn_genre.logmel import log_mel_spectrogram, mel_power_spectrogram

    rng = np.random.default_rng(3)
    y = (0.3 * rng.standard_normal(16000 * 2)).astype(np.float32)
    params = dict(sr=16000, n_fft=512, hop_length=256, n_mels=96)
    ours = mel_power_spectrogram(y, **params)
    ref = librosa.feature.melspectrogram(y=y, power=2.0, center=True, pad_mode="constant",
                                         **params)
    assert ours.shape == ref.shape and ours.dtype == np.float32
    np.testing.assert_allclose(ours, ref, rtol=1e-4, atol=1e-6 * ref.max())
    db = log_mel_spectrogram(y, ref=1.0, amin=1e-10, top_db=None, **params)
    np.testing.assert_allclose(db, 10 * np.log10(np.maximum(ours, 1e-10)), atol=1e-4)
