"""load_fma on tracks.csv files written as FMA ships them."""

import csv
import os

import numpy as np
import pandas as pd
import pytest

from sklearn_genre.datasets import (
    KNOWN_BROKEN_TRACKS,
    TRACKS_COLUMNS,
    DatasetWarning,
    fma_audio_path,
    load_fma,
    read_tracks,
)

BIO = '<p>Says "hello", then\nleaves, <a href="x">link</a></p>'


def _write_fma_tracks(path, rows):
    """Write tracks.csv by hand in FMA's text format (not through pandas).

    ``rows``: list of (track_id, subset, split, genre_top or None, artist_id).
    """
    cols = list(TRACKS_COLUMNS)
    with open(path, "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow([""] + [c[0] for c in cols])
        w.writerow([""] + [c[1] for c in cols])
        w.writerow(["track_id"] + [""] * len(cols))
        for tid, subset, split, genre, artist in rows:
            values = {c: "" for c in cols}
            values.update({
                ("set", "subset"): subset, ("set", "split"): split,
                ("track", "genre_top"): genre or "", ("artist", "id"): artist,
                ("artist", "bio"): BIO, ("track", "genres"): "[21]",
                ("track", "genres_all"): "[17, 10, 76, 103]",
                ("track", "title"): f"Track, {tid}", ("track", "bit_rate"): 256000,
            })
            w.writerow([tid] + [values[c] for c in cols])


ROWS = [
    (2, "small", "training", "Hip-Hop", 1),
    (3, "medium", "training", "Hip-Hop", 1),
    (5, "small", "test", "Hip-Hop", 1),
    (10, "small", "validation", "Pop", 6),
    (20, "large", "training", None, 4),
    (26, "large", "test", "Pop", 7),
    (140421, "small", "training", "Rock", 9),
    (99134, "small", "training", "Rock", 11),
    (98565, "small", "test", "Folk", 12),
    (30, "small", "test", "Folk", ""),
]


@pytest.fixture
def fma_root(tmp_path):
    meta = tmp_path / "fma_metadata"
    meta.mkdir()
    _write_fma_tracks(meta / "tracks.csv", ROWS)
    for subset in ("small", "medium", "large"):
        for tid, *_ in ROWS:
            p = fma_audio_path(tmp_path / f"fma_{subset}", tid)
            os.makedirs(os.path.dirname(p), exist_ok=True)
            open(p, "wb").close()
    return tmp_path


def test_read_tracks_is_fmas_exact_call(fma_root):
    path = fma_root / "fma_metadata" / "tracks.csv"
    lines = path.read_text().splitlines()
    assert lines[2] == "track_id" + "," * len(TRACKS_COLUMNS)
    tracks = read_tracks(path)
    expected = pd.read_csv(path, index_col=0, header=[0, 1])
    pd.testing.assert_frame_equal(tracks, expected)
    assert list(tracks.columns) == list(TRACKS_COLUMNS)
    assert tracks.index.name == "track_id"
    assert tracks.loc[2, ("artist", "bio")] == BIO  # quoted commas, quotes, newline
    assert tracks.loc[2, ("track", "genres_all")] == "[17, 10, 76, 103]"


def test_subset_uses_equality_not_string_comparison(fma_root):
    tracks = read_tracks(fma_root / "fma_metadata" / "tracks.csv")
    # the trap: comparing strings selects every row for "small"
    assert (tracks["set", "subset"] <= "small").all()
    with pytest.warns(DatasetWarning):
        small = load_fma(fma_root, subset="small")
    assert set(small.frame.index) | set(small.excluded.index) == {
        2, 5, 10, 30, 140421, 99134, 98565}
    assert small.excluded.loc[30, "reason"].startswith("no artist id")
    with pytest.warns(DatasetWarning):
        medium = load_fma(fma_root, subset="medium")
    assert set(medium.frame.index) == {2, 3, 5, 10, 140421}  # nested: small + medium
    with pytest.warns(DatasetWarning):
        large = load_fma(fma_root, subset="large")
    assert set(large.frame.index) == {2, 3, 5, 10, 26, 140421}
    assert "genre_top" in large.excluded.loc[20, "reason"]


def test_paths_scheme_and_bunch_fields(fma_root):
    with pytest.warns(DatasetWarning):
        b = load_fma(fma_root)
    audio = fma_root / "fma_small"
    assert b.frame.loc[2, "path"] == str(audio / "000" / "000002.mp3")
    assert b.frame.loc[140421, "path"] == str(audio / "140" / "140421.mp3")
    assert fma_audio_path("x", 140421) == os.path.join("x", "140", "140421.mp3")
    assert list(b.frame.columns) == ["path", "genre", "artist_id", "split"]
    assert b.frame.index.name == "track_id"
    assert list(b.frame.index) == [2, 5, 10, 140421]
    assert b.frame["artist_id"].dtype == np.int64
    np.testing.assert_array_equal(b.paths, b.frame["path"].to_numpy())
    np.testing.assert_array_equal(b.target, ["Hip-Hop", "Hip-Hop", "Pop", "Rock"])
    np.testing.assert_array_equal(b.artist_ids, [1, 1, 6, 9])
    np.testing.assert_array_equal(b.split, ["training", "test", "validation", "training"])
    assert list(b.target_names) == ["Hip-Hop", "Pop", "Rock"]
    assert b.missing == []
    assert b.tracks.shape == (4, len(TRACKS_COLUMNS))
    with pytest.warns(DatasetWarning):
        X, y = load_fma(fma_root, return_X_y=True)
    np.testing.assert_array_equal(X, b.paths)
    with pytest.warns(DatasetWarning):
        Xf, yf = load_fma(fma_root, return_X_y=True, as_frame=True)
    assert isinstance(Xf, pd.DataFrame) and list(Xf.columns) == ["path", "artist_id", "split"]
    assert isinstance(yf, pd.Series) and list(yf) == list(y)


def test_broken_tracks_excluded_with_reasons(fma_root):
    with pytest.warns(DatasetWarning, match="099134") as rec:
        b = load_fma(fma_root)
    assert "098565" in str(rec[0].message)
    assert 99134 not in b.frame.index and 98565 not in b.frame.index
    assert b.excluded.loc[99134, "reason"] == KNOWN_BROKEN_TRACKS[99134]
    assert "no audio" in b.excluded.loc[99134, "reason"]
    assert "shorter than 30 s" in b.excluded.loc[98565, "reason"]
    assert list(b.excluded.columns) == ["path", "genre", "reason"]
    kept = load_fma(fma_root, exclude_broken=False)
    assert {99134, 98565} <= set(kept.frame.index)
    assert kept.excluded.index.tolist() == [30]


def test_missing_audio_reported_never_silent(fma_root):
    gone = fma_audio_path(fma_root / "fma_small", 10)
    os.remove(gone)
    with pytest.warns(DatasetWarning, match="000010"):
        b = load_fma(fma_root, exclude_broken=False)
    assert b.missing == [gone]
    assert 10 not in b.frame.index
    assert b.excluded.loc[10, "reason"] == "audio file missing on disk"
    with pytest.raises(FileNotFoundError, match="000010.mp3"):
        load_fma(fma_root, exclude_broken=False, on_missing="raise")
    kept = load_fma(fma_root, exclude_broken=False, on_missing="keep")
    assert 10 in kept.frame.index and kept.missing == [gone]


def test_explicit_dirs_and_errors(fma_root, tmp_path_factory):
    with pytest.warns(DatasetWarning):
        b = load_fma(metadata_dir=fma_root / "fma_metadata",
                     audio_dir=fma_root / "fma_large", subset="small")
    assert b.frame.loc[2, "path"].startswith(str(fma_root / "fma_large"))
    empty = tmp_path_factory.mktemp("empty")
    with pytest.raises(FileNotFoundError, match="tracks.csv"):
        load_fma(empty)
    (empty / "fma_metadata").mkdir()
    pd.DataFrame({"a": [1]}).to_csv(empty / "fma_metadata" / "tracks.csv")
    with pytest.raises(ValueError, match="not FMA's tracks.csv"):
        load_fma(empty)
    (empty / "fma_metadata" / "tracks.csv").write_text("")
    with pytest.raises(ValueError, match="tracks.csv"):
        load_fma(empty)
    with pytest.raises(FileNotFoundError, match="fetch_fma"):
        load_fma(metadata_dir=fma_root / "fma_metadata", audio_dir=empty / "nope")
    with pytest.raises(ValueError, match="subset"):
        load_fma(fma_root, subset="tiny")
