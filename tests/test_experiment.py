"""sklearn_genre.experiment: the train / resume / evaluate workflow as library calls."""

import json
import subprocess
import sys
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pytest
from sklearn.pipeline import Pipeline

from sklearn_genre.checkpointing import TrainingCheckpoint
from sklearn_genre.classifiers import CNNClassifier, CNNGRUAttentionClassifier
from sklearn_genre.cli import main
from sklearn_genre.datasets import load_fma, make_data_source, make_fma_like
from sklearn_genre.experiment import (
    ExperimentError,
    evaluate_run,
    recipe_defaults,
    resume_experiment,
    run_experiment,
    training_options,
    training_params,
)
from sklearn_genre.features import MelSpectrogramTransformer
from sklearn_genre.provenance import read_run_info

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def fma_dir(tmp_path_factory):
    """A synthetic FMA folder: 10 clips x 8 genres of 1 s (64 / 8 / 8, split by artist)."""
    root = tmp_path_factory.mktemp("fma")
    make_fma_like(root, n_per_genre=10, duration=1.0, sr=22050, stereo=False, verbose=False)
    return root


def tiny_pipeline(memory=None, epochs=2, **classifier):
    return Pipeline([
        ("mel", MelSpectrogramTransformer(n_mels=16, duration=1.0, memory=memory, n_jobs=1,
                                          verbose=0)),
        ("classifier", CNNClassifier(max_epochs=epochs, batch_size=8, random_state=0,
                                     verbose=0, **classifier)),
    ])


@pytest.fixture(scope="module")
def python_run(fma_dir, tmp_path_factory):
    """One run of ``run_experiment`` from Python, with a feature cache."""
    out = tmp_path_factory.mktemp("runs")
    cache = tmp_path_factory.mktemp("cache")
    result = run_experiment(tiny_pipeline(memory=str(cache)), load_fma(fma_dir), out=out,
                            name="py")
    return result


def _listing(run_dir):
    return sorted(str(p.relative_to(run_dir)) for p in Path(run_dir).rglob("*"))


def test_python_and_cli_write_the_same_run(python_run, fma_dir, tmp_path):
    """Same data, seed and settings: the same files and metrics from Python and the CLI.

    The Python run reads and fills a feature cache, the CLI run has none: the cache gives
    bit-identical features, so the metrics and predictions are identical too.
    """
    code = main(["-q", "train", "--fma-dir", str(fma_dir), "--model", "cnn", "--n-mels", "16",
                 "--duration", "1.0", "--epochs", "2", "--batch-size", "8", "--no-cache",
                 "--out", str(tmp_path), "--name", "cli"])
    assert code == 0
    cli_dir, py_dir = tmp_path / "cli", python_run.run_dir
    assert _listing(cli_dir) == _listing(py_dir)
    cli_results = json.loads((cli_dir / "results.json").read_text())
    py_results = json.loads((py_dir / "results.json").read_text())
    assert cli_results["metrics"] == py_results["metrics"]
    assert cli_results["confusion_matrix"] == py_results["confusion_matrix"]
    assert cli_results["config"]["training"] == py_results["config"]["training"]
    assert cli_results["config"]["features"] == py_results["config"]["features"]
    pd.testing.assert_frame_equal(pd.read_csv(cli_dir / "predictions.csv"),
                                  pd.read_csv(py_dir / "predictions.csv"))
    assert python_run.metrics == py_results["metrics"]
    assert read_run_info(py_dir)["status"] == "completed"


def test_saved_model_is_portable_and_is_the_evaluated_object(python_run):
    model = python_run.estimator
    mel, clf = model.named_steps["mel"], model.named_steps["classifier"]
    # machine-local settings are not in the shipped model
    assert (mel.memory, mel.n_jobs, mel.verbose) == (None, None, 0)
    assert clf.train_split == "stratified"  # no validation set inside
    assert clf.callbacks is None  # no checkpoint callback pointing into the run directory
    saved = joblib.load(python_run.run_dir / "model.joblib")
    assert saved.get_params(deep=False).keys() == model.get_params(deep=False).keys()
    assert saved.named_steps["mel"].memory is None
    # the config records where the run cached its features
    assert python_run.results["config"]["runtime"]["memory"] is not None


def test_saved_model_reproduces_predictions_in_a_fresh_process(python_run):
    code = (
        "import sys, joblib, pandas as pd\n"
        "run = sys.argv[1]\n"
        "pred = pd.read_csv(run + '/predictions.csv')\n"
        "model = joblib.load(run + '/model.joblib')\n"
        "y = model.predict(pred['path'].tolist())\n"
        "print('same' if list(y) == pred['y_pred'].tolist() else 'different')\n"
    )
    out = subprocess.run([sys.executable, "-c", code, str(python_run.run_dir)],
                         capture_output=True, text=True, cwd=REPO, timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "same"


def test_run_experiment_leaves_the_estimator_unchanged(fma_dir, tmp_path):
    pipe = tiny_pipeline(epochs=1)
    before = pipe.get_params()
    run_experiment(pipe, load_fma(fma_dir), out=tmp_path, name="r", checkpoint=False)
    assert pipe.get_params().keys() == before.keys()
    assert not pipe.named_steps["classifier"].initialized_
    assert not (tmp_path / "r" / "checkpoints").exists()


def test_resume_an_interrupted_run_from_python(fma_dir, tmp_path, monkeypatch):
    def interrupt_in_epoch_3(self, net, **kwargs):
        if len(net.history) == 3:
            raise KeyboardInterrupt

    data = load_fma(fma_dir)
    monkeypatch.setattr(TrainingCheckpoint, "on_batch_end", interrupt_in_epoch_3,
                        raising=False)
    first = run_experiment(tiny_pipeline(epochs=4), data, out=tmp_path, name="res")
    monkeypatch.undo()
    assert first.interrupted and first.n_epochs == 3  # the history holds the stopped epoch
    assert (first.run_dir / "checkpoints" / "last-epoch-0002").is_dir()
    assert read_run_info(first.run_dir)["status"] == "interrupted"

    # a Bunch passed from Python is not reloadable: the data must be given again
    with pytest.raises(ExperimentError, match="pass it again"):
        resume_experiment(first.run_dir)
    result = resume_experiment(first.run_dir, data)
    assert not result.interrupted and result.n_epochs == 4
    info = read_run_info(result.run_dir)
    assert info["status"] == "completed" and info["resumed_from_epoch"] == 2
    assert (result.run_dir / "attempts" / "01-interrupted" / "model.joblib").is_file()
    with pytest.raises(ExperimentError, match="completed run"):
        resume_experiment(result.run_dir, data)


def test_evaluate_run_checks_the_test_set_against_the_run(python_run, fma_dir, tmp_path):
    data = load_fma(fma_dir)
    same = evaluate_run(python_run.run_dir, data, out=tmp_path / "official")
    assert same.metrics == python_run.metrics
    assert same.results["leakage"]["status"] == "clean"
    with pytest.warns(UserWarning):
        other = evaluate_run(python_run.run_dir, data, split="random", out=tmp_path / "random")
    # the random split's test tracks include tracks and artists the run trained on
    assert other.results["leakage"]["status"] == "leak (warned)"
    assert read_run_info(other.run_dir)["status"] == "completed"


def test_make_data_source_splits(fma_dir):
    data = load_fma(fma_dir)
    official = make_data_source(data)
    assert (len(official.train), len(official.valid), len(official.test)) == (64, 8, 8)
    assert official.protocol == "fma-official (artist-filtered)"
    given = make_data_source(data, (np.arange(0, 60), [], np.arange(60, 80)))
    assert given.protocol == "predefined" and len(given.valid) == 0
    same = make_data_source(data, {"train": official.train, "valid": official.valid,
                                   "test": official.test})
    assert np.array_equal(same.test, official.test)
    with pytest.raises(ValueError, match="share"):
        make_data_source(data, (np.arange(0, 60), [], np.arange(50, 80)))
    data.split = None
    with pytest.raises(ValueError, match="no predefined split"):
        make_data_source(data, "official")


def test_recipe_defaults_are_the_classifiers(capsys):
    defaults = recipe_defaults()
    clf = CNNGRUAttentionClassifier()
    assert defaults == training_options(clf)
    assert training_params(**defaults)["max_epochs"] == clf.max_epochs
    with pytest.raises(ValueError, match="unknown training options"):
        training_params(epoch=3)
    # the command line's help texts show them
    assert main(["train", "--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    assert f"maximum epochs (default: {defaults['epochs']})" in text
    assert f"batch size (default: {defaults['batch_size']})" in text
    assert f"early stopping patience in epochs (default: {defaults['patience']})" in text
    assert main(["compare", "--help"]) == 0
    assert "maximum epochs (default: 20)" in " ".join(capsys.readouterr().out.split())


def test_evaluate_folder_scores_every_file_and_lists_other_genres(python_run, fma_dir,
                                                                  tmp_path):
    from sklearn_genre.experiment import evaluate_folder

    data = load_fma(fma_dir)
    test = np.flatnonzero(np.asarray(data.split) == "test")
    folder = tmp_path / "mine"
    genres = np.asarray(data.target)
    kept = [i for i in test if genres[i] in ("Rock", "Folk")]
    for i in kept + [test[0]]:
        genre = genres[i] if i in kept else "Polka"
        (folder / genre).mkdir(parents=True, exist_ok=True)
        src = Path(data.paths[i])
        (folder / genre / src.name).write_bytes(src.read_bytes())
    result = evaluate_folder(python_run.run_dir, folder, out=tmp_path / "ev")
    outside = result.results["outside"]
    assert outside.n_items == len(kept) + 1 and outside.n_scored == len(kept)
    assert outside.unknown_labels == {"Polka": 1}
    assert len(outside.missing_labels) == 6
    assert result.metrics["n_test"] == len(kept)
    assert result.metrics["intervals"]["resampled"] == "clips"
    assert (result.run_dir / "unscored.csv").is_file()
    # no shared file or content; a plain folder has no artists, so that part is unchecked
    assert result.results["leakage"]["status"] == "unchecked-groups"


def test_run_and_evaluate_report_intervals_over_artists(python_run):
    m = python_run.metrics
    assert m["intervals"]["resampled"] == "groups" and m["intervals"]["unit"] == "artists"
    assert m["accuracy_ci95"][0] <= m["accuracy"] <= m["accuracy_ci95"][1]


def test_unavailable_device_fails_before_a_run_directory_exists(fma_dir, tmp_path):
    """Issue 14: no half-written run directory for a device the machine lacks."""
    from sklearn_genre.classifiers import DeviceUnavailableError

    with pytest.raises(DeviceUnavailableError, match="device='cuda:99'"):
        run_experiment(tiny_pipeline(device="cuda:99"), load_fma(fma_dir), out=tmp_path / "runs")
    assert not (tmp_path / "runs").exists()


def test_a_run_without_a_model_is_refused_with_its_story(tmp_path):
    from sklearn_genre.experiment import load_run_model
    from sklearn_genre.provenance import MissingModelError, RunInfo

    run_dir = tmp_path / "killed-early"
    run_dir.mkdir()
    with pytest.raises(KeyboardInterrupt):
        with RunInfo(run_dir, command=["x"]):
            raise KeyboardInterrupt
    with pytest.raises(MissingModelError, match="interrupted before a model was saved") as info:
        load_run_model(run_dir)
    assert "delete the folder" in info.value.hint
    with pytest.raises(MissingModelError):
        evaluate_run(run_dir)


@pytest.mark.filterwarnings("ignore::sklearn_genre.exceptions.SmallValidationWarning")
def test_internal_validation_split_holds_out_whole_artists(fma_dir, tmp_path, monkeypatch):
    # With no validation part in the split, the classifier's own validation split takes
    # whole artists (the data's groups), as the outer split does.
    from sklearn_genre.valid_split import StratifiedValidSplit

    seen = []
    original = StratifiedValidSplit.__call__

    def spy(self, dataset, y=None, groups=None):
        train, valid = original(self, dataset, y, groups)
        seen.append((groups, np.asarray(valid.indices)))
        return train, valid

    monkeypatch.setattr(StratifiedValidSplit, "__call__", spy)
    data = load_fma(fma_dir)
    split = np.asarray(data.split)
    train = np.flatnonzero(split != "test")
    test = np.flatnonzero(split == "test")
    result = run_experiment(tiny_pipeline(epochs=1, valid_size=0.2), data, out=tmp_path,
                            name="g", split=(train, [], test))
    (groups, valid), = seen
    artists = np.asarray(data.artist_ids)[train].astype(str)
    assert groups is not None and list(groups) == list(artists)
    held = set(artists[valid])
    assert held and not held & set(np.delete(artists, valid))
    assert result.results["metrics"]["n_test"] == len(test)
    # in a pipeline, as docs/concepts.md shows
    seen.clear()
    tiny_pipeline(epochs=1, valid_size=0.2).fit(
        list(np.asarray(data.paths)[train]), np.asarray(data.target)[train],
        classifier__groups=artists)
    assert list(seen[0][0]) == list(artists)
