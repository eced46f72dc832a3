"""``demo``: the whole workflow on the embedded synthetic set, in minutes on a laptop CPU.

It generates the synthetic FMA-shaped set into the data home (once), extracts log-mel
features (cached), trains the CNN-GRU-Attention with the reference recipe (AdamW, weight
decay 0.03, ReduceLROnPlateau and early stopping on validation accuracy, noise and time-shift
augmentation) on the official artist-filtered training split with the validation split for
early stopping, evaluates it on the held-out test split, checks for train/test leakage and
writes the report and figures into a run directory.

To stay within a few CPU minutes the demo uses 10 s clips and at most 30 epochs, with the
recipe's 128 mels and patience 10 (it prints the settings). The reference recipe (30 s clips,
128 mels, batch 16, up to 60 epochs) is ``sklearn-genre train --fma-dir DIR``.
"""

from __future__ import annotations

import time

from ..datasets.source import DEFAULT_SYNTHETIC
from .console import EXIT_INTERRUPTED, EXIT_OK

__all__ = ["DEMO_SETTINGS", "QUICK_SETTINGS", "add_parser", "run"]

#: Where ``demo`` differs from the defaults (everything else is the classifier's and the
#: transformer's own recipe): data set size, clip length, epochs; and the time budget.
DEMO_SETTINGS = {
    "n_per_genre": DEFAULT_SYNTHETIC["n_per_genre"],
    "clip_seconds": DEFAULT_SYNTHETIC["duration"],
    "classifier": {"max_epochs": 30},
    "features": {},
    "total_seconds": 480,
}

#: ``demo --quick``: a smoke test of the same path (used by the test suite).
QUICK_SETTINGS = {
    "n_per_genre": 10,
    "clip_seconds": 1.5,
    "classifier": {"max_epochs": 2, "callbacks__early_stopping__patience": 2},
    "features": {"n_mels": 32},
    "total_seconds": 300,
}


def add_parser(subparsers, parents):
    """Register ``demo``."""
    p = subparsers.add_parser(
        "demo",
        parents=parents,
        help="generate the synthetic set, train the CNN-GRU-Attention, evaluate, report",
        description="The whole workflow on the embedded synthetic set, in minutes on a "
        "laptop CPU: generate the synthetic FMA-shaped set into the data home (once), extract "
        "log-mel features (cached), train the CNN-GRU-Attention with the reference recipe "
        "(AdamW, weight decay 0.03, ReduceLROnPlateau and early stopping on validation "
        "accuracy, noise and time-shift augmentation) on the official artist-filtered "
        "training split, evaluate it on the held-out test split, check for train/test "
        "leakage and write the report and figures into a run directory. To stay within a few "
        "CPU minutes it uses 10 s clips and at most 30 epochs, with the recipe's 128 mels (it "
        "prints the settings); the reference recipe is: sklearn-genre train --fma-dir DIR.",
    )
    p.add_argument("--out", default="runs", metavar="DIR",
                   help="parent folder of the run directory (default: ./runs)")
    p.add_argument("--quick", action="store_true",
                   help="a tiny run (80 clips of 1.5 s, 2 epochs): checks the installation, "
                   "its accuracy means nothing")
    p.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    p.add_argument("--data-home", metavar="DIR", default=None,
                   help="where the synthetic set is generated (default: $SKLEARN_GENRE_DATA "
                   "or ~/sklearn_genre_data)")
    p.add_argument("--device", default="auto", help="torch device (default: auto)")
    p.set_defaults(handler=run)


def run(args, console):
    """Run ``demo``: :func:`sklearn_genre.experiment.run_experiment` with the demo's settings."""
    from ..classifiers import CNNGRUAttentionClassifier
    from ..datasets import get_data_home
    from ..experiment import run_experiment
    from ..features import MelSpectrogramTransformer
    from .data import load_source
    from .train import build_pipeline, print_summary

    start = time.perf_counter()
    s = QUICK_SETTINGS if args.quick else DEMO_SETTINGS
    data_home = get_data_home(args.data_home)
    mel = MelSpectrogramTransformer(**s["features"], duration=s["clip_seconds"], n_jobs=-1,
                                    memory=str(data_home / "feature_cache"),
                                    verbose=1 if console.progress else 0)
    classifier = CNNGRUAttentionClassifier(**s["classifier"], device=args.device,
                                           random_state=args.seed,
                                           verbose=1 if console.progress else 0)
    f, c = mel.get_params(), classifier.get_params()
    console.info(
        f"demo{' --quick' if args.quick else ''}: synthetic set of {s['n_per_genre']} clips x 8 "
        f"genres of {s['clip_seconds']:g} s; features: {f['n_mels']} mels, {f['sr']} Hz, hop "
        f"{f['hop_length']}; model: CNN-GRU-Attention, batch {c['batch_size']}, lr "
        f"{c['lr']:g}, up to {c['max_epochs']} epochs (early stopping patience "
        f"{c['callbacks__early_stopping__patience']}); seed {args.seed}; the whole demo stays "
        f"under {s['total_seconds'] / 60:g} min (training stops early when it would not)"
    )
    spec = {
        "kind": "synthetic",
        "data_home": str(data_home),
        "n_per_genre": s["n_per_genre"],
        "duration": s["clip_seconds"],
        "random_state": 0,
        "n_jobs": -1,
        "split": "official",
    }
    source = load_source(spec, console)
    console.info(
        f"split: {source.protocol}: {len(source.train)} training, {len(source.valid)} "
        f"validation, {len(source.test)} test clips (no artist in two splits)"
    )
    # the whole demo stays within its budget on a slow machine: training ends at the first
    # epoch past what is left (minus ~30 s for the evaluation and the report)
    time_limit = max(30.0, s["total_seconds"] - 30 - (time.perf_counter() - start))
    console.info(f"training time budget: {time_limit:.0f} s")
    result = run_experiment(
        build_pipeline(mel, classifier), source, out=args.out, time_limit=time_limit,
        command=args.command_line, config={"demo": "quick" if args.quick else "full"},
    )
    print_summary(result, console)
    chance = 1 / len(set(source.y))
    console.result(
        f"demo finished in {time.perf_counter() - start:.0f} s; chance level is {chance:.1%}. "
        "The synthetic set checks the workflow; its accuracy says nothing about real music."
    )
    console.result(f"next: sklearn-genre predict {result.run_dir} AUDIO_FILE_OR_FOLDER")
    return EXIT_INTERRUPTED if result.interrupted else EXIT_OK
