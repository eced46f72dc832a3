"""The package's public surface: lazy exports, version, and a light top-level import."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

import sklearn_genre

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("name", sklearn_genre.__all__)
def test_every_export_resolves(name):
    assert getattr(sklearn_genre, name) is not None


def test_unknown_name_raises_attribute_error():
    with pytest.raises(AttributeError, match="no_such_name"):
        sklearn_genre.no_such_name  # noqa: B018


def test_version_matches_pyproject():
    text = (ROOT / "pyproject.toml").read_text()
    assert sklearn_genre.__version__ == re.search(r'^version = "([^"]+)"', text, re.M).group(1)


def test_top_level_import_does_not_import_torch():
    code = "import sys, sklearn_genre; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_constraints_pin_torch_for_the_install_path():
    pins = (ROOT / "constraints.txt").read_text().split()
    assert "torch==2.13.0" in pins
    readme = (ROOT / "README.md").read_text()
    assert "-c constraints.txt" in readme
