"""``evaluate RUN_DIR`` (score a saved model on a test split) and ``predict RUN_DIR PATH...``."""

from __future__ import annotations

import os
from pathlib import Path

from .console import (
    EXIT_DATA,
    CLIError,
    add_on_error_option,
    failures_listed_by_console,
    report_failures,
    report_table_failures,
    write_table,
)
from .data import add_data_options, cache_dir, data_spec, load_source
from .train import print_checks

__all__ = ["add_parsers", "expand_audio_paths", "load_run_model", "run_evaluate", "run_predict"]


def add_parsers(subparsers, parents):
    """Register ``evaluate`` and ``predict``."""
    p = subparsers.add_parser(
        "evaluate",
        parents=parents,
        help="evaluate a trained run's model on a data source's test split",
        description="Load RUN_DIR/model.joblib and evaluate it on the test split of a data "
        "source (default: the one the run was trained on). The report (metrics, confusion "
        "matrices, leakage check against the run's training set) goes to "
        "RUN_DIR/evaluations/run-<timestamp>/ or --out.",
    )
    p.add_argument("run_dir", metavar="RUN_DIR", help="a run directory written by train/demo")
    add_data_options(p)
    p.add_argument("--out", metavar="DIR", default=None,
                   help="parent folder of the evaluation report (default: RUN_DIR/evaluations)")
    p.add_argument("--cache", metavar="DIR", default=None, help="feature cache folder")
    p.add_argument("--no-cache", action="store_true", help="do not cache features")
    p.add_argument("--n-jobs", type=int, default=1, help="parallel feature workers")
    p.add_argument("--on-leak", choices=["warn", "raise", "ignore"], default="warn",
                   help="when the test set shares files or artists with the run's training set")
    add_on_error_option(p, what="scores")
    p.set_defaults(handler=run_evaluate)

    p = subparsers.add_parser(
        "predict",
        parents=parents,
        help="top-k genres of audio files or folders with a trained run's model",
        description="Predict the genres of audio files of any length: windows of the training "
        "clip length, averaged probabilities, top-k genres. Folders are searched recursively "
        "for audio files. Output: CSV (default) or JSON, to stdout or --output.",
    )
    p.add_argument("run_dir", metavar="RUN_DIR", help="a run directory written by train/demo")
    p.add_argument("paths", metavar="PATH", nargs="+", help="audio files or folders")
    p.add_argument("--top-k", type=int, default=3, help="genres per track (default: 3)")
    p.add_argument("--hop", type=float, default=None, metavar="S",
                   help="seconds between windows (default: the window length)")
    p.add_argument("--aggregate", choices=["mean", "geometric", "vote"], default="mean",
                   help="how window probabilities combine (default: mean)")
    p.add_argument("--format", choices=["csv", "json"], default="csv", help="output format")
    p.add_argument("--output", "-o", metavar="FILE", default=None,
                   help="write here instead of stdout")
    add_on_error_option(p, what="predictions", skip_alias=True)
    p.set_defaults(handler=run_predict)


def load_run_model(run_dir):
    """:func:`sklearn_genre.experiment.load_run_model`, its errors with what to do."""
    from ..experiment import load_run_model as load
    from ..persistence import ModelLoadError

    try:
        return load(run_dir)
    except FileNotFoundError as exc:
        hint = getattr(exc, "hint", None) or (
            "train one with `sklearn-genre train` or `sklearn-genre demo`"
            if "not found" in str(exc) else "pass the run directory that `train` printed")
        raise CLIError(str(exc), hint=hint, code=EXIT_DATA) from None
    except ModelLoadError as exc:
        hints = {
            "incompatible_version": "install the versions recorded in the run's "
            "run_info.json, or retrain",
            "corrupt": "the file is damaged; retrain, or resume the run if it has checkpoints",
        }
        raise CLIError(str(exc), hint=hints.get(exc.reason), code=EXIT_DATA) from exc


def run_evaluate(args, console):
    """Run ``evaluate``: :func:`sklearn_genre.experiment.evaluate_run`."""
    from ..experiment import evaluate_run, recorded_data_spec
    from .train import print_checks

    run_dir = Path(args.run_dir)
    load_run_model(run_dir)  # a missing or broken model is reported before any data is read
    if args.folder:
        return _evaluate_folder(args, console, run_dir)
    spec = None
    if not args.fma_dir:
        spec = recorded_data_spec(run_dir)
        if spec is not None:
            if args.split:
                spec["split"] = args.split
            console.info(f"data: the run's own data source ({spec['kind']})")
        else:
            console.info("data: the run records no data source; using the default")
    source = load_source(spec if spec is not None else data_spec(args), console)
    result = evaluate_run(
        run_dir, source, out=args.out, on_leak=args.on_leak, command=args.command_line,
        runtime={"memory": cache_dir(args), "n_jobs": args.n_jobs,
                 "verbose": 1 if console.progress else 0},
        on_error="raise" if args.on_error == "raise" else "record",
    )
    m = result.metrics
    unit = m.get("intervals", {}).get("unit")
    console.result(f"test ({source.protocol}, {m['n_test']} clips): "
                   + result.results["evaluation"].summary(unit=unit))
    print_checks(result.results, console)
    console.result(f"evaluation report: {result.run_dir}")
    failures = [(f["source"], f["reason"]) for f in result.results.get("failures", [])]
    return report_failures(
        console, args.on_error, failures, n_total=m["n_test"] + len(failures),
        done=f"the scores above are of the other {m['n_test']} (results.json and "
        "predictions.csv list the failed files)")


def _evaluate_folder(args, console, run_dir):
    """``evaluate RUN --folder DIR``: every file of DIR (:func:`~sklearn_genre.experiment.
    evaluate_folder`)."""
    from ..datasets.source import folder_groups
    from ..experiment import evaluate_folder
    from ..leakage import LeakageError
    from .data import parse_groups_option

    if args.split:
        raise CLIError("--split does not apply to --folder: every file of the folder is "
                       "evaluated", hint="drop --split")
    try:
        result = evaluate_folder(
            run_dir, args.folder,
            **folder_groups(parse_groups_option(args.groups), args.group_by or "artist"),
            out=args.out, on_leak=args.on_leak, command=args.command_line,
            runtime={"memory": cache_dir(args), "n_jobs": args.n_jobs,
                     "verbose": 1 if console.progress else 0},
            on_error="raise" if args.on_error == "raise" else "record",
        )
    except LeakageError:
        raise
    except (FileNotFoundError, ValueError) as exc:  # no such folder, no known genre, bad tags
        raise CLIError(str(exc), code=EXIT_DATA) from None
    unit = result.metrics.get("intervals", {}).get("unit")
    for line in result.results["outside"].summary_lines(unit=unit):
        console.result(line)
    print_checks(result.results, console)
    console.result(f"evaluation report: {result.run_dir}")
    failures = [(f["source"], f["reason"]) for f in result.results["outside_failures"]]
    n_read = result.results["outside"].n_items
    return report_failures(
        console, args.on_error, failures, n_total=n_read + len(failures),
        done=f"the figures above are of the other {n_read} (unscored.csv and "
        "predictions.csv list the failed files)")


def expand_audio_paths(paths):
    """Files as given, folders expanded (recursively, sorted) to their audio files.

    Raises
    ------
    CLIError
        For a path that does not exist or a folder without audio files.
    """
    from ..datasets import AUDIO_EXTENSIONS, find_audio_files

    out = []
    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            found = find_audio_files(p)
            if not found:
                raise CLIError(f"no audio files ({', '.join(sorted(AUDIO_EXTENSIONS))}) "
                               f"under {p}", code=EXIT_DATA)
            out.extend(os.fspath(f) for f in found)
        elif p.exists():
            out.append(os.fspath(p))
        else:
            raise CLIError(f"no such file or folder: {p}", code=EXIT_DATA)
    return out


def run_predict(args, console):
    """Run ``predict``."""
    from ..inference import predict_tracks, resolve_windows

    if args.top_k < 1:
        raise CLIError(f"--top-k must be at least 1, got {args.top_k}")
    if args.hop is not None and not args.hop > 0:
        raise CLIError(f"--hop must be positive seconds, got {args.hop}")
    pipeline = load_run_model(args.run_dir)
    try:
        resolve_windows(pipeline, hop=args.hop)
    except ValueError as exc:
        raise CLIError(str(exc).replace("hop=", "--hop ")) from None
    paths = expand_audio_paths(args.paths)
    console.info(f"predicting {len(paths)} file(s) with {args.run_dir}")
    with failures_listed_by_console():
        table = predict_tracks(
            pipeline,
            paths,
            hop=args.hop,
            top_k=args.top_k,
            aggregate=args.aggregate,
            on_error="raise" if args.on_error == "raise" else "record",
            progress=console.progress,
        )
    write_table(table, console, fmt=args.format, output=args.output, what="predictions")
    return report_table_failures(console, args.on_error, table, output=args.output,
                                 what="predictions")
