"""CUDA paths of sklearn_genre.batching and the classifiers' speed options.

Skipped without CUDA (CI has none). benchmarks/gpu_session.sh runs this file on the lent GPU
machine with ``pytest --noconftest`` (the audio fixtures of conftest.py need soundfile, which
that machine lacks)."""

import numpy as np
import pytest
import torch
from skorch.dataset import Dataset
from torch.utils.data import DataLoader, Subset

from sklearn_genre.batching import TensorBatchIterator
from sklearn_genre.classifiers import CNNClassifier, CNNGRUAttentionClassifier

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")

SMALL = dict(module__channels=(4, 4, 8), max_epochs=2, verbose=0, random_state=0,
             batch_size=8, device="cuda")


def make_data(n=48, seed=0, dtype=np.float32):
    rng = np.random.default_rng(seed)
    X = rng.normal(-40, 10, size=(n, 8, 16)).astype(dtype)
    y = np.array(["a", "b", "c", "d"] * (n // 4))
    return X, y


@pytest.mark.parametrize("on_device", [True, False])
@pytest.mark.parametrize("subset", [False, True])
def test_cuda_batches_equal_the_cpu_batches(on_device, subset):
    X = np.arange(23 * 3, dtype=np.float32).reshape(23, 3)
    dataset = Dataset(X, np.arange(23) % 5)
    if subset:
        dataset = Subset(dataset, np.array([3, 1, 4, 15, 9, 2, 6, 5, 13, 8, 20, 7, 0]))
    kwargs = dict(batch_size=4, shuffle=True)
    torch.manual_seed(0)
    cuda = TensorBatchIterator(dataset, device="cuda", data_on_device=on_device, **kwargs)
    got = [(xb.cpu(), yb.cpu()) for xb, yb in cuda]
    assert cuda.on_device is on_device
    torch.manual_seed(0)
    expected = list(DataLoader(dataset, **kwargs))
    assert len(got) == len(expected)
    for (xa, ya), (xb, yb) in zip(got, expected, strict=True):
        assert torch.equal(xa, xb) and torch.equal(ya, yb)


def test_pinned_buffers_are_not_overwritten_while_in_flight():
    # Many batches through two pinned buffers: every batch must arrive intact.
    X = np.random.default_rng(0).normal(size=(257, 64, 32)).astype(np.float32)
    iterator = TensorBatchIterator(Dataset(X, np.zeros(257, dtype=np.int64)), batch_size=16,
                                   device="cuda", data_on_device=False)
    out = torch.cat([xb * 1.0 for xb, _ in iterator]).cpu().numpy()
    assert np.array_equal(out, X)


def test_float16_storage_on_the_device():
    X = np.random.default_rng(0).normal(size=(20, 4)).astype(np.float32)
    iterator = TensorBatchIterator(Dataset(X), batch_size=8, device="cuda",
                                   data_on_device=True, storage_dtype="float16")
    out = torch.cat([xb for xb, _ in iterator])
    assert out.dtype == torch.float16 and out.device.type == "cuda"
    assert np.array_equal(out.cpu().numpy(), X.astype(np.float16))


@pytest.mark.parametrize("options", [
    {}, {"loss_readback": "batch"}, {"data_on_device": False},
    {"storage_dtype": "float16"}, {"amp": True}, {"amp": True, "amp_dtype": "bfloat16"},
    {"iterator_train": DataLoader, "iterator_valid": DataLoader},
])
def test_every_option_trains_on_cuda(options):
    X, y = make_data()
    clf = CNNGRUAttentionClassifier(**SMALL, module__gru_hidden=8, **options).fit(X, y)
    losses = [b["train_loss"] for b in clf.history[-1, "batches"] if "train_loss" in b]
    assert losses and all(type(v) is float and np.isfinite(v) for v in losses)
    proba = clf.predict_proba(X)
    assert proba.shape == (len(X), 4) and np.allclose(proba.sum(axis=1), 1, atol=1e-4)


def test_deferred_losses_equal_per_batch_losses_on_cuda():
    X, y = make_data()
    torch.backends.cudnn.deterministic = True
    try:
        kwargs = dict(SMALL, augment=False, module__dropout=0.0, module__cnn_dropout=0.0)
        a = CNNClassifier(**kwargs).fit(X, y)
        b = CNNClassifier(**kwargs, loss_readback="batch").fit(X, y)
    finally:
        torch.backends.cudnn.deterministic = False
    for key in ("train_loss", "valid_loss"):
        np.testing.assert_allclose(a.history[:, key], b.history[:, key], rtol=1e-5)


def test_compile_on_cuda():
    X, y = make_data()
    clf = CNNClassifier(**SMALL, compile=True).fit(X, y)
    assert type(clf.module_).__name__ == "OptimizedModule"
    assert np.isfinite(clf.history[-1, "train_loss"])
