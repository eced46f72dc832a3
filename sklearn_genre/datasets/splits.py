"""Train / validation / test splits and cross-validation splitters for genre data sets.

- :func:`official_split` and :class:`OfficialSplit`: FMA's predefined artist-filtered
  split (80/10/10 per genre).
- :func:`random_split`: the stratified random 70/10/20 split of the reference work
  (``random_state=42``); given ``groups`` (artists, albums, source tracks) it keeps each
  group on one side (scikit-learn's :class:`~sklearn.model_selection.StratifiedGroupKFold`),
  without them it lets an artist's tracks land on both sides.
- :func:`artist_filtered_split`: a new artist-filtered train / validation / test split.
- :class:`ArtistGroupKFold`: K-fold cross-validation without artist (or group) leakage
  (scikit-learn's :class:`~sklearn.model_selection.StratifiedGroupKFold` /
  :class:`~sklearn.model_selection.GroupKFold` with the artist ids as groups).
- :func:`artist_overlap` / :func:`check_no_artist_leakage`: which artists appear in
  more than one index set.
"""

import warnings
from collections import namedtuple
from itertools import combinations

import numpy as np
import pandas as pd
from sklearn.model_selection import (
    BaseCrossValidator,
    GroupKFold,
    StratifiedGroupKFold,
    train_test_split,
)
from sklearn.utils import check_random_state

__all__ = [
    "ArtistGroupKFold",
    "OfficialSplit",
    "TrainValidTest",
    "artist_filtered_split",
    "artist_overlap",
    "check_no_artist_leakage",
    "official_split",
    "fill_unknown_groups",
    "random_split",
]

#: Positional index arrays of a train / validation / test split.
TrainValidTest = namedtuple("TrainValidTest", ["train", "valid", "test"])
TrainValidTest.__doc__ = """Positional indices of a three-way split.

Fields ``train``, ``valid``, ``test``: ndarray of shape (n_train,), (n_valid,),
(n_test,) of int64, sorted, disjoint.
"""

_OFFICIAL = ("training", "validation", "test")


def _split_labels(split):
    """Split labels from a Bunch (``.split``) or an array-like of labels."""
    labels = getattr(split, "split", split)
    if labels is None:
        raise ValueError(
            "This data set has no predefined split (e.g. a genre-folder data set); "
            "use random_split or artist_filtered_split instead."
        )
    labels = np.asarray(labels, dtype=object)
    if labels.ndim != 1:
        raise ValueError(f"split labels must be 1-D, got shape {labels.shape}.")
    return labels


def _artist_ids(artist_ids):
    ids = getattr(artist_ids, "artist_ids", artist_ids)
    if ids is None:
        raise ValueError(
            "No artist ids: this data set does not know its artists (e.g. a genre-folder "
            "data set), so artist-filtered splits are not possible."
        )
    ids = np.asarray(ids)
    if ids.ndim != 1:
        raise ValueError(f"artist ids must be 1-D, got shape {ids.shape}.")
    if pd.isna(ids).any():
        raise ValueError(
            f"{int(pd.isna(ids).sum())} artist ids are missing (NaN/None); every track "
            "needs an artist id for an artist-filtered split."
        )
    return ids


def official_split(split):
    """Return the positional indices of FMA's official training / validation / test sets.

    Parameters
    ----------
    split : Bunch or array-like of shape (n_tracks,)
        A Bunch from :func:`load_fma` (its ``split``) or the labels themselves
        (``"training"``, ``"validation"``, ``"test"``).

    Returns
    -------
    split : TrainValidTest
        ``(train, valid, test)`` index arrays into the data set's rows.

    Raises
    ------
    ValueError
        If a label is not one of the three (or the data set has no split).

    Examples
    --------
    >>> official_split(["training", "test", "validation", "training"])
    TrainValidTest(train=array([0, 3]), valid=array([2]), test=array([1]))
    """
    labels = _split_labels(split)
    unknown = sorted({str(v) for v in labels} - set(_OFFICIAL))
    if unknown:
        raise ValueError(f"unknown split labels {unknown}; expected {list(_OFFICIAL)}.")
    return TrainValidTest(*(np.flatnonzero(labels == name) for name in _OFFICIAL))


class OfficialSplit(BaseCrossValidator):
    """A single predefined train / test split from split labels, usable as ``cv=``.

    Like :class:`~sklearn.model_selection.PredefinedSplit`, but rows whose label is in
    neither ``train`` nor ``test`` are left out of both sides (a ``PredefinedSplit``
    would put them into training), so the official test set stays untouched while
    searching hyper-parameters on the validation set.

    Parameters
    ----------
    labels : Bunch or array-like of shape (n_samples,)
        A Bunch from :func:`load_fma` or its ``split`` labels (``"training"``,
        ``"validation"``, ``"test"``), one per row of the ``X`` given to ``split``.
        Stored as given.
    train : str or tuple of str, default="training"
        Label(s) of the rows to train on.
    test : str or tuple of str, default="validation"
        Label(s) of the rows to score on.

    Examples
    --------
    >>> cv = OfficialSplit(["training", "validation", "test", "training"])
    >>> [(tr.tolist(), te.tolist()) for tr, te in cv.split([[0]] * 4)]
    [([0, 3], [1])]
    >>> final = OfficialSplit(["training", "validation", "test", "training"],
    ...                       train=("training", "validation"), test="test")
    >>> [(tr.tolist(), te.tolist()) for tr, te in final.split([[0]] * 4)]
    [([0, 1, 3], [2])]
    """

    def __init__(self, labels, *, train="training", test="validation"):
        self.labels = labels
        self.train = train
        self.test = test

    def _indices(self):
        labels = _split_labels(self.labels)
        train = (self.train,) if isinstance(self.train, str) else tuple(self.train)
        test = (self.test,) if isinstance(self.test, str) else tuple(self.test)
        if set(train) & set(test):
            raise ValueError(f"train {train} and test {test} labels overlap.")
        train_idx = np.flatnonzero(np.isin(labels, train))
        test_idx = np.flatnonzero(np.isin(labels, test))
        if not len(train_idx) or not len(test_idx):
            raise ValueError(f"no rows labelled {train if not len(train_idx) else test}.")
        return labels, train_idx, test_idx

    def split(self, X=None, y=None, groups=None):
        """Yield the one ``(train, test)`` pair of positional index arrays.

        Parameters
        ----------
        X : array-like of shape (n_samples, ...), default=None
            Checked to have as many rows as there are labels.
        y, groups : ignored

        Yields
        ------
        train : ndarray of shape (n_train,)
        test : ndarray of shape (n_test,)
        """
        labels, train_idx, test_idx = self._indices()
        if X is not None and len(X) != len(labels):
            raise ValueError(f"X has {len(X)} rows but the split has {len(labels)} labels.")
        yield train_idx, test_idx

    def get_n_splits(self, X=None, y=None, groups=None):
        """Return 1, the number of splits."""
        return 1

    def __repr__(self):
        return (f"OfficialSplit(n_samples={len(_split_labels(self.labels))}, "
                f"train={self.train!r}, test={self.test!r})")


def fill_unknown_groups(groups):
    """Group keys with each unknown entry (None, NaN, "") made a group of its own.

    Parameters
    ----------
    groups : array-like of shape (n_samples,)

    Returns
    -------
    groups : ndarray of shape (n_samples,) of object
        Known keys as ``str``; unknown ones as ``"<unknown:i>"`` (unique per row).

    Examples
    --------
    >>> fill_unknown_groups(["a", None, "a", float("nan")]).tolist()
    ['a', '<unknown:1>', 'a', '<unknown:3>']
    """
    out = np.empty(len(groups), dtype=object)
    for i, g in enumerate(groups):
        unknown = g is None or (isinstance(g, float) and np.isnan(g)) or g == ""
        out[i] = f"<unknown:{i}>" if unknown else str(g)
    return out


def _grouped_holdout(idx, y, groups, size, rng, what):
    """Hold out about ``size`` of ``idx`` as whole groups, stratified by ``y``."""
    n_splits = max(2, int(round(1 / size)))
    n_groups = len(np.unique(groups[idx]))
    if n_groups < n_splits:
        raise ValueError(
            f"cannot hold out a {what} set of {size:.0%} as whole groups: only {n_groups} "
            f"groups (need at least {n_splits}). Use finer groups "
            "(group_by='track'), a larger share, or cross-validation."
        )
    cv = StratifiedGroupKFold(n_splits=n_splits, shuffle=True,
                              random_state=rng.randint(np.iinfo(np.int32).max))
    with warnings.catch_warnings():
        # "The least populated class in y has only k members": expected on small sets
        warnings.filterwarnings("ignore", message="The least populated class",
                                category=UserWarning)
        rest, held = next(cv.split(idx, y[idx], groups=groups[idx]))
    return idx[rest], idx[held]


def random_split(y, *, groups=None, test_size=0.2, valid_size=0.1, random_state=42):
    """Stratified random train / validation / test split (70/10/20 by default).

    Without ``groups``: the reference work's split, random, stratified by genre,
    ``random_state=42``. Tracks of one artist (or clips of one recording) may fall on both
    sides, which inflates test scores compared with a grouped split; use it for comparison
    with that work. With ``groups``: no group is on two sides. The test set is one fold of
    scikit-learn's :class:`~sklearn.model_selection.StratifiedGroupKFold` with
    ``round(1 / test_size)`` folds (shuffled), and the validation set one fold of the rest
    likewise, so the shares are approximate (whole groups) and the genre proportions as
    close as the groups allow.

    Parameters
    ----------
    y : array-like of shape (n_samples,)
        Genre labels (stratification).
    groups : array-like of shape (n_samples,), default=None
        Group of each sample (artist, album, source track: a Bunch's ``groups``). Unknown
        entries (None, NaN) are groups of their own (:func:`fill_unknown_groups`).
    test_size, valid_size : float, default=0.2, 0.1
        Fractions of all samples.
    random_state : int, RandomState instance or None, default=42

    Returns
    -------
    split : TrainValidTest
        Sorted positional index arrays.

    Raises
    ------
    ValueError
        If the sizes are invalid, or there are too few groups for the grouped split.

    Examples
    --------
    >>> y = ["a", "a", "a", "a", "b", "b", "b", "b"] * 5
    >>> groups = [f"track{i // 2}" for i in range(40)]   # two clips per track
    >>> tvt = random_split(y, groups=groups, random_state=0)
    >>> set(np.array(groups)[tvt.train]) & set(np.array(groups)[tvt.test])
    set()
    """
    y = np.asarray(y)
    if not (0 < test_size < 1 and 0 < valid_size < 1 and test_size + valid_size < 1):
        raise ValueError(f"need 0 < test_size, valid_size and test_size + valid_size < 1; "
                         f"got test_size={test_size}, valid_size={valid_size}.")
    rng = check_random_state(random_state)
    idx = np.arange(len(y))
    if groups is not None:
        groups = fill_unknown_groups(groups)
        if len(groups) != len(y):
            raise ValueError(f"y has {len(y)} rows but groups has {len(groups)}.")
        rest, test = _grouped_holdout(idx, y, groups, test_size, rng, "test")
        train, valid = _grouped_holdout(rest, y, groups, valid_size / (1 - test_size), rng,
                                        "validation")
        return TrainValidTest(np.sort(train), np.sort(valid), np.sort(test))
    rest, test = train_test_split(idx, test_size=test_size, stratify=y, random_state=rng)
    train, valid = train_test_split(rest, test_size=valid_size / (1 - test_size),
                                    stratify=y[rest], random_state=rng)
    return TrainValidTest(np.sort(train), np.sort(valid), np.sort(test))


def artist_filtered_split(y, artist_ids, *, sizes=(0.8, 0.1, 0.1), random_state=0):
    """Artist-filtered train / validation / test split, per genre, like FMA's official one.

    For each genre, its artists are shuffled and whole artists are assigned greedily to
    the split furthest below its target share of the genre's tracks, so no artist is
    in two splits and the per-genre proportions come close to ``sizes`` (exact when the
    artists' track counts allow it).

    Parameters
    ----------
    y : array-like of shape (n_samples,)
        Genre labels.
    artist_ids : array-like of shape (n_samples,)
        Artist of each track. An artist with tracks in several genres is assigned
        within its first genre (in sorted order) and kept there for all its tracks.
    sizes : tuple of 3 floats, default=(0.8, 0.1, 0.1)
        Target fractions; normalised to sum to one.
    random_state : int, RandomState instance or None, default=0

    Returns
    -------
    split : TrainValidTest
    """
    y = np.asarray(y)
    ids = _artist_ids(artist_ids)
    if len(ids) != len(y):
        raise ValueError(f"y has {len(y)} rows but artist_ids has {len(ids)}.")
    sizes = np.asarray(sizes, dtype=float)
    if sizes.shape != (3,) or (sizes < 0).any() or sizes.sum() <= 0:
        raise ValueError(f"sizes must be 3 non-negative fractions, got {sizes}.")
    sizes = sizes / sizes.sum()
    rng = check_random_state(random_state)
    assignment = {}
    for genre in np.unique(y):
        in_genre = y == genre
        artists, counts = np.unique(ids[in_genre], return_counts=True)
        order = rng.permutation(len(artists))
        # big artists first, ties in random order, so small artists fill the gaps
        order = order[np.argsort(-counts[order], kind="stable")]
        filled = np.zeros(3)
        target = sizes * in_genre.sum()
        for a in order:
            if artists[a] in assignment:
                filled[assignment[artists[a]]] += counts[a]
                continue
            k = int(np.argmax(target - filled))
            assignment[artists[a]] = k
            filled[k] += counts[a]
    which = np.array([assignment[a] for a in ids])
    return TrainValidTest(*(np.flatnonzero(which == k) for k in range(3)))


class ArtistGroupKFold(BaseCrossValidator):
    """K-fold cross-validation with no artist in two folds, usable as ``cv=``.

    A thin wrapper that stores the artist ids, so it can be passed as ``cv=`` to
    :func:`~sklearn.model_selection.cross_val_score` or a search without remembering
    ``groups=``: it delegates to scikit-learn's
    :class:`~sklearn.model_selection.StratifiedGroupKFold` (``stratify=True``, needs
    ``y``) or :class:`~sklearn.model_selection.GroupKFold` with the artist ids as groups.

    Parameters
    ----------
    artist_ids : Bunch or array-like of shape (n_samples,)
        A Bunch from :func:`load_fma` or :func:`load_audio_folder` (its ``groups``, which
        are the artist ids for FMA), or the ids themselves: any group keys (artists,
        albums, source tracks). Unknown entries (None, NaN) are groups of their own.
    n_splits : int, default=5
    stratify : bool, default=True
        Keep genre proportions per fold as far as the artist grouping allows.
    shuffle : bool, default=False
    random_state : int, RandomState instance or None, default=None
        Used when ``shuffle=True``.

    Examples
    --------
    >>> cv = ArtistGroupKFold([1, 1, 2, 2, 3, 3], n_splits=3, stratify=False)
    >>> sorted(te.tolist() for _, te in cv.split([[0]] * 6))
    [[0, 1], [2, 3], [4, 5]]
    """

    def __init__(self, artist_ids, *, n_splits=5, stratify=True, shuffle=False,
                 random_state=None):
        self.artist_ids = artist_ids
        self.n_splits = n_splits
        self.stratify = stratify
        self.shuffle = shuffle
        self.random_state = random_state

    def _splitter(self):
        if self.stratify:
            return StratifiedGroupKFold(n_splits=self.n_splits, shuffle=self.shuffle,
                                        random_state=self.random_state)
        if self.shuffle:
            return GroupKFold(n_splits=self.n_splits, shuffle=True,
                              random_state=self.random_state)
        return GroupKFold(n_splits=self.n_splits)

    def _ids(self):
        ids = self.artist_ids
        if getattr(ids, "groups", None) is not None:  # a Bunch: its groups
            ids = ids.groups
        ids = getattr(ids, "artist_ids", ids)
        if ids is None:
            return _artist_ids(ids)  # raises: no artist ids
        return fill_unknown_groups(np.asarray(ids, dtype=object))

    def split(self, X, y=None, groups=None):
        """Yield ``(train, test)`` index arrays with disjoint artists.

        Parameters
        ----------
        X : array-like of shape (n_samples, ...)
        y : array-like of shape (n_samples,), default=None
            Genre labels; required when ``stratify=True``.
        groups : ignored
            The stored artist ids are the groups.

        Yields
        ------
        train : ndarray of shape (n_train,)
        test : ndarray of shape (n_test,)
        """
        ids = self._ids()
        if len(X) != len(ids):
            raise ValueError(f"X has {len(X)} rows but {len(ids)} artist ids were given.")
        if self.stratify and y is None:
            raise ValueError("ArtistGroupKFold(stratify=True) needs y; pass y or "
                             "stratify=False.")
        yield from self._splitter().split(X, y, groups=ids)

    def get_n_splits(self, X=None, y=None, groups=None):
        """Return ``n_splits``."""
        return self.n_splits

    def __repr__(self):
        return (f"ArtistGroupKFold(n_samples={len(self._ids())}, "
                f"n_splits={self.n_splits}, stratify={self.stratify}, "
                f"shuffle={self.shuffle}, random_state={self.random_state!r})")


def artist_overlap(artist_ids, *index_sets):
    """Artists present in more than one of the given index sets.

    Parameters
    ----------
    artist_ids : Bunch or array-like of shape (n_samples,)
    *index_sets : array-like of int
        Positional index arrays, e.g. ``train, valid, test``.

    Returns
    -------
    overlap : dict
        ``{(i, j): ndarray of shared artist ids}`` for each pair of sets ``i < j``
        that share artists; empty when there is no leakage.

    Examples
    --------
    >>> artist_overlap([1, 1, 2, 3], [0, 2], [1, 3])
    {(0, 1): array([1])}
    """
    ids = _artist_ids(artist_ids)
    sets = [np.unique(ids[np.asarray(s, dtype=np.intp)]) for s in index_sets]
    out = {}
    for (i, a), (j, b) in combinations(enumerate(sets), 2):
        shared = np.intersect1d(a, b)
        if len(shared):
            out[(i, j)] = shared
    return out


def check_no_artist_leakage(artist_ids, *index_sets, names=None):
    """Raise if an artist appears in more than one index set.

    Parameters
    ----------
    artist_ids : Bunch or array-like of shape (n_samples,)
    *index_sets : array-like of int
    names : sequence of str, default=None
        Names of the sets for the message (default ``set 0``, ``set 1``, ...).

    Raises
    ------
    ValueError
        Naming each pair of sets and (up to 10 of) their shared artists.
    """
    overlap = artist_overlap(artist_ids, *index_sets)
    if overlap:
        names = list(names) if names is not None else [f"set {i}" for i in
                                                        range(len(index_sets))]
        lines = [f"{names[i]} and {names[j]} share {len(a)} artists: {a[:10].tolist()}"
                 for (i, j), a in overlap.items()]
        raise ValueError("artist leakage: " + "; ".join(lines))
