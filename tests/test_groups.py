"""Artists, albums and source tracks of genre-folder data: tags, metadata tables, file names;
grouped splits and the leakage check that uses them."""

import re
import warnings

import mutagen
import numpy as np
import pandas as pd
import pytest
from mutagen.id3 import ID3, TALB, TIT2, TPE1

from sklearn_genre.datasets import (
    ArtistGroupKFold,
    DatasetWarning,
    load_audio_folder,
    random_split,
)
from sklearn_genre.datasets.groups import compile_pattern, group_keys, read_tags
from sklearn_genre.leakage import UNCHECKED_GROUPS, check_leakage, random_split_protocol


def _clip(make_audio, name, seed):
    return make_audio(name, "noise", sr=8000, duration=0.1, seed=seed)


def _easy_tags(path, **tags):
    audio = mutagen.File(path, easy=True)
    if audio.tags is None:
        audio.add_tags()
    for key, value in tags.items():
        audio[key] = value
    audio.save()
    return path


def test_read_tags_from_files_written_with_mutagen(make_audio):
    # MP3: ID3 (TPE1/TALB/TIT2 through EasyID3)
    mp3 = _easy_tags(_clip(make_audio, "a.mp3", 0), artist="Band A", album="First",
                     title="Song")
    # FLAC and Ogg Vorbis: Vorbis comments, a multi-valued artist (the first counts)
    flac = _easy_tags(_clip(make_audio, "b.flac", 1), artist=["Band B", "Guest"],
                      title="Other")
    ogg = _easy_tags(_clip(make_audio, "c.ogg", 2), ARTIST="Band C", ALBUM="Live")
    # WAV: ID3 frames in a chunk, no "easy" interface
    wav = _clip(make_audio, "d.wav", 3)
    audio = mutagen.File(wav)
    audio.add_tags()
    audio.tags.add(TPE1(encoding=3, text=["Band D"]))
    audio.tags.add(TALB(encoding=3, text=["Demo"]))
    audio.tags.add(TIT2(encoding=3, text=["Take 1"]))
    audio.save()
    # album artist only: used as the artist
    only_albumartist = _easy_tags(_clip(make_audio, "e.mp3", 4), albumartist="Band E")
    untagged = _clip(make_audio, "f.wav", 5)
    assert read_tags(mp3) == {"artist": "Band A", "album": "First", "title": "Song"}
    assert read_tags(flac) == {"artist": "Band B", "album": None, "title": "Other"}
    assert read_tags(ogg) == {"artist": "Band C", "album": "Live", "title": None}
    assert read_tags(wav) == {"artist": "Band D", "album": "Demo", "title": "Take 1"}
    assert read_tags(only_albumartist)["artist"] == "Band E"
    assert read_tags(untagged) == {"artist": None, "album": None, "title": None}
    assert isinstance(ID3(mp3), ID3)  # really an ID3 tag, not a sidecar


def test_read_tags_names_a_corrupt_file(tmp_path):
    bad = tmp_path / "broken.flac"
    bad.write_bytes(b"fLaC" + b"\x00" * 10)
    with pytest.raises(ValueError, match="broken.flac"):
        read_tags(bad)


# MP4/M4A: mutagen edits MP4 files but cannot create one, and soundfile does not write MP4;
# the ©ART/©alb/©nam keys are covered by mutagen's EasyMP4 mapping, untested here.


def test_folder_groups_from_tags(make_audio):
    # two tracks, each cut into clips; the clips keep their track's tags
    for genre, artist, title, seeds in [("rock", "Band A", "Song", (0, 1)),
                                         ("rock", "Band B", "Song", (2, 3)),
                                         ("jazz", "Trio", "Blue", (4, 5))]:
        for k, seed in enumerate(seeds):
            _easy_tags(_clip(make_audio, f"data/{genre}/{artist}_{k}.mp3", seed),
                       artist=artist, title=title)
    untagged = _clip(make_audio, "data/jazz/zz_untagged.flac", 9)
    with pytest.warns(DatasetWarning, match=r"1 of 7 files .* no artist.*zz_untagged"):
        bunch = load_audio_folder(untagged.parents[1], tags=True)
    assert bunch.group_source == "tags"
    assert bunch.groups.tolist() == ["artist:trio", "artist:trio", None, "artist:band a",
                                     "artist:band a", "artist:band b", "artist:band b"]
    assert bunch.artist_ids.tolist() == ["Trio", "Trio", None, "Band A", "Band A", "Band B",
                                         "Band B"]
    assert bunch.frame["track"].tolist()[:2] == ["Blue", "Blue"]
    assert list(bunch.frame.columns) == ["path", "genre", "artist_id", "split", "album",
                                         "track", "group"]
    # tracks: two artists' "Song" stay apart
    with pytest.warns(DatasetWarning):
        by_track = load_audio_folder(untagged.parents[1], tags=True, group_by="track")
    assert by_track.groups.tolist()[3:] == ["track:band a/song"] * 2 + ["track:band b/song"] * 2
    # no group source: nothing known, and said so
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        plain = load_audio_folder(untagged.parents[1])
    assert plain.groups is None and plain.artist_ids is None
    assert "No artist or group information" in plain.DESCR


def test_folder_groups_from_a_metadata_table(make_audio, tmp_path):
    root = tmp_path / "data"
    for name, seed in [("rock/r1.wav", 0), ("rock/r2.wav", 1), ("jazz/j1.wav", 2)]:
        _clip(make_audio, f"data/{name}", seed)
    table = pd.DataFrame({"path": ["rock/r1.wav", "rock/r2.wav", "jazz/j1.wav"],
                          "artist": ["X", "X", ""], "track": ["a", "b", "c"]})
    csv = tmp_path / "meta.csv"
    table.to_csv(csv, index=False)
    bunch = load_audio_folder(root, metadata=csv)
    assert bunch.group_source == "metadata"
    assert bunch.groups.tolist() == ["track:/c", "artist:x", "artist:x"]
    assert bunch.target.tolist() == ["jazz", "rock", "rock"]
    # a row whose file is missing, and a file without a row: both named
    table.iloc[[0, 2]].assign(path=["rock/r1.wav", "rock/gone.wav"]).to_csv(csv, index=False)
    with pytest.raises(ValueError) as info:
        load_audio_folder(root, metadata=csv)
    message = str(info.value)
    assert "line 3: rock/gone.wav (file missing)" in message
    assert "2 audio files have no row: jazz/j1.wav, rock/r2.wav" in message
    # a label column: labels from the table, files anywhere under root
    flat = tmp_path / "flat"
    for k in range(3):
        _clip(make_audio, f"flat/clip{k}.ogg", 10 + k)
    pd.DataFrame({"path": ["clip0.ogg", "clip1.ogg", "clip2.ogg"],
                  "genre": ["rock", "jazz", "rock"],
                  "group": ["s1", "s2", "s1"]}).to_csv(tmp_path / "flat.csv", index=False)
    bunch = load_audio_folder(flat, metadata=tmp_path / "flat.csv")
    assert bunch.target.tolist() == ["jazz", "rock", "rock"]
    assert bunch.groups.tolist() == ["group:s2", "group:s1", "group:s1"]
    with pytest.raises(ValueError, match="none of the group columns"):
        load_audio_folder(flat, metadata=pd.DataFrame({"path": ["clip0.ogg"]}))


def test_folder_groups_from_file_names(make_audio, tmp_path):
    for k, name in enumerate(["rock/Band A - Song_1.wav", "rock/Band A - Song_2.wav",
                              "jazz/Trio - Blue Note_1.wav"]):
        _clip(make_audio, f"data/{name}", k)
    root = tmp_path / "data"
    bunch = load_audio_folder(root, pattern="{artist} - {track}_{clip}", group_by="track")
    assert bunch.groups.tolist() == ["track:trio/blue note", "track:band a/song",
                                     "track:band a/song"]
    assert bunch.artist_ids.tolist() == ["Trio", "Band A", "Band A"]
    regex = load_audio_folder(root, pattern=r"(?P<artist>[^-]+) - .*")
    assert regex.groups.tolist() == ["artist:trio", "artist:band a", "artist:band a"]
    _clip(make_audio, "data/rock/stray.wav", 7)
    with pytest.raises(ValueError, match=r"does not match 1 of 4 files.*'stray'"):
        load_audio_folder(root, pattern="{artist} - {track}_{clip}")
    with pytest.raises(ValueError, match="names none of the fields"):
        compile_pattern("{clip}")
    with pytest.raises(ValueError, match="at most one group source"):
        load_audio_folder(root, tags=True, pattern="{artist}")


def test_group_keys_fall_back_from_artist_to_track():
    fields = pd.DataFrame({"group": [None, None, None, None],
                           "artist": ["  The  Band", "the band", None, None],
                           "album": [None, "LP", "LP", None],
                           "track": ["x", "y", "z", None]}, dtype=object)
    assert group_keys(fields).tolist() == ["artist:the band", "artist:the band", "album:/lp",
                                           None]
    assert group_keys(fields, group_by="album").tolist() == [
        "track:the band/x", "album:the band/lp", "album:/lp", None]
    with pytest.raises(ValueError, match="group_by"):
        group_keys(fields, group_by="genre")


def _shared_source_folder(make_audio, n_tracks=10, clips=4):
    """Two genres, ``n_tracks`` source tracks each, ``clips`` clips per track."""
    seed = 0
    for genre in ("rock", "jazz"):
        for t in range(n_tracks):
            for c in range(clips):
                seed += 1
                _clip(make_audio, f"data/{genre}/{genre}{t:02d} - take_{c}.wav", seed)
    return make_audio("data/rock/rock00 - take_0.wav", "noise", sr=8000, duration=0.1,
                      seed=1).parents[1]


def test_grouped_split_keeps_clips_of_one_track_apart(make_audio):
    root = _shared_source_folder(make_audio)
    bunch = load_audio_folder(root, pattern="{track} - take_{clip}", group_by="track")
    groups = bunch.groups
    tvt = random_split(bunch.target, groups=groups, random_state=0)
    sets = [set(groups[idx]) for idx in tvt]
    assert not (sets[0] & sets[1] or sets[0] & sets[2] or sets[1] & sets[2])
    assert sorted(np.concatenate(tvt).tolist()) == list(range(len(groups)))
    assert set(bunch.target[tvt.test]) == {"jazz", "rock"}  # stratified as far as possible
    assert 0.1 <= len(tvt.test) / len(groups) <= 0.3
    protocol = random_split_protocol(grouped_by="track")
    assert protocol == "random-stratified 70/10/20 (grouped by track)"
    report = check_leakage(tvt.train, tvt.test, paths=bunch.paths, groups=groups,
                           protocol=protocol)
    assert report.status == "clean" and "group" in report.checks
    # the ungrouped split of the same folder shares source tracks, and the check says so
    plain = random_split(bunch.target, random_state=0)
    report = check_leakage(plain.train, plain.test, paths=bunch.paths, groups=groups,
                           on_leak="ignore")
    assert report.leaked and report.n_shared_groups > 0
    assert report.n_test_items_shared_group > 0
    # without group information the report never says clean
    report = check_leakage(plain.train, plain.test, paths=bunch.paths)
    assert report.status == "unchecked-groups" and UNCHECKED_GROUPS in report.summary()
    # cross-validation with the same groups
    for train, test in ArtistGroupKFold(bunch, n_splits=4).split(bunch.paths, bunch.target):
        assert not set(groups[train]) & set(groups[test])


def test_grouped_split_says_when_there_are_too_few_groups():
    y = ["a"] * 4 + ["b"] * 4
    with pytest.raises(ValueError, match=re.escape("only 2 groups (need at least 5)")):
        random_split(y, groups=["g1"] * 4 + ["g2"] * 4)


def test_data_source_of_a_grouped_folder(make_audio):
    from sklearn_genre.datasets import load_data_source, make_data_source
    from sklearn_genre.experiment import _selection_cv

    root = _shared_source_folder(make_audio)
    bunch = load_audio_folder(root, pattern="{track} - take_{clip}", group_by="track")
    source = make_data_source(bunch, "random")
    assert source.protocol == "random-stratified 70/10/20 (grouped by track from pattern)"
    assert not set(source.groups[source.test]) & set(source.groups[source.train])
    assert list(source.items(source.test).columns) == ["path", "group"]  # no artists known
    assert list(source.split_table().columns) == ["path", "genre", "artist_id", "group", "role"]
    cv, name = _selection_cv(source, 3, random_state=0)
    rows = np.r_[source.train, source.valid]
    assert name == "3-fold grouped"
    for train, test in cv.split(source.paths[rows], source.y[rows]):
        assert not set(source.groups[rows][train]) & set(source.groups[rows][test])
    # the same through a spec, as the command line and run directories record it
    spec = {"kind": "folder", "root": str(root), "groups": {"pattern": "{track} - take_{clip}"},
            "group_by": "track"}
    again = load_data_source(spec)
    assert np.array_equal(again.test, source.test) and again.protocol == source.protocol
    with pytest.raises(ValueError, match="groups must be None, 'tags'"):
        load_data_source({**spec, "groups": "id3"})
