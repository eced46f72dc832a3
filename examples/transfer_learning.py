"""Transfer learning: pretrained MusiCNN embeddings + a linear classifier, and zero-shot tags.

With a few labelled clips per genre, a network trained from scratch has little to learn from;
a network pretrained on the Million Song Dataset already maps audio to musically meaningful
vectors. This example

1. generates a small synthetic FMA-shaped data set (8 genres, artist-disjoint split),
2. fits ``MusicnnTransformer -> StandardScaler -> LogisticRegression`` on a few clips per
   genre (the embeddings are cached, so a grid search over ``C`` costs one pass of the
   network per clip),
3. prints the pretrained model's zero-shot tags of a few test clips (no training at all),
4. pickles the fitted pipeline (no network weights inside: they reload from the data home).

Needs the weights once: ``sklearn-genre fetch-weights musicnn`` (29 MB from PyPI).

    python examples/transfer_learning.py            # ~5 minutes on 2 CPU cores
    python examples/transfer_learning.py --quick    # well under a minute (tiny clips)
"""

import argparse
import sys
import tempfile
from pathlib import Path

import joblib
import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sklearn_genre.datasets import make_fma_like, official_split
from sklearn_genre.pretrained import (
    MusicnnTransformer,
    MusicnnWeightsNotFoundError,
    musicnn_weights_dir,
    predict_tags,
)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny settings (seconds)")
    parser.add_argument("--workdir", default=None, help="where to write data and the model")
    parser.add_argument("--data-home", default=None, help="where the weights were fetched")
    args = parser.parse_args(argv)
    n_per_genre, seconds, per_genre = (6, 3.0, 3) if args.quick else (30, 10.0, 10)
    work = Path(args.workdir or tempfile.mkdtemp(prefix="sklearn_genre_transfer-"))
    try:
        musicnn_weights_dir("MSD_musicnn", args.data_home)
    except MusicnnWeightsNotFoundError as exc:
        print(exc, file=sys.stderr)
        return 3

    # 1. data: paths, genres, FMA's artist-filtered split
    data = make_fma_like(work / "data", n_per_genre=n_per_genre, duration=seconds,
                         sr=22050, stereo=False, verbose=False)
    train, _, test = official_split(data)
    rng = np.random.default_rng(0)
    few = np.concatenate([rng.permutation(train[data.target[train] == g])[:per_genre]
                          for g in np.unique(data.target)])
    print(f"training on {len(few)} clips ({per_genre} per genre), testing on {len(test)}")

    # 2. pretrained embeddings (200-d, mean over 3 s patches) -> a linear classifier
    musicnn = MusicnnTransformer("MSD_musicnn", output="embedding",
                                 memory=work / "embedding_cache", data_home=args.data_home)
    pipe = make_pipeline(musicnn, StandardScaler(), LogisticRegression(max_iter=5000))
    search = GridSearchCV(pipe, {"logisticregression__C": [0.01, 0.1, 1.0]}, cv=2)
    search.fit(data.paths[few], data.target[few])
    predicted = search.predict(data.paths[test])
    print(f"MusiCNN + logistic regression: test accuracy "
          f"{accuracy_score(data.target[test], predicted):.3f} (chance 0.125), "
          f"C={search.best_params_['logisticregression__C']}")

    # 3. zero-shot: the pretrained model's own tags, no training
    tags = predict_tags(data.paths[test][:3], top_k=3, data_home=args.data_home)
    for row, genre in zip(tags.itertuples(index=False), data.target[test][:3]):
        print(f"  {Path(row.path).name} ({genre}): {row.top1} {row.p1:.2f}, "
              f"{row.top2} {row.p2:.2f}, {row.top3} {row.p3:.2f}")

    # 4. pickle and load back: no weights in the file, same predictions
    path = work / "transfer.joblib"
    joblib.dump(search.best_estimator_, path)
    loaded = joblib.load(path)
    assert (loaded.predict(data.paths[test]) == predicted).all()
    print(f"pickled pipeline: {path} ({path.stat().st_size / 1024:.0f} KiB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
