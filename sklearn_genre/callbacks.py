"""skorch callbacks for the sklearn_genre classifiers.

The classifiers in :mod:`sklearn_genre.classifiers` train on integer-coded
targets (``0 .. n_classes - 1``, from a :class:`~sklearn.preprocessing.LabelEncoder`)
while their ``predict`` returns the original labels. :class:`LabelScoring` is
skorch's :class:`~skorch.callbacks.EpochScoring` with the targets decoded back
to the original labels before scoring, so any sklearn scorer (``"accuracy"``,
``"f1_macro"``, ``"neg_log_loss"``, ...) sees consistent labels.

:class:`PrintLog` is skorch's epoch table with its colour codes only on a terminal.

:class:`TimeLimit` ends training once a time budget is spent, the way skorch's
:class:`~skorch.callbacks.EarlyStopping` does. Both stop ``fit`` by raising
``KeyboardInterrupt``, which skorch catches; :func:`stopped_by_callback` tells such a
planned stop from a user's Ctrl-C.
"""

from __future__ import annotations

import os
import sys
import time

import numpy as np
import skorch.callbacks
from skorch.callbacks import Callback, EpochScoring

__all__ = ["LabelScoring", "PrintLog", "TimeLimit", "stopped_by_callback"]


class LabelScoring(EpochScoring):
    """Epoch-level scoring on the original class labels.

    Use it instead of :class:`skorch.callbacks.EpochScoring` to add a score to
    the history of a sklearn_genre classifier, for example::

        CNNGRUAttentionClassifier(
            callbacks=[("valid_f1", LabelScoring("f1_macro", name="valid_f1",
                                                 lower_is_better=False))])

    Parameters are those of :class:`skorch.callbacks.EpochScoring`
    (``scoring``, ``lower_is_better``, ``on_train``, ``name``,
    ``target_extractor``, ``use_caching``).

    Notes
    -----
    With ``on_train=True`` and caching (the default), the score uses the
    predictions made during the training batches, i.e. with dropout and
    augmentation active (like Keras' running training accuracy).
    """

    def _scoring(self, net, X_test, y_test):
        if y_test is not None:
            y_test = np.asarray(net.classes_)[np.asarray(y_test, dtype=np.int64)]
        return super()._scoring(net, X_test, y_test)


class PrintLog(skorch.callbacks.PrintLog):
    """skorch's per-epoch table, with colour codes only where a terminal shows them.

    skorch highlights each column's best value so far with ANSI escape codes. Redirected to a
    file, a CI log or a logger they come out as raw bytes (``\x1b[32m0.4875\x1b[0m``), so this
    table is coloured only when it goes to a terminal: the default sink ``print`` with
    ``sys.stdout`` a TTY, and the ``NO_COLOR`` environment variable unset
    (https://no-color.org). Parameters are those of :class:`skorch.callbacks.PrintLog`.
    """

    def _colored(self):
        isatty = getattr(sys.stdout, "isatty", None)
        return (
            self.sink is print
            and not os.environ.get("NO_COLOR")
            and callable(isatty)
            and bool(isatty())
        )

    def format_row(self, row, key, color):
        """Format one cell (see skorch); without colour, the best value is not highlighted."""
        if not self._colored():
            row = {k: v for k, v in row.items() if k != key + "_best"}
        return super().format_row(row, key, color)


class TimeLimit(Callback):
    """Stop training at the end of the first epoch that ends past ``seconds`` of training.

    Stops the way skorch's :class:`~skorch.callbacks.EarlyStopping` does
    (``KeyboardInterrupt`` from ``on_epoch_end``, which ``fit`` catches), so a classifier's
    early stopping still restores the best-epoch weights.

    Parameters
    ----------
    seconds : float
        Training time budget, measured from the start of training.

    Attributes
    ----------
    triggered_ : bool
        Whether the budget ended training.
    """

    def __init__(self, seconds):
        self.seconds = seconds

    def initialize(self):
        self.triggered_ = False
        self.start_ = time.monotonic()
        return self

    def on_train_begin(self, net, **kwargs):
        self.triggered_ = False
        self.start_ = time.monotonic()

    def on_epoch_end(self, net, **kwargs):
        elapsed = time.monotonic() - self.start_
        if elapsed > self.seconds:
            self.triggered_ = True
            if net.verbose:
                print(f"Stopping: the training time budget of {self.seconds:.0f} s is used up "
                      f"({elapsed:.0f} s).")
            raise KeyboardInterrupt


def stopped_by_callback(net):
    """Whether a callback, not the user, ended the last training run of ``net``.

    skorch's ``EarlyStopping`` and :class:`TimeLimit` end ``fit`` by raising
    ``KeyboardInterrupt``, as a Ctrl-C does. A callback counts as having stopped training
    when it says so (``triggered_``) or, for early stopping, when its misses reached its
    patience.

    Parameters
    ----------
    net : skorch.NeuralNet
        An initialized net.

    Returns
    -------
    stopped : bool
    """
    for _, cb in getattr(net, "callbacks_", []):
        if getattr(cb, "triggered_", False):
            return True
        misses, patience = getattr(cb, "misses_", None), getattr(cb, "patience", None)
        if misses is not None and patience is not None and misses >= patience:
            return True
    return False
