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
