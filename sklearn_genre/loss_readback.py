"""Batch losses read from the device once per epoch instead of once per batch.

skorch 1.4's ``NeuralNet.run_single_epoch`` records every batch's loss with
``step["loss"].item()``. On a GPU ``.item()`` makes the host wait until the
device has finished that batch, so the host cannot queue the next batch while
the device computes. :class:`DeferredLossMixin` overrides that one public
method: each batch's loss tensor is kept (detached) on the device, the history
gets a :class:`PendingLoss` placeholder, and at the end of the epoch, before the
``on_epoch_end`` callbacks run (``PassthroughScoring``, ``EarlyStopping``, LR
schedulers, checkpoints), all losses are copied to the host in one transfer and
the placeholders are replaced by the same Python floats ``.item()`` gives.

What changes for callbacks: ``on_batch_end`` still receives the ``loss`` tensor
(a callback that needs the value live can call ``.item()`` itself, at the price
of that wait), but ``net.history[-1, "batches", -1, "train_loss"]`` read during
the epoch is a :class:`PendingLoss` (``str`` gives ``"pending"``, so skorch's
``ProgressBar`` shows that; ``float`` raises a ``RuntimeError``). Set the
estimator's ``loss_readback="batch"`` to get skorch's own per-batch behaviour.

The override mirrors skorch 1.4.0's ``run_single_epoch`` (same notifications,
same history keys); ``tests/test_batching.py`` checks that the histories of
both modes are equal and fails when skorch's method changes.
"""

from __future__ import annotations

import torch
from skorch.dataset import get_len

__all__ = ["DeferredLossMixin", "PendingLoss"]


class PendingLoss:
    """History placeholder for a batch loss that is read at the end of the epoch.

    Parameters
    ----------
    key : str
        The history key (``"train_loss"`` or ``"valid_loss"``).
    """

    __slots__ = ("key",)

    def __init__(self, key):
        self.key = key

    def __repr__(self):
        return "pending"

    def __float__(self):
        raise RuntimeError(
            f"this batch's {self.key} is read from the device at the end of the epoch "
            "(loss_readback='epoch'); a callback that needs it during the epoch can use the "
            "'loss' tensor passed to on_batch_end, or set loss_readback='batch'"
        )

    def __reduce__(self):
        return (PendingLoss, (self.key,))


class DeferredLossMixin:
    """skorch net mixin: per-batch losses recorded once per epoch.

    The net needs a ``loss_readback`` attribute: ``"epoch"`` (deferred) or
    ``"batch"`` (skorch's own ``run_single_epoch``).
    """

    def run_single_epoch(self, iterator, training, prefix, step_fn, **fit_params):
        """Run one training or validation epoch (see skorch ``NeuralNet.run_single_epoch``).

        With ``loss_readback="epoch"`` the batch losses stay on the device during the
        epoch and are written to the history, as floats, when it ends (also when it
        ends by an exception, for the batches that completed).
        """
        if self.loss_readback == "batch" or iterator is None:
            return super().run_single_epoch(iterator, training, prefix, step_fn,
                                            **fit_params)
        key = prefix + "_loss"
        losses, entries = [], []
        batch_count = 0
        try:
            for batch in iterator:
                self.notify("on_batch_begin", batch=batch, training=training)
                step = step_fn(batch, **fit_params)
                losses.append(step["loss"].detach())
                self.history.record_batch(key, PendingLoss(key))
                entries.append(self.history[-1]["batches"][-1])
                batch_size = (get_len(batch[0]) if isinstance(batch, (tuple, list))
                              else get_len(batch))
                self.history.record_batch(prefix + "_batch_size", batch_size)
                self.notify("on_batch_end", batch=batch, training=training, **step)
                batch_count += 1
        finally:
            _fill(entries, key, losses)
        self.history.record(prefix + "_batch_count", batch_count)


def _fill(entries, key, losses):
    """Replace the placeholders by the losses, read from the device in one transfer."""
    if not losses:
        return
    n = len(entries)
    values = torch.stack([loss.reshape(()).float() for loss in losses[:n]]).cpu().tolist()
    for entry, value in zip(entries, values, strict=True):
        entry[key] = value
