"""Leakage guard: is anything from the test set also in the training set?

A genre classifier evaluated on clips it has (nearly) seen in training reports an accuracy it
will not have on new music. Three kinds of overlap are checked between a training and a test set:

1. the same file (same path, after resolving ``..`` and symbolic links);
2. the same audio content under different paths (identical bytes, by blake2b hash);
3. where artist ids are known, the same artist (an artist's production style, mastering and
   vocals let a model recognise the artist rather than the genre).

FMA's official split is artist-filtered; a random split of FMA is not. Every results file
states the split protocol and the outcome of this check (:meth:`LeakageReport.to_dict`).
"""

from __future__ import annotations

import json
import os
import warnings
from dataclasses import asdict, dataclass, field

import numpy as np

from .exceptions import LeakageError, LeakageWarning
from .provenance import hash_file, to_jsonable

__all__ = [
    "FMA_OFFICIAL",
    "PREDEFINED",
    "CROSS_VALIDATION",
    "LeakageError",
    "LeakageReport",
    "LeakageWarning",
    "check_leakage",
    "random_split_protocol",
]

#: Protocol name of FMA's own training/validation/test split (artist-filtered).
FMA_OFFICIAL = "fma-official (artist-filtered)"
#: Protocol name of a split given by the user (a column of the metadata, folders...).
PREDEFINED = "predefined"
#: Protocol name of cross-validation folds.
CROSS_VALIDATION = "cv"

_ON_LEAK = ("warn", "raise", "ignore")


def random_split_protocol(
    train=0.7, valid=0.1, test=0.2, *, stratified=True, artist_filtered=False
):
    """Protocol name of a random split, e.g. ``"random-stratified 70/10/20 (no artist filter)"``.

    Parameters
    ----------
    train, valid, test : float
        Fractions of the data (``valid`` may be 0).
    stratified : bool, default=True
        Whether the split keeps the genre proportions.
    artist_filtered : bool, default=False
        Whether an artist's tracks were kept in one split (grouped split).
    """
    parts = [train, valid, test] if valid else [train, test]
    fractions = "/".join(f"{round(100 * p):d}" for p in parts)
    kind = "random-stratified" if stratified else "random"
    artist = "artist-filtered" if artist_filtered else "no artist filter"
    return f"{kind} {fractions} ({artist})"


@dataclass
class LeakageReport:
    """Outcome of :func:`check_leakage`; serialises to JSON with :meth:`to_dict`/:meth:`to_json`.

    Attributes
    ----------
    protocol : str or None
        Name of the split protocol (e.g. ``"fma-official (artist-filtered)"``).
    n_train, n_test : int
        Number of training and test items checked.
    checks : list of str
        Checks that ran: ``"path"``, ``"content_hash"``, ``"artist"``.
    n_shared_paths : int
        Files present in both sets (same resolved path).
    n_shared_content : int
        Distinct audio contents (byte-identical files) present in both sets under different paths.
    n_test_duplicate_content : int
        Test items whose content is also in the training set under another path.
    n_shared_artists : int or None
        Artists with tracks in both sets; ``None`` when artist ids were not given.
    n_test_items_shared_artist : int or None
        Test items by such an artist.
    n_unknown_artist : int or None
        Items (both sets) without an artist id; they cannot be checked.
    examples : dict of str to list
        Up to ``max_examples`` examples per check (paths, path pairs, artist ids).
    on_leak : {"warn", "raise", "ignore"}
        The policy that was applied.
    """

    protocol: str | None
    n_train: int
    n_test: int
    checks: list = field(default_factory=list)
    n_shared_paths: int = 0
    n_shared_content: int = 0
    n_test_duplicate_content: int = 0
    n_shared_artists: int | None = None
    n_test_items_shared_artist: int | None = None
    n_unknown_artist: int | None = None
    examples: dict = field(default_factory=dict)
    on_leak: str = "warn"

    @property
    def leaked(self):
        """Whether any check found an overlap."""
        return bool(self.n_shared_paths or self.n_shared_content or (self.n_shared_artists or 0))

    @property
    def status(self):
        """``"clean"``, or ``"leak"`` followed by the policy (``"leak (warned)"``...)."""
        if not self.leaked:
            return "clean"
        return {"warn": "leak (warned)", "raise": "leak (refused)", "ignore": "leak (ignored)"}[
            self.on_leak
        ]

    def summary(self):
        """One line for a log or a warning."""
        head = f"split protocol {self.protocol or 'unspecified'}: "
        if not self.leaked:
            return head + (
                f"no overlap between {self.n_train} training and {self.n_test} test items "
                f"(checked: {', '.join(self.checks)})"
            )
        parts = []
        if self.n_shared_paths:
            parts.append(f"{self.n_shared_paths} file(s) in both sets")
        if self.n_shared_content:
            parts.append(
                f"{self.n_shared_content} audio content(s) duplicated across the sets "
                f"({self.n_test_duplicate_content} test item(s))"
            )
        if self.n_shared_artists:
            parts.append(
                f"{self.n_shared_artists} artist(s) in both sets "
                f"({self.n_test_items_shared_artist} test item(s))"
            )
        return (
            head
            + "LEAKAGE between training and test: "
            + "; ".join(parts)
            + f". Examples: {self.examples}. Test scores are optimistic; use an artist-filtered "
            "split without duplicates (e.g. FMA's official split)."
        )

    def to_dict(self):
        """Plain-JSON dict including ``status`` and ``leaked``."""
        out = asdict(self)
        out["leaked"] = self.leaked
        out["status"] = self.status
        return out

    def to_json(self, **kwargs):
        """JSON string of :meth:`to_dict`.

        Parameters
        ----------
        **kwargs
            Passed to :func:`json.dumps` (``indent=2``, ...).

        Returns
        -------
        text : str
        """
        return json.dumps(self.to_dict(), **kwargs)


def _as_items(X, name):
    """Paths and artist ids of a DataFrame, or a list of paths."""
    try:
        import pandas as pd
    except ImportError:  # pragma: no cover - pandas is a dependency
        pd = None
    if pd is not None and isinstance(X, pd.DataFrame):
        if "path" not in X.columns:
            raise ValueError(f"{name} is a DataFrame without a 'path' column: {list(X.columns)}")
        artists = X["artist_id"].tolist() if "artist_id" in X.columns else None
        return X["path"].tolist(), artists
    if isinstance(X, (str, bytes, os.PathLike)):
        raise TypeError(f"{name} must be a sequence of paths, not a single path {X!r}")
    items = list(X)
    bad = [x for x in items if not isinstance(x, (str, os.PathLike))]
    if bad:
        raise TypeError(
            f"{name} must hold file paths (or be indices with paths=...); found "
            f"{type(bad[0]).__name__} {bad[0]!r:.60}"
        )
    return items, None


def _take(values, index, name):
    index = np.asarray(index)
    values = list(values)
    if index.dtype == bool:
        if index.shape != (len(values),):
            raise ValueError(
                f"boolean mask {name} has shape {index.shape}, expected ({len(values)},)"
            )
        index = np.flatnonzero(index)
    elif index.size and not np.issubdtype(index.dtype, np.integer):
        raise TypeError(f"{name} must be integer indices or a boolean mask when paths= is given")
    return [values[i] for i in index.tolist()]


def _known(a):
    if a is None:
        return False
    try:
        return not bool(np.isnan(a))
    except (TypeError, ValueError):
        return a != ""


def check_leakage(
    train,
    test,
    *,
    paths=None,
    artist_ids=None,
    content_hash=True,
    protocol=None,
    on_leak="warn",
    max_examples=5,
):
    """Check that no file, audio content or artist is in both the training and the test set.

    Parameters
    ----------
    train, test : DataFrame, sequence of paths, or indices
        Three ways to give the two sets:

        - DataFrames with a ``path`` column and optionally an ``artist_id`` column (the
          metadata frames of :mod:`sklearn_genre.datasets`), with ``paths=None``;
        - sequences of file paths, with ``paths=None`` (no artist check: give DataFrames or
          indices for that);
        - integer indices or boolean masks into ``paths`` (and ``artist_ids``), as produced by
          sklearn splitters (``train_idx, test_idx = next(cv.split(X, y))``).
    paths : sequence of str or path-like of length n_samples, default=None
        All paths, indexed by ``train`` and ``test``.
    artist_ids : array-like of shape (n_samples,), default=None
        Artist id of each item of ``paths`` (only with ``paths``). Missing ids (None, NaN, "")
        are counted in ``n_unknown_artist`` and skipped. With DataFrames the ``artist_id``
        column is used.
    content_hash : bool, default=True
        Also look for byte-identical files under different paths. Only files whose size occurs
        in both sets are hashed (identical bytes need identical sizes), each at most once per
        call, in 1 MiB chunks; all files are ``stat``-ed. ``False``: paths only (no file access).
    protocol : str, default=None
        Name of the split protocol, recorded in the report (see :data:`FMA_OFFICIAL`,
        :func:`random_split_protocol`, :data:`PREDEFINED`, :data:`CROSS_VALIDATION`).
    on_leak : {"warn", "raise", "ignore"}, default="warn"
        What to do when an overlap is found. ``"warn"``: emit a :class:`LeakageWarning` with the
        counts and examples. ``"raise"``: raise :class:`LeakageError` (its ``report`` attribute
        holds the report); pass ``"warn"`` or ``"ignore"`` to evaluate anyway. ``"ignore"``: no
        warning. In every case the overlap is recorded in the returned report.
    max_examples : int, default=5
        Examples kept per check.

    Returns
    -------
    report : LeakageReport

    Raises
    ------
    LeakageError
        With ``on_leak="raise"`` when an overlap is found.
    FileNotFoundError
        With ``content_hash=True`` when a file does not exist (the message names it).

    Examples
    --------
    >>> import pandas as pd
    >>> from sklearn_genre.leakage import check_leakage
    >>> train = pd.DataFrame({"path": ["a.mp3", "b.mp3"], "artist_id": [1, 2]})
    >>> test = pd.DataFrame({"path": ["c.mp3"], "artist_id": [2]})
    >>> report = check_leakage(train, test, content_hash=False, on_leak="ignore")
    >>> report.n_shared_artists, report.status
    (1, 'leak (ignored)')
    """
    if on_leak not in _ON_LEAK:
        raise ValueError(f"on_leak must be one of {_ON_LEAK}, got {on_leak!r}")
    if paths is not None:
        paths = list(paths)
        if artist_ids is not None and len(artist_ids) != len(paths):
            raise ValueError(f"artist_ids has {len(artist_ids)} entries, paths has {len(paths)}")
        train_paths, test_paths = _take(paths, train, "train"), _take(paths, test, "test")
        if artist_ids is not None:
            train_art, test_art = _take(artist_ids, train, "train"), _take(artist_ids, test, "test")
        else:
            train_art = test_art = None
    else:
        if artist_ids is not None:
            raise ValueError(
                "artist_ids= needs paths= (train/test as indices); with DataFrames use an "
                "'artist_id' column"
            )
        train_paths, train_art = _as_items(train, "train")
        test_paths, test_art = _as_items(test, "test")
        if (train_art is None) != (test_art is None):
            train_art = test_art = None  # artist ids known for one set only: cannot check

    report = LeakageReport(
        protocol=protocol, n_train=len(train_paths), n_test=len(test_paths), on_leak=on_leak
    )

    # (i) same file
    report.checks.append("path")
    train_real = {os.path.realpath(p): os.fspath(p) for p in train_paths}
    test_real = [os.path.realpath(p) for p in test_paths]
    test_original = dict(zip(test_real, map(os.fspath, test_paths)))
    shared = sorted({r for r in test_real if r in train_real})
    report.n_shared_paths = len(shared)
    if shared:
        report.examples["shared_paths"] = [train_real[r] for r in shared[:max_examples]]

    # (ii) same content under another path
    if content_hash:
        report.checks.append("content_hash")
        pairs = _shared_content(report, train_real, test_real, set(shared))
        if pairs:
            report.examples["shared_content"] = [
                [train_real[tr], test_original[te]] for tr, te in pairs[:max_examples]
            ]

    # (iii) same artist
    if train_art is not None:
        report.checks.append("artist")
        known_train = {a for a in train_art if _known(a)}
        test_known = [a for a in test_art if _known(a)]
        shared_art = {a for a in test_known if a in known_train}
        report.n_shared_artists = len(shared_art)
        report.n_test_items_shared_artist = sum(a in shared_art for a in test_known)
        report.n_unknown_artist = (
            len(train_art) - sum(_known(a) for a in train_art) + len(test_art) - len(test_known)
        )
        if shared_art:
            report.examples["shared_artists"] = to_jsonable(
                sorted(shared_art, key=repr)[:max_examples]
            )

    if report.leaked:
        if on_leak == "raise":
            raise LeakageError(report.summary(), report)
        if on_leak == "warn":
            warnings.warn(report.summary(), LeakageWarning, stacklevel=2)
    return report


def _shared_content(report, train_real, test_real, skip):
    """Count byte-identical files across the sets (resolved paths), ignoring same-path pairs.

    Sets the content counts of ``report``; returns (train path, test path) pairs, one per shared
    content.
    """
    test_unique = [r for r in dict.fromkeys(test_real) if r not in skip]
    train_unique = [r for r in train_real if r not in skip]
    sizes = {}
    for r in (*train_unique, *test_unique):
        if r not in sizes:
            try:
                sizes[r] = os.stat(r).st_size
            except FileNotFoundError:
                raise FileNotFoundError(f"cannot check content of {r}: file not found") from None
    candidate_sizes = {sizes[r] for r in train_unique} & {sizes[r] for r in test_unique}
    digests = {}  # each file hashed at most once per call

    def digest(r):
        if r not in digests:
            digests[r] = hash_file(r)
        return digests[r]

    train_by_hash = {}
    for r in train_unique:
        if sizes[r] in candidate_sizes:
            train_by_hash.setdefault(digest(r), r)
    first_test = {}
    for r in test_unique:
        if sizes[r] in candidate_sizes and digest(r) in train_by_hash:
            first_test.setdefault(digests[r], r)
    report.n_shared_content = len(first_test)
    report.n_test_duplicate_content = sum(
        1 for r in test_real if r not in skip and digests.get(r) in first_test
    )
    return [(train_by_hash[h], r) for h, r in first_test.items()]
