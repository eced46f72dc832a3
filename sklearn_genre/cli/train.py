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

from .console import EXIT_DATA, EXIT_INTERRUPTED, EXIT_OK, CLIError
from .data import (
    add_data_options,
    add_feature_options,
    cache_dir,
    data_spec,
    load_source,
    make_transformer,
)

__all__ = [
    "MODEL_NAMES",
    "RECIPE_DEFAULT",
    "add_output_options",
    "add_parser",
    "add_training_options",
    "build_classifier",
    "build_pipeline",
    "print_summary",
    "run",
    "training_from_args",
]

#: The ``--model`` choices: the keys of :data:`sklearn_genre.selection.MODELS`, spelled out here
#: so that building the parser does not import torch (a test checks that the two agree).
MODEL_NAMES = ("cnn", "cnn_gru", "cnn_gru_attn", "gru")

#: Placeholder in a help text for the classifier's own default of that option, filled in when
#: the help is printed (reading it imports torch, which building the parser does not).
RECIPE_DEFAULT = "{recipe default}"


def add_training_options(parser, *, overrides=None):
    """Options of the classifier and its training recipe.

    The defaults are the classifier's own (:func:`sklearn_genre.experiment.recipe_defaults`);
    an option left out keeps it. ``overrides`` gives a command its own default for some
    (``compare`` and ``search``: ``{"epochs": 20}``).
    """
    overrides = dict(overrides or {})

    def default(name):
        return overrides.get(name), str(overrides[name]) if name in overrides else RECIPE_DEFAULT

    g = parser.add_argument_group("training")
    for flag, name, kind, what in (
        ("--epochs", "epochs", int, "maximum epochs"),
        ("--batch-size", "batch_size", int, "batch size"),
        ("--lr", "lr", float, "learning rate"),
        ("--weight-decay", "weight_decay", float, "AdamW weight decay"),
        ("--patience", "patience", int, "early stopping patience in epochs"),
    ):
        value, shown = default(name)
        g.add_argument(flag, type=kind, default=value, help=f"{what} (default: {shown})")
    g.add_argument("--no-augment", action="store_true", help="no noise/time-shift augmentation")
    g.add_argument("--device", default=None,
                   help="torch device: auto (CUDA when available), cpu, cuda, cuda:1 ... "
                   f"(default: {RECIPE_DEFAULT})")
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


def training_from_args(args):
    """The training options given on the command line (``None``: the classifier's default)."""
    for name in ("epochs", "batch_size", "patience"):
        value = getattr(args, name)
        if value is not None and value < 1:
            raise CLIError(f"--{name.replace('_', '-')} must be at least 1, got {value}")
    if args.lr is not None and not args.lr > 0:
        raise CLIError(f"--lr must be positive, got {args.lr}")
    options = {name: getattr(args, name) for name in
               ("epochs", "batch_size", "lr", "weight_decay", "patience", "device", "seed")}
    options["augment"] = False if args.no_augment else None
    return {k: v for k, v in options.items() if v is not None}


def build_classifier(model, options, *, verbose, **params):
    """The classifier ``model`` with the training ``options`` (see ``TRAINING_OPTIONS``)."""
    from ..experiment import training_params
    from ..selection import make_model

    return make_model(model, **training_params(**options), verbose=verbose, **params)


def build_pipeline(transformer, classifier):
    """``Pipeline([("mel", transformer), ("classifier", classifier)])``."""
    from sklearn.pipeline import Pipeline

    return Pipeline([("mel", transformer), ("classifier", classifier)])


def print_summary(result, console):
    """Test metrics and where the outputs are."""
    from ..experiment import MODEL_FILENAME

    results = result.results
    m = results["metrics"]
    run_dir = result.run_dir
    console.result(
        f"test ({results['split_protocol']}, {m['n_test']} clips): accuracy {m['accuracy']:.4f}, "
        f"balanced accuracy {m['balanced_accuracy']:.4f}, macro F1 {m['macro_f1']:.4f}"
    )
    console.result(f"leakage check: {results['leakage']['status']}")
    console.result(f"run directory: {run_dir}")
    for key, name in sorted(results["files"].items()):
        console.info(f"  {key}: {run_dir / name}")
    console.info(f"  model: {run_dir / MODEL_FILENAME}")


def run(args, console):
    """Run ``train``."""
    from ..experiment import run_experiment

    if args.resume is not None:
        return resume(args, console)
    options = training_from_args(args)
    source = load_source(data_spec(args), console)
    pipeline = build_pipeline(
        make_transformer(args, source, console),
        build_classifier(args.model, options, verbose=1 if console.progress else 0),
    )
    result = run_experiment(pipeline, source, out=args.out, name=args.name,
                            overwrite=args.overwrite, on_leak=args.on_leak,
                            command=args.command_line)
    print_summary(result, console)
    if result.interrupted:
        console.warn("training was interrupted (Ctrl-C); the saved model is the best epoch so "
                     "far and run_info.json says 'interrupted'; continue it with "
                     f"`sklearn-genre train --resume {result.run_dir}`")
        return EXIT_INTERRUPTED
    return EXIT_OK


def resume(args, console):
    """Run ``train --resume RUN_DIR``: :func:`sklearn_genre.experiment.resume_experiment`."""
    from pathlib import Path

    from ..experiment import ExperimentError, resume_experiment

    run_dir = Path(args.resume)
    if not run_dir.is_dir():
        raise CLIError(f"run directory not found: {run_dir}", code=EXIT_DATA)
    runtime = {"n_jobs": args.n_jobs, "verbose": 1 if console.progress else 0}
    if args.no_cache or args.cache:
        runtime["memory"] = cache_dir(args)
    try:
        result = resume_experiment(run_dir, runtime=runtime, on_leak=args.on_leak,
                                   command=args.command_line)
    except ExperimentError as exc:
        hint = ("start a new run with `sklearn-genre train`"
                if "completed run" in str(exc) or "no complete checkpoint" in str(exc) else None)
        raise CLIError(str(exc), hint=hint, code=EXIT_DATA) from None
    print_summary(result, console)
    if result.interrupted:
        console.warn("training was interrupted again; resume it with "
                     f"`sklearn-genre train --resume {run_dir}`")
        return EXIT_INTERRUPTED
    return EXIT_OK
