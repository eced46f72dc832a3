"""Issue 14: the real ``sklearn-genre`` console script on bad files, missing hardware and runs
without a model. Each case runs the installed entry point as a subprocess, with this checkout
first on ``PYTHONPATH``."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from sklearn_genre.cli import main
from sklearn_genre.datasets import make_fma_like
from sklearn_genre.provenance import RunInfo

REPO = Path(__file__).resolve().parents[1]
FAST = ["--n-mels", "16", "--duration", "1.0", "--epochs", "1", "--batch-size", "8",
        "--no-cache"]


def console_script():
    """The ``sklearn-genre`` entry point installed next to this interpreter."""
    script = Path(sys.executable).with_name("sklearn-genre")
    found = script if script.is_file() else shutil.which("sklearn-genre")
    assert found, "the sklearn-genre console script is not installed (pip install -e .)"
    return str(found)


def sklearn_genre(*args):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO),
                                                         os.environ.get("PYTHONPATH", "")]),
           "MPLBACKEND": "Agg"}
    return subprocess.run([console_script(), *map(str, args)], capture_output=True, text=True,
                          env=env, cwd=REPO, timeout=600)


def tone(freq, seconds, sr=22050):
    t = np.arange(int(seconds * sr)) / sr
    return (0.3 * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def write_bad_files(folder):
    """An empty .wav, a text file named .mp3 and a truncated mp3 (4 s header, 1 s of data)."""
    (folder / "empty.wav").write_bytes(b"")
    (folder / "notes.mp3").write_text("my shopping list, not music\n" * 20)
    full = folder.parent / "full.mp3"
    sf.write(full, tone(330, 4.0), 22050)
    data = full.read_bytes()
    (folder / "truncated.mp3").write_bytes(data[: len(data) // 4])
    full.unlink()


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("fma")
    make_fma_like(root, n_per_genre=4, duration=1.0, sr=22050, stereo=False, verbose=False)
    out = tmp_path_factory.mktemp("runs")
    assert main(["-q", "train", "--fma-dir", str(root), "--model", "cnn", *FAST,
                 "--out", str(out), "--name", "r"]) == 0
    return out / "r"


@pytest.fixture
def tracks(tmp_path):
    folder = tmp_path / "tracks"
    folder.mkdir()
    for i, freq in enumerate((220, 880)):
        sf.write(folder / f"good{i}.wav", tone(freq, 2.5), 22050)
    write_bad_files(folder)
    return folder


def test_predict_writes_every_good_result_and_lists_the_bad_files(run_dir, tracks):
    done = sklearn_genre("-q", "predict", run_dir, tracks, "--top-k", "2")
    assert done.returncode == 6, done.stderr
    table = pd.read_csv(pd.io.common.StringIO(done.stdout), keep_default_na=False)
    assert [Path(p).name for p in table["path"]] == ["empty.wav", "good0.wav", "good1.wav",
                                                     "notes.mp3", "truncated.mp3"]
    by_name = {Path(p).name: row for p, row in zip(table["path"], table.itertuples())}
    assert by_name["good0.wav"].top1 != "" and by_name["good0.wav"].error == ""
    assert by_name["empty.wav"].error == "empty file (0 bytes)"
    assert by_name["notes.mp3"].error.startswith("not audio: the file holds text: 'my shopping")
    assert "truncated" in by_name["truncated.mp3"].error
    assert table["error_kind"].tolist() == ["empty", "", "", "not_audio", "truncated"]
    err = done.stderr
    for name in ("empty.wav", "notes.mp3", "truncated.mp3"):
        assert f"{tracks / name}: " in err
    assert "error: 3 of 5 files could not be read" in err and "--on-error skip" in err
    assert "does not exist" not in err and "Traceback" not in err
    assert "Note:" not in err  # mpg123's chatter is gone under --quiet



# The other policies and checks of predict run in-process (main()) to keep the suite fast: the
# console script is the same main().
@pytest.mark.parametrize("flag", [["--on-error", "skip"], ["--skip-errors"]])
def test_predict_skip_exits_0_with_the_same_output(run_dir, tracks, flag, capsys):
    assert main(["-q", "predict", str(run_dir), str(tracks), "--top-k", "2", *flag]) == 0
    out, err = capsys.readouterr()
    assert len(pd.read_csv(pd.io.common.StringIO(out))) == 5
    assert "warning: 3 of 5 files could not be read" in err and "error:" not in err


def test_predict_raise_stops_at_the_first_bad_file(run_dir, tracks, capsys):
    assert main(["-q", "predict", str(run_dir), str(tracks), "--on-error", "raise"]) == 3
    out, err = capsys.readouterr()
    assert out == "" and "empty file (0 bytes)" in err and "--on-error raise" in err


def test_predict_refuses_a_hop_longer_than_the_window(run_dir, tracks, capsys):
    assert main(["-q", "predict", str(run_dir), str(tracks / "good0.wav"), "--hop", "2.5"]) == 2
    assert "--hop 2.5 s is longer than the window=1 s" in capsys.readouterr().err


def test_predict_counts_short_tracks(run_dir, tmp_path, capsys):
    sf.write(tmp_path / "short.wav", tone(440, 0.2), 22050)
    sf.write(tmp_path / "long.wav", tone(440, 3.0), 22050)
    assert main(["-q", "predict", str(run_dir), str(tmp_path)]) == 0
    assert ("warning: 1 of 2 tracks are shorter than half the 1 s window (shortest 0.2 s of "
            "sound") in capsys.readouterr().err


def test_preprocess_and_evaluate_keep_going_past_bad_files(run_dir, tmp_path, capsys):
    root = tmp_path / "genres"
    for genre, freq in (("Rock", 110), ("Folk", 2000)):  # two of the run's genres
        (root / genre).mkdir(parents=True)
        for i in range(5):
            sf.write(root / genre / f"{genre}{i}.wav", tone(freq * (1 + i / 10), 1.0), 22050)
    write_bad_files(root / "Rock")
    cache = tmp_path / "cache"
    done = sklearn_genre("-q", "preprocess", "--folder", root, "--n-mels", "16", "--duration",
                         "1.0", "--cache", cache)
    assert done.returncode == 6, done.stderr
    assert "10 clips of genre folders" in done.stdout
    assert len(list(cache.rglob("*.feat"))) == 10
    assert "error: 3 of 13 files could not be read; the features of the other 10 are cached" in (
        done.stderr)
    assert f"{root / 'Rock' / 'notes.mp3'}: not audio: the file holds text" in done.stderr

    # evaluate in-process (same main() as the console script; keeps the suite fast): every
    # file of the folder is evaluated; the bad ones are listed, the others scored
    code = main(["-q", "evaluate", str(run_dir), "--folder", str(root), "--cache", str(cache),
                 "--on-leak", "ignore", "--out", str(tmp_path / "evals")])
    err = capsys.readouterr().err
    assert code == 6, err
    assert "3 of 13 files could not be read" in err
    assert f"{root / 'Rock' / 'notes.mp3'}: not audio: the file holds text" in err
    (eval_dir,) = (tmp_path / "evals").iterdir()
    results = json.loads((eval_dir / "results.json").read_text())
    assert results["outside"]["n_failed"] == 3 and len(results["outside"]["failures"]) == 3
    preds = pd.read_csv(eval_dir / "predictions.csv")
    scored = results["metrics"]["n_test"]
    # every file is of a trained genre: all 13 have a row, the 3 failed ones with a reason
    assert len(preds) == 13 and scored == 10 and results["metrics"]["n_failed"] == 3
    assert preds["error"].fillna("").ne("").sum() == 3 and preds["y_pred"].isna().sum() == 3
    assert main(["-q", "evaluate", str(run_dir), "--folder", str(root), "--cache", str(cache),
                 "--on-leak", "ignore", "--out", str(tmp_path / "evals2"),
                 "--on-error", "raise"]) == 3


def test_unavailable_device_fails_before_any_work(tmp_path, capsys):
    done = sklearn_genre("-q", "train", "--fma-dir", tmp_path / "not-read", "--model", "cnn",
                         *FAST, "--out", tmp_path / "runs", "--device", "cuda:99")
    assert done.returncode == 2, done.stderr
    assert "error: device='cuda:99' cannot be used" in done.stderr
    assert "available on this machine: cpu" in done.stderr and "--device auto" in done.stderr
    assert "Traceback" not in done.stderr and "AssertionError" not in done.stderr
    assert not (tmp_path / "runs").exists()  # no run directory, no data read
    assert main(["-q", "train", "--fma-dir", str(tmp_path / "not-read"), *FAST, "--out",
                 str(tmp_path / "runs"), "--device", "tpu-please"]) == 2
    assert "device='tpu-please' cannot be used: not a torch device name" in (
        capsys.readouterr().err)
    assert not (tmp_path / "runs").exists()


def test_evaluate_and_predict_refuse_a_run_without_a_model(tmp_path, tracks, capsys):
    failed = tmp_path / "failed"
    failed.mkdir()
    with pytest.raises(OSError):
        with RunInfo(failed, command=["sklearn-genre", "train"]):
            raise OSError("disk full")
    expected = (f"error: run {failed} has no model (model.joblib): it failed before a model "
                "was saved (OSError: disk full)")
    for args in (["evaluate", str(failed)], ["predict", str(failed), str(tracks)]):
        assert main(["-q", *args]) == 3
        err = capsys.readouterr().err
        assert expected in err and "delete the folder and train again" in err


def test_auto_device_is_recorded_in_the_results(run_dir):
    import torch

    results = json.loads((run_dir / "results.json").read_text())
    assert results["device_used"] == ("cuda" if torch.cuda.is_available() else "cpu")
