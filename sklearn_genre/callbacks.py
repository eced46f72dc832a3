"""skorch callbacks for the sklearn_genre classifiers.

The classifiers in :mod:`sklearn_genre.classifiers` train on integer-coded
targets (``0 .. n_classes - 1``, from a :class:`~sklearn.preprocessing.LabelEncoder`)
while their ``predict`` returns the original labels. :class:`LabelScoring` is
skorch's :class:`~skorch.callbacks.EpochScoring` with the targets decoded back
to the original labels before scoring, so any sklearn scorer (``"accuracy"``,
``"f1_macro"``, ``"neg_log_loss"``, ...) sees consistent labels.

:class:`PrintLog` is skorch's epoch table with every epoch (also the one that stopped
training), a time estimate (``eta``), and its colour codes only on a terminal.

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

__all__ = ["LabelScoring", "PrintLog", "TimeLimit", "format_seconds", "stopped_by_callback"]


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
    """skorch's per-epoch table with every epoch, a time estimate, and colour only on a terminal.

    Three changes to :class:`skorch.callbacks.PrintLog`:

    - Every epoch is printed. skorch always calls the ``PrintLog`` last, so an epoch that
      another callback ends by raising ``KeyboardInterrupt`` from ``on_epoch_end`` (early
      stopping, :class:`TimeLimit`) would be missing from skorch's table although it is in
      the history; this one prints such rows in ``on_train_end``.
    - An ``eta`` column: the time the remaining epochs of this ``fit`` would take at the
      mean epoch duration so far (``h:mm:ss``). It assumes all ``max_epochs`` (or the
      ``epochs`` passed to ``partial_fit``) run, so with early stopping it is an upper
      bound. After the first epoch a line says what the whole ``fit`` would take. Both
      can be turned off with ``eta=False``.
    - skorch highlights each column's best value so far with ANSI escape codes. Redirected to
      a file, a CI log or a logger they come out as raw bytes (``\x1b[32m0.4875\x1b[0m``), so
      this table is coloured only when it goes to a terminal: the default sink ``print`` with
      ``sys.stdout`` a TTY, and the ``NO_COLOR`` environment variable unset
      (https://no-color.org).

    Parameters
    ----------
    keys_ignored, sink, tablefmt, floatfmt, stralign
        As in :class:`skorch.callbacks.PrintLog`.
    eta : bool, default=True
        Show the ``eta`` column and the estimate after the first epoch.
    """

    def __init__(self, keys_ignored=None, sink=print, tablefmt="simple", floatfmt=".4f",
                 stralign="right", eta=True):
        super().__init__(keys_ignored=keys_ignored, sink=sink, tablefmt=tablefmt,
                         floatfmt=floatfmt, stralign=stralign)
        self.eta = eta

    def initialize(self):
        super().initialize()
        self.first_row_ = 0
        self.rows_printed_ = 0
        return self

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

    def on_train_begin(self, net, **kwargs):
        # Rows already in the history (warm start, a resumed run) were printed before.
        self.first_row_ = self.rows_printed_ = len(net.history)

    def on_epoch_end(self, net, **kwargs):
        self._print_rows(net, final=False)

    def on_train_end(self, net, **kwargs):
        # Epochs a callback ended (early stopping raises KeyboardInterrupt from its
        # on_epoch_end, before this callback's) are in the history but not yet printed. A row
        # without "dur" is an epoch cut short by Ctrl-C: not a finished epoch.
        self._print_rows(net, final=True)

    def _emit(self, net, text):
        if self.sink is not print or net.verbose:
            self.sink(text)
        if self.sink is print:
            sys.stdout.flush()

    def _print_rows(self, net, *, final):
        history = net.history
        while self.rows_printed_ < len(history):
            row = history[self.rows_printed_]
            if final and "dur" not in row:
                break
            self._print_row(net, row, final=final)
            self.rows_printed_ += 1

    def _print_row(self, net, row, *, final):
        lines = self.table(row).split("\n")
        header, line = lines[:2], lines[-1]
        if self.eta:
            remaining, mean, planned = self._estimate(net)
            cell = "" if final or remaining is None else format_seconds(remaining * mean)
            width = 8
            header = [f"{header[0]}  {'eta':>{width}}", f"{header[1]}  {'-' * width}"]
            line = f"{line}  {cell:>{width}}"
            if self.first_iteration_ and mean is not None and planned:
                self._emit(net, f"first epoch: {mean:.1f} s; all {planned} epochs "
                           f"would take {format_seconds(mean * planned)} (an upper bound: "
                           "early stopping usually ends sooner; the eta column updates it)")
        if self.first_iteration_:
            for text in header:
                self._emit(net, text)
            self.first_iteration_ = False
        self._emit(net, line)

    def _estimate(self, net):
        """(epochs left, mean epoch seconds, epochs planned) for this fit, from ``dur``."""
        done = net.history[self.first_row_:]
        durations = [row["dur"] for row in done if "dur" in row]
        planned = getattr(net, "fit_epochs_", None) or net.max_epochs
        if not durations:
            return None, None, planned
        return max(planned - len(done), 0), float(np.mean(durations)), planned


def format_seconds(seconds):
    """``m:ss`` or ``h:mm:ss`` for a duration in seconds (rounded to whole seconds)."""
    total = int(round(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


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
