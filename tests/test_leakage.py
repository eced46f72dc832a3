import json
import os

import numpy as np
import pandas as pd
import pytest

from sklearn_genre import leakage
from sklearn_genre.leakage import (
    FMA_OFFICIAL,
    LeakageError,
    LeakageReport,
    LeakageWarning,
    check_leakage,
    random_split_protocol,
)


@pytest.fixture
def files(tmp_path):
    """Six small files: c is a byte copy of a; d has a's size but other bytes."""
    contents = {
        "a.wav": b"A" * 100,
        "b.wav": b"B" * 200,
        "c.wav": b"A" * 100,
        "d.wav": b"D" * 100,
        "e.wav": b"E" * 300,
        "f.wav": b"F" * 400,
    }
    out = {}
    for name, data in contents.items():
        (tmp_path / name).write_bytes(data)
        out[name[0]] = str(tmp_path / name)
    return out


def test_clean_split_is_reported_clean(files, recwarn):
    train = pd.DataFrame({"path": [files["a"], files["b"]], "artist_id": [1, 2]})
    test = pd.DataFrame({"path": [files["e"], files["f"]], "artist_id": [3, 4]})
    report = check_leakage(train, test, protocol=FMA_OFFICIAL)
    assert not report.leaked
    assert report.status == "clean"
    assert report.checks == ["path", "content_hash", "artist"]
    assert (report.n_train, report.n_test) == (2, 2)
    assert not [w for w in recwarn if issubclass(w.category, LeakageWarning)]
    d = json.loads(report.to_json())
    assert d["protocol"] == "fma-official (artist-filtered)"
    assert d["status"] == "clean" and d["leaked"] is False
    assert "no overlap" in report.summary()
    assert "not checked" not in report.summary()


def test_without_artists_or_groups_the_split_is_never_called_clean(files, recwarn):
    report = check_leakage([files["a"], files["b"]], [files["e"], files["f"]])
    assert not report.leaked
    assert report.checks == ["path", "content_hash"]
    assert report.status == "unchecked-groups"
    assert report.to_dict()["status"] == "unchecked-groups"
    assert report.summary().endswith(
        "; artist/track leakage not checked: no artist or group information")
    assert not [w for w in recwarn if issubclass(w.category, LeakageWarning)]
    # artist ids that are all unknown check nothing either
    nan = pd.DataFrame({"path": [files["a"]], "artist_id": [np.nan]})
    report = check_leakage(nan, nan.assign(path=[files["e"]]))
    assert report.status == "unchecked-groups"
    # a leak found by path is still reported, with the missing group check named
    with pytest.warns(LeakageWarning, match="artist/track leakage not checked"):
        report = check_leakage([files["a"]], [files["a"]])
    assert report.status == "leak (warned)"


def test_groups_are_checked_like_artists(files):
    # clips 0, 1 cut from track t1; 2 from t2; 3 without a group
    paths = [files["a"], files["b"], files["e"], files["f"]]
    groups = ["track:x/t1", "track:x/t1", "track:y/t2", None]
    report = check_leakage([0, 2], [1, 3], paths=paths, groups=groups, on_leak="ignore")
    assert report.checks == ["path", "content_hash", "group"]
    assert (report.n_shared_groups, report.n_test_items_shared_group) == (1, 1)
    assert report.n_unknown_group == 1
    assert report.examples["shared_groups"] == ["track:x/t1"]
    assert report.status == "leak (ignored)" and "1 group(s)" in report.summary()
    report = check_leakage([0, 1], [2, 3], paths=paths, groups=groups)
    assert report.status == "partly-unchecked" and report.n_shared_groups == 0
    assert report.n_unchecked == 1
    assert check_leakage([0], [2], paths=paths, groups=groups).status == "clean"
    assert "1 item(s) without artist or group could not be checked" in report.summary()
    # DataFrames: the 'group' column
    frame = pd.DataFrame({"path": paths, "group": groups})
    report = check_leakage(frame.iloc[[0]], frame.iloc[[1]], on_leak="ignore")
    assert report.n_shared_groups == 1
    with pytest.raises(ValueError, match="groups has 3 entries"):
        check_leakage([0], [1], paths=paths, groups=groups[:3])


def test_same_path_written_differently_is_detected(files):
    other_spelling = os.path.join(os.path.dirname(files["a"]), "sub", "..", "a.wav")
    with pytest.warns(LeakageWarning, match="1 file"):
        report = check_leakage([files["a"], files["b"]], [other_spelling, files["e"]])
    assert report.n_shared_paths == 1
    assert report.examples["shared_paths"] == [files["a"]]
    # the same file is not counted again as duplicated content
    assert report.n_shared_content == 0


def test_duplicate_content_under_another_name(files):
    with pytest.warns(LeakageWarning, match="duplicated"):
        report = check_leakage([files["a"], files["b"]], [files["c"], files["d"], files["e"]])
    assert report.n_shared_paths == 0
    assert report.n_shared_content == 1  # c == a; d has a's size but other bytes
    assert report.n_test_duplicate_content == 1
    assert report.examples["shared_content"] == [[files["a"], files["c"]]]


def test_only_same_size_files_are_hashed_once_each(files, monkeypatch):
    calls = []
    real = leakage.hash_file

    def counting(path, **kw):
        calls.append(path)
        return real(path, **kw)

    monkeypatch.setattr(leakage, "hash_file", counting)
    check_leakage(
        [files["a"], files["b"], files["f"]],
        [files["c"], files["c"], files["e"]],
        on_leak="ignore",
    )
    # sizes 100 occur on both sides (a, c); b, e, f have unique sizes and are never read
    assert sorted(os.path.basename(p) for p in calls) == ["a.wav", "c.wav"]


def test_content_hash_false_reads_no_file():
    report = check_leakage(["x/1.mp3", "x/2.mp3"], ["y/1.mp3"], content_hash=False)
    assert report.checks == ["path"]
    assert not report.leaked


def test_missing_file_is_named(files, tmp_path):
    missing = str(tmp_path / "nope.wav")
    with pytest.raises(FileNotFoundError, match="nope.wav"):
        check_leakage([files["a"]], [missing])


def test_artists_from_dataframes_with_unknown_ids(files):
    train = pd.DataFrame({"path": [files["a"], files["b"]], "artist_id": [1, 2]})
    test = pd.DataFrame({"path": [files["e"], files["f"], files["d"]], "artist_id": [2, np.nan, 7]})
    with pytest.warns(LeakageWarning, match="1 artist"):
        report = check_leakage(train, test)
    assert report.checks == ["path", "content_hash", "artist"]
    assert report.n_shared_artists == 1
    assert report.n_test_items_shared_artist == 1
    assert report.n_unknown_artist == 1
    assert report.examples["shared_artists"] == [2]
    json.loads(report.to_json())  # numpy ids are plain JSON


def test_indices_and_masks_into_paths(files):
    paths = [files[k] for k in "abcdef"]
    artists = ["x", "y", "z", "x", None, "w"]
    report = check_leakage([0, 1], [2, 3], paths=paths, artist_ids=artists, on_leak="ignore")
    assert report.n_shared_content == 1  # a and c
    assert report.n_shared_artists == 1  # x
    mask_train = np.array([1, 1, 0, 0, 0, 0], dtype=bool)
    report2 = check_leakage(
        mask_train, ~mask_train, paths=paths, artist_ids=artists, on_leak="ignore"
    )
    assert report2.n_test == 4
    assert report2.n_shared_artists == 1
    assert report2.n_unknown_artist == 1
    with pytest.raises(ValueError, match="artist_ids has"):
        check_leakage([0], [1], paths=paths, artist_ids=["x"])
    with pytest.raises(ValueError, match="need paths"):
        check_leakage([files["a"]], [files["b"]], artist_ids=["x", "y"])


def test_policies(files, recwarn):
    train, test = [files["a"]], [files["a"]]
    with pytest.raises(LeakageError) as info:
        check_leakage(train, test, on_leak="raise", protocol="predefined")
    assert isinstance(info.value.report, LeakageReport)
    assert info.value.report.status == "leak (refused)"
    assert "LEAKAGE" in str(info.value)
    report = check_leakage(train, test, on_leak="ignore")
    assert report.leaked and report.status == "leak (ignored)"
    assert report.to_dict()["n_shared_paths"] == 1
    assert not [w for w in recwarn if issubclass(w.category, LeakageWarning)]
    with pytest.raises(ValueError, match="on_leak"):
        check_leakage(train, test, on_leak="shout")


def test_bad_inputs(files):
    with pytest.raises(TypeError, match="single path"):
        check_leakage(files["a"], [files["b"]])
    with pytest.raises(TypeError, match="file paths"):
        check_leakage([1, 2], [3])
    with pytest.raises(ValueError, match="'path' column"):
        check_leakage(pd.DataFrame({"x": [1]}), pd.DataFrame({"x": [2]}))


def test_protocol_names():
    assert random_split_protocol(0.7, 0.1, 0.2) == "random-stratified 70/10/20 (no artist filter)"
    assert (
        random_split_protocol(0.8, 0, 0.2, stratified=False, artist_filtered=True)
        == "random 80/20 (artist-filtered)"
    )
