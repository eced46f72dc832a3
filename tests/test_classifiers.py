"""Tests for sklearn_genre.classifiers on tiny synthetic spectrograms (16 mels x 64 frames)."""

import json
import pickle
import subprocess
import sys
import textwrap
import warnings

import joblib
import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.utils.estimator_checks import parametrize_with_checks
from skorch.callbacks import Callback, Checkpoint, EarlyStopping, LoadInitState
from skorch.dataset import Dataset
from skorch.helper import predefined_split

from sklearn_genre.callbacks import LabelScoring, PrintLog, TimeLimit
from sklearn_genre.classifiers import (
    CNNClassifier,
    CNNGRUAttentionClassifier,
    CNNGRUClassifier,
    GRUClassifier,
)
from sklearn_genre.valid_split import (
    SmallValidationWarning,
    StratifiedValidSplit,
    ValidationSplitError,
    check_validation_size,
)

N_MELS, N_FRAMES = 16, 64
SMALL = {"channels": (8, 8, 16)}
QUICK = dict(max_epochs=3, verbose=0, random_state=0, lr=3e-3)


def make_data(n=60, labels=("jazz", "rock"), seed=0, n_frames=N_FRAMES, dtype=np.float32):
    """Two classes: 'rock' has a loud band 2-5 and a 4-frame rhythm, 'jazz' does not."""
    rng = np.random.default_rng(seed)
    y = np.array([labels[i % len(labels)] for i in range(n)])
    X = rng.normal(-50.0, 6.0, size=(n, N_MELS, n_frames))
    loud = y == labels[-1]
    X[loud, 2:6, :] += 20.0
    X[loud, :, ::4] += 10.0
    return X.astype(dtype), y


def small(cls, **kwargs):
    module = {} if cls is GRUClassifier else {f"module__{k}": v for k, v in SMALL.items()}
    return cls(**{**QUICK, **module, **kwargs})


@pytest.fixture(scope="module")
def data():
    return make_data()


@pytest.fixture(scope="module")
def fitted(data):
    X, y = data
    return small(CNNGRUAttentionClassifier).fit(X, y)


# ----------------------------------------------------------------- sklearn checks
# Checks run on GRUClassifier (all four share one base class; on the checks' 2-D
# data, (n_samples, n_features) = one frame of n_features mel bands, the GRU is the
# quickest), with the default internal validation split and early stopping (the
# checks' small data sets must not crash it: StratifiedValidSplit holds out one
# clip per class). On the CPU, because on CUDA batch-wise and whole-set
# predictions differ in the last bits (check_methods_subset_invariance).
# Skipped, inherent to skorch's NeuralNet:
# - check_no_attributes_set_in_init: skorch's __init__ sets history_,
#   initialized_ and virtual_params_, and stores double-underscore parameters
#   (optimizer__weight_decay, ...) that are not in the signature.
CHECK_ESTIMATOR = GRUClassifier(
    max_epochs=5, lr=0.03, batch_size=32, verbose=0, random_state=0, device="cpu",
    module__gru_hidden=8, module__gru_layers=1,
)
EXPECTED_FAILED = {
    "check_no_attributes_set_in_init": "skorch's __init__ sets history_, initialized_, "
    "virtual_params_ and stores dunder parameters",
}


@parametrize_with_checks([CHECK_ESTIMATOR], expected_failed_checks=lambda est: EXPECTED_FAILED)
def test_sklearn_estimator_checks(estimator, check):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        check(estimator)


# ----------------------------------------------------------------- fit / predict
@pytest.mark.parametrize(
    "cls", [CNNClassifier, GRUClassifier, CNNGRUClassifier, CNNGRUAttentionClassifier]
)
def test_learns_two_synthetic_classes(cls):
    X, y = make_data(80, seed=1)
    X_test, y_test = make_data(40, seed=2)
    clf = small(cls, max_epochs=6, lr=5e-3, module__pooling="mean") if cls is CNNGRUClassifier \
        else small(cls, max_epochs=6, lr=5e-3)
    clf.fit(X, y)
    assert clf.score(X_test, y_test) >= 0.85


def test_string_labels_and_proba_columns(fitted, data):
    X, y = data
    assert list(fitted.classes_) == ["jazz", "rock"]
    pred = fitted.predict(X)
    assert pred.dtype.kind == "U" and set(pred) <= {"jazz", "rock"}
    proba = fitted.predict_proba(X)
    assert proba.shape == (len(X), 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-5)
    np.testing.assert_array_equal(fitted.classes_[proba.argmax(axis=1)], pred)
    assert fitted.score(X, y) == np.mean(pred == y)
    assert fitted.n_features_in_ == N_MELS


def test_integer_labels_keep_their_values():
    X, y = make_data(40, labels=(3, 7))
    clf = small(CNNClassifier).fit(X, y)
    np.testing.assert_array_equal(clf.classes_, [3, 7])
    assert set(clf.predict(X)) <= {3, 7}


def test_variable_number_of_frames_at_predict(fitted):
    for n_frames in (1, 5, 9, 200):
        X, _ = make_data(6, n_frames=n_frames)
        assert fitted.predict_proba(X).shape == (6, 2)


def test_float16_input(data):
    X, y = data
    X16 = X.astype(np.float16)
    clf16 = small(CNNGRUAttentionClassifier).fit(X16, y)
    clf32 = small(CNNGRUAttentionClassifier).fit(X16.astype(np.float32), y)
    # float16 storage is cast per batch: identical to training on the rounded values
    np.testing.assert_allclose(clf16.predict_proba(X16), clf32.predict_proba(X16), atol=1e-6)


def test_random_state_reproducible_and_global_rng_untouched(data):
    X, y = data
    torch.manual_seed(123)
    before = torch.get_rng_state()
    a = small(CNNGRUAttentionClassifier, random_state=5).fit(X, y)
    assert torch.equal(torch.get_rng_state(), before)
    b = small(CNNGRUAttentionClassifier, random_state=5).fit(X, y)
    np.testing.assert_array_equal(a.predict_proba(X), b.predict_proba(X))
    assert a.history[:, "train_loss"] == b.history[:, "train_loss"]
    c = small(CNNGRUAttentionClassifier, random_state=6).fit(X, y)
    assert a.history[:, "train_loss"] != c.history[:, "train_loss"]


def test_history_contents(fitted):
    history = fitted.history
    assert len(history) == 3
    for key in ("train_loss", "train_acc", "valid_loss", "valid_acc", "lr", "dur"):
        values = history[:, key]
        assert len(values) == 3 and all(np.isfinite(values))
    assert history[:, "lr"][0] == pytest.approx(3e-3)


def test_lr_is_reduced_on_plateau_and_early_stopping_stops():
    # Constant inputs: validation accuracy cannot improve, a plateau from epoch 2.
    X = np.full((40, N_MELS, 16), -30.0, dtype=np.float32)
    y = np.array(["a", "b"] * 20)
    clf = small(CNNClassifier, max_epochs=4, callbacks__lr_scheduler__patience=0,
                callbacks__early_stopping=None).fit(X, y)
    np.testing.assert_allclose(clf.history[:, "lr"], [3e-3, 3e-3, 3e-4, 3e-5])
    stopped = small(CNNClassifier, max_epochs=10, callbacks__early_stopping__patience=2).fit(X, y)
    assert len(stopped.history) == 3


def test_attention_weights(fitted, data):
    X, _ = data
    weights = fitted.predict_attention(X[:5])
    assert weights.shape == (5, 8)
    np.testing.assert_allclose(weights.sum(axis=1), 1.0, rtol=1e-5)
    assert fitted.predict_attention(X[:2, :, :20]).shape == (2, 3)
    times = CNNGRUAttentionClassifier.attention_times(1292)
    assert times.shape == (162, 2)
    np.testing.assert_allclose(times[1], [8 * 512 / 22050, 16 * 512 / 22050])
    assert times[-1, 1] == pytest.approx(1292 * 512 / 22050)


# ------------------------------------------------------------------- parameters
def test_defaults_match_the_reference_recipe():
    clf = CNNGRUAttentionClassifier()
    params = clf.get_params()
    assert params["lr"] == 1e-3 and params["batch_size"] == 16 and params["max_epochs"] == 60
    assert params["optimizer"] is torch.optim.AdamW
    assert params["optimizer__weight_decay"] == 0.03
    assert params["optimizer__betas"] == (0.9, 0.999)
    assert params["criterion"] is torch.nn.CrossEntropyLoss
    assert params["iterator_train__shuffle"] is True
    assert params["callbacks__early_stopping__patience"] == 10
    assert params["callbacks__early_stopping__monitor"] == "valid_loss"
    assert params["callbacks__early_stopping__lower_is_better"] is True
    assert params["callbacks__early_stopping__load_best"] is True
    assert params["callbacks__lr_scheduler__patience"] == 5
    assert params["callbacks__lr_scheduler__min_lr"] == 1e-6
    assert params["callbacks__lr_scheduler__mode"] == "min"
    assert params["callbacks__lr_scheduler__monitor"] == "valid_loss"
    assert params["device"] == "auto"


def test_clone_and_get_params_round_trip():
    clf = CNNGRUAttentionClassifier(lr=0.01, module__gru_hidden=8, noise_std=0.2,
                                    callbacks__early_stopping__patience=3)
    cloned = clone(clf)
    assert cloned.get_params(deep=False).keys() == clf.get_params(deep=False).keys()
    for key, value in clf.get_params(deep=False).items():
        assert cloned.get_params(deep=False)[key] == value, key
    assert cloned.get_params()["callbacks__early_stopping__patience"] == 3


def test_nested_set_params_reach_the_components(data):
    X, y = data
    clf = small(CNNGRUAttentionClassifier, max_epochs=1)
    clf.set_params(callbacks__early_stopping__patience=2, callbacks__lr_scheduler__patience=1,
                   optimizer__betas=(0.8, 0.95), optimizer__weight_decay=0.1,
                   module__dropout=0.45, module__gru_hidden=12, batch_size=8)
    clf.fit(X, y)
    callbacks = dict(clf.callbacks_)
    assert callbacks["early_stopping"].patience == 2
    assert callbacks["lr_scheduler"].patience == 1
    group = clf.optimizer_.param_groups[0]
    assert group["betas"] == (0.8, 0.95) and group["weight_decay"] == 0.1
    assert clf.module_.dropout.p == 0.45 and clf.module_.gru.hidden_size == 12
    clf.set_params(beta2=0.9).fit(X, y)
    assert clf.optimizer_.param_groups[0]["betas"] == (0.8, 0.9)


def test_augmentation_parameters_reach_the_module(data):
    X, y = data
    clf = small(CNNClassifier, max_epochs=1, noise_std=0.3, shift_max=0.2, augment_p=0.7)
    aug = clf.fit(X, y).module_.augment
    assert (aug.noise_std, aug.shift_max, aug.p) == (0.3, 0.2, 0.7)
    off = small(CNNClassifier, max_epochs=1, augment=False).fit(X, y).module_.augment
    assert off.noise_std == 0 and off.shift_max == 0
    with pytest.raises(ValueError, match="module__noise_std"):
        small(CNNClassifier, module__noise_std=0.1).fit(X, y)


def test_grid_search_over_batch_size_and_lr(data):
    X, y = data
    search = GridSearchCV(small(CNNClassifier, max_epochs=2),
                          {"batch_size": [8, 16], "lr": [1e-3, 1e-2]}, cv=2)
    search.fit(X, y)
    assert len(search.cv_results_["params"]) == 4
    assert search.best_estimator_.predict(X).shape == (len(X),)


def test_cross_val_score(data):
    X, y = data
    scores = cross_val_score(small(CNNClassifier, max_epochs=4, lr=5e-3), X, y, cv=3)
    assert scores.shape == (3,) and scores.mean() > 0.7


# ------------------------------------------------------------------- validation
def test_predefined_validation_split(data):
    X, y = data
    X_valid, y_valid = make_data(12, seed=9)
    clf = small(CNNClassifier, train_split=predefined_split(Dataset(X_valid, y_valid)))
    clf.fit(X, y)
    batches = clf.history[-1, "batches"]
    assert sum(b["valid_batch_size"] for b in batches if "valid_batch_size" in b) == 12
    assert sum(b["train_batch_size"] for b in batches if "train_batch_size" in b) == len(X)
    wrong_labels = Dataset(X_valid, np.array(["pop"] * 12))
    bad = small(CNNClassifier, train_split=predefined_split(wrong_labels))
    with pytest.raises(ValueError, match="pop"):
        bad.fit(X, y)


def test_default_split_holds_out_a_stratified_tenth(data):
    X, y = data
    clf = small(CNNClassifier, max_epochs=1).fit(X, y)
    batches = clf.history[-1, "batches"]
    assert sum(b.get("valid_batch_size", 0) for b in batches) == 6


def test_tiny_data_holds_out_one_clip_per_class_and_warns():
    # 3 classes x 3 clips: skorch's ValidSplit(0.1) failed with "The test_size = 1 should
    # be greater or equal to the number of classes = 3"
    X, y = make_data(n=9, labels=("a", "b", "c"))
    with pytest.warns(SmallValidationWarning, match=r"3 clips \(3 classes; fewest in 'a': 1\)"):
        clf = small(CNNClassifier, max_epochs=1).fit(X, y)
    batches = clf.history[-1, "batches"]
    assert sum(b.get("valid_batch_size", 0) for b in batches) == 3
    assert sum(b.get("train_batch_size", 0) for b in batches) == 6


def test_pipeline_on_three_genres_of_three_clips(make_audio):
    # the repro: skorch's split crashed inside Pipeline.fit on 3 x 3 clips
    from sklearn.pipeline import Pipeline

    from sklearn_genre.features import MelSpectrogramTransformer

    paths, y = [], []
    for kind in ("tone", "noise", "drums"):
        for k in range(3):
            paths.append(str(make_audio(f"{kind}{k}.wav", kind, sr=8000, duration=0.5,
                                        seed=k, freq=220.0 * (k + 1))))
            y.append(kind)
    pipe = Pipeline([
        ("mel", MelSpectrogramTransformer(sr=8000, n_mels=16, n_fft=256, hop_length=128,
                                          duration=0.5)),
        ("clf", CNNGRUAttentionClassifier(max_epochs=1, verbose=0, random_state=0)),
    ])
    with pytest.warns(SmallValidationWarning, match="3 clips"):
        pipe.fit(paths, y)
    assert set(pipe.predict(paths)) <= {"tone", "noise", "drums"}


def test_a_class_with_one_clip_is_a_clear_error():
    X, y = make_data(n=8, labels=("a", "b", "c"))  # a: 3, b: 3, c: 2 clips
    X, y = X[:-1], y[:-1]
    y[-1] = "d"                                     # a, b, c: 2 clips, d: 1
    message = r"single training clip \(\['d'\]\)\. .*train_split=None"
    with pytest.raises(ValidationSplitError, match=message):
        small(CNNClassifier, max_epochs=1).fit(X, y)
    clf = small(CNNClassifier, max_epochs=1, train_split=None, callbacks__early_stopping=None,
                callbacks__lr_scheduler=None).fit(X, y)
    assert set(clf.predict(X)) <= set("abcd")


def test_stratified_valid_split_keeps_rare_classes_on_both_sides():
    y = np.repeat([0, 1, 2], [100, 2, 3])
    train, valid = StratifiedValidSplit(0.1, random_state=0)(np.zeros(len(y)), y)
    y_train, y_valid = y[train.indices], y[valid.indices]
    assert np.bincount(y_valid).tolist() == [10, 1, 1]
    assert np.bincount(y_train).tolist() == [90, 1, 2]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert not check_validation_size(np.repeat([0, 1, 2, 3, 4, 5], 5))
    with pytest.warns(SmallValidationWarning, match="12 clips"):
        assert check_validation_size(y_valid)


def test_stratified_valid_split_with_groups_holds_out_whole_groups():
    # 3 classes; 6, 4 and 2 tracks of 5 clips each
    y = np.repeat([0, 1, 2], [30, 20, 10])
    groups = np.array([f"t{i // 5}" for i in range(60)])
    for seed in range(5):
        train, valid = StratifiedValidSplit(0.2, random_state=seed)(np.zeros(60), y, groups)
        tr, va = np.asarray(train.indices), np.asarray(valid.indices)
        assert len(tr) + len(va) == 60
        assert not set(groups[tr]) & set(groups[va])  # no track on both sides
        assert set(y[va]) == set(y[tr]) == {0, 1, 2}  # every class on both sides
        assert len(va) % 5 == 0 and 10 <= len(va) <= 20  # whole tracks, ~20 %
    # without groups the same call splits clips and shares tracks
    train, valid = StratifiedValidSplit(0.2, random_state=0)(np.zeros(60), y)
    assert set(groups[np.asarray(train.indices)]) & set(groups[np.asarray(valid.indices)])


def test_stratified_valid_split_with_groups_explains_what_cannot_be_split():
    y = np.repeat([0, 1], [10, 10])
    one_track = np.array(["a"] * 5 + ["b"] * 5 + ["c"] * 10)  # class 1: one track
    with pytest.raises(ValidationSplitError, match=r"all their training clips in one group"):
        StratifiedValidSplit(0.2, random_state=0, labels=np.array(["jazz", "rock"]))(
            np.zeros(20), y, one_track)
    with pytest.raises(ValueError, match="groups has 3 items"):
        StratifiedValidSplit(0.2)(np.zeros(20), y, ["a", "b", "c"])


@pytest.mark.filterwarnings("ignore::sklearn_genre.exceptions.SmallValidationWarning")
def test_fit_with_groups_validates_on_unseen_groups(data, monkeypatch):
    X, y = data
    groups = np.array([f"track{i // 3}" for i in range(len(y))])  # 3 clips per track
    seen = []
    original = StratifiedValidSplit.__call__

    def spy(self, dataset, y=None, groups=None):
        train, valid = original(self, dataset, y, groups)
        seen.append((groups, np.asarray(train.indices), np.asarray(valid.indices)))
        return train, valid

    monkeypatch.setattr(StratifiedValidSplit, "__call__", spy)
    clf = small(CNNClassifier, max_epochs=1, valid_size=0.2).fit(X, y, groups=groups)
    (got, tr, va), = seen
    assert got is not None and list(got) == list(groups)
    assert not set(groups[tr]) & set(groups[va]) and len(va) >= 6
    assert not hasattr(clf, "_split_groups")  # not fitted state; not pickled
    seen.clear()
    small(CNNClassifier, max_epochs=1).fit(X, y)
    assert seen[0][0] is None
    with pytest.raises(ValueError, match="one entry per clip"):
        small(CNNClassifier, max_epochs=1).fit(X, y, groups=groups[:-1])


def test_early_stopping_keeps_the_epoch_with_the_lowest_validation_loss(data):
    # with a 6-clip validation set the accuracy ties across epochs; selecting on it kept
    # epoch 1. The loss breaks such ties: the restored epoch is the loss minimum.
    X, y = data
    with pytest.warns(SmallValidationWarning):
        clf = small(CNNClassifier, max_epochs=4, lr=1e-4).fit(X, y)
    losses = clf.history[:, "valid_loss"]
    best = int(np.argmin(losses))
    assert clf.history[:, "valid_loss_best"][best] is True
    stopper = dict(clf.callbacks_)["early_stopping"]
    assert stopper.best_epoch_ == best + 1
    assert stopper.dynamic_threshold_ == pytest.approx(losses[best], rel=1e-3)


def test_no_split_needs_callbacks_off(data):
    X, y = data
    with pytest.raises(ValueError, match="train_split=None"):
        small(CNNClassifier, train_split=None).fit(X, y)
    clf = small(CNNClassifier, train_split=None, callbacks__early_stopping=None,
                callbacks__lr_scheduler=None).fit(X, y)
    assert "valid_acc" not in clf.history[-1]


@pytest.mark.parametrize(
    "X, message",
    [
        (np.zeros((4, 2, 3, 5)), "n_frames"),
        (np.full((4, N_MELS, 8), np.nan), "NaN"),
        (np.zeros((4, N_MELS, 8), dtype=complex), "Complex"),
    ],
)
def test_bad_input_is_rejected(X, message):
    with pytest.raises(ValueError, match=message):
        small(CNNClassifier).fit(X, ["a", "b"] * 2)


def test_bad_parameters_name_the_parameter(data):
    X, y = data
    with pytest.raises(ValueError, match="'lr'"):
        small(CNNClassifier, lr=-1.0).fit(X, y)
    with pytest.raises(ValueError, match="'train_split'"):
        small(CNNClassifier, train_split="random").fit(X, y)


def test_predict_checks(fitted):
    with pytest.raises(NotFittedError):
        CNNClassifier().predict(np.zeros((2, N_MELS, 8)))
    with pytest.raises(ValueError, match="expecting 16 features"):
        fitted.predict(np.zeros((2, N_MELS + 1, 8)))


def test_two_d_input_is_one_frame():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 6)).astype(np.float32)
    y = np.where(X[:, 0] > 0, "up", "down")
    clf = small(GRUClassifier).fit(X, y)
    np.testing.assert_array_equal(clf.predict(X), clf.predict(X[:, :, None]))


# ------------------------------------------------------------------ persistence
def test_device_auto_is_resolved_but_kept(fitted):
    assert fitted.device == "auto"
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert next(fitted.module_.parameters()).device.type == expected


def test_pickle_and_joblib_round_trip_in_fresh_process(fitted, data, tmp_path):
    X, _ = data
    np.save(tmp_path / "X.npy", X)
    np.save(tmp_path / "expected.npy", fitted.predict_proba(X))
    with open(tmp_path / "model.pkl", "wb") as f:
        pickle.dump(fitted, f)
    joblib.dump(fitted, tmp_path / "model.joblib")
    script = textwrap.dedent(
        """
        import pickle, sys, joblib, numpy as np, torch
        d = sys.argv[1]
        torch.set_num_threads(int(sys.argv[2]))  # same reduction order as the parent
        X = np.load(d + "/X.npy"); expected = np.load(d + "/expected.npy")
        with open(d + "/model.pkl", "rb") as f:
            a = pickle.load(f)
        b = joblib.load(d + "/model.joblib")
        for model in (a, b):
            assert model.device == "auto", model.device
            np.testing.assert_array_equal(model.predict_proba(X), expected)
            assert list(model.classes_) == ["jazz", "rock"]
        print("ok")
        """
    )
    result = subprocess.run([sys.executable, "-c", script, str(tmp_path),
                             str(torch.get_num_threads())],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


def test_model_saved_for_cuda_loads_on_cpu(fitted, data):
    # A net pickled with device="cuda" (as after GPU training) maps its tensors
    # to the CPU when unpickled without CUDA (skorch's map_location logic).
    if torch.cuda.is_available():
        pytest.skip("needs a machine without CUDA")
    X, _ = data
    # callbacks (EarlyStopping's best weights) are mapped like the module
    assert "callbacks_" in fitted.cuda_dependent_attributes_
    clf = pickle.loads(pickle.dumps(fitted))
    clf.device = "cuda"
    payload = pickle.dumps(clf)
    with pytest.warns(UserWarning, match="(?i)cuda"):
        loaded = pickle.loads(payload)
    assert torch.device(loaded.device).type == "cpu"
    np.testing.assert_array_equal(loaded.predict_proba(X), fitted.predict_proba(X))


class _InterruptAt(Callback):
    def __init__(self, epoch):
        self.epoch = epoch

    def on_epoch_end(self, net, **kwargs):
        if len(net.history) == self.epoch:
            raise KeyboardInterrupt


def test_keyboard_interrupt_leaves_usable_model(data):
    X, y = data
    clf = small(CNNClassifier, max_epochs=5, callbacks=[_InterruptAt(2)]).fit(X, y)
    assert clf.interrupted_ is True and len(clf.history) == 2
    assert clf.predict(X).shape == (len(X),)
    assert small(CNNClassifier, max_epochs=1).fit(X, y).interrupted_ is False


def test_checkpoint_and_resume(data, tmp_path):
    X, y = data
    checkpoint = Checkpoint(dirname=str(tmp_path), monitor=None)
    first = small(CNNGRUAttentionClassifier, max_epochs=2, callbacks=[checkpoint]).fit(X, y)
    resumed = small(CNNGRUAttentionClassifier, max_epochs=1,
                    callbacks=[Checkpoint(dirname=str(tmp_path), monitor=None),
                               LoadInitState(Checkpoint(dirname=str(tmp_path), monitor=None))])
    resumed.fit(X, y)
    assert len(resumed.history) == 3
    assert resumed.history[:2, "train_loss"] == first.history[:, "train_loss"]
    np.testing.assert_array_equal(resumed.module_.standardize.mean.numpy(),
                                  first.module_.standardize.mean.numpy())


def test_warm_start_continues_training(data):
    X, y = data
    clf = small(CNNClassifier, max_epochs=1, warm_start=True).fit(X, y)
    clf.fit(X, y)
    assert len(clf.history) == 2


def test_extra_label_scoring_callback(data):
    X, y = data
    clf = small(CNNClassifier, callbacks=[
        ("valid_f1", LabelScoring("f1_macro", name="valid_f1", lower_is_better=False)),
        ("stop_on_loss", EarlyStopping(monitor="valid_loss", patience=50)),
    ]).fit(X, y)
    assert 0.0 <= clf.history[-1, "valid_f1"] <= 1.0


def test_amp_without_cuda_warns(data):
    if torch.cuda.is_available():
        pytest.skip("needs a machine without CUDA")
    X, y = data
    with pytest.warns(UserWarning, match="amp"):
        small(CNNClassifier, max_epochs=1, amp=True).fit(X, y)


# ---------------------------------------------------------------- with features
@pytest.mark.slow
def test_pickled_pipeline_with_features_in_fresh_process(make_audio, tmp_path):
    from sklearn.pipeline import Pipeline

    from sklearn_genre.features import MelSpectrogramTransformer

    kinds = ["tone", "noise"]
    paths = [make_audio(f"train/{i}.wav", kinds[i % 2], seed=i, freq=220.0 + 20 * i)
             for i in range(16)]
    y = np.array(kinds * 8)
    new = [str(make_audio(f"new/{i}.wav", kinds[i % 2], seed=100 + i)) for i in range(4)]
    pipe = Pipeline([
        ("mel", MelSpectrogramTransformer(n_mels=16, n_fft=512, hop_length=256, duration=1.0)),
        ("clf", small(CNNGRUAttentionClassifier, max_epochs=2)),
    ]).fit([str(p) for p in paths], y)
    expected = pipe.predict_proba(new)
    np.save(tmp_path / "expected.npy", expected)
    with open(tmp_path / "pipe.pkl", "wb") as f:
        pickle.dump(pipe, f)
    joblib.dump(pipe, tmp_path / "pipe.joblib")
    script = textwrap.dedent(
        """
        import json, pickle, sys, joblib, numpy as np, torch
        d, threads, new = sys.argv[1], int(sys.argv[2]), json.loads(sys.argv[3])
        torch.set_num_threads(threads)
        expected = np.load(d + "/expected.npy")
        with open(d + "/pipe.pkl", "rb") as f:
            a = pickle.load(f)
        b = joblib.load(d + "/pipe.joblib")
        for pipe in (a, b):
            np.testing.assert_array_equal(pipe.predict_proba(new), expected)
            assert set(pipe.predict(new)) <= {"tone", "noise"}
        print("ok")
        """
    )
    result = subprocess.run([sys.executable, "-c", script, str(tmp_path),
                             str(torch.get_num_threads()), json.dumps(new)],
                            capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


def test_planned_stops_are_not_interruptions(data):
    # EarlyStopping and TimeLimit end fit with KeyboardInterrupt too; only Ctrl-C counts.
    X, y = data
    early = small(CNNClassifier, max_epochs=8, lr=1e-12, callbacks__early_stopping__patience=1)
    early.fit(X, y)
    assert len(early.history) < 8 and early.interrupted_ is False
    timed = small(CNNClassifier, max_epochs=5, callbacks=[("time_limit", TimeLimit(0.0))])
    timed.fit(X, y)
    assert len(timed.history) == 1 and timed.interrupted_ is False


def test_epoch_table_is_coloured_only_on_a_terminal(data, capsys, monkeypatch):
    X, y = data
    monkeypatch.delenv("NO_COLOR", raising=False)
    small(CNNClassifier, max_epochs=2, verbose=1).fit(X, y)
    plain = capsys.readouterr().out
    assert "train_loss" in plain and "\x1b[" not in plain  # captured stdout is no terminal

    monkeypatch.setattr(sys.stdout, "isatty", lambda: True, raising=False)
    small(CNNClassifier, max_epochs=2, verbose=1).fit(X, y)
    assert "\x1b[" in capsys.readouterr().out
    monkeypatch.setenv("NO_COLOR", "1")
    small(CNNClassifier, max_epochs=2, verbose=1).fit(X, y)
    assert "\x1b[" not in capsys.readouterr().out
    assert isinstance(dict(small(CNNClassifier).get_default_callbacks())["print_log"], PrintLog)


# --------------------------------------------------------------- devices (issue 14)
@pytest.mark.parametrize("device", ["cuda", "cuda:3", "mps", "gpu0", "xpu"])
def test_unavailable_device_fails_in_fit_before_touching_data(device, monkeypatch):
    from sklearn_genre.classifiers import DeviceUnavailableError

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    if hasattr(torch.backends, "mps"):
        monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    if hasattr(torch, "xpu"):
        monkeypatch.setattr(torch.xpu, "is_available", lambda: False)
    # X is not even an array: the device is checked before any data conversion.
    with pytest.raises(DeviceUnavailableError, match=rf"device='{device}'.*available on "
                       r"this machine: cpu$") as info:
        small(CNNClassifier, device=device).fit(object(), ["a", "b"])
    assert info.value.available == ["cpu"]
    assert not isinstance(info.value, AssertionError)


def test_cuda_index_past_the_last_gpu(monkeypatch):
    from sklearn_genre.classifiers import DeviceUnavailableError, check_device

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda i: "Fake GPU")
    with pytest.raises(DeviceUnavailableError,
                       match=r"device='cuda:3'.*only 1 CUDA device \(indices 0 to 0\).*"
                       r"cpu, cuda:0 \(Fake GPU\)"):
        check_device("cuda:3")
    assert check_device("cuda:0") == "cuda:0"
    assert check_device("auto") == "cuda"


def test_auto_device_is_recorded_and_said(data, capsys):
    X, y = data
    clf = small(CNNClassifier, max_epochs=1, verbose=1).fit(X, y)
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert clf.device_ == expected and clf.device == "auto"
    assert f"device='auto': training on {expected}" in capsys.readouterr().out
    assert small(CNNClassifier, max_epochs=1, device="cpu").fit(X, y).device_ == "cpu"


# ------------------------------------------------------------ input shapes (issue 14)
def test_flattened_spectrograms_are_refused_with_the_expected_shape():
    X, y = make_data(n=20)
    flat = X.reshape(len(X), -1)[:, :600]  # (20, 600): 600 "mel bands" of one frame
    with pytest.raises(ValueError, match=r"shape \(20, 600\).*\(n_samples, n_mels, n_frames\)"):
        small(CNNClassifier).fit(flat, y)
    # 2-D input with a plausible number of bands still means one-frame spectrograms.
    small(CNNClassifier, max_epochs=1).fit(X[:, :, 0], y)


def test_implausibly_many_mel_bands_warn_and_suggest_transposing():
    X, y = make_data(n=20)
    transposed = np.ascontiguousarray(np.repeat(X, 40, axis=2).transpose(0, 2, 1))
    assert transposed.shape[1] > 512
    with pytest.warns(UserWarning, match=r"2560 mel bands.*transpose\(0, 2, 1\)") as record:
        small(CNNClassifier, max_epochs=1).fit(transposed, y)
    assert record[0].filename == __file__


# ------------------------------------------------------------- epoch table (issue 14)
def test_epoch_table_shows_the_epoch_that_stopped_training(data, capsys):
    X, y = data
    clf = small(CNNClassifier, max_epochs=40, verbose=1, lr=1e-9,
                callbacks__early_stopping__patience=2).fit(X, y)
    out = capsys.readouterr().out
    n = len(clf.history)
    assert n < 40  # early stopping ended it
    rows = [line.split() for line in out.splitlines() if line.strip()[:1].isdigit()]
    assert [int(r[0]) for r in rows] == list(range(1, n + 1))


def test_epoch_table_has_a_time_estimate(data, capsys):
    X, y = data
    clf = small(CNNClassifier, max_epochs=3, verbose=1,
                callbacks__early_stopping=None).fit(X, y)
    lines = capsys.readouterr().out.splitlines()
    first = next(line for line in lines if line.startswith("first epoch:"))
    assert "all 3 epochs would take" in first and "upper bound" in first
    header = next(line for line in lines if "epoch" in line and "dur" in line)
    assert header.split()[-2:] == ["dur", "eta"]
    rows = [line.split() for line in lines if line.strip()[:1].isdigit()]
    durs = clf.history[:, "dur"]
    # eta = mean epoch duration so far x epochs left, as m:ss
    for i, row in enumerate(rows[:2]):
        minutes, seconds = row[-1].split(":")
        expected = np.mean(durs[: i + 1]) * (3 - i - 1)
        assert abs(int(minutes) * 60 + int(seconds) - expected) <= 1
    assert rows[2][-1] == "0:00"
    assert clf.fit_epochs_ == 3


def test_epoch_table_without_eta(data, capsys):
    X, y = data
    small(CNNClassifier, max_epochs=1, verbose=1, callbacks__print_log__eta=False).fit(X, y)
    out = capsys.readouterr().out
    assert "eta" not in out and "first epoch" not in out


def test_format_seconds():
    from sklearn_genre.callbacks import format_seconds

    assert format_seconds(59.6) == "1:00"
    assert format_seconds(3725) == "1:02:05"
