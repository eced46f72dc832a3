"""``compare`` (the networks side by side) and ``search --strategy {grid,bayes}``.

Both extract the features of the training and validation tracks once (cached) and never
touch the test split. ``--cv official`` scores on the validation split (FMA's official one,
or the random split's 10 %); ``--cv N`` runs N-fold cross-validation over training +
validation, grouped by artist when artist ids are known (no artist in two folds).
"""

from __future__ import annotations

from .console import EXIT_OK, CLIError
from .data import add_data_options, add_feature_options, data_spec, load_source, make_transformer
from .train import MODEL_NAMES, add_training_options, build_classifier, training_from_args

__all__ = ["SELECTION_OVERRIDES", "add_parsers", "run_compare", "run_search"]

#: Where ``compare`` and ``search`` differ from the classifiers' recipe defaults: every
#: candidate and fold trains, so fewer epochs.
SELECTION_OVERRIDES = {"epochs": 20}


def _add_common(p):
    add_data_options(p)
    add_feature_options(p)
    add_training_options(p, overrides=SELECTION_OVERRIDES)
    p.add_argument("--cv", default="official", metavar="official|N",
                   help="official: score on the validation split (default); N: N-fold "
                   "cross-validation over training+validation, artist-grouped when possible")
    g = p.add_argument_group("output")
    g.add_argument("--out", default="runs", metavar="DIR", help="parent folder (default: ./runs)")
    g.add_argument("--name", default=None, help="output directory name")
    g.add_argument("--overwrite", action="store_true", help="replace an existing directory")


def add_parsers(subparsers, parents):
    """Register ``compare`` and ``search``."""
    p = subparsers.add_parser(
        "compare", parents=parents,
        help="compare the networks on the same features and splits (accuracy, fit time)",
        description="Train each network with the same settings on the same log-mel "
        "features (extracted once, cached) and compare their accuracy and fit time; writes "
        "comparison.csv, comparison.png and results.json into a run directory. --cv official "
        "scores on the validation split; --cv N runs N-fold cross-validation over training + "
        "validation, grouped by artist when artist ids are known. The test split is never "
        "used.",
    )
    p.add_argument("--models", nargs="+", choices=MODEL_NAMES, default=list(MODEL_NAMES),
                   help="networks to compare (default: all four)")
    _add_common(p)
    p.set_defaults(handler=run_compare)

    p = subparsers.add_parser(
        "search", parents=parents,
        help="hyper-parameter search: grid (batch size x lr) or Bayes (dropouts, weight decay, "
        "beta2)",
        description="GridSearchCV over batch size and learning rate, or scikit-optimize "
        "BayesSearchCV over the dropouts, weight decay and Adam's beta2, on features "
        "extracted once.",
    )
    p.add_argument("--strategy", choices=["grid", "bayes"], required=True,
                   help="grid: GridSearchCV over --batch-sizes x --lrs; bayes: BayesSearchCV "
                   "with --n-iter candidates")
    p.add_argument("--model", choices=MODEL_NAMES, default="cnn_gru_attn",
                   help="network (default: cnn_gru_attn)")
    p.add_argument("--batch-sizes", type=int, nargs="+", default=[16, 32, 48],
                   help="grid: batch sizes (default: 16 32 48)")
    p.add_argument("--lrs", type=float, nargs="+", default=None,
                   help="grid: learning rates (default: 5e-5 1e-4 3e-4 1e-3 3e-3 1e-2)")
    p.add_argument("--n-iter", type=int, default=20, help="bayes: candidates (default: 20)")
    _add_common(p)
    p.set_defaults(handler=run_search)


def _cv(args):
    """``--cv``: "official" or a number of folds (at least 2)."""
    if args.cv == "official":
        return "official"
    try:
        n = int(args.cv)
    except ValueError:
        raise CLIError(f"--cv must be 'official' or a number of folds, got {args.cv!r}") from None
    if n < 2:
        raise CLIError(f"--cv needs at least 2 folds, got {n}")
    return n


def _prepare(args, console):
    """Options, data source and transformer of ``compare`` / ``search``."""
    options = training_from_args(args)
    cv = _cv(args)
    source = load_source(data_spec(args), console)
    if cv == "official" and not len(source.valid):
        raise CLIError("the split has no validation set", hint="use --cv N")
    return options, cv, source, make_transformer(args, source, console)


def run_compare(args, console):
    """Run ``compare``: :func:`sklearn_genre.experiment.run_comparison`."""
    from ..experiment import run_comparison, training_params

    options, cv, source, transformer = _prepare(args, console)
    table, out = run_comparison(
        transformer, source, models=args.models,
        params={**training_params(**options), "verbose": 0}, cv=cv, out=args.out,
        name=args.name, overwrite=args.overwrite, random_state=args.seed,
        command=args.command_line, verbose=1 if console.progress else 0,
    )
    console.result(table[["mean_accuracy", "std_accuracy", "mean_fit_time"]].to_string())
    console.result(f"comparison: {out / 'comparison.csv'}, {out / 'comparison.png'}")
    return EXIT_OK


def run_search(args, console):
    """Run ``search``: :func:`sklearn_genre.experiment.run_search`."""
    from ..experiment import run_search as search_experiment
    from .train import build_pipeline

    if args.strategy == "bayes" and args.n_iter < 1:
        raise CLIError(f"--n-iter must be at least 1, got {args.n_iter}")
    options, cv, source, transformer = _prepare(args, console)
    pipeline = build_pipeline(transformer, build_classifier(args.model, options, verbose=0))
    search, out = search_experiment(
        pipeline, source, strategy=args.strategy, cv=cv, batch_sizes=args.batch_sizes,
        lrs=args.lrs, n_iter=args.n_iter, out=args.out, name=args.name,
        overwrite=args.overwrite, random_state=args.seed, command=args.command_line,
        verbose=1 if console.progress else 0,
    )
    console.result(f"best: {search.best_params_} (mean accuracy {search.best_score_:.4f})")
    console.result(f"search results: {out / 'search_results.csv'} and figures in {out}")
    return EXIT_OK
