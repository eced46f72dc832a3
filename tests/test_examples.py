"""The scripts in examples/ run as scripts (with --quick: tiny settings, seconds each)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def run_example(name, *args, cwd):
    env = {**os.environ, "MPLBACKEND": "Agg", "PYTHONUNBUFFERED": "1"}
    return subprocess.run([sys.executable, str(EXAMPLES / name), *args], capture_output=True,
                          text=True, env=env, cwd=cwd, timeout=240)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("quickstart.py", "pickled pipeline:"),
        ("compare_baselines.py", "cnn_gru_attn"),
        ("grid_search.py", "best:"),
        ("bayes_search.py", "best:"),
        ("use_pickled_model.py", "whole track:"),
        ("experiment.py", "leakage check says 'leak (warned)'"),
    ],
)
def test_example_runs_quick(name, expected, tmp_path):
    args = ["--quick"] if name == "use_pickled_model.py" else ["--quick", "--workdir",
                                                                str(tmp_path)]
    proc = run_example(name, *args, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert expected in proc.stdout


def test_transfer_learning_example_runs_quick(musicnn_data_home, tmp_path):
    home = [] if musicnn_data_home is None else ["--data-home", str(musicnn_data_home)]
    proc = run_example("transfer_learning.py", "--quick", "--workdir", str(tmp_path), *home,
                       cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "MusiCNN + logistic regression: test accuracy" in proc.stdout
    assert "pickled pipeline:" in proc.stdout


def test_fma_protocol_says_what_to_do_without_fma(tmp_path):
    proc = run_example("fma_small_protocol.py", cwd=tmp_path)
    assert proc.returncode == 3
    assert "sklearn-genre fetch-fma" in proc.stderr and "--fma-dir" in proc.stderr


def test_every_example_is_tested_or_needs_data():
    scripts = {p.name for p in EXAMPLES.glob("*.py")}
    assert scripts == {"quickstart.py", "compare_baselines.py", "grid_search.py",
                       "bayes_search.py", "use_pickled_model.py", "fma_small_protocol.py",
                       "experiment.py", "transfer_learning.py"}
