"""MusicnnTransformer and predict_tags with the real MusiCNN weights (tiny clips).

The weights come from the ``musicnn_data_home`` session fixture (conftest.py): the default
data home when it has them, else one download per session; under ``CI=true`` a failed
download fails these tests instead of skipping them.
"""

import pickle
import warnings

import numpy as np
import pytest
import soundfile as sf
import torch
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC
from sklearn.utils.estimator_checks import check_estimator

from sklearn_genre._compat import InvalidParameterError
from sklearn_genre.audio import AudioDecodeError
from sklearn_genre.exceptions import ExtractionWarning
from sklearn_genre.pretrained import (
    MusicnnTransformer,
    MusicnnWeightsNotFoundError,
    load_musicnn,
    musicnn_log_mel,
    musicnn_patches,
    predict_tags,
)

SR = 16000


def tone(seconds, freq=440.0, seed=0):
    t = np.arange(int(seconds * SR)) / SR
    rng = np.random.default_rng(seed)
    return (0.3 * np.sin(2 * np.pi * freq * t) + 0.01 * rng.standard_normal(t.size)).astype(
        np.float32)


def noise(seconds, seed=0):
    return (0.2 * np.random.default_rng(seed).standard_normal(int(seconds * SR))).astype(
        np.float32)


@pytest.fixture
def transformer(musicnn_data_home):
    def make(**params):
        return MusicnnTransformer(**{"data_home": musicnn_data_home, "device": "cpu",
                                     **params})
    return make


def per_patch(y, key, data_home):
    """The network's output per patch, computed directly (reference for the pooling)."""
    net = load_musicnn("MSD_musicnn", data_home=data_home)
    with torch.inference_mode():
        return net(torch.from_numpy(musicnn_patches(musicnn_log_mel(y))))[key].numpy()


@pytest.mark.parametrize(("output", "width", "key"), [
    ("embedding", 200, "penultimate"), ("tags", 50, "taggram"), ("mean_pool", 753, "mean_pool"),
    ("max_pool", 753, "max_pool")])
def test_outputs_are_the_networks_pooled_over_patches(transformer, musicnn_data_home, output,
                                                      width, key):
    y = tone(6.5)  # 2 whole patches
    reference = per_patch(y, key, musicnn_data_home)
    assert reference.shape == (2, width)
    mean = transformer(output=output).fit_transform([y])
    high = transformer(output=output, pooling="max").fit_transform([y])
    assert mean.shape == high.shape == (1, width) and mean.dtype == np.float32
    np.testing.assert_allclose(mean[0], reference.mean(axis=0), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(high[0], reference.max(axis=0), rtol=1e-5, atol=1e-6)
    assert not np.allclose(reference[0], reference[1], atol=1e-6) or output == "max_pool"


def test_feature_names_and_tags(transformer):
    tags = transformer(output="tags").fit([tone(1.0)])
    names = tags.get_feature_names_out()
    assert list(names) == tags.tags_ and len(names) == 50 and "rock" in names
    assert tags.n_features_out_ == 50
    emb = transformer().fit([tone(1.0)])
    assert list(emb.get_feature_names_out()[[0, -1]]) == ["embedding_0", "embedding_199"]
    probs = tags.transform([tone(3.0), noise(3.0)])
    assert ((probs > 0) & (probs < 1)).all()
    assert not np.allclose(probs[0], probs[1], atol=1e-3)  # different audio, different tags


def test_files_match_waveforms_and_duration_offset(transformer, tmp_path):
    y = np.concatenate([tone(3.5, 330.0), noise(3.5, seed=1)])
    path = tmp_path / "clip.wav"
    sf.write(path, y, SR, subtype="FLOAT")
    tr = transformer(output="tags").fit([str(path)])
    np.testing.assert_allclose(tr.transform([path])[0], tr.transform([y])[0], atol=1e-6)
    cropped = transformer(output="tags", offset=3.5, duration=3.0).fit([y])
    np.testing.assert_allclose(cropped.transform([str(path)]), cropped.transform([y]),
                               atol=1e-6)
    np.testing.assert_allclose(cropped.transform([y]),
                               tr.transform([y[int(3.5 * SR):int(6.5 * SR)]]), atol=1e-6)
    # a 2-D array holds one waveform per row
    X = np.stack([tone(1.0), noise(1.0)])
    np.testing.assert_allclose(tr.transform(X), tr.transform(list(X)), atol=1e-6)


def test_cache_hit_skips_the_network(transformer, tmp_path, monkeypatch):
    path = tmp_path / "a.wav"
    sf.write(path, tone(2.0), SR)
    tr = transformer(memory=tmp_path / "cache").fit([str(path)])
    first = tr.transform([str(path)])
    from sklearn_genre.pretrained import transformer as module

    def boom(self, y):
        raise AssertionError("the network ran although the cache holds the clip")
    monkeypatch.setattr(module.MusicnnPlan, "features", boom)
    np.testing.assert_array_equal(tr.transform([str(path)]), first)
    with pytest.raises(AssertionError, match="network ran"):  # other parameters: a miss
        clone(tr).set_params(pooling="max").fit([str(path)]).transform([str(path)])


def test_failure_policy(transformer, tmp_path):
    good = tmp_path / "good.wav"
    sf.write(good, tone(1.0), SR)
    bad = tmp_path / "bad.mp3"
    bad.write_text("not audio")
    with pytest.raises(AudioDecodeError, match="bad.mp3"):
        transformer().fit([str(good)]).transform([str(good), str(bad)])
    tr = transformer(on_error="warn").fit([str(good)])
    with pytest.warns(ExtractionWarning, match="1 of 2 clips failed"):
        out = tr.transform([str(good), str(bad)])
    assert np.isfinite(out[0]).all() and np.isnan(out[1]).all()
    assert [f.index for f in tr.failures_] == [1] and "bad.mp3" in tr.failures_[0].source


def test_parameters_are_validated_in_fit(transformer):
    tr = MusicnnTransformer(output="penultimate")  # __init__ stores, validates nothing
    assert tr.get_params()["output"] == "penultimate"
    with pytest.raises(InvalidParameterError, match="output"):
        tr.fit([tone(1.0)])
    with pytest.raises(InvalidParameterError, match="pooling"):
        transformer(pooling="median").fit([tone(1.0)])
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="no CUDA device"):
            transformer().set_params(device="cuda").fit([tone(1.0)])
    with pytest.raises(TypeError, match="wrap it in a list"):
        transformer().fit("song.mp3")


def test_verbose_progress_bar(transformer, capsys):
    transformer(verbose=1).fit_transform([tone(1.0), noise(1.0)])
    assert "musicnn" in capsys.readouterr().err


def test_missing_weights_say_how_to_fetch(tmp_path):
    with pytest.raises(MusicnnWeightsNotFoundError, match="fetch-weights"):
        MusicnnTransformer(data_home=tmp_path / "empty").fit([tone(1.0)])


def test_pipeline_grid_search_and_cross_val_score(transformer, tmp_path):
    # Files and a feature cache, as a user would: each clip goes through the network once
    # per output, however many folds and candidates reuse it.
    X = []
    for i in range(12):
        y = tone(1.0, 220.0 * (1 + i % 3), seed=i) if i < 6 else noise(1.0, seed=i)
        sf.write(tmp_path / f"{i}.wav", y, SR)
        X.append(str(tmp_path / f"{i}.wav"))
    y = np.array(["tone"] * 6 + ["noise"] * 6)
    cache = tmp_path / "cache"
    for clf in (LogisticRegression(max_iter=1000), SVC()):
        pipe = make_pipeline(transformer(output="tags", memory=cache), StandardScaler(), clf)
        scores = cross_val_score(pipe, X, y, cv=3)
        assert scores.mean() >= 0.8
    search = GridSearchCV(
        make_pipeline(transformer(memory=cache), StandardScaler(),
                      LogisticRegression(max_iter=1000)),
        {"musicnntransformer__output": ["embedding", "tags"], "logisticregression__C": [1.0]},
        cv=2).fit(X, y)
    assert search.best_score_ >= 0.8
    assert search.predict([noise(1.0, seed=99)])[0] == "noise"


def test_pickle_holds_no_network_and_reloads_on_a_cpu_only_machine(transformer, monkeypatch,
                                                                  tmp_path):
    tr = transformer(output="tags", device="auto").fit([tone(1.0)])
    expected = tr.transform([tone(2.0)])
    blob = pickle.dumps(tr)
    assert len(blob) < 20_000  # parameters and tag names only, not 3 MB of weights
    # "Another machine": no network loaded in this process yet, and no CUDA device.
    from sklearn_genre.pretrained import transformer as module

    monkeypatch.setattr(module, "_NETWORKS", {})
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    loaded = []
    real_load = load_musicnn

    def counting_load(*args, **kwargs):
        loaded.append(kwargs.get("device"))
        return real_load(*args, **kwargs)
    monkeypatch.setattr("sklearn_genre.pretrained.musicnn.load_musicnn", counting_load)
    back = pickle.loads(blob)
    np.testing.assert_allclose(back.transform([tone(2.0)]), expected, atol=1e-6)
    assert loaded == ["cpu"]  # reloaded once from the data home, on the CPU
    # unpickled where the weights are not: the first transform says how to get them
    moved = pickle.loads(blob).set_params(data_home=tmp_path / "nothing-here")
    with pytest.raises(MusicnnWeightsNotFoundError, match="fetch-weights"):
        moved.transform([tone(1.0)])


def test_predict_tags_ranks_tags_per_file(musicnn_data_home, tmp_path):
    paths = []
    for name, y in (("a.wav", tone(4.0)), ("b.flac", noise(9.0))):
        sf.write(tmp_path / name, y, 22050 if name == "a.wav" else SR)
        paths.append(str(tmp_path / name))
    table = predict_tags(paths, top_k=3, data_home=musicnn_data_home, device="cpu")
    assert list(table.columns) == ["path", "top1", "p1", "top2", "p2", "top3", "p3"]
    assert list(table["path"]) == paths
    probs = table[["p1", "p2", "p3"]].to_numpy()
    assert (np.diff(probs, axis=1) <= 0).all() and ((probs > 0) & (probs < 1)).all()
    full = predict_tags(paths[:1], top_k=50, data_home=musicnn_data_home, device="cpu")
    ranked = full[[f"top{i}" for i in range(1, 51)]].iloc[0]
    assert ranked.is_unique and list(ranked[:3]) == list(table.loc[0, ["top1", "top2",
                                                                          "top3"]])
    tagger = MusicnnTransformer(output="tags", data_home=musicnn_data_home, device="cpu")
    p = tagger.fit_transform(paths[:1])[0]
    assert full.loc[0, "p1"] == pytest.approx(float(p.max()), abs=1e-6)
    assert full.loc[0, "top1"] == tagger.tags_[int(p.argmax())]

    bad = tmp_path / "bad.mp3"
    bad.write_text("x")
    with pytest.raises(AudioDecodeError, match="bad.mp3"):
        predict_tags([paths[0], str(bad)], data_home=musicnn_data_home, device="cpu")
    with pytest.warns(ExtractionWarning, match="1 of 2 files could not be decoded"):
        partial = predict_tags([paths[0], str(bad)], top_k=2, on_error="record",
                               data_home=musicnn_data_home, device="cpu")
    assert list(partial["error"] == "") == [True, False] and "bad.mp3" in partial.loc[1,
                                                                                      "error"]
    assert partial.loc[1, ["p1", "p2"]].isna().all() and partial.loc[0, "p1"] > 0
    with pytest.raises(ValueError, match="top_k"):
        predict_tags(paths, top_k=0, data_home=musicnn_data_home)


class _TinyMusicnn(torch.nn.Module):
    """Stands in for the network in the common checks: same outputs, shapes and tags."""

    tags = tuple(f"tag{i}" for i in range(50))

    def __init__(self):
        super().__init__()
        gen = torch.Generator().manual_seed(0)
        self.w = {k: torch.randn(96, n, generator=gen) for k, n in (
            ("penultimate", 200), ("taggram", 50), ("mean_pool", 753), ("max_pool", 753))}

    def forward(self, x):
        frames = x.mean(dim=1)  # (n_patches, 96)
        return {k: torch.sigmoid(frames @ w) for k, w in self.w.items()}


# The common checks generate 2-D numeric arrays: one short waveform per row (repeat-padded
# to one 3 s patch), which is the transformer's waveform input; file paths are covered above.
EXPECTED_FAILED_CHECKS = {
    "check_n_features_in_after_fitting": (
        "the output has a fixed width for any waveform length, so a length in transform that "
        "differs from fit is valid input, not a feature-count mismatch"),
    "check_transformer_general": (
        "includes the same length-mismatch expectation as check_n_features_in_after_fitting"),
}


def test_sklearn_estimator_checks(monkeypatch):
    """The common checks test the estimator's conventions (parameters, input validation,
    fitted state, pickling, dtypes, batch invariance), not the network's arithmetic, which
    the tests above check with the real weights. The real network costs about 0.1 s of CPU
    per row, and the checks transform thousands of rows: a small stand-in network keeps them
    fast; everything else (decoding, log-mel, patches, pooling, the engine) is the real code.
    """
    from sklearn_genre.pretrained import transformer as module

    tiny = _TinyMusicnn()
    monkeypatch.setattr(module, "load_cached_musicnn", lambda *a, **k: tiny)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        check_estimator(MusicnnTransformer(device="cpu"),
                        expected_failed_checks=EXPECTED_FAILED_CHECKS)
