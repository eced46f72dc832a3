"""Compare the four networks (CNN, GRU, CNN-GRU, CNN-GRU-Attention) on the same features.

Features are extracted once; every model is cross-validated on the same artist-grouped folds
(no artist in two folds) with ``sklearn_genre.selection.compare_models``. Writes a table and a
bar chart.

    python examples/compare_baselines.py           # several minutes on 2 CPU cores
    python examples/compare_baselines.py --quick   # seconds
"""

import argparse
import tempfile
from pathlib import Path

from sklearn_genre.datasets import ArtistGroupKFold, make_fma_like, official_split
from sklearn_genre.features import MelSpectrogramTransformer
from sklearn_genre.figures import plot_model_comparison
from sklearn_genre.selection import compare_models


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny settings (seconds)")
    parser.add_argument("--workdir", default=None)
    args = parser.parse_args(argv)
    n_per_genre, seconds, n_mels, epochs, folds = (
        (16, 1.0, 16, 1, 2) if args.quick else (30, 5.0, 64, 15, 3)
    )
    work = Path(args.workdir or tempfile.mkdtemp(prefix="sklearn_genre_compare-"))
    data = make_fma_like(work / "data", n_per_genre=n_per_genre, duration=seconds,
                         verbose=False)
    train, valid, _ = official_split(data)  # the test split stays untouched
    rows = list(train) + list(valid)
    X = MelSpectrogramTransformer(n_mels=n_mels, duration=seconds,
                                  memory=work / "cache").fit_transform(data.paths[rows])
    y = data.target[rows]
    table = compare_models(
        X, y,
        params={"max_epochs": epochs, "verbose": 0, "random_state": 0, "valid_size": 0.2},
        cv=ArtistGroupKFold(data.artist_ids[rows], n_splits=folds),
    )
    print(table[["mean_accuracy", "std_accuracy", "mean_fit_time"]].round(3).to_string())
    table.to_csv(work / "comparison.csv")
    plot_model_comparison(table, path=work / "comparison.png")
    print(f"table and figure in {work}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
