"""Shared audio fixtures: synthetic clips written as wav/mp3/flac/ogg into ``tmp_path``.

Fixtures (all function-scoped, files live in the test's ``tmp_path``):

``synth_signal``
    The generator function :func:`synth` itself: ``synth_signal(kind, sr=..., duration=...,
    channels=..., seed=..., freq=...) -> ndarray of shape (n_samples, channels)``, float32.
    ``kind`` is ``"tone"`` (sine at ``freq``), ``"chord"`` (major triad on ``freq`` with a
    slow tremolo), ``"noise"`` (white noise), ``"drums"`` (decaying noise bursts and a kick
    every 0.25 s), ``"music"`` (chord + drums + a little noise) or ``"silence"``.
``make_audio``
    Factory writing one clip: ``make_audio(name, kind="chord", *, sr=22050, duration=1.0,
    channels=1, seed=0, freq=220.0) -> pathlib.Path``. The format follows the suffix of
    ``name`` (``.wav`` float32, ``.mp3`` 320 kbps CBR, ``.flac``, ``.ogg``); ``name`` may
    contain sub-directories and non-ASCII characters.
``audio_files``
    Four short clips covering the usual variety, as a list of Paths: a 1 s 22.05 kHz mono
    tone (wav), a 1 s 22.05 kHz mono noise (wav), a 1.5 s 44.1 kHz stereo chord (mp3) and a
    1 s 8 kHz mono "music" clip (mp3).

Session fixture (autouse):

``one_torch_thread``
    The whole test session runs torch with one intra-op thread (``torch.set_num_threads(1)``)
    and exports ``OMP_NUM_THREADS=1`` to the subprocesses it starts, so a child process
    computes with the parent's reduction order; both are restored at the end. The tensors of
    the tests are tiny: more threads only add OpenMP synchronisation, which stalls on a busy
    machine.
"""

from __future__ import annotations

import os

import numpy as np
import pytest
import soundfile as sf

_FORMATS = {
    ".wav": {"format": "WAV", "subtype": "FLOAT"},
    ".mp3": {
        "format": "MP3",
        "subtype": "MPEG_LAYER_III",
        "bitrate_mode": "CONSTANT",
        "compression_level": 0.0,  # 0.0 = highest bit rate (320 kbps at 44.1 kHz)
    },
    ".flac": {"format": "FLAC", "subtype": "PCM_16"},
    ".ogg": {"format": "OGG", "subtype": "VORBIS"},
}


def synth(kind, *, sr=22050, duration=1.0, channels=1, seed=0, freq=220.0):
    """Synthetic test audio.

    Parameters
    ----------
    kind : {"tone", "chord", "noise", "drums", "music", "silence"}
    sr : int
        Sampling rate (Hz).
    duration : float
        Seconds.
    channels : int
        Channel count; channels differ slightly (detuned / other noise) so a mixdown is not a
        no-op.
    seed : int
        Random seed (noise and drums).
    freq : float
        Base frequency (Hz) of tones and chords.

    Returns
    -------
    y : ndarray of shape (n_samples, channels), float32
        Peak amplitude below 1.
    """
    n = int(round(duration * sr))
    t = np.arange(n) / sr
    rng = np.random.default_rng(seed)
    out = np.zeros((n, channels))
    for c in range(channels):
        detune = 1.0 + 0.003 * c
        if kind == "tone":
            y = 0.5 * np.sin(2 * np.pi * freq * detune * t)
        elif kind == "chord":
            y = sum(0.2 * np.sin(2 * np.pi * freq * r * detune * t) for r in (1.0, 1.26, 1.5))
            y = y * (0.8 + 0.2 * np.sin(2 * np.pi * 2.0 * t))
        elif kind == "noise":
            y = 0.3 * rng.standard_normal(n)
        elif kind == "drums":
            y = _drums(t, sr, rng)
        elif kind == "music":
            chord = sum(0.15 * np.sin(2 * np.pi * freq * r * detune * t) for r in (1.0, 1.26, 1.5))
            y = chord + 0.5 * _drums(t, sr, rng) + 0.02 * rng.standard_normal(n)
        elif kind == "silence":
            y = np.zeros(n)
        else:
            raise ValueError(f"unknown kind {kind!r}")
        out[:, c] = y
    peak = np.abs(out).max() if out.size else 0.0
    if peak > 0.95:
        out *= 0.95 / peak
    return out.astype(np.float32)


def _drums(t, sr, rng):
    y = np.zeros_like(t)
    beat = int(0.25 * sr)
    decay = np.exp(-np.arange(beat) / (0.03 * sr))
    kick = np.sin(2 * np.pi * 60 * np.arange(beat) / sr) * decay
    for k, start in enumerate(range(0, len(t), beat)):
        seg = slice(start, min(start + beat, len(t)))
        m = seg.stop - seg.start
        hit = kick[:m] if k % 2 == 0 else 0.5 * rng.standard_normal(m) * decay[:m]
        y[seg] += 0.6 * hit
    return y


def write_audio(path, y, sr):
    """Write ``y`` (n_samples, channels) to ``path`` in the format given by its suffix."""
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, y, sr, **_FORMATS[path.suffix.lower()])
    return path


@pytest.fixture
def synth_signal():
    """The :func:`synth` generator (see the module docstring)."""
    return synth


@pytest.fixture
def make_audio(tmp_path):
    """Factory writing a synthetic clip into ``tmp_path`` (see the module docstring)."""

    def _make(name, kind="chord", *, sr=22050, duration=1.0, channels=1, seed=0, freq=220.0):
        y = synth(kind, sr=sr, duration=duration, channels=channels, seed=seed, freq=freq)
        return write_audio(tmp_path / name, y, sr)

    return _make


@pytest.fixture
def audio_files(make_audio):
    """Four short clips of mixed kind, rate, channels and format (see the module docstring)."""
    return [
        make_audio("tone.wav", "tone", sr=22050, duration=1.0),
        make_audio("noise.wav", "noise", sr=22050, duration=1.0, seed=1),
        make_audio("chord.mp3", "chord", sr=44100, duration=1.5, channels=2),
        make_audio("music_8k.mp3", "music", sr=8000, duration=1.0, seed=2),
    ]


@pytest.fixture(scope="session", autouse=True)
def one_torch_thread():
    """One torch thread in this process and in subprocesses (see the module docstring)."""
    import torch

    threads = torch.get_num_threads()
    env = os.environ.get("OMP_NUM_THREADS")
    torch.set_num_threads(1)
    os.environ["OMP_NUM_THREADS"] = "1"
    try:
        yield
    finally:
        torch.set_num_threads(threads)
        if env is None:
            os.environ.pop("OMP_NUM_THREADS", None)
        else:
            os.environ["OMP_NUM_THREADS"] = env


@pytest.fixture(scope="session")
def musicnn_data_home(tmp_path_factory):
    """A data home holding the real MusiCNN weights (musicnn 0.1.0, 29 MB from PyPI).

    Uses the weights already in the default data home (``$SKLEARN_GENRE_DATA`` or
    ``~/sklearn_genre_data``) when they are there; otherwise fetches them once per session
    into a temporary data home with :func:`sklearn_genre.pretrained.fetch_musicnn_weights`.
    When they cannot be obtained the dependent tests skip, except under ``CI=true``, where
    they fail: CI has the package index, so the parity tests must run there.
    """
    from sklearn_genre.pretrained import (
        MusicnnWeightsNotFoundError,
        fetch_musicnn_weights,
        musicnn_weights_dir,
    )

    try:
        musicnn_weights_dir("MSD_musicnn")
        musicnn_weights_dir("MTT_musicnn")
        return None  # the default data home has them
    except MusicnnWeightsNotFoundError:
        pass
    data_home = tmp_path_factory.mktemp("musicnn_weights")
    try:
        fetch_musicnn_weights(data_home, verbose=False)
    except OSError as exc:  # DownloadError, ChecksumError, a local source that is missing
        message = f"cannot fetch the MusiCNN weights: {exc}"
        if os.environ.get("CI", "").lower() in ("true", "1"):
            pytest.fail(message + " (CI=true: the weights must be available in CI)")
        pytest.skip(message)
    return data_home
