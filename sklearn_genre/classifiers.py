"""scikit-learn compatible genre classifiers: skorch nets around :mod:`sklearn_genre.modules`.

Four estimators, one per network, all with the reference training recipe:

- :class:`CNNClassifier` (:class:`~sklearn_genre.modules.CNNNet`)
- :class:`GRUClassifier` (:class:`~sklearn_genre.modules.GRUNet`)
- :class:`CNNGRUClassifier` (:class:`~sklearn_genre.modules.CNNGRUNet`)
- :class:`CNNGRUAttentionClassifier` (:class:`~sklearn_genre.modules.CNNGRUAttentionNet`)

They are :class:`skorch.NeuralNetClassifier` subclasses, so every skorch
feature (callbacks such as ``Checkpoint``/``TrainEndCheckpoint``/``LoadInitState``,
``warm_start``, ``history``, ``save_params``/``load_params``) works, and they
behave as scikit-learn classifiers: ``fit(X, y)`` with any labels,
``predict``, ``predict_proba``, ``score``, ``clone``, ``set_params`` of every
nested parameter, pickling.
"""

from __future__ import annotations

import warnings
from contextlib import contextmanager, nullcontext
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.exceptions import NotFittedError
from sklearn.preprocessing import LabelEncoder
from sklearn.utils import check_random_state
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_array, column_or_1d
from skorch import NeuralNet, NeuralNetClassifier
from skorch.callbacks import EarlyStopping, EpochTimer, LRScheduler, PassthroughScoring
from skorch.dataset import Dataset, unpack_data
from skorch.utils import TeeGenerator, is_dataset, to_tensor
from torch.optim.lr_scheduler import ReduceLROnPlateau
from torch.utils.data import Subset

from ._compat import Interval, Options, StrOptions, validate_parameter_constraints
from .batching import TensorBatchingMixin, TensorBatchIterator
from .callbacks import LabelScoring, PrintLog, stopped_by_callback
from .exceptions import DeviceUnavailableError
from .loss_readback import DeferredLossMixin
from .modules import CNNGRUAttentionNet, CNNGRUNet, CNNNet, ConvFrontEnd, GRUNet
from .valid_split import StratifiedValidSplit, check_validation_size

__all__ = [
    "CNNClassifier",
    "CNNGRUAttentionClassifier",
    "CNNGRUClassifier",
    "DeviceUnavailableError",
    "GRUClassifier",
    "available_devices",
    "check_device",
]

# Samples per chunk when scanning X (finiteness, band statistics): bounds the
# float64 working copy to about 85 MB for 128 x 1292 inputs.
_CHUNK = 64
_FLOAT_DTYPES = (np.float32, np.float16)

#: More mel bands than this in ``fit``'s X is implausible (recipes use 40 to 256): a 2-D X is
#: refused (likely flattened spectrograms), a 3-D X warned about (likely transposed).
MAX_PLAUSIBLE_MELS = 512


def resolve_device(device):
    """Return the torch device name an estimator's ``device`` parameter means.

    Parameters
    ----------
    device : str, torch.device or None
        ``"auto"`` means ``"cuda"`` when ``torch.cuda.is_available()``, else
        ``"cpu"``; anything else is returned unchanged.

    Returns
    -------
    device : str, torch.device or None
    """
    if isinstance(device, str) and device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return device


def available_devices():
    """The torch devices of this machine, CPU first.

    Returns
    -------
    devices : list of str
        ``"cpu"``, then ``"cuda:<i> (<name>)"`` for each visible CUDA device and ``"mps"``
        when Apple's Metal backend is available.
    """
    devices = ["cpu"]
    if torch.cuda.is_available():
        devices += [f"cuda:{i} ({torch.cuda.get_device_name(i)})"
                    for i in range(torch.cuda.device_count())]
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        devices.append("mps")
    return devices


def check_device(device):
    """Resolve ``device`` and check that this machine has it, before any work is done.

    Parameters
    ----------
    device : str, torch.device or None
        An estimator's ``device`` parameter: ``"auto"``, ``"cpu"``, ``"cuda"``,
        ``"cuda:<index>"``, ``"mps"``, a :class:`torch.device`, or ``None`` (skorch's "leave
        tensors where they are", accepted as is).

    Returns
    -------
    device : str, torch.device or None
        The resolved device (``"auto"`` becomes ``"cuda"`` or ``"cpu"``).

    Raises
    ------
    DeviceUnavailableError
        For a string torch does not parse as a device, CUDA without a CUDA build or GPU, a
        CUDA index past the last GPU, MPS where Metal is unavailable, or another device type
        whose backend reports itself unavailable. The message lists the available devices.
    """
    resolved = resolve_device(device)
    if resolved is None:
        return None
    try:
        dev = torch.device(resolved)
    except (RuntimeError, TypeError, ValueError):
        raise DeviceUnavailableError(
            device, "not a torch device name; use 'auto', 'cpu', 'cuda', "
            "'cuda:<index>' or 'mps'", available_devices()) from None
    if dev.type == "cpu":
        return resolved
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            why = ("this torch build has no CUDA support" if torch.version.cuda is None
                   else "torch sees no CUDA GPU (driver, CUDA_VISIBLE_DEVICES)")
            raise DeviceUnavailableError(device, why, available_devices())
        count = torch.cuda.device_count()
        if dev.index is not None and dev.index >= count:
            raise DeviceUnavailableError(
                device, f"there {'is' if count == 1 else 'are'} only {count} CUDA "
                f"device{'s' if count != 1 else ''} (indices 0 to {count - 1})",
                available_devices())
        return resolved
    backend = getattr(torch.backends, dev.type, None) or getattr(torch, dev.type, None)
    is_available = getattr(backend, "is_available", None)
    if not callable(is_available) or not is_available():
        raise DeviceUnavailableError(
            device, f"the {dev.type!r} backend is not available in this torch build or on "
            "this machine", available_devices())
    return resolved


def _check_plausible_shape(shape, what="X"):
    """Refuse a 2-D X, and warn about a 3-D X, with more mel bands than any recipe uses.

    A 2-D X is read as single-frame spectrograms (n_samples, n_mels); thousands of "mel
    bands" there almost always mean flattened spectrograms. A 3-D X with more than
    :data:`MAX_PLAUSIBLE_MELS` bands may be transposed (n_samples, n_frames, n_mels) or a
    linear spectrogram, which is allowed but worth a word.
    """
    if len(shape) == 2 and shape[1] > MAX_PLAUSIBLE_MELS:
        raise ValueError(
            f"{what} has shape {shape}: a 2-D {what} is read as one-frame spectrograms of shape "
            f"(n_samples, n_mels), and {shape[1]} mel bands is more than any recipe uses (at "
            f"most {MAX_PLAUSIBLE_MELS}). Pass spectrograms of shape (n_samples, n_mels, "
            f"n_frames); flattened ones can be restored with {what}.reshape(n_samples, n_mels, "
            "n_frames), e.g. (n, 128, 1292) for the default MelSpectrogramTransformer"
        )
    if len(shape) == 3 and shape[1] > MAX_PLAUSIBLE_MELS:
        hint = (f"; if the axes are (n_samples, n_frames, n_mels), pass "
                f"{what}.transpose(0, 2, 1)" if shape[2] < shape[1] else "")
        warnings.warn(
            f"{what} has shape {shape}, i.e. {shape[1]} mel bands, more than any recipe uses "
            f"(at most {MAX_PLAUSIBLE_MELS}); expected (n_samples, n_mels, n_frames){hint}",
            UserWarning, stacklevel=6,  # user -> fit -> _train -> _setup -> ...
        )


def _validate_spectrograms(X, *, n_mels=None, what="X", owner="the estimator",
                           check_finite=True, check_plausible=False):
    """Check X and return it as a 3-D float16/float32 ndarray (no copy when possible)."""
    if isinstance(X, torch.Tensor):
        X = X.detach().cpu().numpy()
    if check_plausible and hasattr(X, "shape"):
        _check_plausible_shape(tuple(X.shape), what)
    if not hasattr(X, "ndim") or getattr(X, "ndim", 0) == 2:
        # 2-D input (n_samples, n_mels) gets sklearn's checks and messages.
        X = check_array(X, dtype=_FLOAT_DTYPES, ensure_all_finite=False, allow_nd=True,
                        input_name=what)
    else:
        X = check_array(X, dtype=_FLOAT_DTYPES, ensure_all_finite=False, allow_nd=True,
                        ensure_min_features=0, input_name=what)
    if X.ndim == 2:
        X = X[:, :, None]
    if X.ndim != 3:
        raise ValueError(
            f"{what} must be an array of shape (n_samples, n_mels, n_frames) (or "
            f"(n_samples, n_mels) for single frames), got shape {X.shape}"
        )
    if min(X.shape) < 1:
        raise ValueError(f"{what} has an empty dimension: shape {X.shape}")
    if n_mels is not None and X.shape[1] != n_mels:
        raise ValueError(
            f"{what} has {X.shape[1]} features, but {owner} is expecting {n_mels} features "
            "as input (mel bands)"
        )
    if check_finite:
        _check_finite(X, what)
    return X


def _raise_first_nonfinite(chunk, start, what):
    finite = np.isfinite(chunk).reshape(len(chunk), -1).all(axis=1)
    if not finite.all():
        bad = start + int(np.flatnonzero(~finite)[0])
        raise ValueError(f"{what} contains NaN or infinity (first in sample {bad})")


def _check_finite(X, what):
    """Raise if X holds NaN or infinity, naming the first bad sample (chunked, no big copy)."""
    for start in range(0, len(X), _CHUNK):
        _raise_first_nonfinite(X[start:start + _CHUNK], start, what)


def _band_statistics(X, what="X"):
    """Per-band mean and std of X (n, n_mels, n_frames); also checks finiteness.

    One pass over float32 chunks, shifted by a per-band reference value for
    numerical stability, with per-chunk sums accumulated in float64. Bands with
    (near) zero variance get std 1, as in sklearn's StandardScaler.
    """
    n, n_mels, n_frames = X.shape
    shift = X[0].astype(np.float64).mean(axis=1).astype(np.float32)[:, None]
    total = np.zeros(n_mels)
    squares = np.zeros(n_mels)
    for start in range(0, n, _CHUNK):
        dev = X[start:start + _CHUNK].astype(np.float32) - shift
        band_sums = dev.sum(axis=2, dtype=np.float64).sum(axis=0)
        if not np.isfinite(band_sums).all():
            _raise_first_nonfinite(X[start:start + _CHUNK], start, what)
        total += band_sums
        squares += np.einsum("ijk,ijk->j", dev, dev, dtype=np.float64)
    count = n * n_frames
    mean_dev = total / count
    var = np.maximum(squares / count - mean_dev**2, 0.0)
    mean = shift[:, 0].astype(np.float64) + mean_dev
    std = np.sqrt(var)
    std[std < 1e-6 * np.maximum(1.0, np.abs(mean))] = 1.0
    return mean, std


_PARAMETER_DOC = """
    Parameters
    ----------
    module : type or torch.nn.Module, default={module}
        The network. It is built in ``fit`` as ``module(n_mels=..., n_classes=...,
        noise_std=..., shift_max=..., augment_p=..., **module__params)`` and must
        have a ``standardize`` :class:`~sklearn_genre.modules.BandStandardize`
        part. Network sizes are set with ``module__<name>``, e.g.
        {module_example}.
    criterion : type, default=torch.nn.CrossEntropyLoss
        Loss; the module returns logits.
    optimizer : type, default=torch.optim.AdamW
        Optimizer class. Its parameters are ``optimizer__<name>``; the defaults
        are ``optimizer__weight_decay=0.03`` and ``optimizer__betas=(0.9, 0.999)``.
    lr : float, default=1e-3
        Learning rate.
    max_epochs : int, default=60
        Maximum number of epochs (early stopping usually ends training sooner).
    batch_size : int, default=16
        Mini-batch size for training, validation and prediction.
    train_split : "stratified", callable or None, default="stratified"
        Internal validation split, used by early stopping and the learning-rate
        schedule (both monitor ``valid_loss``). ``"stratified"`` holds out
        ``valid_size`` of each class, at least one clip of each and never all
        (:class:`~sklearn_genre.valid_split.StratifiedValidSplit`, seeded from
        ``random_state``); with ``fit(X, y, groups=...)`` it holds out whole
        groups (artists, tracks), so that no group is both trained on and
        validated; a class with a single clip makes ``fit`` raise
        :class:`~sklearn_genre.valid_split.ValidationSplitError` saying what to
        do. A validation set with fewer than 5 clips in some class or 30 in all
        draws a :class:`~sklearn_genre.valid_split.SmallValidationWarning`. For a
        predefined validation set (e.g.
        FMA's official split) pass
        ``skorch.helper.predefined_split(skorch.dataset.Dataset(X_valid, y_valid))``
        with ``y_valid`` in the original labels. ``None`` trains on all data;
        then set ``callbacks__early_stopping=None`` and
        ``callbacks__lr_scheduler=None`` (or point their ``monitor`` at
        ``"train_loss"``), otherwise ``fit`` raises.
    valid_size : float, default=0.1
        Fraction held out by ``train_split="stratified"``.
    augment : bool, default=True
        Train-only augmentation (:class:`~sklearn_genre.modules.NoiseShiftAugment`).
    noise_std : float, default=0.1
        Gaussian noise standard deviation, in per-band standard deviations
        (noise is added after standardisation).
    shift_max : float, default=0.1
        Largest random circular time shift, as a fraction of the clip length.
    augment_p : float, default=0.5
        Probability of each augmentation per training example.
    beta2 : float or None, default=None
        If given, replaces the second element of ``optimizer__betas``: a scalar
        for searches (``BayesSearchCV``) over Adam's beta2.
    random_state : int, RandomState instance or None, default=None
        Seeds weight initialisation, shuffling, dropout, augmentation and the
        internal validation split. With an int, two fits on CPU give identical
        models. The seeding runs inside ``torch.random.fork_rng``: torch's
        global random state is unchanged after ``fit``.
    amp : bool, default=False
        Mixed precision on CUDA: ``torch.autocast`` with ``amp_dtype`` during
        training, validation and prediction (the logits are returned as float32),
        for float16 with a ``torch.amp.GradScaler``. Ignored (with a warning in
        ``fit``) on other devices.
    amp_dtype : {{"float16", "bfloat16"}}, default="float16"
        The autocast dtype when ``amp`` is on; bfloat16 needs no loss scaling.
    loss_readback : {{"epoch", "batch"}}, default="epoch"
        When the batch losses are copied from the device into ``history``:
        once at the end of each epoch (the host never waits for the GPU within
        an epoch), or after every batch as skorch does (for callbacks that read
        ``history[-1, "batches", -1, "train_loss"]`` during the epoch). The
        recorded values are the same (:mod:`sklearn_genre.loss_readback`).
    data_on_device : "auto" or bool, default="auto"
        On CUDA, keep the training and validation data on the GPU and slice
        batches there: ``"auto"`` when they take at most half of the free GPU
        memory, True always, False never (batches are then copied through
        pinned memory without blocking). No effect on the CPU
        (:class:`~sklearn_genre.batching.TensorBatchIterator`).
    storage_dtype : {{"float16", "float32"}} or None, default=None
        dtype of the data kept on the GPU (None: that of ``X``); ``"float16"``
        halves the memory of float32 features (FMA small, 6,400 x 128 x 1292:
        2.1 GB instead of 4.2 GB) at float16's rounding of the stored values.
    device : str, torch.device or None, default="auto"
        ``"auto"`` uses CUDA when available, else the CPU; resolved whenever the
        net runs, the parameter itself stays ``"auto"`` (``fit`` records the choice in
        ``device_`` and, with ``verbose``, prints it). ``fit`` checks the device before
        touching the data: one this machine lacks (``"cuda"`` without CUDA, ``"cuda:3"`` on a
        one-GPU machine, ``"mps"`` without Metal, a misspelling) raises
        :class:`DeviceUnavailableError` listing the available devices. A model trained on a GPU
        unpickles on a CPU-only machine (its tensors are mapped to the CPU).
    verbose : int, default=1
        1 prints skorch's per-epoch table; 0 is silent.
    callbacks : list or None, default=None
        Extra skorch callbacks, added to the defaults below; e.g.
        ``[skorch.callbacks.Checkpoint(dirname=...)]``. Scores for the history
        should use :class:`sklearn_genre.callbacks.LabelScoring`.
    classes : array-like or None, default=None
        All class labels, if ``y`` may not contain every class.
    warm_start : bool, default=False
        Continue training the current model on the next ``fit``.
    **kwargs
        Any other skorch parameter (``iterator_train__num_workers``,
        ``callbacks__early_stopping__patience``, ``optimizer__weight_decay``,
        ``module__dropout``, ...). ``compile=True`` compiles the network with
        ``torch.compile`` (skorch's ``compile``; ``compile__mode=...`` etc.).
        Batches come from :class:`~sklearn_genre.batching.TensorBatchIterator`
        (``iterator_train``/``iterator_valid``), which slices the arrays instead
        of collating samples and gives the same batches as skorch's default
        ``torch.utils.data.DataLoader``; pass ``iterator_train=DataLoader`` for
        ``DataLoader`` options such as ``iterator_train__num_workers``.
"""

_NOTES_DOC = """
    Notes
    -----
    Input ``X`` is an ndarray of shape (n_samples, n_mels, n_frames) of log-mel
    values (as produced by ``MelSpectrogramTransformer``), float32 or float16
    (float16 storage halves memory; batches are cast to float32 in the
    network); other numeric dtypes are converted to float32. A 2-D array of
    shape (n_samples, n_mels) is read as spectrograms of one frame; ``fit`` refuses
    one with more than 512 columns (flattened spectrograms, most likely) and warns
    about a 3-D X with more than 512 mel bands (transposed axes, most likely). The number
    of frames may differ between ``fit`` and ``predict``. Each mel band is
    standardised with the mean and standard deviation of the ``fit`` data
    (stored as buffers in the network, so they travel with pickles and
    ``save_params``).

    Default callbacks, addressable by name (``callbacks__<name>__<param>``,
    or ``callbacks__<name>=None`` to remove one):

    - ``train_acc``/``valid_acc``: accuracy (:class:`~sklearn_genre.callbacks.LabelScoring`);
      ``train_acc`` uses the training batches' own predictions (with dropout
      and augmentation).
    - ``lr_scheduler``: ``LRScheduler(ReduceLROnPlateau, monitor="valid_loss",
      mode="min", factor=0.1, patience=5, min_lr=1e-6, event_name="lr")``; the
      learning rate of every epoch is in ``history[:, "lr"]``.
    - ``early_stopping``: ``EarlyStopping(monitor="valid_loss",
      lower_is_better=True, patience=10, load_best=True)``: the weights of the
      best validation epoch are restored at the end of training.

    Both watch the validation loss, not the accuracy: on a validation set of
    ``n`` clips the accuracy takes only ``n + 1`` values and ties across
    epochs, and early stopping keeps the first of tied epochs (often epoch 1,
    a majority-class model); the loss is continuous and moves with the
    confidence of right and wrong answers. To select on accuracy, set
    ``callbacks__early_stopping__monitor="valid_acc"`` and
    ``callbacks__early_stopping__lower_is_better=False``.

    After ``fit``, ``history`` holds per epoch ``train_loss``, ``train_acc``,
    ``valid_loss``, ``valid_acc``, ``lr`` and ``dur``.

    Checkpoints: pass ``skorch.callbacks.Checkpoint``/``TrainEndCheckpoint``
    in ``callbacks``; to resume, fit again with
    ``skorch.callbacks.LoadInitState(checkpoint)``, which restores module
    (including the standardisation buffers), optimizer and history before the
    first epoch; that fit runs ``max_epochs`` further epochs, and the
    ReduceLROnPlateau and EarlyStopping counters start afresh. A
    ``KeyboardInterrupt`` during training ends ``fit`` normally (the best
    weights are restored) and sets ``interrupted_ = True``; a stop by early stopping or
    :class:`~sklearn_genre.callbacks.TimeLimit` leaves it False.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        The class labels, sorted; columns of ``predict_proba``.
    n_features_in_ : int
        Number of mel bands seen in ``fit``.
    band_mean_, band_std_ : ndarray of shape (n_features_in_,)
        Per-band statistics used for standardisation.
    label_encoder_ : LabelEncoder
        Maps labels to the integer targets the network trains on.
    seed_ : int or None
        The torch seed drawn from ``random_state`` for the last ``fit``.
    device_ : str or None
        The device the last ``fit`` trained on (``device="auto"`` resolved, e.g. ``"cpu"``).
    fit_epochs_ : int
        Epochs the last ``fit``/``partial_fit`` planned to run (``max_epochs`` or the
        ``epochs`` fit parameter); the epoch table's time estimate is based on it.
    interrupted_ : bool
        Whether the last ``fit`` was ended by the user's ``KeyboardInterrupt`` (Ctrl-C),
        not by early stopping or a time limit.
    module_, optimizer_, criterion_, callbacks_, history_ :
        skorch's fitted components.
"""


class _SpectrogramClassifier(DeferredLossMixin, TensorBatchingMixin, NeuralNetClassifier):
    """Base class: the shared recipe, label handling, devices, seeding."""

    _parameter_constraints: dict = {
        "lr": [Interval(Real, 0, None, closed="neither")],
        "max_epochs": [Interval(Integral, 1, None, closed="left")],
        "batch_size": [Interval(Integral, 1, None, closed="left"), Options(Integral, {-1})],
        "train_split": [StrOptions({"stratified"}), callable, None],
        "valid_size": [Interval(Real, 0, 1, closed="neither")],
        "augment": ["boolean"],
        "noise_std": [Interval(Real, 0, None, closed="left")],
        "shift_max": [Interval(Real, 0, 1, closed="both")],
        "augment_p": [Interval(Real, 0, 1, closed="both")],
        "beta2": [Interval(Real, 0, 1, closed="left"), None],
        "random_state": ["random_state"],
        "amp": ["boolean"],
        "amp_dtype": [StrOptions({"float16", "bfloat16"})],
        "loss_readback": [StrOptions({"epoch", "batch"})],
        "data_on_device": [StrOptions({"auto"}), "boolean"],
        "storage_dtype": [StrOptions({"float16", "float32"}), None],
        "device": [str, torch.device, None],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        *,
        module,
        criterion=torch.nn.CrossEntropyLoss,
        optimizer=torch.optim.AdamW,
        lr=1e-3,
        max_epochs=60,
        batch_size=16,
        train_split="stratified",
        valid_size=0.1,
        augment=True,
        noise_std=0.1,
        shift_max=0.1,
        augment_p=0.5,
        beta2=None,
        random_state=None,
        amp=False,
        amp_dtype="float16",
        loss_readback="epoch",
        data_on_device="auto",
        storage_dtype=None,
        device="auto",
        verbose=1,
        callbacks=None,
        classes=None,
        warm_start=False,
        **kwargs,
    ):
        kwargs.setdefault("optimizer__weight_decay", 0.03)
        kwargs.setdefault("optimizer__betas", (0.9, 0.999))
        kwargs.setdefault("iterator_train__shuffle", True)
        kwargs.setdefault("iterator_train", TensorBatchIterator)
        kwargs.setdefault("iterator_valid", TensorBatchIterator)
        super().__init__(
            module,
            criterion=criterion,
            optimizer=optimizer,
            lr=lr,
            max_epochs=max_epochs,
            batch_size=batch_size,
            train_split=train_split,
            device=device,
            verbose=verbose,
            callbacks=callbacks,
            classes=classes,
            warm_start=warm_start,
            **kwargs,
        )
        self.valid_size = valid_size
        self.augment = augment
        self.noise_std = noise_std
        self.shift_max = shift_max
        self.augment_p = augment_p
        self.beta2 = beta2
        self.random_state = random_state
        self.amp = amp
        self.amp_dtype = amp_dtype
        self.loss_readback = loss_readback
        self.data_on_device = data_on_device
        self.storage_dtype = storage_dtype

    # ------------------------------------------------------------------ callbacks
    @property
    def _default_callbacks(self):
        return [
            ("epoch_timer", EpochTimer()),
            ("train_loss", PassthroughScoring(name="train_loss", on_train=True)),
            ("train_acc", LabelScoring("accuracy", name="train_acc", on_train=True,
                                       lower_is_better=False)),
            ("valid_loss", PassthroughScoring(name="valid_loss")),
            ("valid_acc", LabelScoring("accuracy", name="valid_acc", lower_is_better=False)),
            ("lr_scheduler", LRScheduler(policy=ReduceLROnPlateau, monitor="valid_loss",
                                         mode="min", factor=0.1, patience=5, min_lr=1e-6,
                                         event_name="lr")),
            ("early_stopping", EarlyStopping(monitor="valid_loss", lower_is_better=True,
                                             patience=10, load_best=True)),
            ("print_log", PrintLog()),
        ]

    def _get_param_names(self):
        # skorch lists its bookkeeping set ``_params_to_validate`` as a parameter;
        # __init__ rebuilds it from the keyword arguments, so clone does not need it.
        return [name for name in super()._get_param_names() if name != "_params_to_validate"]

    def _get_params_callbacks(self, deep=True):
        # skorch reports its default callback instances even where the parameters
        # say otherwise (``callbacks__<name>=None``, a replacement callback, or
        # ``callbacks__<name>__<param>`` before initialisation); report the
        # parameters as set.
        params = super()._get_params_callbacks(deep=deep)
        if not deep:
            return params
        own = {k: v for k, v in vars(self).items() if k.startswith("callbacks__")}
        for key, value in own.items():
            if key.count("__") == 1:
                params = {k: v for k, v in params.items() if not k.startswith(key + "__")}
                params[key] = value
                if value is not None and hasattr(value, "get_params"):
                    for sub, subval in value.get_params().items():
                        params[f"{key}__{sub}"] = subval
        params.update({k: v for k, v in own.items() if k.count("__") > 1})
        return params

    def _set_params_callback(self, **params):
        # skorch fails on ``callbacks__<name>=...`` when that callback is currently
        # disabled (None); such a value is stored as a parameter by set_params
        # and takes effect when the callbacks are initialised.
        active = {name for name, _ in self.callbacks_}
        params = {key: value for key, value in params.items()
                  if key == "callbacks" or "__" in key[len("callbacks__"):]
                  or key[len("callbacks__"):] in active}
        return super()._set_params_callback(**params)

    # ------------------------------------------------------------ device / seeds
    @contextmanager
    def _device_scope(self):
        """Run with ``self.device`` resolved (skorch reads it directly), then restore it."""
        requested = self.device
        resolved = resolve_device(requested)
        if resolved is requested:
            yield
            return
        self.device = resolved
        try:
            yield
        finally:
            self.device = requested

    def _validate_device(self):
        """Check ``device`` before any data is touched; record the resolved one as ``device_``.

        Raises :class:`DeviceUnavailableError` naming the device and what this machine has.
        With ``device="auto"`` and ``verbose``, says which device was chosen.
        """
        validate_parameter_constraints(
            {"device": self._parameter_constraints["device"]}, {"device": self.device},
            caller_name=type(self).__name__)
        resolved = check_device(self.device)
        self.device_ = None if resolved is None else str(resolved)
        if self.verbose and isinstance(self.device, str) and self.device == "auto":
            why = "" if self.device_ != "cpu" else " (no CUDA device available)"
            print(f"device='auto': training on {self.device_}{why}", flush=True)
        return resolved

    def _on_cuda(self):
        device = resolve_device(self.device)
        return device is not None and torch.device(device).type == "cuda"

    @contextmanager
    def _rng_scope(self):
        if self.seed_ is None:
            yield
            return
        devices = [torch.cuda.current_device()] if self._on_cuda() else []
        with torch.random.fork_rng(devices=devices):
            torch.manual_seed(self.seed_)
            yield

    def _autocast(self):
        if self.amp and self._on_cuda():
            return torch.autocast(device_type="cuda", dtype=getattr(torch, self.amp_dtype))
        return nullcontext()

    # -------------------------------------------------------------- validation
    def _validate_hyperparameters(self):
        params = {key: getattr(self, key) for key in self._parameter_constraints}
        validate_parameter_constraints(
            self._parameter_constraints, params, caller_name=type(self).__name__
        )

    def _encode(self, y, what="y"):
        y = column_or_1d(np.asarray(y), warn=True)
        unknown = np.setdiff1d(y, self.label_encoder_.classes_)
        if unknown.size:
            raise ValueError(f"{what} contains labels not seen in fit: {unknown.tolist()}")
        return self.label_encoder_.transform(y).astype(np.int64)

    def _setup(self, X, y, classes=None):
        """Validate the data of a fresh fit and learn labels and band statistics."""
        self._validate_hyperparameters()
        X = _validate_spectrograms(X, check_finite=False,  # checked with the statistics
                                   check_plausible=True)
        y = column_or_1d(np.asarray(y), warn=True)
        if len(y) != len(X):
            raise ValueError(f"X and y have different lengths: {len(X)} and {len(y)}")
        check_classification_targets(y)
        encoder = LabelEncoder().fit(y if classes is None else np.asarray(classes))
        if len(encoder.classes_) < 2:
            raise ValueError(
                f"{type(self).__name__} needs at least 2 classes; y has "
                f"{len(encoder.classes_)} class"
            )
        self.label_encoder_ = encoder
        y_encoded = self._encode(y)
        self.n_features_in_ = X.shape[1]
        self.band_mean_, self.band_std_ = _band_statistics(X)
        seed = None
        if self.random_state is not None:
            seed = int(check_random_state(self.random_state).randint(np.iinfo(np.int32).max))
        self.seed_ = seed
        if self.amp and not self._on_cuda():
            warnings.warn("amp=True has no effect without CUDA; training in float32",
                          UserWarning, stacklevel=4)  # user -> fit -> _train -> _setup
        return X, y_encoded

    def _check_validation_available(self):
        if self._resolved_train_split() is not None:
            return
        for name, cb in self.callbacks_:
            monitor = getattr(cb, "monitor", None)
            if isinstance(monitor, str) and monitor.startswith("valid_"):
                raise ValueError(
                    f"train_split=None leaves no validation data, but callback {name!r} "
                    f"monitors {monitor!r}; set callbacks__{name}=None or "
                    f"callbacks__{name}__monitor='train_loss'"
                )

    # -------------------------------------------------------------------- skorch
    @property
    def classes_(self):
        try:
            return self.label_encoder_.classes_
        except AttributeError as exc:
            raise AttributeError(
                f"{type(self).__name__} is not fitted yet; classes_ is set by fit"
            ) from exc

    def _augment_kwargs(self):
        if not self.augment:
            return {"noise_std": 0.0, "shift_max": 0.0, "augment_p": 0.0}
        return {"noise_std": self.noise_std, "shift_max": self.shift_max,
                "augment_p": self.augment_p}

    def initialize_module(self):
        """Build the network for the data seen in ``fit`` and load the band statistics."""
        if not hasattr(self, "band_mean_"):
            raise NotFittedError(
                f"{type(self).__name__} builds its network from the training data; call "
                "fit (which initializes the net) instead of initialize"
            )
        kwargs = self.get_params_for("module")
        reserved = {"n_mels", "n_classes", "noise_std", "shift_max", "augment_p"} & set(kwargs)
        if reserved:
            raise ValueError(
                f"module__{sorted(reserved)[0]} is set by the estimator; use its own parameters"
            )
        kwargs.update(n_mels=self.n_features_in_, n_classes=len(self.classes_),
                      **self._augment_kwargs())
        module = self.initialized_instance(self.module, kwargs)
        module.standardize.set_statistics(self.band_mean_, self.band_std_)
        self.module_ = module
        return self

    def initialize_optimizer(self, triggered_directly=None):
        """Initialise the optimizer, applying ``beta2`` if it is set."""
        named_parameters = self.get_all_learnable_params()
        args, kwargs = self.get_params_for_optimizer("optimizer", named_parameters)
        if self.beta2 is not None:
            beta1 = kwargs.get("betas", (0.9, 0.999))[0]
            kwargs["betas"] = (beta1, self.beta2)
        self.optimizer_ = self.optimizer(*args, **kwargs)
        return self

    def initialize(self):
        """Initialise all components (called by ``fit``)."""
        with self._device_scope():
            super().initialize()
        self.grad_scaler_ = None
        # Callbacks can hold device tensors (EarlyStopping's best weights, the LR
        # scheduler's optimizer): pickle them like the module, with map_location,
        # so a model trained on a GPU unpickles on a CPU-only machine.
        if "callbacks_" not in self.cuda_dependent_attributes_:
            self.cuda_dependent_attributes_ = self.cuda_dependent_attributes_ + ["callbacks_"]
        return self

    def _resolved_train_split(self):
        if isinstance(self.train_split, str) and self.train_split == "stratified":
            return StratifiedValidSplit(self.valid_size, random_state=self.seed_,
                                        labels=self.classes_)
        return self.train_split

    def _monitors_validation(self):
        return any(isinstance(getattr(cb, "monitor", None), str)
                   and cb.monitor.startswith("valid_") for _, cb in self.callbacks_)

    def get_split_datasets(self, X, y=None, **fit_params):
        """Split into training and validation datasets (see ``train_split``)."""
        dataset = self.get_dataset(X, y)
        train_split = self._resolved_train_split()
        if not train_split:
            return dataset, None
        groups = getattr(self, "_split_groups", None)
        if groups is not None:
            fit_params = {**fit_params, "groups": groups}
        dataset_train, dataset_valid = train_split(dataset, y, **fit_params)
        is_own_subset = isinstance(dataset_valid, Subset) and dataset_valid.dataset is dataset
        if isinstance(dataset_valid, Dataset) and dataset_valid is not dataset \
                and not is_own_subset:
            # A user-given validation set (predefined_split): original labels.
            if dataset_valid.y is None:
                raise ValueError("the predefined validation Dataset has no targets (y)")
            X_valid = _validate_spectrograms(dataset_valid.X, n_mels=self.n_features_in_,
                                             what="X_valid")
            y_valid = self._encode(dataset_valid.y, what="y_valid")
            dataset_valid = Dataset(X_valid, y_valid)
        if dataset_valid is not None and self._monitors_validation():
            if is_own_subset and y is not None:
                y_valid = np.asarray(y)[np.asarray(dataset_valid.indices)]
            else:
                y_valid = getattr(dataset_valid, "y", None)
            if y_valid is not None:
                check_validation_size(y_valid, labels=self.classes_, stacklevel=5)
        return dataset_train, dataset_valid

    def fit_loop(self, X, y=None, epochs=None, **fit_params):
        """skorch's fit loop, recording whether it was interrupted."""
        # The epochs this fit plans to run, for PrintLog's time estimate.
        self.fit_epochs_ = epochs if epochs is not None else self.max_epochs
        try:
            return super().fit_loop(X, y, epochs=epochs, **fit_params)
        except KeyboardInterrupt:
            # EarlyStopping (and TimeLimit) end training with KeyboardInterrupt too.
            self.interrupted_ = not stopped_by_callback(self)
            raise

    def infer(self, x, **fit_params):
        """One forward pass on a batch (under autocast when ``amp`` is on CUDA)."""
        if not (self.amp and self._on_cuda()):
            return super().infer(x, **fit_params)
        with self._autocast():
            y_pred = super().infer(x, **fit_params)
        return y_pred.float() if isinstance(y_pred, torch.Tensor) else y_pred

    def train_step(self, batch, **fit_params):
        """One optimisation step; with ``amp`` on CUDA, loss scaling by a GradScaler."""
        if not (self.amp and self._on_cuda()) or self.amp_dtype == "bfloat16":
            return super().train_step(batch, **fit_params)
        if getattr(self, "grad_scaler_", None) is None:
            self.grad_scaler_ = torch.amp.GradScaler("cuda")
        scaler = self.grad_scaler_
        self._zero_grad_optimizer()
        self._set_training(True)
        Xi, yi = unpack_data(batch)
        with self._autocast():
            y_pred = self.infer(Xi, **fit_params)
            loss = self.get_loss(y_pred, yi, X=Xi, training=True)
        scaler.scale(loss).backward()
        scaler.unscale_(self.optimizer_)
        self.notify("on_grad_computed",
                    named_parameters=TeeGenerator(self.get_all_learnable_params()),
                    batch=batch, training=True)
        scaler.step(self.optimizer_)
        scaler.update()
        return {"loss": loss, "y_pred": y_pred}

    def forward_iter(self, X, training=False, device="cpu"):
        """Yield the module outputs batch by batch (see skorch ``NeuralNet.forward_iter``)."""
        with self._device_scope():
            yield from super().forward_iter(X, training=training, device=device)

    def set_params(self, **kwargs):
        """Set parameters, including nested ``module__``, ``optimizer__`` and ``callbacks__``."""
        with self._device_scope():
            return super().set_params(**kwargs)

    def load_params(self, *args, **kwargs):
        """Load saved parameters (see skorch ``NeuralNet.load_params``)."""
        with self._device_scope():
            return super().load_params(*args, **kwargs)

    def __getstate__(self):
        state = super().__getstate__()
        # The GradScaler holds device tensors and is rebuilt on the next amp step.
        state.pop("grad_scaler_", None)
        # groups given to a fit in progress (a checkpoint pickles the net mid-fit)
        state.pop("_split_groups", None)
        return state

    def __setstate__(self, state):
        # Models pickled before these parameters existed keep skorch's defaults for them.
        for name, default in (("amp_dtype", "float16"), ("loss_readback", "batch"),
                              ("data_on_device", "auto"), ("storage_dtype", None)):
            state.setdefault(name, default)
        requested = state.get("device")
        state["device"] = resolve_device(requested)
        super().__setstate__(state)
        if isinstance(requested, str) and requested == "auto":
            self.device = "auto"
        self.grad_scaler_ = None

    # ----------------------------------------------------------- sklearn API
    def fit(self, X, y, groups=None, **fit_params):
        """Train the network.

        Parameters
        ----------
        X : ndarray of shape (n_samples, n_mels, n_frames)
            Log-mel spectrograms, float32 or float16.
        y : array-like of shape (n_samples,)
            Class labels (strings or integers).
        groups : array-like of shape (n_samples,), default=None
            Artist, album or track of each clip. Given, the internal validation split
            (``train_split``) holds out whole groups, so several clips of one track or
            artist never sit on both sides of it. Only the split sees them.
        **fit_params : dict
            Passed to skorch (``train_split`` and the module's ``forward``).

        Returns
        -------
        self : object
            The fitted estimator.
        """
        fresh = not (self.warm_start and self.initialized_ and hasattr(self, "label_encoder_"))
        return self._train(X, y, fresh=fresh, classes=self.classes, groups=groups,
                           _routing_method="fit", **fit_params)

    def _train(self, X, y, *, fresh, classes, groups, **fit_params):
        """fit / partial_fit: set up a fresh net or check the data against a trained one."""
        with self._groups_for_split(groups, X):
            self._validate_device()
            if fresh:
                X, y_encoded = self._setup(X, y, classes=classes)
            else:
                self._validate_hyperparameters()
                X = _validate_spectrograms(X, n_mels=self.n_features_in_, owner=type(self).__name__)
                y_encoded = self._encode(y)
            self.interrupted_ = False
            with self._device_scope(), self._rng_scope():
                if fresh:
                    self.initialize()
                self._check_validation_available()
                NeuralNet.partial_fit(self, X, y_encoded, **fit_params)
            return self

    @contextmanager
    def _groups_for_split(self, groups, X):
        """Hold ``groups`` for :meth:`get_split_datasets` during one fit (not fitted state)."""
        if groups is not None:
            groups = np.asarray(groups)
            if groups.ndim != 1 or len(groups) != len(X):
                raise ValueError(f"groups must have one entry per clip ({len(X)}), got "
                                 f"shape {groups.shape}")
        self._split_groups = groups
        try:
            yield
        finally:
            del self._split_groups

    def partial_fit(self, X, y, classes=None, groups=None, **fit_params):
        """Train for ``max_epochs`` epochs without re-initialising a trained net.

        Parameters
        ----------
        X : ndarray of shape (n_samples, n_mels, n_frames)
            Log-mel spectrograms.
        y : array-like of shape (n_samples,)
            Class labels.
        classes : array-like of shape (n_classes,), default=None
            All labels, on the first call when ``y`` may miss some.
        groups : array-like of shape (n_samples,), default=None
            As in :meth:`fit`: whole groups held out by the internal validation split.
        **fit_params : dict
            Passed to skorch.

        Returns
        -------
        self : object
        """
        fresh = not (self.initialized_ and hasattr(self, "label_encoder_"))
        return self._train(X, y, fresh=fresh, groups=groups,
                           classes=classes if classes is not None else self.classes,
                           **fit_params)

    def _check_fitted(self):
        if not (getattr(self, "initialized_", False) and hasattr(self, "label_encoder_")):
            raise NotFittedError(
                f"This {type(self).__name__} instance is not fitted yet. Call 'fit' first."
            )

    def _prediction_input(self, X):
        self._check_fitted()
        if is_dataset(X):  # skorch-internal scoring passes datasets
            return X
        return _validate_spectrograms(X, n_mels=self.n_features_in_, owner=type(self).__name__)

    def predict_proba(self, X):
        """Class probabilities.

        Parameters
        ----------
        X : ndarray of shape (n_samples, n_mels, n_frames)
            Log-mel spectrograms; any number of frames.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            Probabilities, columns in the order of ``classes_``.
        """
        return super().predict_proba(self._prediction_input(X))

    def predict(self, X):
        """Predicted labels.

        Parameters
        ----------
        X : ndarray of shape (n_samples, n_mels, n_frames)
            Log-mel spectrograms; any number of frames.

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
            Labels from ``classes_``.
        """
        proba = self.predict_proba(X)
        return self.classes_[proba.argmax(axis=1)]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = True
        tags.input_tags.three_d_array = True
        tags.non_deterministic = self.random_state is None
        return tags


def _doc(summary, module, module_example, extra=""):
    return (summary + "\n" + _PARAMETER_DOC.format(module=module, module_example=module_example)
            + _NOTES_DOC + extra)


class CNNClassifier(_SpectrogramClassifier):
    def __init__(self, *, module=CNNNet, **kwargs):
        super().__init__(module=module, **kwargs)


CNNClassifier.__doc__ = _doc(
    "Genre classifier with the CNN baseline (:class:`~sklearn_genre.modules.CNNNet`).",
    "CNNNet", "``module__channels=(32, 64, 128)``, ``module__dropout=0.3``",
)


class GRUClassifier(_SpectrogramClassifier):
    def __init__(self, *, module=GRUNet, **kwargs):
        super().__init__(module=module, **kwargs)


GRUClassifier.__doc__ = _doc(
    "Genre classifier with the GRU baseline on mel frames "
    "(:class:`~sklearn_genre.modules.GRUNet`).",
    "GRUNet", "``module__gru_hidden=64``, ``module__pooling='mean'``",
)


class CNNGRUClassifier(_SpectrogramClassifier):
    def __init__(self, *, module=CNNGRUNet, **kwargs):
        super().__init__(module=module, **kwargs)


CNNGRUClassifier.__doc__ = _doc(
    "Genre classifier with a CNN front end and a GRU, no attention "
    "(:class:`~sklearn_genre.modules.CNNGRUNet`).",
    "CNNGRUNet", "``module__gru_hidden=32``, ``module__pooling='last'``",
)


class CNNGRUAttentionClassifier(_SpectrogramClassifier):
    def __init__(self, *, module=CNNGRUAttentionNet, **kwargs):
        super().__init__(module=module, **kwargs)

    def predict_attention(self, X):
        """Attention weights over time for each example.

        Parameters
        ----------
        X : ndarray of shape (n_samples, n_mels, n_frames)
            Log-mel spectrograms.

        Returns
        -------
        weights : ndarray of shape (n_samples, n_steps)
            Softmax weights (rows sum to 1), ``n_steps = ceil(n_frames / 8)``;
            step ``i`` covers frames ``[8 i, 8 i + 8)``. Use
            :meth:`attention_times` to convert steps to seconds.
        """
        X = self._prediction_input(X)
        self._set_training(False)
        weights = []
        with self._device_scope(), torch.inference_mode():
            for batch in self.get_iterator(self.get_dataset(X), training=False):
                Xi, _ = unpack_data(batch)
                with self._autocast():
                    _, w = self.module_.forward_with_attention(
                        to_tensor(Xi, device=self.device))
                weights.append(w.float().cpu().numpy())
        return np.concatenate(weights)

    @staticmethod
    def attention_times(n_frames, *, sr=22050, hop_length=512):
        """Start and end time in seconds of each attention step.

        Parameters
        ----------
        n_frames : int
            Frames of the input spectrogram (1292 for 30 s at the defaults).
        sr : int, default=22050
            Sample rate of the features.
        hop_length : int, default=512
            Hop length of the features; frame ``j`` is centred at
            ``j * hop_length / sr`` seconds (librosa's ``center=True``).

        Returns
        -------
        times : ndarray of shape (n_steps, 2)
            ``[start, end)`` seconds of each step (the end clipped to the clip).
        """
        step = ConvFrontEnd.time_reduction
        n_steps = ConvFrontEnd.output_length(int(n_frames))
        start = np.arange(n_steps) * step
        end = np.minimum(start + step, int(n_frames))
        return np.stack([start, end], axis=1) * hop_length / sr


CNNGRUAttentionClassifier.__doc__ = _doc(
    "Genre classifier with the reference CNN-GRU-Attention network "
    "(:class:`~sklearn_genre.modules.CNNGRUAttentionNet`).",
    "CNNGRUAttentionNet", "``module__gru_hidden=32``, ``module__attention_size=64``",
    extra="""
    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_genre.classifiers import CNNGRUAttentionClassifier
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(-40, 10, size=(20, 16, 32)).astype(np.float32)
    >>> y = np.array(["rock", "jazz"] * 10)
    >>> clf = CNNGRUAttentionClassifier(max_epochs=2, verbose=0, random_state=0).fit(X, y)
    >>> clf.predict_proba(X).shape
    (20, 2)
    >>> clf.predict_attention(X).shape
    (20, 4)
""",
)
