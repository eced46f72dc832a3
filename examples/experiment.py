"""A whole experiment from Python: run_experiment, then resume_experiment and evaluate_run.

What ``sklearn-genre train`` does, as library calls on a synthetic FMA-shaped data set: split
(FMA's official artist-filtered split), leakage check, features once (cached), fit with the
validation split for early stopping, save, evaluate, write the run directory. Then: Ctrl-C is
simulated in the middle of a second run, which ``resume_experiment`` finishes; and the first
run's model is evaluated on a random split (the leakage check flags the overlap).

    python examples/experiment.py            # ~5 minutes on 2 CPU cores
    python examples/experiment.py --quick    # well under a minute (tiny clips, 2-3 epochs)
"""

import argparse
import logging
import tempfile
from pathlib import Path

from sklearn.pipeline import Pipeline
from skorch.callbacks import Callback

from sklearn_genre import (
    CNNGRUAttentionClassifier,
    MelSpectrogramTransformer,
    evaluate_run,
    make_fma_like,
    resume_experiment,
    run_experiment,
)


class CtrlCInEpoch2(Callback):
    """Press Ctrl-C once, in the first batch of epoch 2 (what KeyboardInterrupt does)."""

    pressed = False  # once per process: the resumed fit runs through

    def on_batch_end(self, net, **kwargs):
        if len(net.history) == 2 and not CtrlCInEpoch2.pressed:
            CtrlCInEpoch2.pressed = True
            raise KeyboardInterrupt


def pipeline(n_mels, seconds, cache, epochs, **classifier):
    return Pipeline([
        ("mel", MelSpectrogramTransformer(n_mels=n_mels, duration=seconds, memory=cache)),
        ("classifier", CNNGRUAttentionClassifier(max_epochs=epochs, random_state=0, verbose=0,
                                                 **classifier)),
    ])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny settings (seconds)")
    parser.add_argument("--workdir", default=None, help="where to write data and runs")
    args = parser.parse_args(argv)
    n_per_genre, seconds, n_mels, epochs = (10, 1.0, 16, 3) if args.quick else (30, 5.0, 64, 15)
    work = Path(args.workdir or tempfile.mkdtemp(prefix="sklearn_genre_experiment-"))
    logging.basicConfig(level=logging.INFO, format="  %(message)s")  # the run's status lines

    data = make_fma_like(work / "data", n_per_genre=n_per_genre, duration=seconds,
                         verbose=False)
    cache = str(work / "feature_cache")

    # 1. one call: the run directory of `sklearn-genre train`
    result = run_experiment(pipeline(n_mels, seconds, cache, epochs), data,
                            out=work / "runs", name="official", split="official")
    m = result.metrics
    print(f"official split: accuracy {m['accuracy']:.3f}, macro F1 {m['macro_f1']:.3f} on "
          f"{m['n_test']} clips (chance 0.125); run directory: {result.run_dir}")
    print("files:", sorted(p.name for p in result.run_dir.iterdir()))

    # 2. Ctrl-C during training: the best epoch so far is saved and evaluated, the run is
    #    marked interrupted; resume_experiment continues it from its last completed epoch
    stopped = run_experiment(pipeline(n_mels, seconds, cache, epochs,
                                      callbacks=[("ctrl_c", CtrlCInEpoch2())]),
                             data, out=work / "runs", name="resumed")
    print(f"interrupted: {stopped.interrupted}, in epoch {stopped.n_epochs} of {epochs}")
    finished = resume_experiment(stopped.run_dir, data)
    print(f"resumed: {finished.n_epochs} epochs, accuracy {finished.metrics['accuracy']:.3f}")

    # 3. the first run's model on a random split: tracks it trained on are in that test set
    other = evaluate_run(result.run_dir, data, split="random")
    print(f"random split: leakage check says {other.results['leakage']['status']!r}; "
          f"report in {other.run_dir}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
