"""Use a trained model in another application: load the pickled Pipeline and predict.

A run directory written by ``sklearn-genre train`` (or ``demo``) holds ``model.joblib``, a
fitted ``Pipeline`` that takes audio file paths. This script needs only ``joblib`` and
sklearn_genre installed: it loads the pipeline, predicts clip genres and, for tracks of any
length, the top-3 genres from windows of the training clip length.

    python examples/use_pickled_model.py RUN_DIR AUDIO_FILE [AUDIO_FILE ...]
    python examples/use_pickled_model.py --quick    # trains a tiny model first (seconds)
"""

import argparse
import tempfile
from pathlib import Path

import joblib

from sklearn_genre.inference import predict_track


def predict_files(run_dir, files):
    """Print each file's predicted genre and its top-3 genres over the whole track."""
    pipeline = joblib.load(Path(run_dir) / "model.joblib")
    print(f"model: {pipeline.steps[-1][1].__class__.__name__}, genres {list(pipeline.classes_)}")
    for path, genre in zip(files, pipeline.predict(list(files))):
        top = predict_track(pipeline, path, top_k=3).top_k
        print(f"{path}: {genre}; whole track: "
              + ", ".join(f"{g} {p:.2f}" for g, p in top))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run_dir", nargs="?", help="run directory with model.joblib")
    parser.add_argument("files", nargs="*", help="audio files")
    parser.add_argument("--quick", action="store_true",
                        help="train a tiny model with `sklearn-genre demo --quick` first")
    args = parser.parse_args(argv)
    if args.quick:
        from sklearn_genre.cli import main as cli

        work = Path(tempfile.mkdtemp(prefix="sklearn_genre_pickled-"))
        code = cli(["-q", "demo", "--quick", "--out", str(work / "runs"),
                    "--data-home", str(work / "home")])
        if code:
            return code
        run_dir = next((work / "runs").iterdir())
        files = sorted((work / "home").rglob("*.mp3"))[:3]
        predict_files(run_dir, [str(f) for f in files])
        return 0
    if not args.run_dir or not args.files:
        parser.error("give RUN_DIR and at least one AUDIO_FILE (or --quick)")
    predict_files(args.run_dir, args.files)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
