"""Experiments: fit, save, evaluate and record a model on a split data set, from Python.

:func:`run_experiment` is what ``sklearn-genre train`` runs, callable from a notebook::

    from sklearn.pipeline import Pipeline
    from sklearn_genre import (CNNGRUAttentionClassifier, MelSpectrogramTransformer,
                               make_fma_like, run_experiment)

    data = make_fma_like("fma_like", n_per_genre=10, duration=1.0)
    pipe = Pipeline([("mel", MelSpectrogramTransformer(n_mels=16, duration=1.0)),
                     ("classifier", CNNGRUAttentionClassifier(max_epochs=2))])
    result = run_experiment(pipe, data, out="runs", split="official")
    result.metrics["accuracy"], result.run_dir, result.estimator.predict(paths)

In order, it

1. splits the data (:func:`~sklearn_genre.datasets.make_data_source`: FMA's official
   split, a random split or your index arrays) and writes ``split.csv``;
2. checks the training + validation tracks against the test tracks for shared files, audio
   and artists (:func:`~sklearn_genre.leakage.check_leakage`, ``on_leak``);
3. computes the features of the training and validation tracks once with the pipeline's
   feature steps (all steps but the last; a ``MelSpectrogramTransformer(memory=DIR)`` reads
   and fills its cache), then fits the final step on them, with the validation tracks as
   the predefined validation set of a skorch classifier (early stopping, learning-rate
   schedule), the training state checkpointed after every epoch (``checkpoints/``);
4. makes the fitted pipeline portable (no cache folder, ``n_jobs`` or progress bars in the
   feature steps, no validation set, checkpoint callbacks or time limit in the classifier),
   saves it as ``model.joblib`` and evaluates *that object* on the test tracks (with the
   run's cache, which gives bit-identical features), writing the report, figures,
   ``predictions.csv``, ``history.json`` and ``results.json``;
5. records everything in ``run_info.json`` (status, config, versions).

Ctrl-C during training stops after the current batch: the best validation epoch so far is
restored, saved and evaluated, ``run_info.json`` says ``interrupted`` and
:func:`resume_experiment` continues the run from its last completed epoch.

:func:`evaluate_run` scores a saved run on a data set (with the leakage check against the
run's ``split.csv``), :func:`run_comparison` and :func:`run_search` are ``compare`` and
``search``.

Messages
    Status lines ("leakage check: clean", "training ... on 64 clips") go to the
    :mod:`logging` logger ``"sklearn_genre"`` (children ``sklearn_genre.experiment``,
    ``sklearn_genre.datasets.source``) at level INFO, problems at WARNING; Python warnings
    (:class:`~sklearn_genre.leakage.LeakageWarning`, dataset warnings) are issued as usual.
    In a notebook, ``logging.basicConfig(level=logging.INFO)`` shows them; the command line
    attaches its own handler. Progress bars and epoch tables are the estimators' own
    (``verbose`` of the transformer and of the classifier).
"""

from __future__ import annotations

import dataclasses
import logging
import os
import shutil
import signal
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .datasets.source import DataSource, load_data_source, make_data_source
from .exceptions import ExperimentError

__all__ = [
    "ATTEMPTS_DIRNAME",
    "CHECKPOINT_DIRNAME",
    "MODEL_FILENAME",
    "RUNTIME_PARAMS",
    "TRAINING_OPTIONS",
    "ExperimentError",
    "ExperimentResult",
    "evaluate_folder",
    "evaluate_run",
    "fit_final_step",
    "load_run_model",
    "recipe_defaults",
    "resume_experiment",
    "run_comparison",
    "run_experiment",
    "run_search",
    "training_options",
    "training_params",
]

logger = logging.getLogger(__name__)

MODEL_FILENAME = "model.joblib"
CHECKPOINT_DIRNAME = "checkpoints"
ATTEMPTS_DIRNAME = "attempts"
#: The unfitted estimator of a run (inside ``checkpoints/``), what a resume fits again.
ESTIMATOR_FILENAME = "estimator.joblib"

#: Names of the training recipe's options (the command line's flags, the ``"training"`` entry
#: of a run's config) and the classifier parameter each one is. The values' defaults are the
#: classifiers' own (:func:`recipe_defaults`).
TRAINING_OPTIONS = {
    "epochs": "max_epochs",
    "batch_size": "batch_size",
    "lr": "lr",
    "weight_decay": "optimizer__weight_decay",
    "patience": "callbacks__early_stopping__patience",
    "augment": "augment",
    "device": "device",
    "seed": "random_state",
}

#: Parameters of feature steps that are settings of the machine that runs, not of the model:
#: used while a run computes features, reset (to None, None, 0) in the saved model.
RUNTIME_PARAMS = {"memory": None, "n_jobs": None, "verbose": 0}

# Files of a run directory that a resumed attempt keeps in place (everything else that the
# interrupted attempt wrote moves to attempts/).
_KEPT_ON_RESUME = {CHECKPOINT_DIRNAME, ATTEMPTS_DIRNAME, "run_info.json"}


# ----------------------------------------------------------------------------- recipe


def recipe_defaults(model="cnn_gru_attn"):
    """The training recipe's default options, read from the classifier's own defaults.

    Parameters
    ----------
    model : str, default="cnn_gru_attn"
        Short name of a classifier (:data:`sklearn_genre.selection.MODELS`).

    Returns
    -------
    defaults : dict
        ``{option: value}`` for every key of :data:`TRAINING_OPTIONS` (``epochs``,
        ``batch_size``, ``lr``, ``weight_decay``, ``patience``, ``augment``, ``device``,
        ``seed``).
    """
    from .selection import make_model

    return training_options(make_model(model))


def training_params(**options):
    """Classifier parameters of training options.

    Parameters
    ----------
    **options
        Keys of :data:`TRAINING_OPTIONS` (``epochs=20, lr=1e-3, seed=0`` ...).

    Returns
    -------
    params : dict
        ``{"max_epochs": 20, "lr": 1e-3, "random_state": 0, ...}`` for the classifier's
        constructor or ``set_params``.
    """
    unknown = set(options) - set(TRAINING_OPTIONS)
    if unknown:
        raise ValueError(f"unknown training options {sorted(unknown)}; expected some of "
                         f"{sorted(TRAINING_OPTIONS)}")
    return {TRAINING_OPTIONS[k]: v for k, v in options.items()}


def training_options(classifier):
    """The training options of a classifier (the inverse of :func:`training_params`).

    Parameters
    ----------
    classifier : estimator
        A classifier of :mod:`sklearn_genre.classifiers` (any estimator: options it does not
        have are left out).

    Returns
    -------
    options : dict
        ``{"epochs": ..., "batch_size": ..., ...}``.
    """
    params = classifier.get_params()
    return {k: params[p] for k, p in TRAINING_OPTIONS.items() if p in params}


# ----------------------------------------------------------------------------- result


@dataclass
class ExperimentResult:
    """What :func:`run_experiment`, :func:`resume_experiment` and :func:`evaluate_run` return.

    Attributes
    ----------
    estimator : estimator
        The fitted (or, for :func:`evaluate_run`, loaded) model: the object that was saved
        and evaluated.
    results : dict
        What ``results.json`` holds (metrics, config, leakage, files ...), plus
        ``"evaluation"``, the :class:`~sklearn_genre.evaluation.EvaluationResult`.
    run_dir : pathlib.Path
        The run (or evaluation) directory.
    interrupted : bool, default=False
        Training was stopped by Ctrl-C; the best epoch so far was saved and evaluated.
    n_epochs : int or None, default=None
        Epochs in the classifier's history.
    fit_seconds : float or None, default=None
        Wall time of the fit.
    """

    estimator: object
    results: dict
    run_dir: Path
    interrupted: bool = False
    n_epochs: int | None = None
    fit_seconds: float | None = None

    @property
    def metrics(self):
        """``results["metrics"]``: ``n_test``, ``accuracy``, ``balanced_accuracy``, ``macro_f1``."""
        return self.results["metrics"]


# ----------------------------------------------------------------------------- Ctrl-C


@contextmanager
def _sigint_flag():
    """Record whether SIGINT arrived (the handler still raises KeyboardInterrupt)."""
    state = {"interrupted": False}
    try:
        previous = signal.getsignal(signal.SIGINT)
    except ValueError:  # not the main thread
        yield state
        return

    def handler(signum, frame):
        state["interrupted"] = True
        if callable(previous) and previous not in (signal.SIG_IGN, signal.SIG_DFL):
            previous(signum, frame)
        raise KeyboardInterrupt

    try:
        signal.signal(signal.SIGINT, handler)
    except ValueError:
        yield state
        return
    try:
        yield state
    finally:
        signal.signal(signal.SIGINT, previous)


@contextmanager
def _deferred_sigint():
    """Hold back Ctrl-C while a file is being written; re-raise it afterwards."""
    pending = []
    try:
        previous = signal.signal(signal.SIGINT, lambda s, f: pending.append(s))
    except ValueError:  # not the main thread
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if pending:
        raise KeyboardInterrupt


def fit_final_step(estimator, X, y, **fit_params):
    """Fit ``estimator``; Ctrl-C ends training, not the program.

    skorch catches ``KeyboardInterrupt`` inside ``fit`` and returns normally with the epochs
    done so far (our classifiers restore the best validation epoch and set
    ``interrupted_``); a SIGINT handler flag catches the same case for other estimators.

    Parameters
    ----------
    estimator : estimator
        Unfitted.
    X : array-like of shape (n_samples, ...)
        Training input (features, or paths for an estimator that takes them).
    y : array-like of shape (n_samples,)
        Genres.
    **fit_params
        Passed to ``fit`` (e.g. ``epochs`` for a resumed skorch fit).

    Returns
    -------
    interrupted : bool
        Whether Ctrl-C ended the fit.
    seconds : float
        Wall time.
    """
    start = time.perf_counter()
    with _sigint_flag() as state:
        estimator.fit(X, y, **fit_params)
    interrupted = state["interrupted"] or bool(getattr(estimator, "interrupted_", False))
    return interrupted, time.perf_counter() - start


# ----------------------------------------------------------------------------- estimator parts


def _parts(estimator):
    """``(feature steps as a Pipeline or None, final step)`` sharing ``estimator``'s objects."""
    from sklearn.pipeline import Pipeline

    if isinstance(estimator, Pipeline) and len(estimator.steps) > 1:
        return estimator[:-1], estimator.steps[-1][1]
    if isinstance(estimator, Pipeline):
        return None, estimator.steps[-1][1]
    return None, estimator


def _feature_steps(estimator):
    features, _ = _parts(estimator)
    if features is None:
        return []
    return [step for _, step in features.steps if hasattr(step, "get_params")]


def _set_runtime(estimator, settings):
    """Set run-time settings on the feature steps that have them; return the previous ones."""
    previous = []
    for step in _feature_steps(estimator):
        params = step.get_params(deep=False)
        own = {k: v for k, v in settings.items() if k in params}
        previous.append((step, {k: params[k] for k in own}))
        if own:
            step.set_params(**own)
    return previous


def _restore(previous):
    for step, params in previous:
        if params:
            step.set_params(**params)


@contextmanager
def _runtime(estimator, settings):
    """``settings`` on the feature steps inside, the previous values afterwards."""
    previous = _set_runtime(estimator, settings)
    try:
        yield
    finally:
        _restore(previous)


def _model_name(classifier):
    from .selection import MODELS

    for name, cls in MODELS.items():
        if type(classifier) is cls:
            return name
    return type(classifier).__name__


def _feature_config(estimator):
    """Parameters of the feature transformer (without run-time settings), or None."""
    steps = _feature_steps(estimator)
    if not steps:
        return None
    params = steps[0].get_params(deep=False)
    return {k: v for k, v in params.items() if k not in RUNTIME_PARAMS}


def _runtime_config(estimator):
    out = {}
    for step in _feature_steps(estimator):
        params = step.get_params(deep=False)
        out.update({k: params[k] for k in ("memory", "n_jobs") if k in params})
    return {k: (os.fspath(v) if isinstance(v, os.PathLike) else v) for k, v in out.items()}


def load_run_model(run_dir):
    """The fitted model saved in a run directory (``model.joblib``).

    Parameters
    ----------
    run_dir : str or path-like
        A run directory of :func:`run_experiment` or ``sklearn-genre train``.

    Returns
    -------
    model : estimator
        Loaded with :func:`sklearn_genre.persistence.load_model`.

    Raises
    ------
    FileNotFoundError
        No such directory.
    sklearn_genre.provenance.MissingModelError
        (a ``FileNotFoundError``) The run holds no model: the message says why (failed,
        interrupted, killed, still running; from its ``run_info.json``) and ``hint`` whether
        it can be resumed.
    sklearn_genre.persistence.ModelLoadError
        A corrupt, foreign or incompatible model file.
    """
    from .persistence import load_model

    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise FileNotFoundError(f"run directory not found: {run_dir}")
    path = run_dir / MODEL_FILENAME
    if not path.is_file():
        from .provenance import MissingModelError, explain_missing_model

        message, hint = explain_missing_model(run_dir, MODEL_FILENAME)
        raise MissingModelError(run_dir, message, hint)
    return load_model(path)


# ----------------------------------------------------------------------------- run


def run_experiment(estimator, data, *, out="runs", split="official", name=None,
                   overwrite=False, on_leak="warn", checkpoint=True, time_limit=None,
                   config=None, command=None):
    """Fit, save and evaluate ``estimator`` on a split data set, writing a run directory.

    Parameters
    ----------
    estimator : Pipeline or estimator
        Usually ``Pipeline([("mel", MelSpectrogramTransformer(...)), ("classifier",
        CNNGRUAttentionClassifier(...))])``: all steps but the last turn audio paths into
        features (computed once for training + validation), the last one is fitted on them.
        Any other estimator is fitted on the training paths directly. It is cloned; the
        argument is left unchanged. The feature steps' ``memory``, ``n_jobs`` and ``verbose``
        are used during the run and reset in the saved model (:data:`RUNTIME_PARAMS`).
    data : Bunch or DataSource
        A data set (``load_fma``, ``load_audio_folder``, ``make_fma_like``,
        ``load_default_dataset``) or an already split
        :class:`~sklearn_genre.datasets.DataSource`.
    out : str or path-like, default="runs"
        Parent folder of the run directory.
    split : "official", "random", tuple or dict, default="official"
        How to split a Bunch (see :func:`~sklearn_genre.datasets.make_data_source`).
    name : str, default=None
        Run directory name; None: ``run-<timestamp>``.
    overwrite : bool, default=False
        Replace an existing run directory of that name.
    on_leak : {"warn", "raise", "ignore"}, default="warn"
        When training and test tracks share files, audio or artists
        (:func:`~sklearn_genre.leakage.check_leakage`; always recorded).
    checkpoint : bool, default=True
        Save the training state after every epoch in ``checkpoints/`` (skorch classifiers),
        so an interrupted run can be resumed.
    time_limit : float, default=None
        Training time budget in seconds (:class:`~sklearn_genre.callbacks.TimeLimit`, for
        skorch classifiers); None: no limit.
    config : dict, default=None
        More entries for the recorded config.
    command : list of str, default=None
        The command line to record (default: ``sys.argv``).

    Returns
    -------
    result : ExperimentResult

    Raises
    ------
    sklearn_genre.leakage.LeakageError
        With ``on_leak="raise"`` when the test tracks overlap the training tracks (the run
        directory then records ``failed``).
    """
    from sklearn.base import clone

    from .provenance import make_run_dir

    _check_device(estimator)
    source = make_data_source(data, split)
    estimator = clone(estimator)
    run_dir = make_run_dir(out, name, overwrite=overwrite)
    logger.info(f"run directory: {run_dir}")
    return _run(estimator, source, run_dir, on_leak=on_leak, checkpoint=checkpoint,
                time_limit=time_limit, extra_config=config, command=command)


def _check_device(estimator):
    """Refuse a torch device this machine lacks before any work and before a run directory
    exists (:func:`sklearn_genre.classifiers.check_device`)."""
    _, final = _parts(estimator)
    if hasattr(final, "device") and hasattr(final, "initialize_module"):  # a skorch net
        from .classifiers import check_device

        check_device(final.device)


def _checkpoint_dir(run_dir):
    return Path(run_dir) / CHECKPOINT_DIRNAME


def _save_unfitted(estimator, run_dir):
    """Keep the unfitted estimator in ``checkpoints/`` for a resume."""
    import pickle

    import joblib

    from .atomic import atomic_write

    path = _checkpoint_dir(run_dir) / ESTIMATOR_FILENAME
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        with atomic_write(path, "wb") as f:
            joblib.dump(estimator, f)
    except (pickle.PicklingError, TypeError, AttributeError) as exc:
        logger.warning(f"the estimator cannot be pickled ({exc}); this run cannot be resumed")


def _run(estimator, source, run_dir, *, on_leak, checkpoint, time_limit, extra_config,
         command, resume_from=None, run_fields=None):
    """The experiment (see :func:`run_experiment`) into an existing ``run_dir``."""
    from .leakage import check_leakage
    from .provenance import RunInfo, device_info, write_json_atomic
    from .report import write_report

    run_dir = Path(run_dir)
    features, final = _parts(estimator)
    skorch_like = all(hasattr(final, a) for a in ("train_split", "callbacks", "history"))
    runtime = _runtime_config(estimator)
    config = {
        "model": _model_name(final),
        "training": training_options(final) if skorch_like else None,
        "features": _feature_config(estimator),
        "data": source.spec,
        "split_protocol": source.protocol,
        "n_train": len(source.train),
        "n_valid": len(source.valid),
        "n_test": len(source.test),
        "runtime": runtime,
        **({"time_limit": time_limit} if time_limit is not None else {}),
        **(extra_config or {}),
    }
    with RunInfo(run_dir, command=command, config=config) as run:
        if run_fields:
            run.update(**run_fields)
        if resume_from is None and checkpoint and skorch_like:
            with _runtime(estimator, RUNTIME_PARAMS):
                _save_unfitted(estimator, run_dir)
        source.split_table().to_csv(run_dir / "split.csv", index=False)
        leakage = check_leakage(source.items(np.r_[source.train, source.valid]),
                                source.items(source.test), protocol=source.protocol,
                                on_leak=on_leak)
        (logger.info if not leakage.leaked else logger.warning)(
            "leakage check: " + leakage.summary())
        fingerprint = source.fingerprint()

        interrupted, seconds = _fit(estimator, source, run_dir, checkpoint=checkpoint,
                                    time_limit=time_limit, resume_from=resume_from,
                                    skorch_like=skorch_like)
        history = getattr(final, "history", None) if skorch_like else None
        n_epochs = len(history) if history is not None else None

        # The shipped model: no machine-local settings. Saved, then evaluated as it is (with
        # the run's cache and workers, which give the same features).
        run_settings = _set_runtime(estimator, RUNTIME_PARAMS)
        with _deferred_sigint():
            from .persistence import save_model

            model_path = run_dir / MODEL_FILENAME
            save_model(estimator, model_path)
        status = "interrupted" if interrupted else "finished"
        epochs = f" after {n_epochs} epochs" if n_epochs is not None else ""
        logger.info(f"training {status}{epochs} in {seconds:.0f} s; model saved: {model_path}")
        if history is not None:
            write_json_atomic(run_dir / "history.json", history.to_list())

        _restore(run_settings)
        try:
            results = write_report(
                run_dir,
                estimator=estimator,
                X_test=list(source.paths[source.test]),
                y_test=source.y[source.test],
                split_protocol=source.protocol,
                leakage_report=leakage,
                config=config,
                data_fingerprint=fingerprint,
                **_test_groups(source, source.test),
                extra={
                    "interrupted": interrupted,
                    "fit_seconds": seconds,
                    "device": device_info(),
                    "device_used": getattr(_parts(estimator)[1], "device_", None),
                    "model_file": MODEL_FILENAME,
                },
            )
        finally:
            _set_runtime(estimator, RUNTIME_PARAMS)
        run.update(n_epochs=n_epochs, accuracy=results["metrics"]["accuracy"])
        if interrupted:
            run.mark_interrupted(
                f"training interrupted by the user after {n_epochs} epochs; the model of the "
                "best validation epoch so far was saved and evaluated",
            )
    results["interrupted"] = interrupted
    results["run_dir"] = run_dir
    return ExperimentResult(estimator=estimator, results=results, run_dir=run_dir,
                            interrupted=interrupted, n_epochs=n_epochs, fit_seconds=seconds)


def _fit(estimator, source, run_dir, *, checkpoint, time_limit, resume_from, skorch_like):
    """Features once, then the final step; the temporary fit settings are undone after."""
    features, final = _parts(estimator)
    fit_rows = np.r_[source.train, source.valid]
    if features is None:
        logger.info(f"training {type(final).__name__} on {len(source.train)} paths")
        return fit_final_step(estimator, list(source.paths[source.train]),
                              source.y[source.train])

    start = time.perf_counter()
    X_all = features.fit_transform(list(source.paths[fit_rows]))
    memory = _runtime_config(estimator).get("memory")
    logger.info(
        f"features: {X_all.shape[0]} clips -> array {X_all.shape[1:]} in "
        f"{time.perf_counter() - start:.1f} s" + (f"; cache: {memory}" if memory else "")
    )
    n_train = len(source.train)
    X_train, X_valid = X_all[:n_train], X_all[n_train:]
    y_train, y_valid = source.y[source.train], source.y[source.valid]
    if not skorch_like:
        logger.info(f"training {type(final).__name__} on {len(y_train)} clips")
        return fit_final_step(final, X_train, y_train)

    from skorch.dataset import Dataset
    from skorch.helper import predefined_split

    from .callbacks import TimeLimit

    temporary = {}
    if len(source.valid):
        temporary["train_split"] = predefined_split(Dataset(X_valid, np.asarray(y_valid)))
    own = []
    if checkpoint or resume_from is not None:
        from .checkpointing import ResumeFromCheckpoint, TrainingCheckpoint

        cp = TrainingCheckpoint(_checkpoint_dir(run_dir))
        own.append(("checkpoint", cp))
        if resume_from is not None:
            own.append(("resume", ResumeFromCheckpoint(cp, required=True)))
    user_callbacks = final.get_params(deep=False)["callbacks"]
    if own or time_limit is not None:
        # the checkpoint first among the extra callbacks: an epoch ended by a later one is
        # still saved
        temporary["callbacks"] = [*own, *(user_callbacks or []),
                                  *([("time_limit", TimeLimit(time_limit))]
                                    if time_limit is not None else [])]
    original = {k: final.get_params(deep=False)[k] for k in temporary}
    final.set_params(**temporary)
    fit_params = {}
    epochs = final.get_params()["max_epochs"]
    if resume_from is not None:
        fit_params["epochs"] = epochs - resume_from
    internal = f"stratified {getattr(final, 'valid_size', 0.1):.0%} of training"
    groups = getattr(source, "groups", None)
    if groups is None:
        groups = getattr(source, "artist_ids", None)
    if not len(source.valid) and groups is not None and _splits_by_groups(final):
        train_groups = np.asarray(groups, dtype=object)[source.train]
        if all(g is not None and g == g for g in train_groups):  # g == g: not NaN
            # the internal validation split holds out whole groups (no track or artist on
            # both sides of it), as the outer split does
            fit_params["groups"] = train_groups.astype(str)
            internal += ", whole groups"
    logger.info(
        f"training {type(final).__name__} on {len(y_train)} clips (validation: "
        f"{len(source.valid) or internal}), up to {epochs} epochs"
        + (f", resuming after epoch {resume_from} ({fit_params['epochs']} left)"
           if resume_from is not None else "")
        + "; Ctrl-C stops and keeps the best epoch"
        + ("; a time estimate follows the first epoch" if getattr(final, "verbose", 0) else "")
    )
    try:
        return fit_final_step(final, X_train, y_train, **fit_params)
    finally:
        del X_all, X_train, X_valid
        # The validation set (~530 MB on FMA small), the checkpoint folder and the time
        # limit belong to this run, not to the model: the user's settings come back.
        final.set_params(**original)


def _splits_by_groups(final):
    """Whether ``final`` is one of our classifiers with its own group-aware internal split."""
    from .classifiers import _SpectrogramClassifier

    return (isinstance(final, _SpectrogramClassifier)
            and isinstance(final.train_split, str) and final.train_split == "stratified")


# ----------------------------------------------------------------------------- resume


def _archive_attempt(run_dir, info):
    """Move the previous attempt's outputs to ``attempts/NN-<status>/`` (nothing is lost)."""
    base = run_dir / ATTEMPTS_DIRNAME
    base.mkdir(exist_ok=True)
    n = 1 + sum(1 for p in base.iterdir() if p.is_dir())
    target = base / f"{n:02d}-{info.get('status', 'unknown')}"
    target.mkdir()
    shutil.copy2(run_dir / "run_info.json", target / "run_info.json")
    for entry in sorted(run_dir.iterdir()):
        if entry.name not in _KEPT_ON_RESUME:
            shutil.move(entry, target / entry.name)
    return target


def _source_from_split_table(data, table, protocol, spec):
    """The recorded roles of ``split.csv`` applied to ``data`` (matched by path)."""
    paths = np.asarray(data.paths, dtype=object).astype(str)
    where = {p: i for i, p in enumerate(paths)}
    missing = [p for p in table["path"].astype(str) if p not in where]
    if missing:
        raise ExperimentError(f"{len(missing)} tracks of the run's split.csv are not in the "
                              f"data, e.g. {missing[0]}")
    rows = {role: np.array([where[p] for p in table.loc[table["role"] == role, "path"]],
                           dtype=np.int64) for role in ("train", "valid", "test")}
    source = make_data_source(data, (rows["train"], rows["valid"], rows["test"]), spec=spec)
    source.protocol = protocol
    return source


def resume_experiment(run_dir, data=None, *, runtime=None, on_leak="warn", command=None):
    """Continue an interrupted, killed or failed run from its last completed epoch.

    The run's unfitted estimator (``checkpoints/estimator.joblib``) is fitted again from the
    last checkpoint (optimizer, learning-rate schedule, early stopping, history and random
    state restored) for the epochs that are left, on the run's own split, then saved and
    evaluated as by :func:`run_experiment`. The interrupted attempt's files (model, report,
    history) move to ``run_dir/attempts/NN-<status>/`` with a copy of its ``run_info.json``;
    ``run_info.json`` then lists the attempts and ``resumed_from_epoch``.

    Parameters
    ----------
    run_dir : str or path-like
        A run directory of :func:`run_experiment` whose status is ``interrupted``,
        ``failed``, or ``running`` with its process gone.
    data : Bunch or DataSource, default=None
        The data set; None: loaded again from the run's recorded data spec (runs on a data
        set named by a spec, as the command line's). A Bunch is split as the run's
        ``split.csv`` says.
    runtime : dict, default=None
        Run-time settings of the feature steps for this attempt (``{"memory": DIR or None,
        "n_jobs": 4, "verbose": 0}``); None: those the run was started with.
    on_leak : {"warn", "raise", "ignore"}, default="warn"
    command : list of str, default=None
        The command line to record.

    Returns
    -------
    result : ExperimentResult

    Raises
    ------
    ExperimentError
        A completed run, one still running, one without a complete checkpoint or estimator,
        or a run on a data set passed as a Bunch when ``data`` is None.
    """
    import joblib
    import pandas as pd

    from .checkpointing import TrainingCheckpoint
    from .provenance import read_run_info

    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise FileNotFoundError(f"run directory not found: {run_dir}")
    info = read_run_info(run_dir)
    status = info.get("status")
    if status == "completed":
        raise ExperimentError(f"{run_dir} is a completed run; there is nothing to resume")
    if status == "running" and not info.get("stale"):
        raise ExperimentError(f"{run_dir} is recorded as running (process {info.get('pid')} "
                              f"on {info.get('host')}); resume it once that process has ended")
    config = info.get("config") or {}
    estimator_path = _checkpoint_dir(run_dir) / ESTIMATOR_FILENAME
    if not estimator_path.is_file() or "data" not in config:
        raise ExperimentError(f"{run_dir} records no resumable estimator ({estimator_path}): "
                              "it was not written by run_experiment with checkpoint=True")
    estimator = joblib.load(estimator_path)
    _, final = _parts(estimator)
    epochs = final.get_params()["max_epochs"]
    last = TrainingCheckpoint(_checkpoint_dir(run_dir)).latest()
    if last is None:
        raise ExperimentError(f"nothing to resume: {_checkpoint_dir(run_dir)} holds no "
                              "complete checkpoint (the run stopped before its first epoch "
                              "ended)")
    if last.epoch >= epochs:
        raise ExperimentError(f"nothing to resume: the checkpoint {last.path} has all "
                              f"{epochs} epochs")
    logger.info(f"resuming {run_dir} ({status}{', killed' if info.get('stale') else ''}) "
                f"after epoch {last.epoch} of {epochs}")

    spec = config["data"]
    if data is None:
        if spec.get("kind") not in ("fma", "folder", "synthetic"):
            raise ExperimentError(f"{run_dir} was run on a data set passed in from Python; "
                                  "pass it again: resume_experiment(run_dir, data)")
        source = load_data_source(spec)
    elif isinstance(data, DataSource):
        source = data
    else:
        table = pd.read_csv(run_dir / "split.csv")
        source = _source_from_split_table(data, table, config.get("split_protocol", "given"),
                                          spec)
    settings = dict(config.get("runtime") or {})
    settings.update(runtime or {})
    _set_runtime(estimator, settings)
    if runtime and "verbose" in runtime and "verbose" in final.get_params(deep=False):
        final.set_params(verbose=runtime["verbose"])
    attempt = _archive_attempt(run_dir, info)
    logger.info(f"files of the {status} attempt moved to {attempt}")
    previous = [*(info.get("attempts") or []),
                {"status": status, "message": info.get("message"),
                 "started_at": info.get("started_at"), "finished_at": info.get("finished_at"),
                 "n_epochs": info.get("n_epochs"), "files": str(attempt)}]
    standard = {"model", "training", "features", "data", "split_protocol", "n_train",
                "n_valid", "n_test", "runtime", "time_limit"}
    return _run(estimator, source, run_dir, on_leak=on_leak, checkpoint=True,
                time_limit=config.get("time_limit"),
                extra_config={k: v for k, v in config.items() if k not in standard},
                command=command, resume_from=last.epoch,
                run_fields={"attempts": previous, "resumed_from_epoch": last.epoch})


# ----------------------------------------------------------------------------- evaluate


def recorded_data_spec(run_dir):
    """The data spec a run recorded (``results.json``), or None when it has none to reload.

    Parameters
    ----------
    run_dir : str or path-like

    Returns
    -------
    spec : dict or None
        For :func:`~sklearn_genre.datasets.load_data_source`.
    """
    import json

    try:
        text = (Path(run_dir) / "results.json").read_text(encoding="utf-8")
        spec = json.loads(text)["config"]["data"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if not isinstance(spec, dict) or spec.get("kind") not in ("fma", "folder", "synthetic"):
        return None
    return spec


def _run_training_items(run_dir):
    """Paths (and artist ids when all known) the run trained on, from its ``split.csv``."""
    import pandas as pd

    path = Path(run_dir) / "split.csv"
    if not path.is_file():
        return None
    table = pd.read_csv(path)
    trained = table[table["role"].isin(["train", "valid"])]
    columns = ["path"]
    if trained["artist_id"].notna().all():
        columns.append("artist_id")
    if "group" in trained.columns:
        columns.append("group")
    return trained[columns].reset_index(drop=True)


def evaluate_run(run_dir, data=None, *, split="official", out=None, on_leak="warn",
                 runtime=None, command=None, on_error="record"):
    """Evaluate a run's saved model on a data set's test split, with a leakage check.

    The test tracks are checked against the tracks the run trained on (its ``split.csv``;
    without it, against the data set's own training split, with a warning).

    Parameters
    ----------
    run_dir : str or path-like
        A run directory of :func:`run_experiment` or ``sklearn-genre train``.
    data : Bunch or DataSource, default=None
        The data set; None: the run's own (its recorded spec).
    split : "official", "random", tuple or dict, default="official"
        How to split a Bunch (:func:`~sklearn_genre.datasets.make_data_source`).
    out : str or path-like, default=None
        Parent folder of the evaluation directory; None: ``run_dir/evaluations``.
    on_leak : {"warn", "raise", "ignore"}, default="warn"
    runtime : dict, default=None
        Run-time settings of the feature steps while evaluating (``{"memory": DIR, "n_jobs":
        4, "verbose": 1}``); the loaded model is left portable.
    command : list of str, default=None
        The command line to record.
    on_error : {"record", "raise"}, default="record"
        Test files that cannot be read: ``"record"`` scores the others and lists the failed
        ones (``results["failures"]``, ``predictions.csv``); ``"raise"`` stops at the first
        (see :func:`~sklearn_genre.report.write_report`).

    Returns
    -------
    result : ExperimentResult
        The loaded model, the results and the evaluation directory.
    """
    from .leakage import check_leakage
    from .provenance import RunInfo, make_run_dir
    from .report import write_report

    run_dir = Path(run_dir)
    model = load_run_model(run_dir)
    if data is None:
        spec = recorded_data_spec(run_dir)
        if spec is None:
            raise ExperimentError(f"{run_dir} records no data set to reload; pass data")
        source = load_data_source(spec)
    else:
        source = make_data_source(data, split)

    leak_train = _run_training_items(run_dir)
    if leak_train is None:
        logger.warning(f"{run_dir / 'split.csv'} is missing: checking the test split against "
                       "this data source's training split instead of the run's")
        leak_train = source.items(np.r_[source.train, source.valid])
    test_items = source.items(source.test)
    for column in ("artist_id", "group"):
        if column not in leak_train or column not in test_items:
            leak_train = leak_train.drop(columns=column, errors="ignore")
            test_items = test_items.drop(columns=column, errors="ignore")
    leakage = check_leakage(leak_train, test_items, protocol=source.protocol, on_leak=on_leak)
    (logger.info if not leakage.leaked else logger.warning)(
        "leakage check: " + leakage.summary())

    eval_dir = make_run_dir(Path(out) if out is not None else run_dir / "evaluations")
    config = {"run_dir": os.path.abspath(run_dir), "data": source.spec}
    with RunInfo(eval_dir, command=command, config=config), _runtime(model, runtime or {}):
        results = write_report(
            eval_dir,
            estimator=model,
            X_test=list(source.paths[source.test]),
            y_test=source.y[source.test],
            split_protocol=source.protocol,
            leakage_report=leakage,
            history=None,
            config=config,
            data_fingerprint=source.fingerprint(),
            **_test_groups(source, source.test),
            on_error=on_error,
        )
    results["run_dir"] = eval_dir
    return ExperimentResult(estimator=model, results=results, run_dir=eval_dir)


def _test_groups(source, index):
    """``groups`` and ``group_name`` for :func:`~sklearn_genre.report.write_report`.

    The test items' groups (a source's ``groups``, else its artist ids) when every one is
    known, so the intervals resample them; else none (the intervals resample clips).
    """
    groups = getattr(source, "groups", None)
    name = "groups"
    if groups is None:
        groups, name = source.artist_ids, "artists"
    if groups is None:
        return {}
    groups = np.asarray(groups, dtype=object)[index]
    if any(g is None or (isinstance(g, float) and np.isnan(g)) for g in groups):
        return {}
    return {"groups": groups, "group_name": name}


def evaluate_folder(run_dir, folder, *, tags=False, metadata=None, pattern=None,
                    group_by="artist", out=None, on_leak="warn", runtime=None, command=None,
                    n_resamples=2000, random_state=0, on_error="record"):
    """Score a run's saved model on *every* file of an outside folder ``folder/<genre>/``.

    Files of genres the model was trained on are scored (with 95 % bootstrap intervals, over
    the files' groups when the folder has them); files of other genres are listed with their
    counts and predictions, and trained genres the folder lacks are listed; both are kept out
    of the scores (:func:`~sklearn_genre.evaluation.evaluate_outside`). The folder's files are
    checked against the run's training tracks (same file, same content, shared groups).

    Parameters
    ----------
    run_dir : str or path-like
        A run directory of :func:`run_experiment` or ``sklearn-genre train``.
    folder : str or path-like
        One sub-folder of audio files per genre.
    tags, metadata, pattern, group_by
        Where the files' artists / tracks come from, as in
        :func:`~sklearn_genre.datasets.load_audio_folder`.
    out : str or path-like, default=None
        Parent folder of the evaluation directory; None: ``run_dir/evaluations``.
    on_leak : {"warn", "raise", "ignore"}, default="warn"
    runtime : dict, default=None
        Run-time settings of the feature steps (``{"memory": DIR, "n_jobs": 4}``).
    command : list of str, default=None
        The command line to record.
    n_resamples : int, default=2000
    random_state : int, default=0
        Of the bootstrap intervals.

    Returns
    -------
    result : ExperimentResult
        ``results`` is what ``results.json`` holds, plus ``"evaluation"`` (the
        :class:`~sklearn_genre.evaluation.EvaluationResult` of the scored files) and
        ``"outside"`` (the :class:`~sklearn_genre.evaluation.OutsideEvaluation`). The
        directory also holds ``unscored.csv`` (files of unknown genres and what the model
        called them).
    """
    import pandas as pd

    from .atomic import atomic_write
    from .datasets import load_audio_folder
    from .evaluation import evaluate_outside
    from .leakage import check_leakage
    from .provenance import RunInfo, data_fingerprint, make_run_dir
    from .report import write_report

    run_dir = Path(run_dir)
    model = load_run_model(run_dir)
    bunch = load_audio_folder(folder, tags=tags, metadata=metadata, pattern=pattern,
                              group_by=group_by)
    paths = np.asarray(bunch.paths, dtype=object)
    y = np.asarray(bunch.target)
    groups = getattr(bunch, "groups", None)
    known_groups = groups is not None and all(g is not None for g in groups)

    leak_train = _run_training_items(run_dir)
    leakage = None
    if leak_train is None:
        logger.warning(f"{run_dir / 'split.csv'} is missing: the folder is not checked "
                       "against the run's training tracks")
    else:
        leakage = check_leakage(leak_train[["path"]], pd.DataFrame({"path": paths}),
                                protocol="outside folder", on_leak=on_leak)
        (logger.info if not leakage.leaked else logger.warning)(
            "leakage check: " + leakage.summary())

    eval_dir = make_run_dir(Path(out) if out is not None else run_dir / "evaluations")
    protocol = f"outside folder {os.path.abspath(folder)} (every file)"
    config = {"run_dir": os.path.abspath(run_dir),
              "data": {"kind": "outside folder", "folder": os.path.abspath(folder),
                       "tags": tags, "metadata": None if metadata is None else str(metadata),
                       "pattern": None if pattern is None else str(pattern),
                       "group_by": group_by}}
    with RunInfo(eval_dir, command=command, config=config), _runtime(model, runtime or {}):
        # Unreadable files (on_error="record") are listed, not scored: the other files'
        # features go through the rest of the pipeline.
        readable, features, failures = _readable_items(model, list(paths), on_error)
        scorer = model if features is None else model[1:]
        outside = evaluate_outside(
            scorer, list(paths[readable]) if features is None else features, y[readable],
            trained_labels=model.classes_,
            groups=np.asarray(groups, dtype=object)[readable] if known_groups else None,
            n_resamples=n_resamples, random_state=random_state)
        y_read, paths_read = y[readable], paths[readable]
        known = np.isin(y_read, outside.trained_labels)
        unscored = pd.DataFrame({"path": paths_read[~known], "genre": y_read[~known],
                                 "y_pred": outside.y_pred[~known], "error": ""})
        failed = pd.DataFrame({"path": [f.source for f in failures],
                               "genre": y[[f.index for f in failures]],
                               "y_pred": None, "error": [f.reason for f in failures]})
        if len(failed):
            unscored = pd.concat([unscored, failed], ignore_index=True)
        # The scored set is every file of a trained genre, readable or not; its unreadable
        # files are the report's failures (rows of predictions.csv with their reason).
        scored_rows = np.flatnonzero(np.isin(y, outside.trained_labels))
        position = {int(i): k for k, i in enumerate(scored_rows)}
        outside.result.failures = [
            dataclasses.replace(f, index=position[int(f.index)]) for f in failures
            if int(f.index) in position]
        with atomic_write(eval_dir / "unscored.csv", "w", encoding="utf-8") as f:
            unscored.to_csv(f, index=False)
        bookkeeping = {k: v for k, v in outside.to_dict().items()
                       if k in ("n_items", "n_scored", "trained_labels", "unknown_labels",
                                "unknown_predictions", "missing_labels")}
        results = write_report(
            eval_dir,
            estimator=model,
            X_test=list(paths[scored_rows]),
            y_test=y[scored_rows],
            split_protocol=protocol,
            leakage_report=leakage,
            history=None,
            config=config,
            data_fingerprint=data_fingerprint(list(paths), labels=y),
            evaluation_result=outside.result,
            group_name=group_by + "s" if known_groups else "groups",
            extra={"outside": {**bookkeeping, "unscored_file": "unscored.csv",
                               "n_failed": len(failures),
                               "failures": [{"index": int(f.index), "source": f.source,
                                             "reason": f.reason} for f in failures]}},
        )
    results["run_dir"] = eval_dir
    results["outside"] = outside
    results["outside_failures"] = [
        {"index": int(f.index), "source": f.source, "reason": f.reason} for f in failures]
    return ExperimentResult(estimator=model, results=results, run_dir=eval_dir)


def _readable_items(model, paths, on_error):
    """``(readable mask, features or None, failures)`` of ``paths`` under ``on_error``.

    ``"raise"``, or a model without a feature step that records failures: every item is
    readable and ``features`` is None (the whole model predicts the paths). ``"record"``: the
    feature step runs once with failures recorded; ``features`` holds the readable items'.
    """
    from .evaluation import feature_step_records_failures, transform_recording_failures

    if on_error not in ("raise", "record"):
        raise ValueError(f"on_error must be 'raise' or 'record', got {on_error!r}")
    readable = np.ones(len(paths), bool)
    if on_error == "raise" or not feature_step_records_failures(model):
        return readable, None, []
    Xt, failures = transform_recording_failures(model, paths)
    readable[[f.index for f in failures]] = False
    return readable, Xt[readable], failures


# ----------------------------------------------------------------------------- selection


def _selection_cv(source, cv, random_state):
    """``(cv splitter, name)`` over the training + validation rows."""
    from sklearn.model_selection import PredefinedSplit, StratifiedKFold

    from .datasets import ArtistGroupKFold

    if isinstance(cv, str):
        if cv != "official":
            raise ValueError(f"cv must be 'official' or a number of folds, got {cv!r}")
        if not len(source.valid):
            raise ExperimentError("the split has no validation set; use a number of folds")
        fold = np.r_[np.full(len(source.train), -1), np.zeros(len(source.valid), dtype=int)]
        return PredefinedSplit(fold), "validation split"
    n = int(cv)
    if n < 2:
        raise ValueError(f"cv needs at least 2 folds, got {n}")
    rows = np.r_[source.train, source.valid]
    if source.groups is not None:
        return ArtistGroupKFold(source.groups[rows], n_splits=n), f"{n}-fold grouped"
    if source.artist_ids is not None:
        return ArtistGroupKFold(source.artist_ids[rows], n_splits=n), f"{n}-fold artist-grouped"
    return StratifiedKFold(n_splits=n, shuffle=True, random_state=random_state), f"{n}-fold"


@contextmanager
def _small_data(cv_name):
    """A split too small for a fold or for early stopping is an :class:`ExperimentError`."""
    try:
        yield
    except ValueError as exc:
        if "least populated class" in str(exc) or "should be greater or equal to the number" \
                in str(exc):
            raise ExperimentError(f"a {cv_name} fold has too few clips of some genre: {exc}; "
                                  "use fewer folds or more data") from None
        raise


def _selection_data(features, data, split, cv, random_state):
    """Features of training + validation (extracted once), labels and the splitter."""
    from sklearn.base import clone

    source = make_data_source(data, split)
    cv, cv_name = _selection_cv(source, cv, random_state)
    rows = np.r_[source.train, source.valid]
    features = clone(features)
    start = time.perf_counter()
    X = features.fit_transform(list(source.paths[rows]))
    logger.info(f"features: {X.shape[0]} clips -> array {X.shape[1:]} in "
                f"{time.perf_counter() - start:.1f} s")
    return source, features, X, source.y[rows], cv, cv_name


def _inner_valid_size(y, cv):
    """Early stopping's validation fraction: 10 %, more when 10 % of a fold misses genres."""
    n_classes = len(np.unique(y))
    smallest = min(len(train) for train, _ in cv.split(np.zeros(len(y)), y))
    valid_size = 0.1
    if valid_size * smallest < n_classes + 1:
        valid_size = min(0.5, (n_classes + 1) / smallest)
        logger.info(f"early-stopping validation: {valid_size:.0%} of each training fold "
                    "(10 % would miss genres)")
    return valid_size


def run_comparison(features, data, *, models=None, params=None, split="official",
                   cv="official", out="runs", name=None, overwrite=False, random_state=0,
                   command=None, verbose=0):
    """Compare networks on the same features and folds; write a comparison directory.

    The features of the training + validation tracks are computed once; the test tracks are
    never used. Writes ``comparison.csv``, ``comparison.png``, ``results.json`` and
    ``run_info.json``.

    Parameters
    ----------
    features : transformer
        E.g. ``MelSpectrogramTransformer(n_mels=..., memory=DIR)`` (cloned).
    data : Bunch or DataSource
    models : list of str, default=None
        Short names (:data:`~sklearn_genre.selection.MODELS`); None: all four.
    params : dict, default=None
        Classifier parameters for every model (e.g. :func:`training_params` of the options);
        ``valid_size`` (early stopping inside each fold) is set so it holds every genre.
    split : "official", "random", tuple or dict, default="official"
    cv : "official" or int, default="official"
        ``"official"``: fit on training, score on validation; an int: that many folds over
        training + validation, artist-grouped when artist ids are known.
    out, name, overwrite
        As in :func:`run_experiment`.
    random_state : int, default=0
        Seeds the folds of a stratified (not artist-grouped) K-fold.
    command : list of str, default=None
    verbose : int, default=0
        Progress of the cross-validation.

    Returns
    -------
    table : DataFrame
        One row per model (``mean_accuracy``, ``std_accuracy``, ``min_accuracy``,
        ``max_accuracy``, ``mean_fit_time``, the pooled held-out accuracy with its interval
        and the paired difference to the best with its interval: see
        :func:`~sklearn_genre.selection.compare_models`). ``table.attrs["text"]`` is
        :func:`~sklearn_genre.selection.format_comparison`'s printout, also written to
        ``comparison.txt``.
    out_dir : pathlib.Path
        The comparison directory.
    """
    from .figures import plot_model_comparison
    from .provenance import RunInfo, make_run_dir, write_results_json
    from .selection import MODELS, compare_models, format_comparison, make_model

    models = list(models or MODELS)
    source, features, X, y, splitter, cv_name = _selection_data(features, data, split, cv,
                                                                random_state)
    params = {**(params or {}), "valid_size": _inner_valid_size(y, splitter)}
    out_dir = make_run_dir(out, name, overwrite=overwrite)
    config = {"models": models, "training": training_options(make_model(models[0], **params)),
              "cv": cv_name,
              "data": source.spec, "features": _step_config(features)}
    with RunInfo(out_dir, command=command, config=config):
        logger.info(f"comparing {', '.join(models)} ({cv_name}, {len(y)} clips)")
        with _small_data(cv_name):
            table = compare_models(X, y, models=models, params=params, cv=splitter,
                                   verbose=verbose)
        table.to_csv(out_dir / "comparison.csv")
        text = format_comparison(table, unit="artists" if source.artist_ids is not None
                                 else None)
        (out_dir / "comparison.txt").write_text(text + "\n", encoding="utf-8")
        plot_model_comparison(table, path=out_dir / "comparison.png")
        write_results_json(out_dir, {"kind": "compare", "split_protocol": source.protocol,
                                     "cv": cv_name, "table": table.reset_index(),
                                     "best": table.attrs.get("best"),
                                     "intervals": table.attrs.get("intervals"),
                                     "config": config})
    table.attrs["text"] = text
    return table, out_dir


def _step_config(step):
    params = step.get_params(deep=False)
    return {k: v for k, v in params.items() if k not in RUNTIME_PARAMS}


def run_search(estimator, data, *, strategy="grid", split="official", cv="official",
               batch_sizes=None, lrs=None, n_iter=20, out="runs", name=None, overwrite=False,
               random_state=0, command=None, verbose=0):
    """Grid or Bayes search of a pipeline's classifier on features extracted once.

    Writes ``search_results.csv``, one figure per searched parameter, ``results.json`` and
    ``run_info.json``. The test tracks are never used.

    Parameters
    ----------
    estimator : Pipeline
        ``Pipeline([(..., feature transformer), (..., classifier)])``: the feature steps
        compute the features of training + validation once; the classifier is searched.
    data : Bunch or DataSource
    strategy : {"grid", "bayes"}, default="grid"
        ``"grid"``: :func:`~sklearn_genre.selection.grid_search` over ``batch_sizes`` x
        ``lrs``; ``"bayes"``: :func:`~sklearn_genre.selection.bayes_search` with ``n_iter``
        candidates over dropouts, weight decay and beta2.
    split : "official", "random", tuple or dict, default="official"
    cv : "official" or int, default="official"
        As in :func:`run_comparison`.
    batch_sizes, lrs : sequence, default=None
        Grid values; None: :data:`~sklearn_genre.selection.DEFAULT_BATCH_SIZES` and
        :data:`~sklearn_genre.selection.DEFAULT_LRS`.
    n_iter : int, default=20
        Bayes candidates.
    out, name, overwrite
        As in :func:`run_experiment`.
    random_state : int, default=0
        Seeds the Bayes optimiser and stratified folds.
    command : list of str, default=None
    verbose : int, default=0

    Returns
    -------
    search : GridSearchCV or BayesSearchCV
        Fitted (``refit=False``); ``search.results_table_`` is
        :func:`~sklearn_genre.selection.search_results_frame`'s table (best first, with
        ``tied_with_best``), for :func:`~sklearn_genre.selection.format_search_summary`.
    out_dir : pathlib.Path
    """
    from sklearn.base import clone

    from .figures import plot_search_results
    from .provenance import RunInfo, make_run_dir, write_results_json
    from .selection import (
        DEFAULT_BATCH_SIZES,
        DEFAULT_LRS,
        bayes_search,
        grid_search,
        search_results_frame,
    )

    if strategy not in ("grid", "bayes"):
        raise ValueError(f"strategy must be 'grid' or 'bayes', got {strategy!r}")
    if strategy == "bayes" and n_iter < 1:
        raise ValueError(f"n_iter must be at least 1, got {n_iter}")
    features, final = _parts(estimator)
    if features is None:
        raise TypeError("run_search needs a Pipeline of feature steps and a classifier")
    source, features, X, y, splitter, cv_name = _selection_data(features, data, split, cv,
                                                                random_state)
    classifier = clone(final).set_params(valid_size=_inner_valid_size(y, splitter))
    if strategy == "grid":
        search = grid_search(classifier, batch_sizes=batch_sizes or DEFAULT_BATCH_SIZES,
                             lrs=lrs or DEFAULT_LRS, cv=splitter, refit=False, verbose=verbose)
        plotted = ["lr", "batch_size"]
    else:
        search = bayes_search(classifier, n_iter=n_iter, cv=splitter, refit=False,
                              random_state=random_state, verbose=verbose)
        plotted = list(search.search_spaces)
    out_dir = make_run_dir(out, name, overwrite=overwrite)
    config = {"strategy": strategy, "model": _model_name(final),
              "training": training_options(final), "cv": cv_name, "data": source.spec}
    with RunInfo(out_dir, command=command, config=config):
        logger.info(f"{strategy} search of {_model_name(final)} ({cv_name}, {len(y)} clips)")
        with _small_data(cv_name):
            search.fit(X, y)
        n_test = len(source.valid) if cv_name == "validation split" else None
        table = search_results_frame(search, n_test=n_test)
        table.to_csv(out_dir / "search_results.csv", index=False)
        figures = {}
        for param in plotted:
            fname = f"search_{param.replace('__', '_')}.png"
            hue = "batch_size" if strategy == "grid" and param == "lr" else None
            plot_search_results(search.cv_results_, param, hue=hue, path=out_dir / fname)
            figures[param] = fname
        params = [c for c in table.columns if not c.startswith(
            ("rank_test_", "mean_", "std_", "split", "tied_with_best"))]
        tied = [{p: _plain(row[p]) for p in params if not _missing(row[p])}
                for _, row in table[table["tied_with_best"]].iterrows()]
        write_results_json(out_dir, {"kind": "search", "split_protocol": source.protocol,
                                     "cv": cv_name,
                                     "best_params": {k: _plain(v) for k, v in
                                                     search.best_params_.items()},
                                     "best_score": search.best_score_,
                                     "tied_with_best": tied,
                                     "tie_rule": table.attrs.get("tie_rule"),
                                     "results": table, "figures": figures, "config": config})
    search.results_table_ = table
    return search, out_dir


def _plain(value):
    """A numpy scalar as the Python value (JSON and printouts without numpy types)."""
    return value.item() if isinstance(value, np.generic) else value


def _missing(value):
    return value is None or (isinstance(value, float) and np.isnan(value))
