import dataclasses
import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import sklearn_genre
from sklearn_genre.provenance import (
    RunInfo,
    data_fingerprint,
    device_info,
    hash_file,
    make_run_dir,
    package_versions,
    platform_info,
    read_run_info,
    to_jsonable,
    write_results_json,
)


def test_versions_platform_device():
    v = package_versions()
    assert v["python"] == ".".join(map(str, sys.version_info[:3]))
    assert v["numpy"] == np.__version__
    assert v["pandas"] == pd.__version__
    assert v["sklearn_genre"] == sklearn_genre.__version__
    for key in ("scipy", "scikit-learn", "skorch", "torch", "librosa", "soundfile", "joblib"):
        assert isinstance(v[key], str) and v[key]
    p = platform_info()
    assert p["cpu_count"] == os.cpu_count() and p["system"]
    d = device_info()
    assert isinstance(d["cuda_available"], bool) and d["torch_num_threads"] >= 1
    json.dumps([v, p, d])


def test_hash_file_streams(tmp_path):
    data = os.urandom(5000)
    f = tmp_path / "x.bin"
    f.write_bytes(data)
    expected = hashlib.blake2b(data).hexdigest()
    assert hash_file(f) == expected
    assert hash_file(f, chunk_size=7) == expected
    assert hash_file(f, algorithm="sha1") == hashlib.sha1(data).hexdigest()


@pytest.fixture
def dataset(tmp_path):
    root = tmp_path / "data"
    (root / "rock").mkdir(parents=True)
    (root / "pop").mkdir()
    paths = []
    for i, genre in enumerate(["rock", "rock", "pop"]):
        p = root / genre / f"{i}.wav"
        p.write_bytes(bytes([i]) * (100 + i))
        paths.append(p)
    return root, paths, ["rock", "rock", "pop"], ["train", "test", "train"]


def test_fingerprint_tracks_files_labels_and_splits(dataset):
    root, paths, labels, splits = dataset
    fp = data_fingerprint(paths, labels=labels, splits=splits, root=root)
    assert fp["n_files"] == 3 and fp["identity"] == "size+mtime_ns"
    assert fp["label_counts"] == {"pop": 1, "rock": 2}
    same = data_fingerprint(paths[::-1], labels=labels[::-1], splits=splits[::-1], root=root)
    assert same["digest"] == fp["digest"]  # order does not matter
    other_split = data_fingerprint(paths, labels=labels, splits=["train", "train", "test"])
    assert other_split["digest"] != fp["digest"]
    other_label = data_fingerprint(paths, labels=["rock", "pop", "pop"], splits=splits)
    assert other_label["digest"] != fp["digest"]
    assert (
        data_fingerprint(paths[:2], root=root)["digest"]
        != data_fingerprint(paths, root=root)["digest"]
    )
    # default root = common folder: same digest as root=data folder
    assert data_fingerprint(paths, labels=labels, splits=splits)["digest"] == fp["digest"]
    # "stat" identity sees a touched file, "content" does not
    c1 = data_fingerprint(paths, identity="content")["digest"]
    s1 = data_fingerprint(paths)["digest"]
    st = os.stat(paths[0])
    os.utime(paths[0], ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    assert data_fingerprint(paths)["digest"] != s1
    assert data_fingerprint(paths, identity="content")["digest"] == c1
    # an edit with the same size changes the content fingerprint
    paths[0].write_bytes(b"\xff" * 100)
    assert data_fingerprint(paths, identity="content")["digest"] != c1


def test_content_fingerprint_is_location_independent(dataset, tmp_path):
    root, paths, labels, _ = dataset
    fp = data_fingerprint(paths, labels=labels, identity="content")
    copy = shutil.copytree(root, tmp_path / "elsewhere" / "data")
    moved = [Path(copy) / p.relative_to(root) for p in paths]
    assert data_fingerprint(moved, labels=labels, identity="content")["digest"] == fp["digest"]


def test_fingerprint_errors(dataset):
    root, paths, labels, _ = dataset
    with pytest.raises(ValueError, match="labels has 2"):
        data_fingerprint(paths, labels=labels[:2])
    with pytest.raises(ValueError, match="identity"):
        data_fingerprint(paths, identity="mtime")
    with pytest.raises(FileNotFoundError, match="missing.wav"):
        data_fingerprint([*paths, root / "missing.wav"])


@dataclasses.dataclass
class _Point:
    x: int
    y: float


def test_to_jsonable_converts_numpy_and_friends():
    obj = {
        "i": np.int64(3),
        "f": np.float32(0.5),
        "nan": float("nan"),
        "inf": np.inf,
        "b": np.bool_(True),
        "arr": np.array([[1, 2], [3, 4]]),
        "path": Path("a/b"),
        "tuple": (1, 2),
        "set": {2, 1},
        "dc": _Point(1, 2.0),
        "df": pd.DataFrame({"a": [1, 2]}),
        1: "int key",
    }
    out = to_jsonable(obj)
    assert json.loads(json.dumps(out, allow_nan=False)) == {
        "i": 3,
        "f": 0.5,
        "nan": None,
        "inf": None,
        "b": True,
        "arr": [[1, 2], [3, 4]],
        "path": "a/b",
        "tuple": [1, 2],
        "set": [1, 2],
        "dc": {"x": 1, "y": 2.0},
        "df": [{"a": 1}, {"a": 2}],
        "1": "int key",
    }
    with pytest.raises(TypeError, match=r"results\['model'\]\[0\].*object"):
        to_jsonable({"model": [object()]})


def test_write_results_json_is_atomic(tmp_path):
    path = write_results_json(tmp_path, {"accuracy": np.float64(0.75), "cm": np.eye(2, dtype=int)})
    assert json.loads(path.read_text()) == {"accuracy": 0.75, "cm": [[1, 0], [0, 1]]}
    with pytest.raises(TypeError):
        write_results_json(tmp_path, {"bad": object()})
    # the previous file is intact and no temporary file is left
    assert json.loads(path.read_text())["accuracy"] == 0.75
    assert sorted(p.name for p in tmp_path.iterdir()) == ["results.json"]
    with pytest.raises(FileNotFoundError, match="does not exist"):
        write_results_json(tmp_path / "nope", {})


def test_make_run_dir_never_reuses_silently(tmp_path):
    a = make_run_dir(tmp_path / "runs")
    b = make_run_dir(tmp_path / "runs")
    assert a != b and a.is_dir() and b.is_dir()  # same second: numbered
    assert a.name.startswith("run-")

    named = make_run_dir(tmp_path, "exp1")
    with RunInfo(named):
        pass
    (named / "model.joblib").write_bytes(b"x")
    with pytest.raises(FileExistsError, match="exp1 already exists.*completed.*overwrite=True"):
        make_run_dir(tmp_path, "exp1")
    assert make_run_dir(tmp_path, "exp1", exist_ok=True) == named
    assert (named / "model.joblib").exists()  # reuse keeps files
    assert make_run_dir(tmp_path, "exp1", overwrite=True) == named
    assert list(named.iterdir()) == []  # overwrite starts empty

    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "thesis.tex").write_text("x")
    with pytest.raises(FileExistsError, match="not a run directory"):
        make_run_dir(tmp_path, "precious", overwrite=True)
    assert (precious / "thesis.tex").exists()
    for bad in ("a/b", "..", ""):
        with pytest.raises(ValueError, match="plain folder name"):
            make_run_dir(tmp_path, bad)
    with pytest.raises(ValueError, match="exclude"):
        make_run_dir(tmp_path, "exp2", exist_ok=True, overwrite=True)


def test_run_info_statuses(tmp_path):
    run_dir = make_run_dir(tmp_path, "ok")
    config = {"lr": np.float64(1e-3)}
    with RunInfo(run_dir, command=["train", "--model", "cnn"], config=config) as r:
        assert read_run_info(run_dir)["status"] == "running"
        r.update(n_epochs=3)
    info = read_run_info(run_dir)
    assert info["status"] == "completed" and info["message"] is None
    assert info["n_epochs"] == 3 and info["config"] == {"lr": 0.001}
    assert info["command"] == ["train", "--model", "cnn"]
    assert info["duration_s"] >= 0 and info["versions"]["numpy"] == np.__version__

    failed = make_run_dir(tmp_path, "failed")
    with pytest.raises(RuntimeError, match="disk full"):
        with RunInfo(failed):
            raise RuntimeError("disk full")
    info = read_run_info(failed)
    assert info["status"] == "failed" and info["message"] == "RuntimeError: disk full"
    assert "raise RuntimeError" in info["traceback"]

    interrupted = make_run_dir(tmp_path, "interrupted")
    with pytest.raises(KeyboardInterrupt):
        with RunInfo(interrupted):
            raise KeyboardInterrupt
    assert read_run_info(interrupted)["status"] == "interrupted"

    # skorch swallows Ctrl-C inside fit: the caller marks the run, and the normal exit keeps it
    marked = make_run_dir(tmp_path, "marked")
    with RunInfo(marked) as r:
        r.mark_interrupted("stopped at epoch 4 of 10")
    info = read_run_info(marked)
    assert info["status"] == "interrupted" and info["message"] == "stopped at epoch 4 of 10"
    with pytest.raises(ValueError, match="set by RunInfo"):
        r.update(status="completed")


def test_killed_run_is_reported_stale(tmp_path):
    run_dir = make_run_dir(tmp_path, "killed")
    code = (
        "import os, sys; from sklearn_genre.provenance import RunInfo; "
        "RunInfo(sys.argv[1]).start(); os._exit(9)"
    )
    repo = Path(sklearn_genre.__file__).parents[1]
    subprocess.run([sys.executable, "-c", code, str(run_dir)], check=False, cwd=repo)
    info = read_run_info(run_dir)
    assert info["status"] == "running"
    assert info["stale"] is True and "no longer exists" in info["note"]
    with pytest.raises(FileNotFoundError, match="not a run directory"):
        read_run_info(tmp_path)
    (tmp_path / "run_info.json").write_text("{broken")
    with pytest.raises(ValueError, match="not valid JSON"):
        read_run_info(tmp_path)


# ------------------------------------------------ runs without a model (issue 14)
def test_explain_missing_model(tmp_path):
    from sklearn_genre.provenance import RunInfo, explain_missing_model

    failed = tmp_path / "failed"
    failed.mkdir()
    with pytest.raises(ValueError):
        with RunInfo(failed, command=["x"]):
            raise ValueError("no audio files under data/")
    message, hint = explain_missing_model(failed)
    assert message == (f"run {failed} has no model (model.joblib): it failed before a model was "
                       "saved (ValueError: no audio files under data/)")
    assert "no checkpoint to resume from: delete the folder" in hint

    interrupted = tmp_path / "interrupted"
    interrupted.mkdir()
    with pytest.raises(KeyboardInterrupt):
        with RunInfo(interrupted, command=["x"]):
            raise KeyboardInterrupt
    assert "interrupted before a model was saved (Ctrl-C before the first epoch ended)" in (
        explain_missing_model(interrupted)[0])
    (interrupted / "checkpoints" / "last-epoch-0003").mkdir(parents=True)
    message, hint = explain_missing_model(interrupted)
    assert "after epoch 3" in message
    assert f"resume it from epoch 3 with `sklearn-genre train --resume {interrupted}`" in hint

    assert "not a run directory" in explain_missing_model(tmp_path)[0]
