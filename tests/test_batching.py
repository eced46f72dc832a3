"""Tests for sklearn_genre.batching (TensorBatchIterator) and sklearn_genre.loss_readback,
and for the speed options of the classifiers (loss_readback, data_on_device, storage_dtype,
amp_dtype, compile), on the CPU with tiny inputs."""

import hashlib
import inspect
import pickle
import warnings

import numpy as np
import pytest
import skorch
import torch
from sklearn.base import clone
from skorch.callbacks import Callback, ProgressBar
from skorch.dataset import Dataset
from skorch.helper import predefined_split
from torch.utils.data import DataLoader, Subset

from sklearn_genre.batching import TensorBatchIterator, supports_dataset
from sklearn_genre.classifiers import CNNClassifier, CNNGRUAttentionClassifier, GRUClassifier
from sklearn_genre.loss_readback import PendingLoss

N_MELS, N_FRAMES = 8, 16
SMALL = dict(module__channels=(4, 4, 8), max_epochs=2, verbose=0, random_state=0,
             batch_size=8)


def make_data(n=44, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(-40, 10, size=(n, N_MELS, N_FRAMES)).astype(np.float32)
    y = np.array(["a", "b", "c", "d"] * (n // 4))
    X[y == "b", 2:4] += 15
    return X, y


def legacy(**kwargs):
    """skorch's own path: DataLoader batches, loss read after every batch."""
    return dict(iterator_train=DataLoader, iterator_valid=DataLoader, loss_readback="batch",
                **kwargs)


def history_without_time(net):
    return [{k: v for k, v in epoch.items() if k != "dur"} for epoch in net.history]


def batches(iterator):
    return [(xb.clone(), None if yb is None else yb.clone()) for xb, yb in iterator]


# ------------------------------------------------------------------ the iterator
@pytest.fixture
def dataset():
    X = np.arange(23 * 3, dtype=np.float32).reshape(23, 3)
    return Dataset(X, np.arange(23) % 5)


@pytest.mark.parametrize("drop_last", [False, True])
@pytest.mark.parametrize("shuffle", [False, True])
@pytest.mark.parametrize("subset", [False, True])
def test_same_batches_and_random_draws_as_dataloader(dataset, shuffle, drop_last, subset):
    if subset:
        dataset = Subset(dataset, np.array([3, 1, 4, 15, 9, 2, 6, 5, 13, 8, 20, 7, 0]))
    kwargs = dict(batch_size=4, shuffle=shuffle, drop_last=drop_last)
    torch.manual_seed(1)
    ours = [batches(TensorBatchIterator(dataset, **kwargs)) for _ in range(2)]
    after_ours = torch.rand(3)
    torch.manual_seed(1)
    theirs = [batches(DataLoader(dataset, **kwargs)) for _ in range(2)]
    after_theirs = torch.rand(3)
    # Same batches, in the same order, and the global generator left in the same state
    # (the network's dropout and augmentation draw from it next).
    assert torch.equal(after_ours, after_theirs)
    for epoch_ours, epoch_theirs in zip(ours, theirs, strict=True):
        assert len(epoch_ours) == len(epoch_theirs)
        for (xa, ya), (xb, yb) in zip(epoch_ours, epoch_theirs, strict=True):
            assert xa.dtype == xb.dtype and torch.equal(xa, xb)
            assert ya.dtype == yb.dtype and torch.equal(ya, yb)


def test_shuffle_covers_every_sample_once_per_epoch_in_a_new_order(dataset):
    iterator = TensorBatchIterator(dataset, batch_size=5, shuffle=True)
    orders = []
    for _ in range(3):
        rows = torch.cat([xb[:, 0] for xb, _ in iterator]) / 3
        assert sorted(rows.long().tolist()) == list(range(23))
        orders.append(rows.tolist())
    assert orders[0] != orders[1] != orders[2]


def test_last_partial_batch_and_drop_last(dataset):
    sizes = [len(xb) for xb, _ in TensorBatchIterator(dataset, batch_size=5)]
    assert sizes == [5, 5, 5, 5, 3]
    assert len(TensorBatchIterator(dataset, batch_size=5)) == 5
    dropped = TensorBatchIterator(dataset, batch_size=5, drop_last=True, shuffle=True)
    assert [len(xb) for xb, _ in dropped] == [5, 5, 5, 5] and len(dropped) == 4


def test_targets_none_and_unsupported_inputs():
    X = np.ones((5, 2), dtype=np.float32)
    assert [yb for _, yb in TensorBatchIterator(Dataset(X), batch_size=2)] == [None] * 3
    assert supports_dataset(Dataset(X)) and supports_dataset(Subset(Dataset(X), [0, 1]))

    class Custom(Dataset):
        pass

    assert not supports_dataset(Custom(X))
    assert not supports_dataset(Dataset([[1.0], [2.0]]))
    with pytest.raises(TypeError, match="array-backed"):
        TensorBatchIterator(Custom(X))
    with pytest.raises(TypeError, match="num_workers.*iterator_train=torch.utils.data"):
        TensorBatchIterator(Dataset(X), num_workers=2)
    with pytest.raises(ValueError, match="storage_dtype"):
        TensorBatchIterator(Dataset(X), storage_dtype="int8")
    with pytest.raises(ValueError, match="data_on_device"):
        TensorBatchIterator(Dataset(X), data_on_device="yes")


def test_read_only_memory_map_is_sliced_without_warning(tmp_path):
    X = np.arange(12, dtype=np.float16).reshape(6, 2)
    np.save(tmp_path / "x.npy", X)
    mapped = np.load(tmp_path / "x.npy", mmap_mode="r")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = torch.cat([xb for xb, _ in TensorBatchIterator(Dataset(mapped), batch_size=4)])
    assert out.dtype == torch.float16 and np.array_equal(out.numpy(), X)


# ---------------------------------------------------- the classifiers' default path
@pytest.mark.parametrize("cls", [CNNGRUAttentionClassifier, GRUClassifier])
def test_default_path_gives_the_same_model_as_skorchs_own(cls):
    X, y = make_data()
    kwargs = {k: v for k, v in SMALL.items() if cls is not GRUClassifier
              or not k.startswith("module__")}
    ours = cls(**kwargs).fit(X, y)
    theirs = cls(**legacy(**kwargs)).fit(X, y)
    assert history_without_time(ours) == history_without_time(theirs)
    # Every batch's loss is a float equal to what .item() gave.
    for epoch_ours, epoch_theirs in zip(ours.history, theirs.history, strict=True):
        for b_ours, b_theirs in zip(epoch_ours["batches"], epoch_theirs["batches"],
                                    strict=True):
            for key in ("train_loss", "valid_loss"):
                if key in b_theirs:
                    assert type(b_ours[key]) is float and b_ours[key] == b_theirs[key]
    assert np.array_equal(ours.predict_proba(X), theirs.predict_proba(X))


def test_augmentation_is_still_applied_to_training_batches():
    # The module augments on the device: with augmentation the training losses differ,
    # the validation losses of the first epoch's (identical) initial weights do not.
    X, y = make_data()
    on = CNNClassifier(**{**SMALL, "max_epochs": 1}).fit(X, y)
    off = CNNClassifier(**{**SMALL, "max_epochs": 1}, augment=False).fit(X, y)
    assert on.history[0, "train_loss"] != off.history[0, "train_loss"]
    batches_on = on.history[0, "batches"]
    seen = []

    class Record(Callback):
        def on_batch_begin(self, net, batch=None, training=False, **kwargs):
            if training:
                x = batch[0]
                module = net.module_
                seen.append(torch.equal(module.augment(module.standardize(x)),
                                        module.standardize(x)))

    CNNClassifier(**{**SMALL, "max_epochs": 1}, callbacks=[Record()]).fit(X, y)
    assert seen and not all(seen)  # the module is in training mode when batches arrive
    assert len(batches_on) == len(seen) + 1  # training batches + 1 validation batch


def test_train_split_none_and_predefined_validation():
    X, y = make_data()
    kwargs = dict(SMALL, train_split=None, callbacks__early_stopping=None,
                  callbacks__lr_scheduler=None)
    a = CNNClassifier(**kwargs).fit(X, y)
    b = CNNClassifier(**legacy(**kwargs)).fit(X, y)
    assert history_without_time(a) == history_without_time(b)
    X_valid, y_valid = make_data(n=12, seed=1)
    kwargs = dict(SMALL, train_split=predefined_split(Dataset(X_valid, y_valid)))
    a = CNNClassifier(**kwargs).fit(X, y)
    b = CNNClassifier(**legacy(**kwargs)).fit(X, y)
    assert history_without_time(a) == history_without_time(b)
    assert a.history[-1, "valid_batch_count"] == 2


def test_dataloader_options_need_the_dataloader():
    X, y = make_data()
    with pytest.raises(TypeError, match="num_workers"):
        CNNClassifier(**SMALL, iterator_train__num_workers=1).fit(X, y)
    clf = CNNClassifier(**SMALL, iterator_train=DataLoader, iterator_train__num_workers=0)
    assert clf.fit(X, y).history[-1, "train_batch_count"] == 5


def test_custom_dataset_goes_through_the_dataloader():
    X, y = make_data()
    clf = CNNClassifier(**SMALL).fit(X, y)

    class Custom(Dataset):
        pass

    iterator = clf.get_iterator(Custom(X), training=False)
    assert isinstance(iterator, DataLoader)
    assert isinstance(clf.get_iterator(Dataset(X), training=False), TensorBatchIterator)


# --------------------------------------------------------------- deferred losses
def test_history_holds_pending_losses_only_during_the_epoch():
    X, y = make_data()
    seen = []

    class Peek(Callback):
        def on_batch_end(self, net, batch=None, training=False, loss=None, **kwargs):
            key = "train_loss" if training else "valid_loss"
            value = net.history[-1, "batches", -1, key]
            seen.append((type(value), float(loss.detach())))

        def on_epoch_end(self, net, **kwargs):
            for batch in net.history[-1, "batches"]:
                for key in ("train_loss", "valid_loss"):
                    assert type(batch.get(key, 0.0)) is float

    CNNClassifier(**SMALL, callbacks=[Peek()]).fit(X, y)
    assert seen and all(kind is PendingLoss for kind, _ in seen)
    seen.clear()
    CNNClassifier(**SMALL, callbacks=[Peek()], loss_readback="batch").fit(X, y)
    assert seen and all(kind is float for kind, _ in seen)


def test_pending_loss_explains_itself():
    pending = PendingLoss("train_loss")
    assert str(pending) == "pending"
    with pytest.raises(RuntimeError, match="loss_readback='batch'"):
        float(pending)
    assert repr(pickle.loads(pickle.dumps(pending))) == "pending"


def test_progress_bar_works_with_deferred_losses(capsys):
    X, y = make_data()
    CNNClassifier(**SMALL, callbacks=[ProgressBar()]).fit(X, y)


def test_interrupted_epoch_keeps_the_losses_it_computed():
    X, y = make_data()

    class Stop(Callback):
        def on_batch_end(self, net, batch=None, training=False, **kwargs):
            if training and len(net.history[-1, "batches"]) == 3:
                raise KeyboardInterrupt

    clf = CNNClassifier(**SMALL, callbacks=[Stop()]).fit(X, y)
    assert clf.interrupted_
    losses = [b["train_loss"] for b in clf.history[-1, "batches"]]
    assert len(losses) == 3 and all(type(v) is float for v in losses)


def test_skorch_run_single_epoch_is_the_version_mirrored():
    # sklearn_genre.loss_readback re-implements skorch 1.4.0's run_single_epoch with the
    # loss read deferred. When skorch changes that method, compare and update the mirror.
    source = inspect.getsource(skorch.NeuralNet.run_single_epoch)
    digest = hashlib.sha256(source.encode()).hexdigest()[:16]
    assert digest == MIRRORED_RUN_SINGLE_EPOCH, (
        f"skorch {skorch.__version__} changed NeuralNet.run_single_epoch (digest {digest}); "
        "update sklearn_genre.loss_readback.DeferredLossMixin.run_single_epoch to match"
    )


MIRRORED_RUN_SINGLE_EPOCH = "f20ccfd4d8a09fc7"  # skorch 1.4.0


# ------------------------------------------------------------------ the options
def test_options_are_parameters_validated_in_fit():
    clf = CNNClassifier(loss_readback="batch", data_on_device=False, storage_dtype="float16",
                        amp_dtype="bfloat16", compile=True)
    params = clf.get_params()
    assert params["loss_readback"] == "batch" and params["data_on_device"] is False
    assert params["storage_dtype"] == "float16" and params["amp_dtype"] == "bfloat16"
    assert params["iterator_train"] is TensorBatchIterator
    copy = clone(clf)
    assert copy.get_params()["storage_dtype"] == "float16" and copy.compile is True
    X, y = make_data()
    for bad in (dict(loss_readback="never"), dict(data_on_device="maybe"),
                dict(storage_dtype="int8"), dict(amp_dtype="float8")):
        name = next(iter(bad))
        with pytest.raises(ValueError, match=name):
            CNNClassifier(**SMALL, **bad).fit(X, y)


@pytest.mark.parametrize("options", [dict(data_on_device=True, storage_dtype="float16"),
                                     dict(data_on_device=False)])
def test_device_options_change_nothing_on_the_cpu(options):
    X, y = make_data()
    a = CNNClassifier(**SMALL).fit(X, y)
    b = CNNClassifier(**SMALL, **options).fit(X, y)
    assert history_without_time(a) == history_without_time(b)


def test_amp_dtype_on_the_cpu_warns_and_trains_in_float32():
    X, y = make_data()
    a = CNNClassifier(**SMALL).fit(X, y)
    with pytest.warns(UserWarning, match="amp"):
        b = CNNClassifier(**SMALL, amp=True, amp_dtype="bfloat16").fit(X, y)
    assert history_without_time(a) == history_without_time(b)


def test_compile_trains_and_predicts_like_eager():
    # skorch's compile=True with compile__backend="aot_eager": dynamo traces the network
    # and AOTAutograd builds its backward, without inductor's C++ code generation, which
    # takes minutes on 2 cores (inductor itself is timed by benchmarks/gpu_session.sh).
    X, y = make_data()
    kwargs = dict(SMALL, max_epochs=1, augment=False, module__dropout=0.0,
                  module__cnn_dropout=0.0)
    eager = CNNClassifier(**kwargs).fit(X, y)
    compiled = CNNClassifier(**kwargs, compile=True, compile__backend="aot_eager").fit(X, y)
    assert type(compiled.module_).__name__ == "OptimizedModule"
    np.testing.assert_allclose(compiled.history[-1, "train_loss"],
                               eager.history[-1, "train_loss"], rtol=1e-4)
    np.testing.assert_allclose(compiled.predict_proba(X), eager.predict_proba(X), atol=1e-4)


def test_models_pickled_before_the_options_existed_still_fit():
    X, y = make_data()
    clf = CNNClassifier(**SMALL, iterator_train=DataLoader, iterator_valid=DataLoader).fit(X, y)
    state = clf.__getstate__()
    for name in ("amp_dtype", "loss_readback", "data_on_device", "storage_dtype"):
        del state[name]
    old = CNNClassifier.__new__(CNNClassifier)
    old.__setstate__(state)
    assert old.loss_readback == "batch" and old.storage_dtype is None
    old.set_params(warm_start=True, max_epochs=1).fit(X, y)
    assert len(old.history) == 3
