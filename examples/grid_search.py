"""Grid search over batch size and learning rate on features extracted once.

``sklearn_genre.selection.grid_search`` builds a ``GridSearchCV``; it is fitted on the
precomputed log-mel array, scored on FMA's (here: the synthetic set's) validation split.

    python examples/grid_search.py           # 18 candidates: long on a CPU
    python examples/grid_search.py --quick   # 4 tiny candidates, seconds
"""

import argparse
import tempfile
from pathlib import Path

from sklearn_genre.classifiers import CNNGRUAttentionClassifier
from sklearn_genre.datasets import OfficialSplit, make_fma_like
from sklearn_genre.features import MelSpectrogramTransformer
from sklearn_genre.figures import plot_search_results
from sklearn_genre.selection import (
    DEFAULT_BATCH_SIZES,
    DEFAULT_LRS,
    grid_search,
    search_results_frame,
)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny settings (seconds)")
    parser.add_argument("--workdir", default=None)
    args = parser.parse_args(argv)
    if args.quick:
        n_per_genre, seconds, n_mels, epochs = 10, 1.0, 16, 1
        batch_sizes, lrs = (8, 16), (1e-3, 1e-2)
    else:
        n_per_genre, seconds, n_mels, epochs = 30, 5.0, 64, 15
        batch_sizes, lrs = DEFAULT_BATCH_SIZES, DEFAULT_LRS
    work = Path(args.workdir or tempfile.mkdtemp(prefix="sklearn_genre_grid-"))
    data = make_fma_like(work / "data", n_per_genre=n_per_genre, duration=seconds,
                         verbose=False)
    keep = data.split != "test"  # the test split is for the final evaluation only
    X = MelSpectrogramTransformer(n_mels=n_mels, duration=seconds).fit_transform(
        data.paths[keep])
    y = data.target[keep]
    search = grid_search(
        CNNGRUAttentionClassifier(max_epochs=epochs, verbose=0, random_state=0,
                                  valid_size=0.2),
        batch_sizes=batch_sizes, lrs=lrs,
        cv=OfficialSplit(data.split[keep]),  # train on "training", score on "validation"
    )
    search.fit(X, y)
    table = search_results_frame(search)
    print(table[["batch_size", "lr", "mean_test_score", "mean_fit_time"]].to_string())
    print("best:", search.best_params_)
    plot_search_results(search.cv_results_, "lr", hue="batch_size",
                        path=work / "grid_lr.png")
    print(f"figure: {work / 'grid_lr.png'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
