"""Quick start: a Pipeline of MelSpectrogramTransformer and CNNGRUAttentionClassifier.

Generates a small synthetic FMA-shaped data set, fits the pipeline on audio file paths, predicts
the test clips, pickles the fitted pipeline and loads it back.

    python examples/quickstart.py            # ~2 minutes on 2 CPU cores
    python examples/quickstart.py --quick    # a few seconds (tiny clips, 2 epochs)
"""

import argparse
import tempfile
from pathlib import Path

import joblib
from sklearn.pipeline import Pipeline

from sklearn_genre.classifiers import CNNGRUAttentionClassifier
from sklearn_genre.datasets import make_fma_like, official_split
from sklearn_genre.features import MelSpectrogramTransformer


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny settings (seconds)")
    parser.add_argument("--workdir", default=None, help="where to write data and the model")
    args = parser.parse_args(argv)
    n_per_genre, seconds, n_mels, epochs = (10, 1.0, 16, 2) if args.quick else (30, 5.0, 64, 15)
    work = Path(args.workdir or tempfile.mkdtemp(prefix="sklearn_genre_quickstart-"))

    # 1. data: paths, genres, FMA's artist-filtered split
    data = make_fma_like(work / "data", n_per_genre=n_per_genre, duration=seconds,
                         verbose=False)
    train, valid, test = official_split(data)
    train = list(train) + list(valid)  # the classifier holds out its own validation split

    # 2. an ordinary sklearn Pipeline: paths -> log-mel (n, n_mels, n_frames) -> genres
    pipe = Pipeline([
        ("mel", MelSpectrogramTransformer(n_mels=n_mels, duration=seconds)),
        ("classifier", CNNGRUAttentionClassifier(max_epochs=epochs, verbose=0,
                                                 random_state=0, valid_size=0.15)),
    ])
    pipe.fit(data.paths[train], data.target[train])
    accuracy = pipe.score(data.paths[test], data.target[test])
    print(f"test accuracy: {accuracy:.3f} on {len(test)} clips (chance: 0.125)")
    print("first predictions:", list(pipe.predict(data.paths[test][:4])))

    # 3. pickle and load back: same predictions
    path = work / "pipeline.joblib"
    joblib.dump(pipe, path)
    loaded = joblib.load(path)
    assert (loaded.predict(data.paths[test]) == pipe.predict(data.paths[test])).all()
    print(f"pickled pipeline: {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
