"""Official, random stratified and artist-grouped splits."""

import numpy as np
import pytest
from sklearn.dummy import DummyClassifier
from sklearn.model_selection import GridSearchCV, cross_val_score

from sklearn_genre.datasets import (
    ArtistGroupKFold,
    OfficialSplit,
    artist_filtered_split,
    artist_overlap,
    check_no_artist_leakage,
    official_split,
    random_split,
)


def _labels(n_per_class=125, n_classes=8, seed=0):
    rng = np.random.default_rng(seed)
    y = np.repeat([f"g{k}" for k in range(n_classes)], n_per_class)
    # about 5 tracks per artist, artists within a genre
    artists = np.concatenate([k * 1000 + rng.integers(0, n_per_class // 5, n_per_class)
                              for k in range(n_classes)])
    return y, artists


def test_official_split_indices():
    labels = np.array(["training", "test", "validation", "training", "test"])
    s = official_split(labels)
    assert s.train.tolist() == [0, 3] and s.valid.tolist() == [2]
    assert s.test.tolist() == [1, 4]
    with pytest.raises(ValueError, match="unknown split labels"):
        official_split(["training", "dev"])
    with pytest.raises(ValueError, match="no predefined split"):
        official_split(None)


def test_official_split_cv_keeps_test_rows_out():
    labels = np.array(["training"] * 6 + ["validation"] * 2 + ["test"] * 2)
    cv = OfficialSplit(labels)
    assert cv.get_n_splits() == 1
    ((train, test),) = list(cv.split(np.zeros((10, 1))))
    assert train.tolist() == list(range(6)) and test.tolist() == [6, 7]
    final = OfficialSplit(labels, train=("training", "validation"), test="test")
    ((train, test),) = list(final.split(np.zeros((10, 1))))
    assert train.tolist() == list(range(8)) and test.tolist() == [8, 9]
    X, y = np.zeros((10, 1)), np.array([0, 1] * 5)
    search = GridSearchCV(DummyClassifier(), {"strategy": ["prior", "uniform"]}, cv=cv)
    search.fit(X, y)
    assert search.n_splits_ == 1
    with pytest.raises(ValueError, match="rows"):
        next(cv.split(np.zeros((3, 1))))
    with pytest.raises(ValueError, match="overlap"):
        next(OfficialSplit(labels, train="test", test="test").split())


def test_random_split_stratified_70_10_20_reproducible():
    y, _ = _labels()
    s = random_split(y)
    assert (len(s.train), len(s.valid), len(s.test)) == (700, 100, 200)
    allidx = np.concatenate(s)
    assert len(np.unique(allidx)) == len(y) == len(allidx)
    for part, frac in zip(s, (0.7, 0.1, 0.2)):
        counts = np.unique(y[part], return_counts=True)[1]
        assert len(counts) == 8
        assert np.all(np.abs(counts - frac * 125) <= 1)
    again = random_split(y, random_state=42)
    for a, b in zip(s, again):
        np.testing.assert_array_equal(a, b)
    other = random_split(y, random_state=0)
    assert not np.array_equal(s.test, other.test)
    with pytest.raises(ValueError):
        random_split(y, test_size=0.6, valid_size=0.5)


def test_artist_group_kfold_has_no_leakage():
    y, artists = _labels()
    cv = ArtistGroupKFold(artists, n_splits=5, shuffle=True, random_state=0)
    folds = list(cv.split(np.zeros((len(y), 1)), y))
    assert len(folds) == 5 == cv.get_n_splits()
    for train, test in folds:
        assert not np.intersect1d(artists[train], artists[test]).size
        assert artist_overlap(artists, train, test) == {}
        assert len(np.unique(y[test])) == 8  # stratified
    assert np.array_equal(np.sort(np.concatenate([t for _, t in folds])), np.arange(len(y)))
    scores = cross_val_score(DummyClassifier(), np.zeros((len(y), 1)), y, cv=cv)
    assert scores.shape == (5,)
    plain = ArtistGroupKFold(artists, n_splits=4, stratify=False)
    for train, test in plain.split(np.zeros(len(y))):
        check_no_artist_leakage(artists, train, test)
    with pytest.raises(ValueError, match="needs y"):
        next(cv.split(np.zeros(len(y))))
    with pytest.raises(ValueError, match="rows"):
        next(cv.split(np.zeros(3), y[:3]))
    # unknown ids (NaN/None) are groups of their own: they may go to any fold
    folds = list(ArtistGroupKFold(np.array([1.0, np.nan, 1.0, np.nan]), n_splits=2,
                                  stratify=False).split(np.zeros(4)))
    assert sorted(sorted(te.tolist()) for _, te in folds) == [[0, 2], [1, 3]]
    with pytest.raises(ValueError, match="No artist ids"):
        next(ArtistGroupKFold(None).split(np.zeros(2)))


def test_artist_filtered_split_per_genre():
    y, artists = _labels(n_per_class=100)
    s = artist_filtered_split(y, artists, random_state=0)
    check_no_artist_leakage(artists, *s, names=["train", "valid", "test"])
    for genre in np.unique(y):
        n = [np.sum(y[part] == genre) for part in s]
        assert abs(n[0] - 80) <= 8 and abs(n[1] - 10) <= 6 and abs(n[2] - 10) <= 6
    assert sum(map(len, s)) == len(y)


def test_leakage_check_reports_artists():
    artists = np.array([1, 1, 2, 3, 3])
    overlap = artist_overlap(artists, [0, 2], [1, 3], [4])
    assert sorted(overlap) == [(0, 1), (1, 2)]
    assert overlap[(0, 1)].tolist() == [1] and overlap[(1, 2)].tolist() == [3]
    with pytest.raises(ValueError, match="train and test share 1 artists: \\[1\\]"):
        check_no_artist_leakage(artists, [0, 2], [1, 4], names=["train", "test"])
    check_no_artist_leakage(artists, [0, 1], [2], [3, 4])
    with pytest.raises(ValueError, match="No artist ids"):
        artist_overlap(None, [0], [1])
