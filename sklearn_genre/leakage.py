"""Leakage guard: is anything from the test set also in the training set?

A genre classifier evaluated on clips it has (nearly) seen in training reports an accuracy it
will not have on new music. Three kinds of overlap are checked between a training and a test set:

1. the same file (same path, after resolving ``..`` and symbolic links);
2. the same audio content under different paths (identical bytes, by blake2b hash);
3. where artist ids are known, the same artist (an artist's production style, mastering and
   vocals let a model recognise the artist rather than the genre);
4. where groups are known (artists, albums or the source tracks clips were cut from, e.g. a
   genre folder's ``groups`` from :func:`~sklearn_genre.datasets.load_audio_folder`), the same
   group.

Without artist or group information, checks 3 and 4 cannot run: the report's status is then
``"unchecked-groups"`` (never ``"clean"``) and its summary says
"artist/track leakage not checked: no artist or group information".
Where only some items have an artist or group, the status of an otherwise clean split is
``"partly-unchecked"`` and the summary counts the items that could not be checked.

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
    "UNCHECKED_GROUPS",
    "FMA_OFFICIAL",
    "PREDEFINED",
    "CROSS_VALIDATION",
    "LeakageError",
    "LeakageReport",
    "LeakageWarning",
    "check_leakage",
    "random_split_protocol",
    "status_line",
]

#: Protocol name of FMA's own training/validation/test split (artist-filtered).
FMA_OFFICIAL = "fma-official (artist-filtered)"
#: Protocol name of a split given by the user (a column of the metadata, folders...).
PREDEFINED = "predefined"
#: Protocol name of cross-validation folds.
CROSS_VALIDATION = "cv"

_ON_LEAK = ("warn", "raise", "ignore")

#: What a report says when it has no artist or group information to check.
UNCHECKED_GROUPS = "artist/track leakage not checked: no artist or group information"


def random_split_protocol(
    train=0.7, valid=0.1, test=0.2, *, stratified=True, artist_filtered=False, grouped_by=None
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
    grouped_by : str, default=None
        What the groups kept in one split were (e.g. ``"artist"``, ``"track"``); overrides
        ``artist_filtered``: ``"random-stratified 70/10/20 (grouped by artist)"``.
    """
    parts = [train, valid, test] if valid else [train, test]
    fractions = "/".join(f"{round(100 * p):d}" for p in parts)
    kind = "random-stratified" if stratified else "random"
    artist = "artist-filtered" if artist_filtered else "no artist filter"
    if grouped_by:
        artist = f"grouped by {grouped_by}"
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
        Checks that ran: ``"path"``, ``"content_hash"``, ``"artist"``, ``"group"``.
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
    n_shared_groups : int or None
        Groups (artists, albums, source tracks) with items in both sets; ``None`` when
        groups were not given.
    n_test_items_shared_group : int or None
        Test items in such a group.
    n_unknown_group : int or None
        Items (both sets) without a group; they cannot be checked.
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
    n_shared_groups: int | None = None
    n_test_items_shared_group: int | None = None
    n_unknown_group: int | None = None
    examples: dict = field(default_factory=dict)
    on_leak: str = "warn"

    @property
    def leaked(self):
        """Whether any check found an overlap."""
        return bool(self.n_shared_paths or self.n_shared_content
                    or (self.n_shared_artists or 0) or (self.n_shared_groups or 0))

    @property
    def groups_checked(self):
        """Whether artist or group overlap was checked on at least one known id per set."""
        total = self.n_train + self.n_test
        artist = "artist" in self.checks and (self.n_unknown_artist or 0) < total
        group = "group" in self.checks and (self.n_unknown_group or 0) < total
        return bool(artist or group)

    @property
    def n_unchecked(self):
        """Items without an artist id or group (where both were checked: without either)."""
        counts = [n for check, n in (("artist", self.n_unknown_artist),
                                     ("group", self.n_unknown_group)) if check in self.checks]
        return min(n or 0 for n in counts) if counts else self.n_train + self.n_test

    @property
    def status(self):
        """``"clean"``, ``"partly-unchecked"``, ``"unchecked-groups"`` or ``"leak (...)"``.

        ``"clean"``: no overlap, and every item had an artist or group to check.
        ``"partly-unchecked"``: no overlap among the items with an artist or group, but
        :attr:`n_unchecked` items had none. ``"unchecked-groups"``: no overlap of files or
        content, but without artist or group information the artist/track check could not
        run, so the split is not known clean. ``"leak"`` followed by the policy
        (``"leak (warned)"``, ``"leak (refused)"``, ``"leak (ignored)"``): an overlap.
        """
        if not self.leaked:
            if not self.groups_checked:
                return "unchecked-groups"
            return "partly-unchecked" if self.n_unchecked else "clean"
        return {"warn": "leak (warned)", "raise": "leak (refused)", "ignore": "leak (ignored)"}[
            self.on_leak
        ]

    def summary(self):
        """One line for a log or a warning."""
        head = f"split protocol {self.protocol or 'unspecified'}: "
        unknown = self.n_unchecked
        partly = (f"; {unknown} item(s) without artist or group could not be checked"
                  if unknown and self.groups_checked else "")
        if not self.leaked:
            text = head + (
                f"no overlap between {self.n_train} training and {self.n_test} test items "
                f"(checked: {', '.join(self.checks)}){partly}"
            )
            if not self.groups_checked:
                text += f"; {UNCHECKED_GROUPS}"
            return text
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
        if self.n_shared_groups:
            parts.append(
                f"{self.n_shared_groups} group(s) (artist/album/source track) in both sets "
                f"({self.n_test_items_shared_group} test item(s))"
            )
        if not self.groups_checked:
            parts.append(UNCHECKED_GROUPS)
        return (
            head
            + "LEAKAGE between training and test: "
            + "; ".join(parts)
            + f". Examples: {self.examples}. Test scores are optimistic; use an artist-filtered "
            "(grouped) split without duplicates (e.g. FMA's official split, or random_split "
            "with groups=)."
            + partly
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


def status_line(leakage):
    """One line for a printout from a report's :meth:`LeakageReport.to_dict` (or the report).

    Parameters
    ----------
    leakage : dict or LeakageReport
        As ``results.json`` holds it (``{"status": ..., ...}``).

    Returns
    -------
    line : str
        The status, with what was not checked spelled out: ``"unchecked-groups
        (artist/track leakage not checked: no artist or group information)"``, ``"partly-unchecked
        (3 items without artist or group could not be checked)"``, or the status alone.

    Examples
    --------
    >>> status_line({"status": "clean"})
    'clean'
    """
    if isinstance(leakage, LeakageReport):
        leakage = leakage.to_dict()
    status = leakage.get("status")
    if status == "unchecked-groups":
        return f"{status} ({UNCHECKED_GROUPS})"
    if status == "partly-unchecked":
        n = min(v for v in (leakage.get("n_unknown_artist"), leakage.get("n_unknown_group"))
                if v is not None)
        return f"{status} ({n} items without artist or group could not be checked)"
    return str(status)


def _as_items(X, name):
    """Paths, artist ids and groups of a DataFrame, or a list of paths."""
    try:
        import pandas as pd
    except ImportError:  # pragma: no cover - pandas is a dependency
        pd = None
    if pd is not None and isinstance(X, pd.DataFrame):
        if "path" not in X.columns:
            raise ValueError(f"{name} is a DataFrame without a 'path' column: {list(X.columns)}")
        artists = X["artist_id"].tolist() if "artist_id" in X.columns else None
        groups = X["group"].tolist() if "group" in X.columns else None
        return X["path"].tolist(), artists, groups
    if isinstance(X, (str, bytes, os.PathLike)):
        raise TypeError(f"{name} must be a sequence of paths, not a single path {X!r}")
    items = list(X)
    bad = [x for x in items if not isinstance(x, (str, os.PathLike))]
    if bad:
        raise TypeError(
            f"{name} must hold file paths (or be indices with paths=...); found "
            f"{type(bad[0]).__name__} {bad[0]!r:.60}"
        )
    return items, None, None


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
    groups=None,
    content_hash=True,
    protocol=None,
    on_leak="warn",
    max_examples=5,
):
    """Check that no file, audio content, artist or group is in both the training and test set.

    Parameters
    ----------
    train, test : DataFrame, sequence of paths, or indices
        Three ways to give the two sets:

        - DataFrames with a ``path`` column and optionally ``artist_id`` and ``group``
          columns (the metadata frames of :mod:`sklearn_genre.datasets`), with
          ``paths=None``;
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
    groups : array-like of shape (n_samples,), default=None
        Group of each item of ``paths`` (only with ``paths``): artist, album or source track
        keys, e.g. a Bunch's ``groups``. Missing ones are counted in ``n_unknown_group``. With
        DataFrames the ``group`` column is used. Without artist ids and groups the status is
        ``"unchecked-groups"``, not ``"clean"``.
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
        if groups is not None and len(groups) != len(paths):
            raise ValueError(f"groups has {len(groups)} entries, paths has {len(paths)}")
        train_paths, test_paths = _take(paths, train, "train"), _take(paths, test, "test")
        if artist_ids is not None:
            train_art, test_art = _take(artist_ids, train, "train"), _take(artist_ids, test, "test")
        else:
            train_art = test_art = None
        if groups is not None:
            train_grp, test_grp = _take(groups, train, "train"), _take(groups, test, "test")
        else:
            train_grp = test_grp = None
    else:
        if artist_ids is not None or groups is not None:
            raise ValueError(
                "artist_ids= and groups= need paths= (train/test as indices); with DataFrames "
                "use 'artist_id' and 'group' columns"
            )
        train_paths, train_art, train_grp = _as_items(train, "train")
        test_paths, test_art, test_grp = _as_items(test, "test")
        if (train_art is None) != (test_art is None):
            train_art = test_art = None  # artist ids known for one set only: cannot check
        if (train_grp is None) != (test_grp is None):
            train_grp = test_grp = None

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

    # (iii) same artist, (iv) same group (artist, album, source track)
    for check, ids, train_ids, test_ids in [("artist", "artists", train_art, test_art),
                                            ("group", "groups", train_grp, test_grp)]:
        if train_ids is None:
            continue
        report.checks.append(check)
        shared_ids, n_items, n_unknown = _shared_ids(train_ids, test_ids)
        setattr(report, f"n_shared_{ids}", len(shared_ids))
        setattr(report, f"n_test_items_shared_{check}", n_items)
        setattr(report, f"n_unknown_{check}", n_unknown)
        if shared_ids:
            report.examples[f"shared_{ids}"] = to_jsonable(
                sorted(shared_ids, key=repr)[:max_examples]
            )

    if report.leaked:
        if on_leak == "raise":
            raise LeakageError(report.summary(), report)
        if on_leak == "warn":
            warnings.warn(report.summary(), LeakageWarning, stacklevel=2)
    return report


def _shared_ids(train_ids, test_ids):
    """Shared known ids, test items with one, and items without an id."""
    known_train = {a for a in train_ids if _known(a)}
    test_known = [a for a in test_ids if _known(a)]
    shared = {a for a in test_known if a in known_train}
    n_unknown = (len(train_ids) - sum(_known(a) for a in train_ids)
                 + len(test_ids) - len(test_known))
    return shared, sum(a in shared for a in test_known), n_unknown


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
