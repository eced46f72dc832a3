"""The numpy reader of TensorFlow tensor-bundle checkpoints."""

import os
import zlib

import numpy as np
import pytest
from tf_bundle import write_bundle

from sklearn_genre.pretrained.checkpoint import (
    CheckpointFormatError,
    _crc_register,
    crc32c,
    read_checkpoint,
    read_checkpoint_index,
)


def _tensors():
    rng = np.random.default_rng(0)
    return {
        "conv2d/kernel": rng.standard_normal((7, 38, 1, 4)).astype(np.float32),
        "conv2d/bias": rng.standard_normal(4).astype(np.float32),
        "conv2d/bias/Adam": np.arange(4, dtype=np.float32),
        "conv2d_1/kernel": rng.standard_normal((3, 3)).astype(np.float64),
        "global_step": np.array(1234567890123, dtype=np.int64),
        "half": np.linspace(-2, 2, 9).astype(np.float16).reshape(3, 3),
        "bytes": np.arange(200, dtype=np.uint8),
        "empty": np.zeros((0, 3), dtype=np.float32),
        "big": rng.standard_normal(70_000).astype(np.float32),  # the lane path of crc32c
    }


def test_crc32c_known_values_and_lanes():
    assert crc32c(b"") == 0
    assert crc32c(b"123456789") == 0xE3069283  # the CRC-32C check value
    assert crc32c(bytes(32)) == 0x8A9136AA  # RFC 3720 B.4 test vector
    assert crc32c(bytes(range(32))) == 0x46DD794E
    # crc32c and zlib.crc32 differ (another polynomial): guards against a mixed-up table
    assert crc32c(b"123456789") != zlib.crc32(b"123456789")
    for n in (63, 64, 255, 256, 4095, 4096, 100_003):
        data = os.urandom(n)
        assert crc32c(data) == _crc_register(0xFFFFFFFF, data) ^ 0xFFFFFFFF, n


@pytest.mark.parametrize("block_items,restart_interval", [(3, 2), (1, 1), (100, 16)])
def test_round_trip_hand_made_bundle(tmp_path, block_items, restart_interval):
    tensors = _tensors()
    write_bundle(tmp_path / "ckpt", tensors, block_items=block_items,
                 restart_interval=restart_interval)
    index = read_checkpoint_index(tmp_path / "ckpt")
    assert list(index) == sorted(tensors)
    assert index["conv2d/kernel"]["shape"] == (7, 38, 1, 4)
    assert index["half"]["dtype"] == np.float16
    out = read_checkpoint(tmp_path / "ckpt")
    assert set(out) == set(tensors)
    for name, value in tensors.items():
        assert out[name].dtype == value.dtype and out[name].shape == value.shape, name
        np.testing.assert_array_equal(out[name], value)
    assert out["global_step"].shape == ()
    assert out["conv2d/bias"].flags.writeable
    selected = read_checkpoint(tmp_path / "ckpt", select=lambda n: not n.endswith("/Adam"))
    assert "conv2d/bias/Adam" not in selected and "conv2d/bias" in selected


def test_corrupt_tensor_bytes_are_detected(tmp_path):
    write_bundle(tmp_path / "ckpt", _tensors())
    data = tmp_path / "ckpt.data-00000-of-00001"
    raw = bytearray(data.read_bytes())
    raw[-5] ^= 0xFF  # inside "half" or "global_step"... whichever is last: some tensor
    data.write_bytes(bytes(raw))
    with pytest.raises(CheckpointFormatError, match="CRC-32C mismatch for variable"):
        read_checkpoint(tmp_path / "ckpt")
    read_checkpoint(tmp_path / "ckpt", verify_crc=False)  # sizes still fine


def test_bad_entry_crc_truncation_and_block_crc(tmp_path):
    write_bundle(tmp_path / "a", _tensors(), bad_crc={"conv2d/bias"})
    with pytest.raises(CheckpointFormatError, match="'conv2d/bias'"):
        read_checkpoint(tmp_path / "a")

    write_bundle(tmp_path / "b", _tensors())
    data = tmp_path / "b.data-00000-of-00001"
    data.write_bytes(data.read_bytes()[:-10])
    with pytest.raises(CheckpointFormatError, match="truncated"):
        read_checkpoint(tmp_path / "b")

    write_bundle(tmp_path / "c", _tensors(), corrupt_block_crc=True)
    with pytest.raises(CheckpointFormatError, match="c.index: CRC-32C mismatch in the block"):
        read_checkpoint_index(tmp_path / "c")


def test_unsupported_features_raise_clear_errors(tmp_path):
    write_bundle(tmp_path / "snappy", _tensors(), compression=1)
    with pytest.raises(CheckpointFormatError, match="snappy"):
        read_checkpoint_index(tmp_path / "snappy")
    write_bundle(tmp_path / "sliced", _tensors(), sliced={"big"})
    with pytest.raises(CheckpointFormatError, match="'big' is partitioned"):
        read_checkpoint_index(tmp_path / "sliced")


def test_not_a_table(tmp_path):
    (tmp_path / "x.index").write_bytes(b"not a table" * 10)
    with pytest.raises(CheckpointFormatError, match=r"x.index: not a TensorFlow checkpoint"):
        read_checkpoint_index(tmp_path / "x")
    (tmp_path / "y.index").write_bytes(b"short")
    with pytest.raises(CheckpointFormatError, match="too short"):
        read_checkpoint_index(tmp_path / "y")
    with pytest.raises(FileNotFoundError):
        read_checkpoint(tmp_path / "missing")


EXPECTED_SHAPES = {  # musicnn 0.1.0's models.py: build_musicnn(num_filt_midend=64, 200 units)
    "batch_normalization/gamma": (1,),
    "conv2d/kernel": (7, 38, 1, 204),
    "conv2d_1/kernel": (7, 67, 1, 204),
    "conv2d_2/kernel": (128, 1, 1, 51),
    "conv2d_3/kernel": (64, 1, 1, 51),
    "conv2d_4/kernel": (32, 1, 1, 51),
    "conv2d_5/kernel": (7, 561, 1, 64),
    "conv2d_7/kernel": (7, 64, 1, 64),
    "batch_normalization_9/moving_variance": (1506,),
    "dense/kernel": (1506, 200),
    "dense_1/kernel": (200, 50),
}


@pytest.mark.parametrize("model", ["MSD_musicnn", "MTT_musicnn"])
def test_real_musicnn_checkpoints(musicnn_data_home, model):
    from sklearn_genre.pretrained import musicnn_weights_dir

    prefix = musicnn_weights_dir(model, musicnn_data_home) / "variables"
    index = read_checkpoint_index(prefix)
    # 11 batch norms x 4 variables, 10 conv/dense layers x 2, each with 2 Adam slots, plus
    # Adam's beta1_power and beta2_power
    assert len(index) == 150
    assert sum(e["size"] for e in index.values()) == 9_465_596  # the whole data file
    variables = read_checkpoint(prefix)  # every CRC checked
    for name, shape in EXPECTED_SHAPES.items():
        assert variables[name].shape == shape, name
        assert variables[name].dtype == np.float32
    assert np.all(variables["batch_normalization_9/moving_variance"] > 0)
