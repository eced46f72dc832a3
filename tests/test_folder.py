"""load_audio_folder on GTZAN-style genre folders."""

import numpy as np
import pytest

from sklearn_genre.datasets import DatasetWarning, load_audio_folder

FILES = [
    "rock/b.WAV", "rock/a.mp3", "jazz/x.flac", "jazz/sub/y.ogg", "blues/c.au",
    "blues/d.aiff",
]
IGNORED = ["jazz/notes.txt", "readme.md", "blues/cover.jpg"]
HIDDEN = [".hidden/z.wav", "rock/.DS_Store", "rock/._a.mp3", "jazz/.cache/w.wav"]


def _make(root, names):
    for name in names:
        p = root / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(b"x")


def test_ordering_genres_and_reports(tmp_path):
    _make(tmp_path, FILES + IGNORED + HIDDEN)
    with pytest.warns(DatasetWarning, match="3 files") as rec:
        b = load_audio_folder(tmp_path)
    assert len(rec) == 1
    rel = [p[len(str(tmp_path)) + 1:].replace("\\", "/") for p in b.paths]
    assert rel == ["blues/c.au", "blues/d.aiff", "jazz/sub/y.ogg", "jazz/x.flac",
                   "rock/a.mp3", "rock/b.WAV"]
    assert b.target.tolist() == ["blues", "blues", "jazz", "jazz", "rock", "rock"]
    assert b.target_names.tolist() == ["blues", "jazz", "rock"]
    ignored = sorted(p[len(str(tmp_path)) + 1:].replace("\\", "/") for p in b.excluded.path)
    assert ignored == sorted(IGNORED)
    assert "root folder" in b.excluded.set_index("path").loc[str(tmp_path / "readme.md"),
                                                             "reason"]
    # same shape as load_fma's Bunch; no artists, no split
    assert list(b.frame.columns) == ["path", "genre", "artist_id", "split"]
    assert b.frame.index.name == "track_id" and list(b.frame.index) == list(range(6))
    assert b.artist_ids is None and b.split is None
    assert b.frame["artist_id"].isna().all() and b.frame["split"].isna().all()
    assert b.missing == []


def test_order_independent_of_creation_order(tmp_path):
    rng = np.random.default_rng(0)
    a, b = tmp_path / "a", tmp_path / "b"
    _make(a, FILES)
    _make(b, [FILES[i] for i in rng.permutation(len(FILES))])
    ra = [p[len(str(a)):] for p in load_audio_folder(a).paths]
    rb = [p[len(str(b)):] for p in load_audio_folder(b).paths]
    assert ra == rb


def test_extensions_return_X_y_and_errors(tmp_path):
    _make(tmp_path, FILES)
    with pytest.warns(DatasetWarning):
        X, y = load_audio_folder(tmp_path, extensions={".wav", ".MP3"}, return_X_y=True)
    assert [p.rsplit("/", 1)[-1] for p in X] == ["a.mp3", "b.WAV"]
    assert y.tolist() == ["rock", "rock"]
    with pytest.raises(FileNotFoundError):
        load_audio_folder(tmp_path / "nope")
    empty = tmp_path / "empty"
    (empty / "rock").mkdir(parents=True)
    with pytest.raises(ValueError, match="no audio files"):
        load_audio_folder(empty)


def test_find_audio_files_is_the_one_scanner(tmp_path):
    from pathlib import Path

    from sklearn_genre.cli.evaluate import expand_audio_paths
    from sklearn_genre.datasets import find_audio_files

    _make(tmp_path, FILES + IGNORED + HIDDEN + ["top.mp3"])
    found = find_audio_files(tmp_path)
    rel = [Path(p).relative_to(tmp_path).as_posix() for p in found]
    assert rel == sorted(FILES + ["top.mp3"], key=lambda r: Path(r).parts)
    assert expand_audio_paths([tmp_path]) == found  # the CLI's folder expansion delegates
    assert find_audio_files(tmp_path, extensions={".WAV"}) == [str(tmp_path / "rock/b.WAV")]
    with pytest.raises(NotADirectoryError, match="not a folder"):
        find_audio_files(tmp_path / "rock" / "a.mp3")
