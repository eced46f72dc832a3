"""``sklearn-genre train``: fit a Pipeline, save it and its evaluation in a run directory.

A run directory (``--out``/``--name``, see :func:`sklearn_genre.provenance.make_run_dir`) holds:

- ``model.joblib``: the fitted ``Pipeline([("mel", MelSpectrogramTransformer),
  ("classifier", ...)])``; it takes audio file paths (``joblib.load`` and ``predict``);
- ``run_info.json``: status (``completed``, ``interrupted``, ``failed``), command, versions;
- ``results.json`` and the report files of :func:`sklearn_genre.report.write_report`
  (confusion matrices, learning curves, per-genre report, predictions), with the split
  protocol, the leakage check and the data fingerprint;
- ``split.csv``: every track's role (train / valid / test), so ``evaluate`` can check a new
  test set against this run's training set; ``history.json``: skorch's per-epoch history;
- ``checkpoints/``: the training state after the last completed epoch (``last-epoch-NNNN``)
  and of the best validation epoch (``best-epoch-NNNN``), see
  :mod:`sklearn_genre.checkpointing`.

Ctrl-C during training stops it after the current batch: the weights of the best validation
epoch so far are restored, saved and evaluated, and ``run_info.json`` says ``interrupted``.
``train --resume RUN_DIR`` continues an interrupted (or killed, or failed) run from its last
completed epoch, with the recorded settings, and runs only the epochs that are left; the files
of the interrupted attempt are kept in ``RUN_DIR/attempts/``.
"""

from __future__ import annotations

import os
import shutil
import signal
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from .console import EXIT_DATA, EXIT_INTERRUPTED, EXIT_OK, CLIError
from .data import (
    add_data_options,
    add_feature_options,
    extract_features,
    make_transformer,
    resolve_data,
)

__all__ = [
    "MODEL_FILENAME",
    "MODEL_NAMES",
    "TrainingOutcome",
    "add_parser",
    "resume_run",
    "add_training_options",
    "build_classifier",
    "fit_classifier",
    "run",
    "save_model",
    "train_run",
]

MODEL_FILENAME = "model.joblib"

#: The ``--model`` choices: the keys of :data:`sklearn_genre.selection.MODELS`, spelled out here
#: so that building the parser does not import torch (a test checks that the two agree).
MODEL_NAMES = ("cnn", "cnn_gru", "cnn_gru_attn", "gru")
CHECKPOINT_DIRNAME = "checkpoints"
ATTEMPTS_DIRNAME = "attempts"


def add_training_options(parser, *, default_epochs=60):
    """Options of the classifier and its training recipe."""
    g = parser.add_argument_group("training")
    g.add_argument("--epochs", type=int, default=default_epochs,
                   help="maximum epochs (default: %(default)s)")
    g.add_argument("--batch-size", type=int, default=16, help="batch size (default: 16)")
    g.add_argument("--lr", type=float, default=1e-3, help="learning rate (default: 1e-3)")
    g.add_argument("--weight-decay", type=float, default=0.03,
                   help="AdamW weight decay (default: 0.03)")
    g.add_argument("--patience", type=int, default=10,
                   help="early stopping patience in epochs (default: 10)")
    g.add_argument("--no-augment", action="store_true", help="no noise/time-shift augmentation")
    g.add_argument("--device", default="auto",
                   help="torch device: auto (CUDA when available), cpu, cuda, cuda:1 ...")
    g.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")


def add_parser(subparsers, parents):
    """Register ``train``."""
    p = subparsers.add_parser(
        "train",
        parents=parents,
        help="train a model and write a run directory (model, report, figures)",
        description="Fit a pipeline (log-mel features + a network) on the training split of a "
        "data source, with early stopping on its validation split, evaluate it on the test "
        "split with a train/test leakage check, and write a run directory: model.joblib, "
        "run_info.json, results.json with the report files and figures, split.csv, "
        "history.json and checkpoints/. Ctrl-C stops after the current batch and keeps the "
        "best epoch so far; --resume RUN_DIR continues an interrupted, killed or failed run "
        "from its last completed epoch.",
    )
    p.add_argument("--model", choices=MODEL_NAMES, default="cnn_gru_attn",
                   help="network (default: cnn_gru_attn, the reference CNN-GRU-Attention)")
    add_data_options(p)
    add_feature_options(p)
    add_training_options(p)
    add_output_options(p)
    p.add_argument("--resume", metavar="RUN_DIR", default=None,
                   help="continue an interrupted, killed or failed run from its last completed "
                   "epoch (optimizer, learning-rate schedule, early stopping and history "
                   "restored), with the settings recorded in RUN_DIR; other data, feature and "
                   "training options are ignored, except --cache/--no-cache/--n-jobs")
    p.set_defaults(handler=run)
    return p


def add_output_options(parser):
    """``--out``, ``--name``, ``--overwrite``, ``--on-leak``."""
    g = parser.add_argument_group("output")
    g.add_argument("--out", default="runs", metavar="DIR",
                   help="parent folder of run directories (default: ./runs)")
    g.add_argument("--name", default=None,
                   help="run directory name (default: run-<timestamp>)")
    g.add_argument("--overwrite", action="store_true",
                   help="replace an existing run directory of that name")
    g.add_argument("--on-leak", choices=["warn", "raise", "ignore"], default="warn",
                   help="when training and test sets share files or artists: warn (default), "
                   "raise (refuse, exit code 4) or ignore (still recorded)")


def build_classifier(model, *, epochs=60, batch_size=16, lr=1e-3, weight_decay=0.03,
                     patience=10, augment=True, device="auto", seed=0, verbose=1,
                     valid=None, time_limit=None, checkpoint_dir=None, resume=False, **params):
    """The classifier of a run, with a predefined validation set when given.

    Parameters
    ----------
    model : {"cnn", "gru", "cnn_gru", "cnn_gru_attn"}
    valid : tuple (X_valid, y_valid) or None
        Predefined validation set (FMA's validation split) for early stopping and the
        learning-rate schedule; None: a stratified 10 % of the training data.
    time_limit : float or None
        Training time budget in seconds (:class:`~sklearn_genre.callbacks.TimeLimit`);
        None: no limit.
    checkpoint_dir : path or None
        Save the training state after every epoch there
        (:class:`~sklearn_genre.checkpointing.TrainingCheckpoint`, callback ``"checkpoint"``).
    resume : bool
        Continue from the last checkpoint in ``checkpoint_dir``
        (:class:`~sklearn_genre.checkpointing.ResumeFromCheckpoint`, callback ``"resume"``).
    **params
        More constructor parameters.
    """
    from skorch.dataset import Dataset
    from skorch.helper import predefined_split

    from ..callbacks import TimeLimit
    from ..selection import make_model

    if valid is not None:
        params["train_split"] = predefined_split(Dataset(valid[0], np.asarray(valid[1])))
    if checkpoint_dir is not None:
        from ..checkpointing import ResumeFromCheckpoint, TrainingCheckpoint

        checkpoint = TrainingCheckpoint(checkpoint_dir)
        own = [("checkpoint", checkpoint)]
        if resume:
            own.append(("resume", ResumeFromCheckpoint(checkpoint, required=True)))
        # first among the extra callbacks: an epoch ended by a later one is still saved
        params["callbacks"] = [*own, *(params.get("callbacks") or [])]
    elif resume:
        raise ValueError("resume=True needs a checkpoint_dir")
    if time_limit is not None:
        params["callbacks"] = [*(params.get("callbacks") or []),
                               ("time_limit", TimeLimit(time_limit))]
    return make_model(
        model,
        max_epochs=epochs,
        batch_size=batch_size,
        lr=lr,
        optimizer__weight_decay=weight_decay,
        callbacks__early_stopping__patience=patience,
        augment=augment,
        device=device,
        random_state=seed,
        verbose=verbose,
        **params,
    )


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


class TrainingOutcome:
    """What :func:`fit_classifier` returns: the fitted classifier and how training ended.

    Attributes
    ----------
    classifier : fitted classifier
    interrupted : bool
        Training was stopped by Ctrl-C (``KeyboardInterrupt``); the weights of the best
        validation epoch so far are loaded.
    n_epochs : int
        Epochs recorded in the history.
    seconds : float
        Wall time of the fit.
    """

    def __init__(self, classifier, interrupted, n_epochs, seconds):
        self.classifier = classifier
        self.interrupted = interrupted
        self.n_epochs = n_epochs
        self.seconds = seconds


def fit_classifier(classifier, X_train, y_train, **fit_params):
    """Fit ``classifier`` on precomputed features; Ctrl-C ends training, not the program.

    skorch catches ``KeyboardInterrupt`` inside ``fit`` and returns normally with the epochs
    done so far (and our classifiers restore the best validation epoch and set
    ``interrupted_``); a SIGINT handler flag catches the same case for any other estimator.

    Parameters
    ----------
    classifier : unfitted classifier
    X_train : ndarray of shape (n_samples, n_mels, n_frames)
    y_train : ndarray of shape (n_samples,)
    **fit_params
        Passed to ``fit``.

    Returns
    -------
    outcome : TrainingOutcome
    """
    start = time.perf_counter()
    with _sigint_flag() as state:
        classifier.fit(X_train, y_train, **fit_params)
    interrupted = state["interrupted"] or bool(getattr(classifier, "interrupted_", False))
    history = getattr(classifier, "history", None)
    n_epochs = len(history) if history is not None else 0
    return TrainingOutcome(classifier, interrupted, n_epochs, time.perf_counter() - start)


def save_model(pipeline, run_dir, filename=MODEL_FILENAME):
    """:func:`sklearn_genre.persistence.save_model` into ``run_dir`` (Ctrl-C waits for it).

    The file is written atomically and records the format and package versions; it loads
    with :func:`sklearn_genre.persistence.load_model` or plain ``joblib.load``.
    """
    from ..persistence import save_model as _save

    path = Path(run_dir) / filename
    with _deferred_sigint():
        _save(pipeline, path)
    return path


def _portable_pipeline(transformer, classifier, paths):
    """The Pipeline to ship: the transformer without machine-local cache or parallelism."""
    from sklearn.base import clone
    from sklearn.pipeline import Pipeline

    mel = clone(transformer).set_params(memory=None, n_jobs=None, verbose=0)
    mel.fit(list(paths[:1]))  # validates parameters, builds the filter bank (reads no file)
    if hasattr(classifier, "train_split") and not isinstance(classifier.train_split, str):
        # A predefined validation split holds the whole validation set (~530 MB on FMA small);
        # the shipped model gets the default internal split back for any refit.
        classifier.set_params(train_split="stratified")
    return Pipeline([("mel", mel), ("classifier", classifier)])


def train_run(data, transformer, *, model, training, run_dir, console, on_leak="warn",
              command=None, extra_config=None, checkpoint=True, resume=False, run_fields=None):
    """Extract features, fit, save and evaluate one model into ``run_dir``.

    Parameters
    ----------
    data : DataSource
    transformer : MelSpectrogramTransformer
        Feature settings (with the cache in ``memory``).
    model : str
        Short model name.
    training : dict
        Keyword arguments of :func:`build_classifier` (epochs, batch_size, lr, ...).
    run_dir : path
        An existing, empty run directory.
    console : Console
    on_leak : {"warn", "raise", "ignore"}
    command : list of str, default=None
        The command line to record.
    extra_config : dict, default=None
        More entries for the recorded config.
    checkpoint : bool, default=True
        Save the training state after every epoch in ``run_dir/checkpoints``.
    resume : bool, default=False
        Continue from the last checkpoint in ``run_dir/checkpoints`` and train only the
        epochs left (``training["epochs"]`` minus those done); see :func:`resume_run`.
    run_fields : dict, default=None
        More entries for ``run_info.json``.

    Returns
    -------
    results : dict
        ``write_report``'s results plus ``"interrupted"`` and ``"run_dir"``.
    """
    from sklearn.pipeline import Pipeline

    from ..leakage import check_leakage
    from ..provenance import RunInfo, device_info, write_json_atomic
    from ..report import write_report

    run_dir = Path(run_dir)
    config = {
        "model": model,
        "training": dict(training),
        "features": {k: v for k, v in transformer.get_params().items()
                     if k not in ("verbose", "n_jobs")},
        "data": data.spec,
        "split_protocol": data.protocol,
        "n_train": len(data.train),
        "n_valid": len(data.valid),
        "n_test": len(data.test),
        **(extra_config or {}),
    }
    checkpoint_dir = run_dir / CHECKPOINT_DIRNAME if checkpoint or resume else None
    fit_params = {}
    if resume:
        from ..checkpointing import TrainingCheckpoint

        last = TrainingCheckpoint(checkpoint_dir).latest()
        if last is None:
            raise CLIError(f"nothing to resume: {checkpoint_dir} holds no complete checkpoint",
                           code=EXIT_DATA)
        fit_params["epochs"] = training["epochs"] - last.epoch
        if fit_params["epochs"] < 1:
            raise CLIError(f"nothing to resume: the checkpoint {last.path} has all "
                           f"{training['epochs']} epochs", code=EXIT_DATA)
    with RunInfo(run_dir, command=command, config=config) as run:
        if run_fields:
            run.update(**run_fields)
        data.split_table().to_csv(run_dir / "split.csv", index=False)
        leakage = check_leakage(
            data.items(np.r_[data.train, data.valid]),
            data.items(data.test),
            protocol=data.protocol,
            on_leak=on_leak,
        )
        (console.info if not leakage.leaked else console.warn)(
            "leakage check: " + leakage.summary()
        )
        fingerprint = data.fingerprint()

        fit_rows = np.r_[data.train, data.valid]
        X_all = extract_features(transformer, data.paths[fit_rows], console)
        X_train, X_valid = X_all[: len(data.train)], X_all[len(data.train):]
        y_train, y_valid = data.y[data.train], data.y[data.valid]
        valid = (X_valid, y_valid) if len(data.valid) else None
        classifier = build_classifier(model, valid=valid,
                                      verbose=1 if console.progress else 0,
                                      checkpoint_dir=checkpoint_dir, resume=resume, **training)
        console.info(
            f"training {type(classifier).__name__} on {len(y_train)} clips "
            f"(validation: {len(data.valid) or 'stratified 10 % of training'}), up to "
            f"{training.get('epochs')} epochs"
            + (f", resuming after epoch {last.epoch} ({fit_params['epochs']} left)"
               if resume else "")
            + "; Ctrl-C stops and keeps the best epoch"
        )
        outcome = fit_classifier(classifier, X_train, y_train, **fit_params)
        del X_all, X_train, X_valid
        pipeline = _portable_pipeline(transformer, classifier, data.paths[data.train])
        model_path = save_model(pipeline, run_dir)
        status = "interrupted" if outcome.interrupted else "finished"
        console.info(
            f"training {status} after {outcome.n_epochs} epochs in {outcome.seconds:.0f} s; "
            f"model saved: {model_path}"
        )
        history = getattr(classifier, "history", None)
        if history is not None:
            write_json_atomic(run_dir / "history.json", history.to_list())

        # Evaluate the shipped pipeline end to end (paths in), reading the feature cache.
        evaluating = Pipeline([("mel", transformer), ("classifier", classifier)])
        X_test_paths = list(data.paths[data.test])
        results = write_report(
            run_dir,
            estimator=evaluating,
            X_test=X_test_paths,
            y_test=data.y[data.test],
            split_protocol=data.protocol,
            leakage_report=leakage,
            config=config,
            data_fingerprint=fingerprint,
            extra={
                "interrupted": outcome.interrupted,
                "fit_seconds": outcome.seconds,
                "device": device_info(),
                "device_used": getattr(classifier, "device_", None),
                "model_file": MODEL_FILENAME,
            },
        )
        run.update(n_epochs=outcome.n_epochs, accuracy=results["metrics"]["accuracy"])
        if outcome.interrupted:
            run.mark_interrupted(
                f"training interrupted by the user after {outcome.n_epochs} epochs; the model "
                "of the best validation epoch so far was saved and evaluated",
            )
    results["interrupted"] = outcome.interrupted
    results["run_dir"] = run_dir
    return results


def print_summary(results, console):
    """Test metrics and where the outputs are."""
    m = results["metrics"]
    run_dir = results["run_dir"]
    console.result(
        f"test ({results['split_protocol']}, {m['n_test']} clips): accuracy {m['accuracy']:.4f}, "
        f"balanced accuracy {m['balanced_accuracy']:.4f}, macro F1 {m['macro_f1']:.4f}"
    )
    console.result(f"leakage check: {results['leakage']['status']}")
    console.result(f"run directory: {run_dir}")
    for key, name in sorted(results["files"].items()):
        console.info(f"  {key}: {run_dir / name}")
    console.info(f"  model: {run_dir / MODEL_FILENAME}")


def training_from_args(args):
    """The :func:`build_classifier` keyword arguments of the training options."""
    for name in ("epochs", "batch_size", "patience"):
        if getattr(args, name) < 1:
            raise CLIError(f"--{name.replace('_', '-')} must be at least 1, got "
                           f"{getattr(args, name)}")
    if not args.lr > 0:
        raise CLIError(f"--lr must be positive, got {args.lr}")
    return {
        "epochs": args.epochs,
        "batch_size": args.batch_size,
        "lr": args.lr,
        "weight_decay": args.weight_decay,
        "patience": args.patience,
        "augment": not args.no_augment,
        "device": args.device,
        "seed": args.seed,
    }


def run(args, console):
    """Run ``train``."""
    from ..provenance import make_run_dir

    if args.resume is not None:
        return resume_run(args, console)
    from ..classifiers import check_device

    check_device(args.device)  # before any data is read and before the run directory exists
    training = training_from_args(args)
    data = resolve_data(args, console)
    transformer = make_transformer(args, data, console)
    run_dir = make_run_dir(args.out, args.name, overwrite=args.overwrite)
    console.info(f"run directory: {run_dir}")
    results = train_run(data, transformer, model=args.model, training=training,
                        run_dir=run_dir, console=console, on_leak=args.on_leak,
                        command=args.command_line)
    print_summary(results, console)
    if results["interrupted"]:
        console.warn("training was interrupted (Ctrl-C); the saved model is the best epoch so "
                     "far and run_info.json says 'interrupted'; continue it with "
                     f"`sklearn-genre train --resume {results['run_dir']}`")
        return EXIT_INTERRUPTED
    return EXIT_OK


# Files of a run directory that a resumed attempt keeps in place (everything else that the
# interrupted attempt wrote moves to attempts/).
_KEPT_ON_RESUME = {CHECKPOINT_DIRNAME, ATTEMPTS_DIRNAME, "run_info.json"}
_STANDARD_CONFIG = {"model", "training", "features", "data", "split_protocol", "n_train",
                    "n_valid", "n_test"}


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


def resume_run(args, console):
    """Run ``train --resume RUN_DIR``: continue the run from its last checkpoint.

    The run must be ``interrupted``, ``failed`` or a ``running`` run whose process is gone
    (killed); a ``completed`` run or one still running is refused. Data, features, model and
    training settings come from ``run_info.json``; ``--cache``, ``--no-cache`` and
    ``--n-jobs`` may change where features are read from. The interrupted attempt's files
    (model, report, history) move to ``RUN_DIR/attempts/NN-<status>/`` with a copy of its
    ``run_info.json``; ``run_info.json`` then goes ``running`` and ``completed`` (or
    ``interrupted`` again) and lists the attempts.
    """
    from ..checkpointing import TrainingCheckpoint
    from ..features import MelSpectrogramTransformer
    from ..provenance import read_run_info

    run_dir = Path(args.resume)
    if not run_dir.is_dir():
        raise CLIError(f"run directory not found: {run_dir}", code=EXIT_DATA)
    info = read_run_info(run_dir)
    status = info.get("status")
    if status == "completed":
        raise CLIError(f"{run_dir} is a completed run; there is nothing to resume",
                       hint="start a new run with `sklearn-genre train`", code=EXIT_DATA)
    if status == "running" and not info.get("stale"):
        raise CLIError(f"{run_dir} is recorded as running (process {info.get('pid')} on "
                       f"{info.get('host')}); resume it once that process has ended",
                       code=EXIT_DATA)
    config = info.get("config") or {}
    missing = {"model", "training", "features", "data"} - set(config)
    if missing:
        raise CLIError(f"{run_dir / 'run_info.json'} records no {sorted(missing)}: it was "
                       "not written by `train`", code=EXIT_DATA)
    training = dict(config["training"])
    last = TrainingCheckpoint(run_dir / CHECKPOINT_DIRNAME).latest()
    if last is None:
        raise CLIError(f"nothing to resume: {run_dir / CHECKPOINT_DIRNAME} holds no complete "
                       "checkpoint (the run stopped before its first epoch ended)",
                       hint="start it again with `sklearn-genre train`", code=EXIT_DATA)
    if last.epoch >= training["epochs"]:
        raise CLIError(f"nothing to resume: the checkpoint {last.path} has all "
                       f"{training['epochs']} epochs", code=EXIT_DATA)
    console.info(f"resuming {run_dir} ({status}{', killed' if info.get('stale') else ''}) "
                 f"after epoch {last.epoch} of {training['epochs']}")

    data = resolve_data(args, console, spec=config["data"])
    features = dict(config["features"])
    if args.no_cache:
        features["memory"] = None
    elif args.cache:
        features["memory"] = os.path.abspath(args.cache)
    transformer = MelSpectrogramTransformer(**features, n_jobs=args.n_jobs,
                                            verbose=1 if console.progress else 0)
    attempt = _archive_attempt(run_dir, info)
    console.info(f"files of the {status} attempt moved to {attempt}")
    previous = [*(info.get("attempts") or []),
                {"status": status, "message": info.get("message"),
                 "started_at": info.get("started_at"), "finished_at": info.get("finished_at"),
                 "n_epochs": info.get("n_epochs"), "files": str(attempt)}]
    results = train_run(
        data, transformer, model=config["model"], training=training, run_dir=run_dir,
        console=console, on_leak=args.on_leak, command=args.command_line,
        extra_config={k: v for k, v in config.items() if k not in _STANDARD_CONFIG},
        resume=True, run_fields={"attempts": previous, "resumed_from_epoch": last.epoch},
    )
    print_summary(results, console)
    if results["interrupted"]:
        console.warn("training was interrupted again; resume it with "
                     f"`sklearn-genre train --resume {run_dir}`")
        return EXIT_INTERRUPTED
    return EXIT_OK
