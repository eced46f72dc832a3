"""Bayesian optimisation (scikit-optimize) of dropouts, weight decay and Adam's beta2.

``sklearn_genre.selection.bayes_search`` builds a ``BayesSearchCV`` over
``module__cnn_dropout``, ``module__dropout``, ``optimizer__weight_decay`` and ``beta2``,
fitted on features extracted once.

    python examples/bayes_search.py           # 20 candidates: long on a CPU
    python examples/bayes_search.py --quick   # 2 tiny candidates, seconds
"""

import argparse
import tempfile
from pathlib import Path

from sklearn_genre.classifiers import CNNGRUAttentionClassifier
from sklearn_genre.datasets import OfficialSplit, make_fma_like
from sklearn_genre.features import MelSpectrogramTransformer
from sklearn_genre.figures import plot_search_results
from sklearn_genre.selection import bayes_search, search_results_frame


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny settings (seconds)")
    parser.add_argument("--workdir", default=None)
    args = parser.parse_args(argv)
    n_per_genre, seconds, n_mels, epochs, n_iter = (
        (10, 1.0, 16, 1, 2) if args.quick else (30, 5.0, 64, 15, 20)
    )
    work = Path(args.workdir or tempfile.mkdtemp(prefix="sklearn_genre_bayes-"))
    data = make_fma_like(work / "data", n_per_genre=n_per_genre, duration=seconds,
                         verbose=False)
    keep = data.split != "test"
    X = MelSpectrogramTransformer(n_mels=n_mels, duration=seconds).fit_transform(
        data.paths[keep])
    search = bayes_search(
        CNNGRUAttentionClassifier(max_epochs=epochs, verbose=0, random_state=0,
                                  valid_size=0.2),
        n_iter=n_iter, cv=OfficialSplit(data.split[keep]), random_state=0,
    )
    search.fit(X, data.target[keep])
    print(search_results_frame(search).iloc[:, :6].to_string())
    print("best:", dict(search.best_params_))
    plot_search_results(search.cv_results_, "weight_decay", path=work / "bayes_wd.png")
    print(f"figure: {work / 'bayes_wd.png'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
