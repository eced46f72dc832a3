"""save_model / load_model: fresh-process round trip, clear errors for files that are not models."""

import os
import subprocess
import sys
from pathlib import Path

import joblib
import numpy as np
import pytest
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer

import sklearn_genre.persistence as persistence
from sklearn_genre.classifiers import CNNClassifier
from sklearn_genre.persistence import ModelLoadError, load_model, save_model

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    X = rng.normal(-40, 10, size=(24, 16, 32)).astype(np.float32)
    return X, np.array(["rock", "jazz", "pop"] * 8)


@pytest.fixture(scope="module")
def model(data):
    X, y = data
    clf = CNNClassifier(max_epochs=1, batch_size=8, verbose=0, random_state=0,
                        module__channels=(4, 8, 8))
    return Pipeline([("identity", FunctionTransformer()), ("classifier", clf)]).fit(X, y)


@pytest.fixture
def saved(model, tmp_path):
    return save_model(model, tmp_path / "model.joblib")


def test_round_trip_in_a_fresh_process(model, data, saved, tmp_path):
    X, _ = data
    np.save(tmp_path / "X.npy", X)
    np.save(tmp_path / "expected.npy", model.predict_proba(X))
    code = (
        "import sys, numpy as np, joblib\n"
        "from sklearn_genre.persistence import load_model\n"
        "d = sys.argv[1]\n"
        "X, expected = np.load(d + '/X.npy'), np.load(d + '/expected.npy')\n"
        "m, info = load_model(d + '/model.joblib', return_info=True)\n"
        "assert info['format'] == 'sklearn_genre.model', info\n"
        "np.testing.assert_allclose(m.predict_proba(X), expected, rtol=0, atol=1e-6)\n"
        "plain = joblib.load(d + '/model.joblib')\n"  # plain joblib users keep working
        "np.testing.assert_allclose(plain.predict_proba(X), expected, rtol=0, atol=1e-6)\n"
        "print('ok')\n"
    )
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path)], cwd=REPO,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stdout + out.stderr


def test_header_records_versions(saved):
    model, info = load_model(saved, return_info=True)
    assert isinstance(model, Pipeline)
    assert info["format_version"] == persistence.FORMAT_VERSION
    assert info["estimator"] == "sklearn.pipeline.Pipeline"
    import sklearn
    import torch

    from sklearn_genre import __version__
    assert info["versions"]["sklearn_genre"] == __version__
    assert info["versions"]["scikit-learn"] == sklearn.__version__
    assert info["versions"]["torch"] == torch.__version__.split("+")[0] or \
        info["versions"]["torch"] == torch.__version__
    assert len(info["sha256"]) == 64


def test_plain_joblib_and_pickle_of_a_pipeline_still_load(model, data, tmp_path):
    joblib.dump(model, tmp_path / "plain.joblib")
    loaded, info = load_model(tmp_path / "plain.joblib", return_info=True)
    assert info is None
    X, _ = data
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))


def _error(path):
    with pytest.raises(ModelLoadError) as excinfo:
        load_model(path)
    assert str(path) in str(excinfo.value)  # the message names the file
    return excinfo.value


def test_files_that_are_not_models(tmp_path):
    random_bytes = tmp_path / "random.joblib"
    random_bytes.write_bytes(np.random.default_rng(0).bytes(4096).replace(b"\x80", b"\x00"))
    err = _error(random_bytes)
    assert err.reason == "not_a_model_file" and "not a model file" in str(err)

    text = tmp_path / "notes.txt"
    text.write_text("genre,probability\nrock,0.9\n")
    assert _error(text).reason == "not_a_model_file"

    other = tmp_path / "other.joblib"
    joblib.dump({"weights": np.zeros(3)}, other)
    err = _error(other)
    assert err.reason == "not_a_model" and "builtins.dict" in str(err)

    unfitted = tmp_path / "unfitted.joblib"
    save_model(CNNClassifier(), unfitted)
    assert _error(unfitted).reason == "not_a_model"

    err = _error(tmp_path / "missing.joblib")
    assert err.reason == "missing" and "does not exist" in str(err)
    assert isinstance(err, ValueError)


def test_corrupt_and_truncated_model_files(saved, tmp_path):
    blob = saved.read_bytes()
    truncated = tmp_path / "truncated.joblib"
    truncated.write_bytes(blob[: len(blob) // 2])
    err = _error(truncated)
    assert err.reason == "corrupt" and "corrupt or truncated" in str(err)

    flipped = bytearray(blob)
    flipped[len(blob) * 3 // 4] ^= 0xFF  # inside the model bytes
    corrupt = tmp_path / "flipped.joblib"
    corrupt.write_bytes(bytes(flipped))
    assert _error(corrupt).reason == "corrupt"


@pytest.mark.parametrize("patch, match", [
    (("_version", lambda: "1.2.0"), "written by sklearn_genre 1.2.0, incompatible"),
    (("FORMAT_VERSION", 99), "model file format 99"),
])
def test_incompatible_version(model, tmp_path, monkeypatch, patch, match):
    path = tmp_path / "future.joblib"
    with monkeypatch.context() as m:
        m.setattr(persistence, *patch)
        save_model(model, path)
    err = _error(path)
    assert err.reason == "incompatible_version"
    assert match in str(err)
    # plain joblib.load runs the same check
    with pytest.raises(ModelLoadError, match="incompatible|format 99"):
        joblib.load(path)


def test_newer_minor_version_loads_with_a_warning(model, tmp_path, monkeypatch):
    path = tmp_path / "newer.joblib"
    with monkeypatch.context() as m:
        m.setattr(persistence, "_version", lambda: "0.99.0")
        save_model(model, path)
    with pytest.warns(UserWarning, match="newer than the installed"):
        assert isinstance(load_model(path), Pipeline)


def test_save_is_atomic(model, tmp_path, monkeypatch):
    path = save_model(model, tmp_path / "m.joblib")
    before = path.read_bytes()

    def fail(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", fail)  # the last step before the rename
    with pytest.raises(OSError, match="No space"):
        save_model(model, path)
    assert path.read_bytes() == before  # the old file is intact
    assert os.listdir(tmp_path) == ["m.joblib"]  # no temporary file left
