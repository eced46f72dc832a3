"""The extraction engine with a plan that is not the log-mel one (what an embedding
transformer would give it): cache keyed by the plan, failure policy, order, threads and
backends, progress bar, shapes."""

import os
import threading
import warnings
from dataclasses import dataclass

import joblib
import numpy as np
import pytest

from sklearn_genre import extraction
from sklearn_genre.audio import AudioDecodeError, load_audio
from sklearn_genre.cache import FeatureCache
from sklearn_genre.exceptions import ExtractionWarning
from sklearn_genre.extraction import Extraction, ExtractionFailure, extract, warn_failures


@dataclass(frozen=True)
class BandEnergyPlan:
    """A fixed-size vector per clip: mean energy in ``n_bands`` equal slices at 16 kHz."""

    n_bands: int = 4
    sr: int = 16000
    cache_namespace = "test-band-energy-v1"

    @property
    def output_shape(self):
        return (self.n_bands,)

    def cache_params(self):
        return {"n_bands": self.n_bands, "sr": self.sr}

    def _vector(self, y):
        return np.array([np.mean(p**2) for p in np.array_split(y, self.n_bands)], np.float32)

    def from_file(self, path):
        return self._vector(load_audio(path, sr=self.sr))

    def from_waveform(self, y, name):
        y = np.asarray(y, dtype=np.float32)
        if y.size < self.n_bands:
            raise ValueError(f"{name} has fewer samples than bands")
        return self._vector(y)


@pytest.fixture
def clips(audio_files):
    return [str(p) for p in audio_files]


def test_plan_rows_in_order(clips):
    plan = BandEnergyPlan()
    result = extract(clips, plan)
    assert isinstance(result, Extraction)
    features, failures = result
    assert features.shape == (len(clips), 4) and failures == []
    for row, path in zip(features, clips):
        np.testing.assert_array_equal(row, plan.from_file(path))


def test_same_result_with_threads_processes_and_dtype(clips):
    plan = BandEnergyPlan()
    ref = extract(clips * 3, plan).features
    np.testing.assert_array_equal(extract(clips * 3, plan, n_jobs=2).features, ref)
    with joblib.parallel_config(backend="loky"):
        np.testing.assert_array_equal(extract(clips * 3, plan, n_jobs=2).features, ref)
    with joblib.parallel_config(backend="multiprocessing"):  # no generators: windows of tasks
        np.testing.assert_array_equal(extract(clips * 3, plan, n_jobs=2).features, ref)
    half = extract(clips, plan, dtype="float16").features
    assert half.dtype == np.float16
    np.testing.assert_array_equal(half, ref[: len(clips)].astype(np.float16))


def test_threads_by_default(clips, monkeypatch):
    seen, real = [], extraction._extract_batch

    def spy(*args):
        seen.append(threading.current_thread() is threading.main_thread())
        return real(*args)

    monkeypatch.setattr(extraction, "_extract_batch", spy)
    extract(clips * 2, BandEnergyPlan(), n_jobs=2)
    assert seen and not any(seen)


def test_cache_is_keyed_by_the_plan(clips, tmp_path, monkeypatch):
    calls = []
    real = BandEnergyPlan.from_file

    def counting(self, path):
        calls.append(path)
        return real(self, path)

    monkeypatch.setattr(BandEnergyPlan, "from_file", counting)
    first = extract(clips, BandEnergyPlan(), memory=tmp_path).features
    assert len(calls) == len(clips)
    assert (tmp_path / "test-band-energy-v1").is_dir()
    again = extract(clips, BandEnergyPlan(), memory=tmp_path).features
    assert len(calls) == len(clips)  # all served from the cache
    np.testing.assert_array_equal(again, first)
    extract(clips, BandEnergyPlan(n_bands=2), memory=tmp_path)  # other params: recomputed
    assert len(calls) == 2 * len(clips)
    cache = FeatureCache(tmp_path, "test-band-energy-v1")  # an explicit cache object
    np.testing.assert_array_equal(extract(clips, BandEnergyPlan(), memory=cache).features, first)
    assert len(calls) == 2 * len(clips)


def test_failure_policy(clips, tmp_path):
    bad = tmp_path / "broken.wav"
    bad.write_bytes(b"not audio")
    items = [clips[0], str(bad), np.zeros(2, np.float32)]
    with pytest.raises(AudioDecodeError, match="broken.wav"):
        extract(items, BandEnergyPlan())
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # extract itself does not warn: the caller decides
        features, failures = extract(items, BandEnergyPlan(), on_error="warn")
    assert [f.index for f in failures] == [1, 2]
    assert failures[1] == ExtractionFailure(2, "X[2]", "X[2] has fewer samples than bands")
    assert np.isnan(features[1:]).all() and np.isfinite(features[0]).all()
    with pytest.warns(ExtractionWarning, match="2 of 3 clips failed") as info:
        warn_failures(failures, 3)
    assert info[0].message.failures == failures
    with pytest.raises(ValueError, match="on_error"):
        extract(items, BandEnergyPlan(), on_error="ignore")


def test_variable_shape_plan_checks_every_clip():
    class Raw(BandEnergyPlan):
        output_shape = None

        def from_waveform(self, y, name):
            return np.asarray(y, np.float32)

    out = extract([np.ones(3), np.zeros(3)], Raw()).features
    assert out.shape == (2, 3)
    with pytest.raises(ValueError, match=r"same shape: X\[1\] gives \(2,\)"):
        extract([np.ones(3), np.zeros(2)], Raw())


def test_one_progress_bar_spans_calls(clips):
    class Bar:
        n, closed = 0, False

        def update(self, k):
            self.n += k

        def close(self):
            self.closed = True

    bar = Bar()
    extract(clips, BandEnergyPlan(), progress=bar)
    extract(clips[:2], BandEnergyPlan(), progress=bar)
    assert bar.n == len(clips) + 2 and not bar.closed
    assert extraction.progress_bar(3, verbose=0) is None


def test_out_start_and_checkpoints(clips):
    plan = BandEnergyPlan()
    full = extract(clips, plan).features
    out = np.full((len(clips), 4), -1.0, np.float32)
    marks = []
    extract(clips, plan, out=out, start=1, checkpoint=lambda r, f: marks.append(r),
            checkpoint_rows=2)
    assert (out[0] == -1).all()
    np.testing.assert_array_equal(out[1:], full[1:])
    assert marks[-1] == len(clips) and all(a < b for a, b in zip(marks, marks[1:]))


def test_worker_process_warnings_reach_the_caller(clips):
    class Noisy(BandEnergyPlan):
        def from_waveform(self, y, name):
            warnings.warn(f"odd clip {name}", UserWarning, stacklevel=1)
            return super().from_waveform(y, name)

    items = [np.ones(8, np.float32)] * 2
    with joblib.parallel_config(backend="loky"), pytest.warns(UserWarning, match="odd clip"):
        extract(items, Noisy(), n_jobs=2)
    assert os.getpid()  # the warnings came back to this process, not only a worker's stderr
