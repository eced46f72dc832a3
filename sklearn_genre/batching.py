"""Mini-batches sliced from whole tensors instead of collated sample by sample.

skorch's default iterator is a :class:`torch.utils.data.DataLoader`: for every
batch it calls the dataset once per sample and stacks the samples
(``default_collate``), and on CUDA it then copies each batch from pageable
memory, which makes the host wait for the device. :class:`TensorBatchIterator`
produces the same batches, in the same order, by indexing the whole array at
once:

- shuffling, ``batch_size`` and ``drop_last`` as ``DataLoader`` does, drawing
  its random numbers from torch's global generator exactly as ``DataLoader`` +
  ``RandomSampler`` do, so a seeded fit gives the same batches (and the same
  model) with either iterator;
- on CUDA, the data are kept on the device when they fit (``data_on_device``),
  optionally stored there as float16 (``storage_dtype``); otherwise each batch
  is gathered into pinned host memory and copied with ``non_blocking=True``.

:class:`TensorBatchingMixin` makes a skorch net pass its ``device``,
``data_on_device`` and ``storage_dtype`` to the iterator. Datasets that are not
plain array-backed skorch datasets (a custom ``Dataset`` class, pandas or sparse
inputs) are documented to go through ``DataLoader`` (see
:func:`supports_dataset`).

Augmentation is not the iterator's business: the networks apply it on the device
(:class:`~sklearn_genre.modules.NoiseShiftAugment`, active in training mode).
"""

from __future__ import annotations

import warnings

import numpy as np
import torch
from skorch.dataset import Dataset
from torch.utils.data import DataLoader, Subset

__all__ = ["TensorBatchIterator", "TensorBatchingMixin", "supports_dataset"]

# "auto" keeps the data on the GPU when they take at most this fraction of the free memory.
AUTO_DEVICE_FRACTION = 0.5
_STORAGE_DTYPES = {None: None, "float16": torch.float16, "float32": torch.float32}


def _unwrap(dataset):
    """(skorch Dataset, indices or None) behind ``dataset``, or (None, None)."""
    indices = None
    if isinstance(dataset, Subset):
        indices = np.asarray(dataset.indices, dtype=np.int64)
        dataset = dataset.dataset
    if type(dataset) is not Dataset:  # subclasses may override transform/__getitem__
        return None, None
    return dataset, indices


def _is_array(a, ndim=None):
    ok = isinstance(a, (np.ndarray, torch.Tensor)) and a.dtype != object
    return ok and (ndim is None or a.ndim == ndim)


def supports_dataset(dataset):
    """Whether :class:`TensorBatchIterator` can slice ``dataset``.

    Parameters
    ----------
    dataset : object
        A dataset as skorch passes it to an iterator.

    Returns
    -------
    supported : bool
        True for a :class:`skorch.dataset.Dataset` (exactly that class) whose ``X``
        is a numeric ndarray or tensor and whose ``y`` is None or a 1-D array, and
        for a :class:`torch.utils.data.Subset` of one (skorch's ``ValidSplit``).
    """
    base, _ = _unwrap(dataset)
    if base is None or not _is_array(base.X) or base.X.ndim < 1:
        return False
    return base.y is None or _is_array(base.y, ndim=1)


def _as_tensor(a):
    if isinstance(a, torch.Tensor):
        return a.detach()
    with warnings.catch_warnings():
        # Read-only arrays (memory maps) are only read here.
        warnings.filterwarnings("ignore", message=".*not writable.*")
        return torch.from_numpy(np.asarray(a))


class TensorBatchIterator:
    """Iterate over mini-batches of an array-backed dataset by slicing tensors.

    A drop-in for :class:`torch.utils.data.DataLoader` as skorch's
    ``iterator_train`` / ``iterator_valid``: it yields ``(X_batch, y_batch)``
    tuples of tensors, ``y_batch`` None when the dataset has no targets.

    Parameters
    ----------
    dataset : skorch.dataset.Dataset or torch.utils.data.Subset of one
        With ``X`` of shape (n_samples, ...) and ``y`` None or of shape
        (n_samples,); see :func:`supports_dataset`.
    batch_size : int, default=1
        Samples per batch.
    shuffle : bool, default=False
        A new random order every epoch (every ``iter``), from torch's global
        generator, drawn as ``DataLoader(shuffle=True)`` draws it.
    drop_last : bool, default=False
        Drop the last batch when it is smaller than ``batch_size``.
    device : str, torch.device or None, default=None
        Where the batches are delivered. None or a CPU device: CPU tensors (the
        network moves them, as with ``DataLoader``).
    data_on_device : "auto" or bool, default="auto"
        On CUDA, copy the whole (subset of the) data to the device once and slice
        batches there. ``"auto"`` does so when they take at most
        ``AUTO_DEVICE_FRACTION`` (half) of the free device memory; True always
        (an out-of-memory error is raised as torch raises it); False never: each
        batch is then gathered into pinned host memory and copied without
        blocking. Ignored on the CPU.
    storage_dtype : None, "float16" or "float32", default=None
        dtype of ``X`` as kept on the device (None: as given). ``"float16"``
        halves the memory of float32 features (the networks compute in float32
        either way; float16 rounds the stored values). Only used when the data
        are kept on the device.
    **kwargs
        ``DataLoader`` options this iterator has no use for raise a ``TypeError``
        naming them (use ``iterator_train=torch.utils.data.DataLoader`` for
        workers, samplers or a ``collate_fn``).

    Attributes
    ----------
    on_device : bool
        Whether the data are kept on the device.

    Notes
    -----
    Each ``iter()`` draws from torch's global generator exactly what a
    ``DataLoader`` without workers draws (its base seed; with ``shuffle`` also
    ``RandomSampler``'s seed), so networks whose dropout and augmentation also
    use the global generator get identical random numbers with either iterator;
    ``tests/test_batching.py`` checks this against the installed torch.
    """

    def __init__(self, dataset, batch_size=1, shuffle=False, drop_last=False, *, device=None,
                 data_on_device="auto", storage_dtype=None, **kwargs):
        if kwargs:
            raise TypeError(
                f"TensorBatchIterator got DataLoader option(s) {sorted(kwargs)}; set "
                "iterator_train=torch.utils.data.DataLoader (and/or iterator_valid) to use them"
            )
        if not supports_dataset(dataset):
            raise TypeError(
                f"TensorBatchIterator slices array-backed skorch Datasets (or Subsets of "
                f"one), got {type(dataset).__name__}; use torch.utils.data.DataLoader"
            )
        if storage_dtype not in _STORAGE_DTYPES:
            raise ValueError(f"storage_dtype must be None, 'float16' or 'float32', got "
                             f"{storage_dtype!r}")
        if not (data_on_device == "auto" or isinstance(data_on_device, bool)):
            raise ValueError(f"data_on_device must be 'auto', True or False, got "
                             f"{data_on_device!r}")
        self.dataset = dataset
        self.batch_size = int(batch_size)
        self.shuffle = bool(shuffle)
        self.drop_last = bool(drop_last)
        self.device = torch.device(device) if device is not None else torch.device("cpu")
        self.data_on_device = data_on_device
        self.storage_dtype = storage_dtype
        base, indices = _unwrap(dataset)
        self._X = _as_tensor(base.X)
        self._y = None if base.y is None else _as_tensor(base.y)
        self._indices = None if indices is None else torch.from_numpy(indices)
        self.on_device = False
        self._prepared = False

    def __len__(self):
        n = len(self.dataset)
        if self.drop_last:
            return n // self.batch_size
        return -(-n // self.batch_size)

    # ------------------------------------------------------------------ set-up
    def _cuda(self):
        return self.device.type == "cuda"

    def _fits_on_device(self, n_bytes):
        free, _ = torch.cuda.mem_get_info(self.device)
        return n_bytes <= AUTO_DEVICE_FRACTION * free

    def _prepare(self):
        """Move the data to the device once (on the first epoch), or pin the host side."""
        if self._prepared:
            return
        self._prepared = True
        if not self._cuda():
            return
        X, y, idx = self._X, self._y, self._indices
        dtype = _STORAGE_DTYPES[self.storage_dtype] or X.dtype
        n = len(self.dataset)
        n_bytes = n * int(np.prod(X.shape[1:])) * torch.empty((), dtype=dtype).element_size()
        keep = self.data_on_device is True or (
            self.data_on_device == "auto" and self._fits_on_device(n_bytes))
        if y is not None:  # targets are small: always on the device
            y = (y if idx is None else y[idx]).to(self.device)
        if keep:
            if idx is not None:
                X = X.index_select(0, idx)
            self._X = X.to(self.device, dtype=dtype)
            self._indices = None
            self.on_device = True
        self._y = y

    def _order(self, n):
        """The epoch's sample order, drawing from the global generator as DataLoader does."""
        torch.empty((), dtype=torch.int64).random_()  # DataLoader iterator's base seed
        if not self.shuffle:
            return None
        seed = int(torch.empty((), dtype=torch.int64).random_().item())  # RandomSampler's
        generator = torch.Generator()
        generator.manual_seed(seed)
        return torch.randperm(n, generator=generator)

    # --------------------------------------------------------------- iteration
    def _batch_bounds(self, n):
        stop = n - n % self.batch_size if self.drop_last else n
        return [(start, min(start + self.batch_size, n))
                for start in range(0, stop, self.batch_size)]

    def _rows(self, order, start, stop, restricted):
        """Rows of batch [start, stop): a slice or an index tensor.

        ``restricted``: into an array already cut to the subset; else into the
        dataset's own array (through the subset's indices).
        """
        local = slice(start, stop) if order is None else order[start:stop]
        if restricted or self._indices is None:
            return local
        if isinstance(local, slice):
            return self._indices[local]
        return self._indices.index_select(0, local)

    @staticmethod
    def _index(a, rows):
        return a[rows] if isinstance(rows, slice) else a.index_select(0, rows)

    def __iter__(self):
        self._prepare()
        n = len(self.dataset)
        order = self._order(n)
        bounds = self._batch_bounds(n)
        if self._cuda() and not self.on_device:
            yield from self._pinned_batches(order, bounds)
            return
        order_dev = order if order is None or not self.on_device else order.to(self.device)
        for start, stop in bounds:
            # On CUDA both X and y were cut to the subset; on the CPU neither was.
            rows = self._rows(order_dev, start, stop, restricted=self.on_device)
            Xb = self._index(self._X, rows)
            yb = None if self._y is None else self._index(self._y, rows)
            yield Xb, yb

    def _pinned_batches(self, order, bounds):
        """Batches gathered into two pinned host buffers and copied without blocking."""
        X = self._X
        shape = (self.batch_size,) + tuple(X.shape[1:])
        buffers = [torch.empty(shape, dtype=X.dtype, pin_memory=True) for _ in range(2)]
        copied = [None, None]  # the event recorded after each buffer's last copy
        order_dev = None if order is None else order.to(self.device)
        for k, (start, stop) in enumerate(bounds):
            slot = k % 2
            if copied[slot] is not None:
                copied[slot].synchronize()  # its previous copy has left the buffer
            buffer = buffers[slot][:stop - start]
            rows = self._rows(order, start, stop, restricted=False)
            if isinstance(rows, slice):
                buffer.copy_(X[rows])
            else:
                torch.index_select(X, 0, rows, out=buffer)
            Xb = buffer.to(self.device, non_blocking=True)
            event = torch.cuda.Event()
            event.record()
            copied[slot] = event
            # y is on the device, cut to the subset.
            yb = None if self._y is None else self._index(
                self._y, self._rows(order_dev, start, stop, restricted=True))
            yield Xb, yb


class TensorBatchingMixin:
    """skorch net mixin: build :class:`TensorBatchIterator` with the net's device settings.

    The net needs ``data_on_device`` and ``storage_dtype`` attributes (estimator
    parameters). When ``iterator_train`` / ``iterator_valid`` is
    :class:`TensorBatchIterator` (or a subclass), :meth:`get_iterator` passes it
    ``device``, ``data_on_device`` and ``storage_dtype`` (unless set as
    ``iterator_train__<name>``); for a dataset the iterator cannot slice
    (:func:`supports_dataset` is False) it builds a ``DataLoader`` with the same
    ``batch_size``/``shuffle``/``drop_last``. Other iterator classes are used as
    skorch uses them.
    """

    def get_iterator(self, dataset, training=False):
        """Return the iterator over ``dataset`` (see skorch ``NeuralNet.get_iterator``)."""
        prefix = "iterator_train" if training else "iterator_valid"
        iterator = getattr(self, prefix)
        if not (isinstance(iterator, type) and issubclass(iterator, TensorBatchIterator)):
            return super().get_iterator(dataset, training=training)
        kwargs = self.get_params_for(prefix)
        kwargs.setdefault("batch_size", self.batch_size)
        if kwargs["batch_size"] == -1:
            kwargs["batch_size"] = len(dataset)
        if not supports_dataset(dataset):
            return DataLoader(dataset, **kwargs)
        from .classifiers import resolve_device  # the estimators' one reading of "auto"

        kwargs.setdefault("device", resolve_device(self.device))
        kwargs.setdefault("data_on_device", self.data_on_device)
        kwargs.setdefault("storage_dtype", self.storage_dtype)
        return iterator(dataset, **kwargs)
