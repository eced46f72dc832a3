import warnings

import numpy as np
import pandas as pd
import pytest
import soundfile as sf
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler

from sklearn_genre.audio import AudioDecodeError
from sklearn_genre.inference import (
    TrackPrediction,
    find_feature_transformer,
    predict_track,
    predict_tracks,
    window_starts,
)

SR = 1000  # Hz, small so tests are fast


class WaveFeatures(TransformerMixin, BaseEstimator):
    """Duck-typed waveform transformer: offset, crop/pad to duration, then simple features."""

    def __init__(self, *, sr=SR, duration=1.0, offset=0.0):
        self.sr = sr
        self.duration = duration
        self.offset = offset

    def fit(self, X, y=None):
        self.seen_lengths_ = []
        return self

    def transform(self, X):
        n = int(self.duration * self.sr)
        out = []
        for y in X:
            y = np.asarray(y)[int(self.offset * self.sr) :]
            self.seen_lengths_.append(len(y))
            y = np.pad(y[:n], (0, max(0, n - len(y))))
            zcr = np.mean(np.abs(np.diff(np.sign(y))) > 0)
            out.append([zcr, np.sqrt(np.mean(y**2))])
        return np.array(out)


def tone(freq, seconds, sr=SR):
    t = np.arange(int(seconds * sr)) / sr
    return (0.5 * np.sin(2 * np.pi * freq * t)).astype(np.float32)


@pytest.fixture(scope="module")
def pipeline():
    X = [tone(f, 1.0) for f in (20, 25, 30, 200, 250, 300)]
    y = ["low", "low", "low", "high", "high", "high"]
    return make_pipeline(WaveFeatures(), StandardScaler(), LogisticRegression()).fit(X, y)


def test_window_starts():
    np.testing.assert_array_equal(window_starts(50, 100, 100), [0])  # short: one padded window
    np.testing.assert_array_equal(window_starts(100, 100, 100), [0])
    np.testing.assert_array_equal(window_starts(300, 100, 100), [0, 100, 200])
    np.testing.assert_array_equal(window_starts(350, 100, 100), [0, 100, 200, 250])  # end-aligned
    np.testing.assert_array_equal(window_starts(300, 100, 50), [0, 50, 100, 150, 200])
    with pytest.raises(ValueError, match="positive"):
        window_starts(300, 100, 0)


def test_track_of_several_windows(pipeline):
    track = np.concatenate([tone(25, 3.0), tone(250, 2.0)])
    pred = predict_track(pipeline, track, top_k=2)
    assert isinstance(pred, TrackPrediction)
    assert pred.n_windows == 5 and not pred.padded
    np.testing.assert_allclose(pred.window_starts_s, [0, 1, 2, 3, 4])
    assert pred.duration_s == pytest.approx(5.0) and pred.window_s == 1.0 and pred.hop_s == 1.0
    # windows are exactly the track's seconds, each predicted like a 1 s clip
    windows = [track[i * SR : (i + 1) * SR] for i in range(5)]
    np.testing.assert_allclose(pred.window_probabilities, pipeline.predict_proba(windows))
    low = list(pipeline.classes_).index("low")
    assert (pred.window_probabilities[:3, low] > 0.5).all()
    assert (pred.window_probabilities[3:, low] < 0.5).all()
    np.testing.assert_allclose(pred.probabilities, pred.window_probabilities.mean(axis=0))
    assert pred.top_k[0][0] == "low"
    assert [p for _, p in pred.top_k] == sorted((p for _, p in pred.top_k), reverse=True)
    assert pred.top_k[0][1] == pytest.approx(pred.probabilities[low])
    d = pred.to_dict(include_windows=True)
    assert d["n_windows"] == 5 and len(d["window_probabilities"]) == 5
    assert d["top_k"][0]["genre"] == "low"


def test_hop_tail_and_short_clip(pipeline):
    pred = predict_track(pipeline, tone(25, 3.0), hop=0.5)
    np.testing.assert_allclose(pred.window_starts_s, [0, 0.5, 1, 1.5, 2])
    pred = predict_track(pipeline, tone(25, 2.5))
    np.testing.assert_allclose(pred.window_starts_s, [0, 1, 1.5])  # tail covered
    transformer = pipeline.steps[0][1]
    transformer.seen_lengths_.clear()
    short = tone(250, 0.3)
    with pytest.warns(UserWarning, match="shorter than half"):
        pred = predict_track(pipeline, short)
    assert pred.padded and pred.n_windows == 1 and pred.duration_s == pytest.approx(0.3)
    assert transformer.seen_lengths_ == [SR]  # zero-padded to one full window
    padded = np.r_[short, np.zeros(SR - len(short), dtype=np.float32)]
    np.testing.assert_allclose(pred.window_probabilities, pipeline.predict_proba([padded]))


def test_aggregates_and_top_k(pipeline):
    track = np.concatenate([tone(25, 3.0), tone(250, 2.0)])
    mean = predict_track(pipeline, track, top_k=10)
    assert len(mean.top_k) == 2  # at most n_classes
    geo = predict_track(pipeline, track, aggregate="geometric")
    expected = np.exp(np.log(mean.window_probabilities).mean(axis=0))
    np.testing.assert_allclose(geo.probabilities, expected / expected.sum())
    vote = predict_track(pipeline, track, aggregate="vote")
    low = list(pipeline.classes_).index("low")
    assert vote.probabilities[low] == pytest.approx(3 / 5)
    for kw, match in [
        ({"top_k": 0}, "top_k"),
        ({"aggregate": "max"}, "aggregate"),
        ({"hop": -1.0}, "positive"),
    ]:
        with pytest.raises(ValueError, match=match):
            predict_track(pipeline, track, **kw)
    with pytest.raises(ValueError, match="non-finite"):
        predict_track(pipeline, np.array([0.0, np.nan, 0.0]))


def test_offset_of_training_clips_does_not_shift_windows(pipeline):
    shifted = Pipeline([(n, s) for n, s in pipeline.steps])
    shifted.steps[0] = ("wavefeatures", WaveFeatures(offset=0.5).fit(None))
    track = np.concatenate([tone(25, 2.0), tone(250, 1.0)])
    pred = predict_track(shifted, track)
    np.testing.assert_allclose(
        pred.window_probabilities, predict_track(pipeline, track).window_probabilities
    )
    assert shifted.steps[0][1].offset == 0.5  # the user's pipeline is unchanged


def test_finding_the_transformer(pipeline):
    assert find_feature_transformer(pipeline) is pipeline.steps[0][1]
    with pytest.raises(TypeError, match="Pipeline"):
        predict_track(LogisticRegression(), tone(25, 1.0))
    no_wave = make_pipeline(FunctionTransformer(), LogisticRegression())
    with pytest.raises(ValueError, match="no step of the pipeline takes waveforms"):
        find_feature_transformer(no_wave)
    variable = Pipeline([(n, s) for n, s in pipeline.steps])
    variable.steps[0] = ("w", WaveFeatures(duration=None))
    with pytest.raises(ValueError, match="pass window="):
        predict_track(variable, tone(25, 1.0))


def test_files_and_table(pipeline, tmp_path):
    paths = []
    tracks = [("low.wav", tone(25, 2.0)), ("mix.wav", np.r_[tone(250, 3.0), tone(25, 1.0)])]
    for name, audio in tracks:
        sf.write(tmp_path / name, audio, SR)
        paths.append(str(tmp_path / name))
    pred = predict_track(pipeline, paths[0])
    assert pred.source == paths[0] and pred.n_windows == 2
    table = predict_tracks(pipeline, paths, top_k=2)
    assert list(table.columns) == ["path", "top1", "p1", "top2", "p2", "n_windows", "duration_s",
                                   "error", "error_kind"]
    assert list(predict_tracks(pipeline, paths, on_error="raise").columns)[-1] == "duration_s"
    assert table["top1"].tolist() == ["low", "high"]
    assert table["n_windows"].tolist() == [2, 4]
    np.testing.assert_allclose(table["p1"] + table["p2"], 1.0)

    bad = tmp_path / "bad.mp3"
    bad.write_text("not audio")
    with pytest.raises(AudioDecodeError, match="bad.mp3"):
        predict_tracks(pipeline, [paths[0], str(bad)], on_error="raise")
    # The default keeps every good prediction and lists the bad file with its reason.
    with pytest.warns(UserWarning, match=r"1 of 3 files could not be decoded.*bad.mp3: not "
                      r"audio: the file holds text"):
        table = predict_tracks(pipeline, [paths[0], str(bad), paths[1]])
    assert table["error"].tolist()[0] == "" and "not audio" in table["error"][1]
    assert table["error_kind"].tolist() == ["", "not_audio", ""]
    assert pd.isna(table["p1"][1]) and table["top1"].tolist()[::2] == ["low", "high"]
    with pytest.raises(ValueError, match="on_error"):
        predict_tracks(pipeline, paths, on_error="skip")


def test_with_the_mel_spectrogram_transformer():
    features = pytest.importorskip("sklearn_genre.features")
    mel = features.MelSpectrogramTransformer(
        sr=8000, n_mels=16, n_fft=256, hop_length=128, duration=0.5
    )
    pipe = make_pipeline(
        mel,
        FunctionTransformer(lambda S: S.mean(axis=2)),
        LogisticRegression(max_iter=1000),
    )
    X = [tone(f, 0.5, sr=8000) for f in (200, 250, 300, 2000, 2500, 3000)]
    pipe.fit(X, ["low"] * 3 + ["high"] * 3)
    assert find_feature_transformer(pipe) is mel
    track = np.r_[tone(220, 1.0, sr=8000), tone(2200, 0.7, sr=8000)]
    pred = predict_track(pipe, track)
    np.testing.assert_allclose(pred.window_starts_s, [0, 0.5, 1.0, 1.2])
    windows = [track[s : s + 4000] for s in (0, 4000, 8000, 9600)]
    np.testing.assert_allclose(pred.window_probabilities, pipe.predict_proba(windows))
    assert [pipe.classes_[i] for i in pred.window_probabilities.argmax(1)] == [
        "low",
        "low",
        "high",
        "high",
    ]


def test_hop_longer_than_the_window_is_refused(pipeline):
    # 1 s windows, hop 2.5 s: 1.5 s of every 2.5 s would never be seen.
    with pytest.raises(ValueError, match=r"hop=2.5 s is longer than the window=1 s"):
        predict_track(pipeline, tone(25, 6.0), hop=2.5)
    with pytest.raises(ValueError, match=r"window=2 s is longer than the 1 s clips"):
        predict_track(pipeline, tone(25, 6.0), window=2.0)
    predict_track(pipeline, tone(25, 6.0), hop=1.0)  # hop == window is fine


@pytest.mark.parametrize("seconds", [1.0, 2.5, 3.3, 7.9, 10.0, 30.0])
@pytest.mark.parametrize("hop", [0.3, 0.7, 1.0])
def test_windows_cover_every_sample(seconds, hop):
    n, win, hop_n = int(seconds * SR), SR, int(hop * SR)
    seen = np.zeros(n, bool)
    for s in window_starts(n, win, hop_n):
        seen[s : s + win] = True
    assert seen.all()


def test_short_tracks_are_counted_and_warned_about(pipeline, tmp_path):
    from sklearn_genre.features import ShortClipWarning

    with pytest.warns(ShortClipWarning, match=r"1 of 1 tracks are shorter than half the 1 s "
                      r"window \(shortest 0.2 s"):
        predict_track(pipeline, tone(25, 0.2))
    paths = []
    for name, seconds in [("a.wav", 2.0), ("b.wav", 0.3), ("c.wav", 0.45), ("d.wav", 0.8)]:
        sf.write(tmp_path / name, tone(25, seconds), SR)
        paths.append(str(tmp_path / name))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        predict_tracks(pipeline, paths)
    short = [w.message for w in caught if issubclass(w.category, ShortClipWarning)]
    assert len(short) == 1  # one summary, not one per track or per window
    assert str(short[0]).startswith("2 of 4 tracks are shorter than half the 1 s window "
                                    "(shortest 0.3 s of sound")
    assert [c[1] for c in short[0].clips] == paths[1:3]
