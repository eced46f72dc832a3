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

from .console import EXIT_INTERRUPTED, EXIT_OK
from .data import DEMO_DATA, resolve_data

__all__ = ["DEMO_SETTINGS", "QUICK_SETTINGS", "add_parser", "run"]

#: Settings of ``demo``.
DEMO_SETTINGS = {
    "n_per_genre": DEMO_DATA["n_per_genre"],
    "clip_seconds": DEMO_DATA["duration"],
    "n_mels": 128,
    "epochs": 30,
    "batch_size": 16,
    "lr": 1e-3,
    "patience": 10,
    "total_seconds": 480,
}

#: Settings of ``demo --quick`` (a smoke test of the same path, used by the test suite).
QUICK_SETTINGS = {
    "n_per_genre": 10,
    "clip_seconds": 1.5,
    "n_mels": 32,
    "epochs": 2,
    "batch_size": 16,
    "lr": 1e-3,
    "patience": 2,
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
    """Run ``demo``."""
    from ..datasets import get_data_home
    from ..features import MelSpectrogramTransformer
    from ..provenance import make_run_dir
    from .train import print_summary, train_run

    start = time.perf_counter()
    s = QUICK_SETTINGS if args.quick else DEMO_SETTINGS
    data_home = get_data_home(args.data_home)
    console.info(
        f"demo{' --quick' if args.quick else ''}: synthetic set of {s['n_per_genre']} clips x 8 "
        f"genres of {s['clip_seconds']:g} s; features: {s['n_mels']} mels, 22050 Hz, hop 512; "
        f"model: CNN-GRU-Attention, batch {s['batch_size']}, lr {s['lr']:g}, up to "
        f"{s['epochs']} epochs (early stopping patience {s['patience']}); seed {args.seed}; "
        f"the whole demo stays under {s['total_seconds'] / 60:g} min (training stops early "
        "when it would not)"
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
    data = resolve_data(args, console, spec=spec)
    spec.pop("n_jobs")  # how it was generated, not what it is
    console.info(
        f"split: {data.protocol}: {len(data.train)} training, {len(data.valid)} validation, "
        f"{len(data.test)} test clips (no artist in two splits)"
    )
    transformer = MelSpectrogramTransformer(
        n_mels=s["n_mels"],
        duration=s["clip_seconds"],
        n_jobs=-1,
        memory=str(data_home / "feature_cache"),
        verbose=1 if console.progress else 0,
    )
    run_dir = make_run_dir(args.out)
    console.info(f"run directory: {run_dir}")
    training = {
        "epochs": s["epochs"],
        "batch_size": s["batch_size"],
        "lr": s["lr"],
        "weight_decay": 0.03,
        "patience": s["patience"],
        "augment": True,
        "device": args.device,
        "seed": args.seed,
        # the whole demo stays within its budget on a slow machine: training ends at the
        # first epoch past what is left (minus ~30 s for the evaluation and the report)
        "time_limit": max(30.0, s["total_seconds"] - 30 - (time.perf_counter() - start)),
    }
    console.info(f"training time budget: {training['time_limit']:.0f} s")
    results = train_run(
        data, transformer, model="cnn_gru_attn", training=training, run_dir=run_dir,
        console=console, on_leak="warn", command=args.command_line,
        extra_config={"demo": "quick" if args.quick else "full"},
    )
    print_summary(results, console)
    chance = 1 / len(set(data.y))
    console.result(
        f"demo finished in {time.perf_counter() - start:.0f} s; chance level is {chance:.1%}. "
        "The synthetic set checks the workflow; its accuracy says nothing about real music."
    )
    console.result(f"next: sklearn-genre predict {run_dir} AUDIO_FILE_OR_FOLDER")
    return EXIT_INTERRUPTED if results["interrupted"] else EXIT_OK
