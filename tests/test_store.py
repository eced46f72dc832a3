"""Tests of the out-of-core feature store: round trip, resume after interruption, reuse,
mismatch detection, failures, and the skorch classifiers training on the memmap."""

import json
import os

import numpy as np
import pytest
from skorch.callbacks import Callback

from sklearn_genre import extraction as extraction_mod
from sklearn_genre.classifiers import CNNClassifier
from sklearn_genre.features import ExtractionWarning, MelSpectrogramTransformer
from sklearn_genre.store import (
    IncompleteStoreError,
    extract_to_store,
    open_store,
    read_store_metadata,
)

SMALL = {"sr": 8000, "n_mels": 16, "n_fft": 256, "hop_length": 64, "duration": 0.5}


@pytest.fixture
def clips(make_audio):
    kinds = ["tone", "chord", "noise", "drums", "music", "silence", "chord", "noise", "music"]
    return [
        str(make_audio(f"c{i}.wav", kind, sr=8000, duration=0.6, seed=i, freq=150.0 + 40 * i))
        for i, kind in enumerate(kinds)
    ]


class _Interrupt(BaseException):
    """Stands for a kill: not an Exception, so nothing on the way catches it."""


def _count_batches(monkeypatch, *, fail_after=None):
    """Count the clips computed by _extract_batch (n_jobs=1 runs it in this process)."""
    seen = []
    original = extraction_mod._extract_batch

    def spy(batch, *args):
        if fail_after is not None and len(seen) >= fail_after:
            raise _Interrupt
        seen.extend(i for i, _ in batch)
        return original(batch, *args)

    monkeypatch.setattr(extraction_mod, "_extract_batch", spy)
    return seen


@pytest.mark.parametrize("dtype", ["float32", "float16"])
def test_round_trip_equals_transform(clips, tmp_path, dtype):
    mel = MelSpectrogramTransformer(**SMALL, dtype=dtype)
    expected = mel.fit_transform(clips)
    path = tmp_path / "feats.npy"
    X = extract_to_store(mel, clips, path, chunk_size=2)
    assert isinstance(X, np.memmap) and not X.flags.writeable
    assert X.dtype == np.dtype(dtype) and X.shape == expected.shape == (9, 16, 63)
    np.testing.assert_array_equal(X, expected)
    np.testing.assert_array_equal(np.load(path), expected)  # a plain .npy file
    assert not (tmp_path / "feats.npy.partial").exists()
    meta = read_store_metadata(path)
    assert meta["completed"] is True and meta["rows_done"] == 9
    assert meta["shape"] == [9, 16, 63] and meta["dtype"] == np.dtype(dtype).str
    assert meta["params"]["n_mels"] == 16 and meta["params"]["dtype"] == dtype
    assert meta["failures"] == [] and meta["n_sources"] == 9
    np.testing.assert_array_equal(open_store(path), expected)


def test_unfitted_transformer_is_cloned_not_modified(clips, tmp_path):
    mel = MelSpectrogramTransformer(**SMALL)
    X = extract_to_store(mel, clips[:3], tmp_path / "f.npy")
    assert not hasattr(mel, "mel_basis_")
    np.testing.assert_array_equal(X, MelSpectrogramTransformer(**SMALL).fit_transform(clips[:3]))


def test_interrupted_extraction_resumes_from_checkpoint(clips, tmp_path, monkeypatch):
    mel = MelSpectrogramTransformer(**SMALL).fit(clips)
    expected = mel.transform(clips)
    path = tmp_path / "feats.npy"
    # n=9, n_jobs=1 -> batches of ceil(9 / 4) = 3 clips; the 3rd batch is "killed".
    seen = _count_batches(monkeypatch, fail_after=6)
    with pytest.raises(_Interrupt):
        extract_to_store(mel, clips, path, chunk_size=3)
    assert seen == list(range(6))
    assert not path.exists() and (tmp_path / "feats.npy.partial").exists()
    meta = read_store_metadata(path)
    assert meta["completed"] is False and meta["rows_done"] == 6
    with pytest.raises(IncompleteStoreError, match="6 of 9 rows"):
        open_store(path)

    monkeypatch.undo()
    seen = _count_batches(monkeypatch)
    X = extract_to_store(mel, clips, path, chunk_size=3)
    assert seen == [6, 7, 8]  # only the rows after the checkpoint
    np.testing.assert_array_equal(X, expected)
    assert read_store_metadata(path)["completed"] is True

    # A completed, matching store is reused without computing anything.
    seen.clear()
    np.testing.assert_array_equal(extract_to_store(mel, clips, path), expected)
    assert seen == []


def test_interruption_between_rename_and_sidecar(clips, tmp_path, monkeypatch):
    mel = MelSpectrogramTransformer(**SMALL)
    path = tmp_path / "feats.npy"
    expected = extract_to_store(mel, clips, path).copy()
    meta = read_store_metadata(path)
    meta["completed"] = False  # as if killed right after os.replace
    (tmp_path / "feats.npy.json").write_text(json.dumps(meta))
    seen = _count_batches(monkeypatch)
    np.testing.assert_array_equal(extract_to_store(mel, clips, path), expected)
    assert seen == [] and read_store_metadata(path)["completed"] is True


def test_changed_sources_or_params_are_not_reused(clips, tmp_path, monkeypatch):
    path = tmp_path / "feats.npy"
    mel = MelSpectrogramTransformer(**SMALL)
    extract_to_store(mel, clips, path)
    with pytest.raises(FileExistsError, match="sources_fingerprint"):
        extract_to_store(mel, clips[::-1], path)
    with pytest.raises(FileExistsError, match="params"):
        extract_to_store(mel.set_params(n_mels=8), clips, path)
    X = extract_to_store(mel, clips, path, overwrite=True)
    assert X.shape == (9, 8, 63)
    np.testing.assert_array_equal(X, mel.fit_transform(clips))

    # A modified file (new mtime/size) changes the fingerprint: a partial run is not resumed.
    path2 = tmp_path / "g.npy"
    mel = MelSpectrogramTransformer(**SMALL).fit(clips)
    _count_batches(monkeypatch, fail_after=3)
    with pytest.raises(_Interrupt):
        extract_to_store(mel, clips, path2, chunk_size=1)
    monkeypatch.undo()
    data = open(clips[0], "rb").read()
    with open(clips[0], "wb") as fh:
        fh.write(data)
    os.utime(clips[0], ns=(1, 1))
    seen = _count_batches(monkeypatch)
    extract_to_store(mel, clips, path2, chunk_size=1)
    assert seen == list(range(9))


def test_failures_fill_nan_and_are_recorded(clips, tmp_path):
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"not audio at all")
    paths = [clips[0], str(bad), clips[1]]
    mel = MelSpectrogramTransformer(**SMALL, on_error="warn")
    with pytest.warns(ExtractionWarning, match="1 of 3 clips failed") as record:
        X = extract_to_store(mel, paths, tmp_path / "f.npy")
    assert np.isnan(X[1]).all() and np.isfinite(X[[0, 2]]).all()
    assert [f.index for f in record[0].message.failures] == [1]
    meta = read_store_metadata(tmp_path / "f.npy")
    assert meta["failures"][0]["index"] == 1 and "bad.wav" in meta["failures"][0]["source"]
    with pytest.warns(ExtractionWarning):  # reopening reports them again
        extract_to_store(mel, paths, tmp_path / "f.npy")

    with pytest.raises(Exception, match="bad.wav"):
        extract_to_store(MelSpectrogramTransformer(**SMALL), paths, tmp_path / "g.npy")


def test_invalid_arguments(clips, tmp_path):
    mel = MelSpectrogramTransformer(**SMALL)
    with pytest.raises(ValueError, match="fixed clip length"):
        extract_to_store(MelSpectrogramTransformer(duration=None), clips, tmp_path / "a.npy")
    with pytest.raises(TypeError, match="waveforms"):
        extract_to_store(mel, [np.zeros(100, np.float32)], tmp_path / "a.npy")
    with pytest.raises(TypeError, match="wrap"):
        extract_to_store(mel, clips[0], tmp_path / "a.npy")
    with pytest.raises(ValueError, match="chunk_size"):
        extract_to_store(mel, clips, tmp_path / "a.npy", chunk_size=0)
    with pytest.raises(IncompleteStoreError, match="no sidecar"):
        open_store(tmp_path / "missing.npy")


# ------------------------------------------------------------------ training on the memmap
class _RecordInput(Callback):
    def on_train_begin(self, net, X=None, y=None, **kwargs):
        self.X = X


def _backed_by_file(a):
    while a is not None:
        if isinstance(a, np.memmap):
            return True
        a = a.base
    return False


# torch warns (once per process) when it wraps a row of a read-only array; it only reads it.
@pytest.mark.filterwarnings("ignore:The given NumPy array is not writable:UserWarning")
@pytest.mark.parametrize("dtype", [np.float32, np.float16])
def test_classifier_trains_on_memmap_without_copy(tmp_path, dtype):
    rng = np.random.default_rng(0)
    y = np.repeat(["jazz", "rock"], 20)
    X = rng.normal(-50.0, 6.0, size=(40, 16, 32))
    X[y == "rock", 2:6] += 20.0
    X = X.astype(dtype)
    np.save(tmp_path / "x.npy", X)
    X_mm = np.load(tmp_path / "x.npy", mmap_mode="r")

    kw = dict(max_epochs=2, verbose=0, random_state=0, module__channels=(4, 4, 8),
              batch_size=8, valid_size=0.25)
    record = _RecordInput()
    on_disk = CNNClassifier(**kw, callbacks=[("record", record)]).fit(X_mm, y)
    in_memory = CNNClassifier(**kw).fit(np.array(X), y)
    # skorch got the memmap itself (no in-memory copy): its Dataset reads rows per batch.
    assert _backed_by_file(record.X)
    np.testing.assert_array_equal(on_disk.predict_proba(X_mm), in_memory.predict_proba(X))
    np.testing.assert_array_equal(on_disk.history[:, "train_loss"],
                                  in_memory.history[:, "train_loss"])
