"""The classifiers' internal validation split, made for small data sets.

The classifiers hold out part of the training data to decide when to stop
(:class:`~skorch.callbacks.EarlyStopping`) and when to lower the learning rate. skorch's
``ValidSplit(0.1, stratified=True)`` fails on small sets ("The test_size = 1 should be greater
or equal to the number of classes = 3" for 3 classes x 3 clips) and may leave a rare class out
of the validation set. :class:`StratifiedValidSplit` holds out, per class, about
``valid_size`` of its clips but at least one and never all, so every class is both trained on
and validated; where that is impossible (a class with one clip) it raises
:class:`ValidationSplitError` saying what to do.

A validation set of a few clips cannot tell a good epoch from a lucky one: with ``n`` clips
the validation accuracy takes only ``n + 1`` values. :func:`check_validation_size` warns
(:class:`SmallValidationWarning`) when a class has fewer than :data:`MIN_VALID_PER_CLASS`
validation clips or the set has fewer than :data:`MIN_VALID_TOTAL`.
"""

from __future__ import annotations

import warnings

import numpy as np
from sklearn.utils import check_random_state
from torch.utils.data import Subset

from .exceptions import SmallValidationWarning, ValidationSplitError

__all__ = [
    "MIN_VALID_PER_CLASS",
    "MIN_VALID_TOTAL",
    "SmallValidationWarning",
    "StratifiedValidSplit",
    "ValidationSplitError",
    "check_validation_size",
]

#: Fewer validation clips in some class than this draws a :class:`SmallValidationWarning`.
MIN_VALID_PER_CLASS = 5
#: Fewer validation clips in all than this draws a :class:`SmallValidationWarning`.
MIN_VALID_TOTAL = 30

_WHAT_TO_DO = (
    "Give it more clips per class, or train without a validation set "
    "(train_split=None, callbacks__early_stopping=None, callbacks__lr_scheduler=None, and a "
    "fixed max_epochs), or pass your own validation set "
    "(train_split=skorch.helper.predefined_split(skorch.dataset.Dataset(X_valid, y_valid)))"
)


def _names(labels, codes):
    return [str(labels[c]) if labels is not None else int(c) for c in codes]


class StratifiedValidSplit:
    """Hold out ``valid_size`` of each class, at least one clip and never all of them.

    A ``train_split`` for skorch nets: ``split(dataset, y) -> (train_subset, valid_subset)``.
    For each class with ``n_c`` clips, ``clip(round(valid_size * n_c), 1, n_c - 1)`` clips are
    drawn at random for validation, so the validation set has at least one clip of every
    class (``max(n_classes, ~valid_size * n)`` in all) and training keeps at least one.

    Called with ``groups`` (artist, album or track of each clip), it holds out whole groups
    instead: for each class, groups drawn at random until about ``valid_size`` of its clips,
    at least one group, never all of them, so no group is both trained on and validated (a
    track's other clips in training would make validation look better than it is and stop
    training late). Classifiers receive the groups from ``fit(X, y, groups=...)``.

    Parameters
    ----------
    valid_size : float, default=0.1
        Fraction of each class held out.
    random_state : int, RandomState instance or None, default=None
        Seeds the draw.
    labels : array-like of shape (n_classes,), default=None
        Class names for the messages (``y`` holds their integer codes).

    Raises
    ------
    ValidationSplitError
        When called on a set where some class has fewer than 2 clips (with groups: fewer
        than 2 groups), naming them and what to do.

    Examples
    --------
    >>> import numpy as np
    >>> split = StratifiedValidSplit(0.1, random_state=0)
    >>> train, valid = split(np.zeros(9), np.repeat([0, 1, 2], 3))
    >>> len(train), len(valid)
    (6, 3)
    """

    def __init__(self, valid_size=0.1, *, random_state=None, labels=None):
        self.valid_size = valid_size
        self.random_state = random_state
        self.labels = labels

    def __call__(self, dataset, y=None, groups=None):
        if y is None:
            raise ValueError("StratifiedValidSplit needs y")
        y = np.asarray(y)
        if len(y) != len(dataset):
            raise ValueError(f"dataset has {len(dataset)} items but y has {len(y)}")
        if groups is not None:
            valid = self._grouped(y, np.asarray(groups))
            train = np.setdiff1d(np.arange(len(y)), valid)
            return Subset(dataset, train), Subset(dataset, valid)
        codes, counts = np.unique(y, return_counts=True)
        too_few = codes[counts < 2]
        if len(too_few):
            raise ValidationSplitError(
                f"cannot hold out a validation clip of every class: "
                f"{len(too_few)} class(es) have a single training clip "
                f"({_names(self.labels, too_few)[:10]}). {_WHAT_TO_DO}."
            )
        rng = check_random_state(self.random_state)
        valid = []
        for code, count in zip(codes, counts):
            members = np.flatnonzero(y == code)
            k = int(np.clip(round(self.valid_size * count), 1, count - 1))
            valid.append(rng.choice(members, size=k, replace=False))
        valid = np.sort(np.concatenate(valid))
        train = np.setdiff1d(np.arange(len(y)), valid)
        return Subset(dataset, train), Subset(dataset, valid)

    def _grouped(self, y, groups):
        """Validation indices made of whole groups, ~``valid_size`` of each class."""
        if len(groups) != len(y):
            raise ValueError(f"groups has {len(groups)} items but y has {len(y)}")
        _, g = np.unique(groups.astype(str), return_inverse=True)
        codes = np.unique(y)
        single = [c for c in codes if len(np.unique(g[y == c])) < 2]
        if single:
            raise ValidationSplitError(
                f"cannot hold out whole groups (artists, tracks) of every class: "
                f"{len(single)} class(es) have all their training clips in one group "
                f"({_names(self.labels, single)[:10]}), so validating on them would validate "
                f"on the training group. {_WHAT_TO_DO}; or train without groups, accepting "
                "a validation set that shares groups with training."
            )
        rng = check_random_state(self.random_state)
        chosen = set()
        # classes with the fewest groups choose first: they have the least room
        for code in sorted(codes, key=lambda c: len(np.unique(g[y == c]))):
            members = y == code
            class_groups = np.unique(g[members])
            target = int(np.clip(round(self.valid_size * members.sum()), 1,
                                 members.sum() - 1))
            held = int(np.isin(g[members], list(chosen)).sum())
            for group in rng.permutation(class_groups):
                if held >= target:
                    break
                left = [x for x in class_groups if x not in chosen and x != group]
                if group in chosen or not left:
                    continue  # keep at least one group of the class for training
                chosen.add(group)
                held += int((g[members] == group).sum())
        valid = np.flatnonzero(np.isin(g, list(chosen)))
        missing = [c for c in codes
                   if not (y[valid] == c).any() or (y[valid] == c).sum() == (y == c).sum()]
        if missing:
            raise ValidationSplitError(
                f"cannot hold out whole groups so that every class is both trained on and "
                f"validated: groups shared between classes leave "
                f"{_names(self.labels, missing)[:10]} all in training or all in validation. "
                f"{_WHAT_TO_DO}."
            )
        return valid

    def __repr__(self):
        return (f"StratifiedValidSplit(valid_size={self.valid_size}, "
                f"random_state={self.random_state!r})")


def check_validation_size(y_valid, *, labels=None, stacklevel=2):
    """Warn when a validation set is too small for early stopping to mean much.

    Parameters
    ----------
    y_valid : array-like of shape (n_valid,)
        Validation targets.
    labels : array-like of shape (n_classes,), default=None
        Class names for the message, indexed by the values of ``y_valid``.
    stacklevel : int, default=2

    Returns
    -------
    small : bool
        Whether it warned: some class has fewer than :data:`MIN_VALID_PER_CLASS` clips, or
        the set fewer than :data:`MIN_VALID_TOTAL`.
    """
    y_valid = np.asarray(y_valid)
    codes, counts = np.unique(y_valid, return_counts=True)
    n = len(y_valid)
    if n >= MIN_VALID_TOTAL and (counts.min(initial=n) >= MIN_VALID_PER_CLASS):
        return False
    fewest = codes[np.argmin(counts)] if len(counts) else None
    least = f"; fewest in {_names(labels, [fewest])[0]!r}: {counts.min()}" if n else ""
    warnings.warn(
        f"the validation set has {n} clips ({len(codes)} classes{least}); with fewer than "
        f"{MIN_VALID_PER_CLASS} per class or {MIN_VALID_TOTAL} in all, its accuracy and loss "
        f"are too noisy for early stopping and the learning-rate schedule to mean much "
        f"(one clip moves the accuracy by {100 / max(n, 1):.0f} points). Use more clips, a "
        "larger valid_size, or train_split=None with a fixed max_epochs.",
        SmallValidationWarning, stacklevel=stacklevel,
    )
    return True
