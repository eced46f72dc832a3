"""make_fma_like / load_default_dataset: FMA layout, split, determinism."""

import json

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from sklearn_genre.datasets import (
    FMA_GENRES,
    TRACKS_COLUMNS,
    check_no_artist_leakage,
    load_default_dataset,
    load_fma,
    make_fma_like,
    official_split,
    read_genres,
)


@pytest.fixture(scope="module")
def serial(tmp_path_factory):
    root = tmp_path_factory.mktemp("serial")
    return root, make_fma_like(root, n_per_genre=10, duration=0.5, random_state=3,
                               n_jobs=1, verbose=False)


def _decode_all(bunch):
    return [sf.read(p, dtype="float32")[0] for p in bunch.paths]


def test_fma_layout_and_header(serial):
    root, b = serial
    text = (root / "fma_metadata" / "tracks.csv").read_text()
    lines = text.split("\n")
    level0 = lines[0].split(",")
    assert level0[0] == "" and level0[1:] == [c[0] for c in TRACKS_COLUMNS]
    assert lines[1].split(",") == [""] + [c[1] for c in TRACKS_COLUMNS]
    assert lines[2] == "track_id" + "," * len(TRACKS_COLUMNS)
    tracks = pd.read_csv(root / "fma_metadata" / "tracks.csv", index_col=0, header=[0, 1])
    assert list(tracks.columns) == list(TRACKS_COLUMNS) and len(tracks) == 80
    assert (tracks["set", "subset"] == "small").all()
    assert tracks["track", "genres"].tolist() == [
        f"[{FMA_GENRES[g]}]" for g in tracks["track", "genre_top"]]
    genres = read_genres(root / "fma_metadata" / "genres.csv")
    assert dict(zip(genres["title"], genres.index)) == FMA_GENRES
    assert (genres["#tracks"] == 10).all()
    # audio: FMA's path scheme, 44.1 kHz stereo mp3 at a high bit rate
    assert b.paths[0] == str(root / "fma_small" / "000" / f"{b.frame.index[0]:06d}.mp3")
    info = sf.info(b.paths[0])
    assert (info.samplerate, info.channels, info.format) == (44100, 2, "MP3")
    assert abs(info.duration - 0.5) < 0.1
    assert (tracks["track", "bit_rate"] >= 192000).all()
    assert b.excluded.empty and b.missing == []


def test_artist_filtered_80_10_10_per_genre(serial):
    _, b = serial
    counts = b.frame.groupby("genre")["split"].value_counts().unstack()
    assert (counts[["training", "validation", "test"]].to_numpy() == [8, 1, 1]).all()
    check_no_artist_leakage(b, *official_split(b), names=["train", "valid", "test"])
    # artists stay within one genre
    assert (b.frame.groupby("artist_id")["genre"].nunique() == 1).all()


def test_larger_split_and_artists(tmp_path):
    b = make_fma_like(tmp_path, n_per_genre=20, n_artists_per_genre=6, duration=0.1,
                      sr=22050, stereo=False, verbose=False)
    counts = b.frame.groupby("genre")["split"].value_counts().unstack()
    assert (counts[["training", "validation", "test"]].to_numpy() == [16, 2, 2]).all()
    assert (b.frame.groupby("genre")["artist_id"].nunique() >= 5).all()
    check_no_artist_leakage(b, *official_split(b))
    assert sf.info(b.paths[0]).channels == 1


def test_deterministic_and_parallel_equals_serial(serial, tmp_path):
    root, b = serial
    par = make_fma_like(tmp_path, n_per_genre=10, duration=0.5, random_state=3, n_jobs=2,
                        verbose=False)
    assert ((tmp_path / "fma_metadata" / "tracks.csv").read_bytes()
            == (root / "fma_metadata" / "tracks.csv").read_bytes())
    assert list(par.frame.index) == list(b.frame.index)
    for x, y in zip(_decode_all(b), _decode_all(par)):
        np.testing.assert_array_equal(x, y)


def test_random_state_changes_data(serial, tmp_path):
    _, b = serial
    other = make_fma_like(tmp_path, n_per_genre=3, duration=0.5, random_state=4,
                          verbose=False)
    a0 = sf.read(b.paths[0])[0]
    b0 = sf.read(other.paths[0])[0]
    assert a0.shape == b0.shape and not np.allclose(a0, b0)


def test_clips_are_not_silent_and_differ(serial):
    _, b = serial
    audio = _decode_all(b)
    rms = np.array([np.sqrt(np.mean(a**2)) for a in audio])
    assert (rms > 0.02).all() and (np.array([np.abs(a).max() for a in audio]) <= 1.0).all()
    assert len({round(float(r), 6) for r in rms}) == len(rms)


def test_parameter_validation(tmp_path):
    with pytest.raises(ValueError, match="difficulty"):
        make_fma_like(tmp_path, difficulty=2.0)
    with pytest.raises(ValueError, match="bit_rate"):
        make_fma_like(tmp_path, bit_rate=100)


def test_load_default_dataset_idempotent(tmp_path):
    kw = {"n_per_genre": 3, "duration": 0.2, "verbose": False}
    first = load_default_dataset(tmp_path, **kw)
    assert first.generated and len(first.paths) == 24
    folder = tmp_path / "synthetic"
    (only,) = folder.iterdir()
    marker = json.loads((only / "make_fma_like.json").read_text())
    assert marker["n_per_genre"] == 3 and marker["random_state"] == 0
    mtime = (only / "fma_metadata" / "tracks.csv").stat().st_mtime_ns
    second = load_default_dataset(tmp_path, **kw)
    assert not second.generated and list(second.paths) == list(first.paths)
    assert (only / "fma_metadata" / "tracks.csv").stat().st_mtime_ns == mtime
    assert "not real music" in second.DESCR
    third = load_default_dataset(tmp_path, random_state=1, **kw)
    assert third.generated and len(list(folder.iterdir())) == 2
    mono = load_default_dataset(tmp_path, sr=22050, stereo=False, **kw)
    assert mono.generated and len(list(folder.iterdir())) == 3
    assert sf.info(mono.paths[0]).channels == 1
    assert load_fma(only).frame.equals(first.frame)
    (only / "make_fma_like.json").unlink()  # an interrupted generation is redone
    assert load_default_dataset(tmp_path, **kw).generated


def test_load_default_dataset_passes_artists_per_genre(tmp_path):
    kw = {"n_per_genre": 5, "duration": 0.2, "verbose": False}
    more = load_default_dataset(tmp_path, n_artists_per_genre=5, **kw)
    (only,) = (tmp_path / "synthetic").iterdir()
    assert json.loads((only / "make_fma_like.json").read_text())["n_artists_per_genre"] == 5
    # one clip per artist: every test clip has its own artist
    test = more.split == "test"
    assert len(set(np.asarray(more.artist_ids)[test])) == test.sum() == 8
    default = load_default_dataset(tmp_path, **kw)  # the default keeps its own folder
    assert default.generated and len(list((tmp_path / "synthetic").iterdir())) == 2
