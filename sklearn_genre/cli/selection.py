"""``compare`` (the networks side by side) and ``search --strategy {grid,bayes}``.

Both extract the features of the training and validation tracks once (cached) and never
touch the test split. ``--cv official`` scores on the validation split (FMA's official one,
or the random split's 10 %); ``--cv N`` runs N-fold cross-validation over training +
validation, grouped by artist when artist ids are known (no artist in two folds).
"""

from __future__ import annotations

from contextlib import contextmanager

import numpy as np

from .console import EXIT_DATA, EXIT_OK, CLIError
from .data import (
    add_data_options,
    add_feature_options,
    extract_features,
    make_transformer,
    resolve_data,
)
from .train import MODEL_NAMES, add_training_options, training_from_args

__all__ = ["add_parsers", "run_compare", "run_search"]


def _add_common(p):
    add_data_options(p)
    add_feature_options(p)
    add_training_options(p, default_epochs=20)
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


def _cv(args, data, rows):
    from sklearn.model_selection import PredefinedSplit, StratifiedKFold

    from ..datasets import ArtistGroupKFold

    if args.cv == "official":
        if not len(data.valid):
            raise CLIError("the split has no validation set", hint="use --cv N")
        fold = np.r_[np.full(len(data.train), -1), np.zeros(len(data.valid), dtype=int)]
        return PredefinedSplit(fold), "validation split"
    try:
        n = int(args.cv)
    except ValueError:
        raise CLIError(f"--cv must be 'official' or a number of folds, got {args.cv!r}") from None
    if n < 2:
        raise CLIError(f"--cv needs at least 2 folds, got {n}")
    if data.artist_ids is not None:
        return ArtistGroupKFold(data.artist_ids[rows], n_splits=n), f"{n}-fold artist-grouped"
    return StratifiedKFold(n_splits=n, shuffle=True, random_state=args.seed), f"{n}-fold"


@contextmanager
def _small_data_hint(cv_name):
    """A split too small for a fold or for early stopping is the user's to fix, not a bug."""
    try:
        yield
    except ValueError as exc:
        if "least populated class" in str(exc) or "should be greater or equal to the number" \
                in str(exc):
            raise CLIError(
                f"a {cv_name} fold has too few clips of some genre: {exc}",
                hint="use fewer folds (--cv 2 or --cv official) or more data",
                code=EXIT_DATA,
            ) from None
        raise


def _prepare(args, console):
    training = training_from_args(args)
    data = resolve_data(args, console)
    transformer = make_transformer(args, data, console)
    rows = np.r_[data.train, data.valid]
    cv, cv_name = _cv(args, data, rows)
    X = extract_features(transformer, data.paths[rows], console)
    return training, data, transformer, rows, X, data.y[rows], cv, cv_name


def _estimator_params(training, y, cv, console):
    """Classifier parameters; the inner validation split (early stopping) holds every genre."""
    n_classes = len(np.unique(y))
    smallest = min(len(train) for train, _ in cv.split(np.zeros(len(y)), y))
    valid_size = 0.1
    if valid_size * smallest < n_classes + 1:
        valid_size = min(0.5, (n_classes + 1) / smallest)
        console.info(f"early-stopping validation: {valid_size:.0%} of each training fold "
                     f"(10 % would miss genres)")
    return {
        "valid_size": valid_size,
        "max_epochs": training["epochs"],
        "batch_size": training["batch_size"],
        "lr": training["lr"],
        "optimizer__weight_decay": training["weight_decay"],
        "callbacks__early_stopping__patience": training["patience"],
        "augment": training["augment"],
        "device": training["device"],
        "random_state": training["seed"],
        "verbose": 0,
    }


def run_compare(args, console):
    """Run ``compare``."""
    from ..figures import plot_model_comparison
    from ..provenance import RunInfo, make_run_dir, write_results_json
    from ..selection import compare_models

    training, data, transformer, rows, X, y, cv, cv_name = _prepare(args, console)
    out = make_run_dir(args.out, args.name, overwrite=args.overwrite)
    config = {"models": args.models, "training": training, "cv": cv_name, "data": data.spec,
              "features": {k: v for k, v in transformer.get_params().items()
                           if k not in ("verbose", "n_jobs")}}
    with RunInfo(out, command=args.command_line, config=config):
        console.info(f"comparing {', '.join(args.models)} ({cv_name}, {len(y)} clips)")
        with _small_data_hint(cv_name):
            table = compare_models(X, y, models=args.models,
                                   params=_estimator_params(training, y, cv, console), cv=cv,
                                   verbose=1 if console.progress else 0)
        table.to_csv(out / "comparison.csv")
        plot_model_comparison(table, path=out / "comparison.png")
        write_results_json(out, {"kind": "compare", "split_protocol": data.protocol,
                                 "cv": cv_name, "table": table.reset_index(), "config": config})
    console.result(table[["mean_accuracy", "std_accuracy", "mean_fit_time"]].to_string())
    console.result(f"comparison: {out / 'comparison.csv'}, {out / 'comparison.png'}")
    return EXIT_OK


def run_search(args, console):
    """Run ``search``."""
    from ..figures import plot_search_results
    from ..provenance import RunInfo, make_run_dir, write_results_json
    from ..selection import DEFAULT_LRS, bayes_search, grid_search, make_model, search_results_frame

    if args.strategy == "bayes" and args.n_iter < 1:
        raise CLIError(f"--n-iter must be at least 1, got {args.n_iter}")
    training, data, transformer, rows, X, y, cv, cv_name = _prepare(args, console)
    estimator = make_model(args.model, **_estimator_params(training, y, cv, console))
    if args.strategy == "grid":
        search = grid_search(estimator, batch_sizes=args.batch_sizes,
                             lrs=args.lrs or DEFAULT_LRS, cv=cv, refit=False,
                             verbose=1 if console.progress else 0)
        plotted = ["lr", "batch_size"]
    else:
        search = bayes_search(estimator, n_iter=args.n_iter, cv=cv, refit=False,
                              random_state=args.seed, verbose=1 if console.progress else 0)
        plotted = [name for name in search.search_spaces]
    out = make_run_dir(args.out, args.name, overwrite=args.overwrite)
    config = {"strategy": args.strategy, "model": args.model, "training": training,
              "cv": cv_name, "data": data.spec}
    with RunInfo(out, command=args.command_line, config=config):
        console.info(f"{args.strategy} search of {args.model} ({cv_name}, {len(y)} clips)")
        with _small_data_hint(cv_name):
            search.fit(X, y)
        table = search_results_frame(search)
        table.to_csv(out / "search_results.csv", index=False)
        figures = {}
        for param in plotted:
            name = f"search_{param.replace('__', '_')}.png"
            hue = "batch_size" if args.strategy == "grid" and param == "lr" else None
            plot_search_results(search.cv_results_, param, hue=hue, path=out / name)
            figures[param] = name
        write_results_json(out, {"kind": "search", "split_protocol": data.protocol,
                                 "cv": cv_name, "best_params": search.best_params_,
                                 "best_score": search.best_score_, "results": table,
                                 "figures": figures, "config": config})
    console.result(f"best: {search.best_params_} (mean accuracy {search.best_score_:.4f})")
    console.result(f"search results: {out / 'search_results.csv'} and figures in {out}")
    return EXIT_OK
