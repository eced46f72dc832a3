"""Tests of sklearn_genre.cache: keys, atomic writes, integrity checks, write errors."""

import errno
import os
import pickle

import joblib
import numpy as np
import pytest

from sklearn_genre import cache as cache_mod
from sklearn_genre.cache import (
    CacheCorruptionWarning,
    FeatureCache,
    FeatureCacheError,
    resolve_cache,
)

PARAMS = {"sr": 22050, "n_mels": 128}


@pytest.fixture
def cache(tmp_path):
    return FeatureCache(tmp_path / "cache")


@pytest.fixture
def src(tmp_path):
    path = tmp_path / "clip.mp3"
    path.write_bytes(b"pretend audio")
    return path


def _array(seed=0):
    return np.random.default_rng(seed).standard_normal((4, 7)).astype(np.float32)


def test_store_load_roundtrip_and_layout(cache, src):
    key = cache.key(src, PARAMS)
    assert len(key) == 32 and cache.load(key) is None
    entry = cache.store(key, _array(), source=src)
    assert entry == cache.directory / key[:2] / f"{key}.feat"
    assert entry.parent.parent.name == "sklearn_genre-mel-v1"
    out = cache.load(key, shape=(4, 7), dtype=np.float32)
    np.testing.assert_array_equal(out, _array())
    assert not out.flags.writeable
    assert cache.entries() == [entry]
    assert [p.name for p in entry.parent.iterdir()] == [entry.name]  # no temp files left


def test_key_depends_on_params_and_file_identity(cache, src):
    key = cache.key(src, PARAMS)
    assert cache.key(src, dict(PARAMS)) == key
    assert cache.key(src, {**PARAMS, "n_mels": 64}) != key
    st = src.stat()
    os.utime(src, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))  # touched
    key_touched = cache.key(src, PARAMS)
    assert key_touched != key
    src.write_bytes(b"other audio, longer")  # edited
    os.utime(src, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))  # same mtime, other size
    assert cache.key(src, PARAMS) not in (key, key_touched)
    other = FeatureCache(cache.location, namespace="sklearn_genre-mel-v999")
    assert other.key(src, PARAMS) != cache.key(src, PARAMS)


def _corrupt_entry(entry, how):
    data = bytearray(entry.read_bytes())
    if how == "flip":
        data[-3] ^= 0xFF
    elif how == "truncate":
        data = data[: len(data) - 10]
    elif how == "garbage":
        data = bytearray(b"not an entry at all")
    elif how == "empty":
        data = bytearray()
    elif how == "header":
        data[14:20] = b"\x00" * 6
    entry.write_bytes(bytes(data))


@pytest.mark.parametrize("how", ["flip", "truncate", "garbage", "empty", "header"])
def test_corrupt_entry_is_reported_deleted_and_missed(cache, src, how):
    key = cache.key(src, PARAMS)
    entry = cache.store(key, _array())
    _corrupt_entry(entry, how)
    with pytest.warns(CacheCorruptionWarning, match="corrupt feature cache entry") as rec:
        assert cache.load(key) is None
    assert str(entry) in str(rec[0].message)
    assert not entry.exists()


def test_shape_or_dtype_mismatch_counts_as_corrupt(cache, src):
    key = cache.key(src, PARAMS)
    cache.store(key, _array())
    with pytest.warns(CacheCorruptionWarning, match="shape"):
        assert cache.load(key, shape=(7, 4)) is None
    cache.store(key, _array())
    with pytest.warns(CacheCorruptionWarning, match="dtype"):
        assert cache.load(key, dtype=np.float16) is None


def test_disk_full_raises_and_leaves_no_partial_entry(cache, src, monkeypatch):
    calls = []

    def full_disk(fd, data):
        calls.append(len(memoryview(data).cast("B")))
        if len(calls) == 2:  # header written, then the disk fills up mid-array
            os.write(fd, memoryview(data).cast("B")[:10])
            raise OSError(errno.ENOSPC, "No space left on device")
        os.write(fd, data)

    monkeypatch.setattr(cache_mod, "_write_fully", full_disk)
    key = cache.key(src, PARAMS)
    entry = cache.entry_path(key)
    with pytest.raises(FeatureCacheError, match="no space left on device") as info:
        cache.store(key, _array())
    assert info.value.errno == errno.ENOSPC
    assert info.value.entry == str(entry) and str(entry) in str(info.value)
    assert isinstance(info.value, OSError)
    assert list(entry.parent.iterdir()) == []  # neither the entry nor a temp file
    monkeypatch.undo()
    assert cache.load(key) is None
    cache.store(key, _array())
    np.testing.assert_array_equal(cache.load(key), _array())


def test_unwritable_location_raises_feature_cache_error(tmp_path, src):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    cache = FeatureCache(blocker / "sub")  # a directory cannot be created under a file
    with pytest.raises(FeatureCacheError, match="cannot write feature cache entry"):
        cache.store(cache.key(src, PARAMS), _array())


def test_overwrite_existing_entry_is_atomic_replace(cache, src):
    key = cache.key(src, PARAMS)
    cache.store(key, _array(0))
    cache.store(key, _array(1))
    np.testing.assert_array_equal(cache.load(key), _array(1))
    assert len(list(cache.entry_path(key).parent.iterdir())) == 1


def test_resolve_cache(tmp_path):
    assert resolve_cache(None) is None
    assert resolve_cache(str(tmp_path)).location == tmp_path
    assert resolve_cache(tmp_path).location == tmp_path
    mem = joblib.Memory(tmp_path / "jl", verbose=0)
    assert resolve_cache(mem).location == tmp_path / "jl"
    assert resolve_cache(joblib.Memory(None)) is None
    with pytest.raises(TypeError, match="memory must be"):
        resolve_cache(42)


def test_cache_and_error_pickle(cache):
    back = pickle.loads(pickle.dumps(cache))
    assert back.directory == cache.directory
    err = FeatureCacheError("/x/e.feat", "no space left on device", errno.ENOSPC)
    back = pickle.loads(pickle.dumps(err))
    assert (back.entry, back.errno, str(back)) == (err.entry, err.errno, str(err))


def test_clear(cache, src):
    cache.store(cache.key(src, PARAMS), _array())
    cache.clear()
    assert cache.entries() == []


def test_entries_are_readable_like_ordinary_files(tmp_path):
    from sklearn_genre.atomic import new_file_mode

    cache = FeatureCache(tmp_path)
    entry = cache.store(cache.key(__file__, {"n_mels": 8}), np.zeros((2, 3), np.float32),
                        source=__file__)
    assert entry.stat().st_mode & 0o777 == new_file_mode()
