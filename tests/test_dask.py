"""Extraction, stores and searches on a Dask cluster through joblib's Dask backend.

One ``LocalCluster`` (2 worker processes, 1 thread each) serves the whole module. Every
check compares the cluster's result with the local joblib run bit for bit, and checks that
the work really ran as Dask tasks on the workers (the scheduler's task stream).
"""

import os

import joblib
import numpy as np
import pytest
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from sklearn.pipeline import Pipeline

from sklearn_genre import extraction as extraction_mod
from sklearn_genre import features as features_mod
from sklearn_genre.cache import FeatureCache
from sklearn_genre.classifiers import CNNClassifier
from sklearn_genre.features import MelSpectrogramTransformer
from sklearn_genre.store import extract_to_store

distributed = pytest.importorskip("distributed")
dask = pytest.importorskip("dask")

pytestmark = pytest.mark.dask

SMALL = {"sr": 8000, "n_mels": 16, "n_fft": 256, "hop_length": 64, "duration": 0.5}
TINY = {"max_epochs": 2, "verbose": 0, "random_state": 0, "batch_size": 4, "valid_size": 0.25,
        "module__channels": (4, 4, 8)}
# A worker that dies while running a task makes the scheduler retry the task elsewhere, up to
# this many deaths per task (then the task fails with KilledWorker). Set explicitly: the test
# of a killed worker relies on it.
ALLOWED_FAILURES = 2


@pytest.fixture(scope="module")
def client():
    with dask.config.set({"distributed.scheduler.allowed-failures": ALLOWED_FAILURES}):
        cluster = distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        )
        with cluster, distributed.Client(cluster) as c:
            assert c.run_on_scheduler(
                lambda dask_scheduler: dask_scheduler.allowed_failures
            ) == ALLOWED_FAILURES
            yield c


@pytest.fixture
def clips(make_audio):
    """16 clips, two kinds ("tone"-like and "noise"-like), labels to go with them."""
    paths, labels = [], []
    for i in range(16):
        kind = ("chord", "noise")[i % 2]
        paths.append(str(make_audio(f"c{i:02d}.wav", kind, sr=8000, duration=0.6, seed=i,
                                    freq=180.0 + 15 * i)))
        labels.append(("tonal", "noisy")[i % 2])
    return paths, np.array(labels)


def _tasks(stream, name):
    return [t for t in stream.data if name in t["key"]]


@pytest.mark.parametrize("n_jobs", [2, -1])
def test_extraction_on_dask_equals_local(client, clips, tmp_path, n_jobs):
    paths, _ = clips
    mel = MelSpectrogramTransformer(**SMALL, n_jobs=n_jobs).fit(paths)
    local = mel.transform(paths)  # loky
    with distributed.get_task_stream(client) as stream, joblib.parallel_backend("dask"):
        on_dask = mel.transform(paths)
    np.testing.assert_array_equal(on_dask, local)
    assert on_dask.dtype == local.dtype
    tasks = _tasks(stream, "_extract_batch")
    workers = set(client.scheduler_info()["workers"])
    assert tasks and {t["worker"] for t in tasks} <= workers


def test_store_and_cache_on_dask(client, clips, tmp_path):
    paths, _ = clips
    cache_dir = tmp_path / "cache"
    mel = MelSpectrogramTransformer(**SMALL, n_jobs=-1, memory=str(cache_dir))
    expected = MelSpectrogramTransformer(**SMALL).fit_transform(paths)
    with distributed.get_task_stream(client) as stream, joblib.parallel_backend("dask"):
        X = extract_to_store(mel, paths, tmp_path / "feats.npy", chunk_size=4)
    np.testing.assert_array_equal(X, expected)
    assert _tasks(stream, "_extract_batch")
    # The workers wrote the per-file cache entries (one per clip) ...
    assert len(FeatureCache(cache_dir).entries()) == len(paths)
    # ... which a later run reads instead of the audio (decoding disabled on the workers).
    with _no_decoding_on_workers(client), joblib.parallel_backend("dask"):
        np.testing.assert_array_equal(mel.fit(paths).transform(paths), expected)


def test_grid_search_on_dask_equals_local(client):
    rng = np.random.default_rng(0)
    y = np.repeat(["jazz", "rock"], 12)
    X = rng.normal(-50.0, 6.0, size=(24, 16, 16)).astype(np.float32)
    X[y == "rock", 2:6] += 15.0
    grid = {"lr": [1e-3, 1e-2], "batch_size": [4, 8]}
    cv = StratifiedKFold(2, shuffle=True, random_state=0)

    def search():
        return GridSearchCV(CNNClassifier(**TINY), grid, cv=cv, n_jobs=2, refit=False)

    local = search().fit(X, y)  # joblib's local backend (loky): 8 fits in worker processes
    with distributed.get_task_stream(client) as stream, joblib.parallel_backend("dask"):
        on_dask = search().fit(X, y)
    assert len(stream.data) >= 2  # the candidates ran as tasks on the cluster
    assert on_dask.best_params_ == local.best_params_
    for key in ("mean_test_score", "split0_test_score", "split1_test_score", "rank_test_score"):
        np.testing.assert_array_equal(on_dask.cv_results_[key], local.cv_results_[key])
    assert on_dask.cv_results_["params"] == local.cv_results_["params"]


def test_pipeline_search_reads_the_shared_cache(client, clips, tmp_path):
    """Candidates of a search over audio paths load cached features on the workers."""
    paths, y = clips
    cache_dir = str(tmp_path / "cache")
    pipe = Pipeline([
        ("mel", MelSpectrogramTransformer(**SMALL, memory=cache_dir)),
        ("clf", CNNClassifier(**TINY)),
    ])
    search = GridSearchCV(pipe, {"clf__lr": [1e-3, 1e-2]}, n_jobs=2, refit=False,
                          cv=StratifiedKFold(2, shuffle=True, random_state=1))
    MelSpectrogramTransformer(**SMALL, memory=cache_dir).fit_transform(paths)  # fill the cache
    with _no_decoding_on_workers(client), distributed.get_task_stream(client) as stream, \
            joblib.parallel_backend("dask"):
        on_dask = search.fit(paths, y)
    assert len(stream.data) >= 2
    with joblib.parallel_backend("sequential"):
        local = GridSearchCV(**search.get_params(deep=False)).fit(paths, y)
    for key in ("mean_test_score", "split0_test_score", "split1_test_score"):
        np.testing.assert_array_equal(on_dask.cv_results_[key], local.cv_results_[key])


def _kill_worker_at(index, marker):
    """Replace _extract_batch on this worker by one that kills the worker process (hard,
    no cleanup) when it gets the clip ``index``, the first time any worker does."""
    original = _patch(extraction_mod, "_extract_batch")

    def killer(batch, *args):
        if any(i == index for i, _ in batch):
            try:
                os.close(os.open(marker, os.O_CREAT | os.O_EXCL))
            except FileExistsError:
                pass
            else:
                os._exit(1)
        return original(batch, *args)

    extraction_mod._extract_batch = killer


def test_killed_worker_is_retried_and_result_is_complete(client, clips, tmp_path):
    paths, _ = clips
    paths = paths * 2  # 32 clips -> batches of ceil(32 / 8) = 4
    mel = MelSpectrogramTransformer(**SMALL, n_jobs=-1).fit(paths)
    expected = mel.transform(paths)
    marker = str(tmp_path / "killed")
    pids = set(client.run(os.getpid).values())
    # The task holding clip 17 (mid-run) kills its worker: the nanny starts a new worker
    # process (without the patch), the scheduler reschedules the lost task.
    client.run(_kill_worker_at, 17, marker)
    try:
        with joblib.parallel_backend("dask"):
            on_dask = mel.transform(paths)
    finally:
        client.wait_for_workers(2, timeout=60)
        client.run(_restore_patches)
    assert os.path.exists(marker)  # the kill happened
    assert set(client.run(os.getpid).values()) != pids  # a worker process was replaced
    np.testing.assert_array_equal(on_dask, expected)


def _patch(module, name):
    """Remember module.name (once) so _restore_patches can put it back; return it."""
    originals = module.__dict__.setdefault("_test_dask_originals", {})
    originals.setdefault(name, getattr(module, name))
    return originals[name]


def _restore_patches():
    for module in (extraction_mod, features_mod):
        for name, value in module.__dict__.pop("_test_dask_originals", {}).items():
            setattr(module, name, value)


class _no_decoding_on_workers:
    """Make every audio decode on the workers fail, so only cached features can be used."""

    def __init__(self, client):
        self.client = client

    def __enter__(self):
        self.client.run(_disable_decoding)
        return self

    def __exit__(self, *exc):
        self.client.run(_restore_patches)


def _disable_decoding():
    _patch(features_mod, "load_audio")

    def refuse(path, **kwargs):
        raise AssertionError(f"audio decoded on a worker: {path}")

    features_mod.load_audio = refuse


def test_backend_without_generator_support(clips, monkeypatch):
    """joblib's "multiprocessing" backend cannot return a generator: the transformer then
    runs ordered windows of batches and gives the same output."""
    paths, _ = clips
    mel = MelSpectrogramTransformer(**SMALL, n_jobs=2).fit(paths)
    expected = mel.transform(paths)
    with joblib.parallel_backend("multiprocessing"):
        with pytest.raises(ValueError, match="does not support return_as"):
            joblib.Parallel(n_jobs=2, return_as="generator")(joblib.delayed(abs)(1) for _ in "a")
        np.testing.assert_array_equal(mel.transform(paths), expected)
