"""Time the ORIGINAL musicnn 0.1.0 code (TensorFlow 1 graph) on audio files; run in its own venv.

Not part of the package and never imported by it: ``bench_transfer.py`` starts this script
with the Python of a separate virtual environment that has ``tensorflow-cpu`` 2.21,
``tf_keras`` and librosa, with ``TF_USE_LEGACY_KERAS=1`` and the unpacked ``musicnn`` wheel on
``PYTHONPATH``, patched so that ``np.log10(10000 * x + 1)`` is computed in float32 (the
original's float16 overflows under NumPy 2 and every clip gets the same tags). Setup:
``/work/venvs/TF_README.txt`` on the development machine, or::

    python -m venv tfenv && tfenv/bin/pip install "tensorflow-cpu==2.21.*" tf_keras librosa
    pip download --no-deps musicnn==0.1.0 -d wheel && unzip wheel/*.whl -d musicnn-src
    # in musicnn-src/musicnn/extractor.py, batch_data():
    #     audio_rep = np.log10(10000 * audio_rep.astype(np.float32) + 1)

Two variants, per file, decoding included:

``extractor``
    ``musicnn.extractor.extractor(path, model, extract_features=True)`` as a user calls it:
    it rebuilds the graph and restores the checkpoint on every call, then runs one 3 s
    patch per ``session.run`` (``config.BATCH_SIZE = 1``).
``graph_once``
    The same graph built and restored once; per file ``batch_data`` (librosa) and one
    ``session.run`` per patch, as ``extractor`` does. Separates the per-call set-up cost.

Writes JSON: wall seconds per file and the process's CPU seconds (all threads) per variant,
import seconds, and the clip-mean taggram and "penultimate" of each file as ``extractor``
returns them, for a cross-check with the port. (``extractor`` appends the first patch's
penultimate for every later patch, an upstream bug: only the taggram is comparable.)

Usage::

    TF_USE_LEGACY_KERAS=1 PYTHONPATH=musicnn-src tfenv/bin/python \\
        benchmarks/musicnn_original.py --model MSD_musicnn --out original.json FILES...
"""

import argparse
import json
import os
import sys
import time
import warnings


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("files", nargs="+")
    parser.add_argument("--model", default="MSD_musicnn")
    parser.add_argument("--out", required=True)
    parser.add_argument("--variants", nargs="+", default=["extractor", "graph_once"],
                        choices=["extractor", "graph_once"])
    args = parser.parse_args(argv)
    if os.environ.get("TF_USE_LEGACY_KERAS") != "1":
        sys.exit("set TF_USE_LEGACY_KERAS=1 (the original needs tf.compat.v1.layers)")
    warnings.filterwarnings("ignore")
    start = time.perf_counter()
    import numpy as np
    import tensorflow as tf
    from musicnn import configuration as config
    from musicnn import extractor as ex
    from musicnn import models
    import_seconds = time.perf_counter() - start
    if "np.log10(10000 * audio_rep + 1)" in open(ex.__file__).read():  # the float16 line
        sys.exit(f"{ex.__file__} is not patched: compute np.log10(10000 * x + 1) in float32")

    result = {"model": args.model, "import_seconds": round(import_seconds, 3),
              "extractor_file": ex.__file__, "tensorflow": tf.__version__,
              "numpy": np.__version__, "files": args.files, "seconds": {}, "cpu_seconds": {},
              "tags": [],
              "embedding": []}
    devnull = open(os.devnull, "w")
    if "extractor" in args.variants:
        # warm-up call (untimed): first-call costs of TF and librosa's numba code
        _quiet(devnull, ex.extractor, args.files[0], model=args.model, extract_features=True)
        seconds, cpu = [], time.process_time()
        for path in args.files:
            t = time.perf_counter()
            taggram, tags, feats = _quiet(devnull, ex.extractor, path, model=args.model,
                                          extract_features=True)
            seconds.append(time.perf_counter() - t)
            result["tags"].append(np.asarray(taggram).mean(axis=0).tolist())
            result["embedding"].append(np.asarray(feats["penultimate"]).mean(axis=0).tolist())
        result["seconds"]["extractor"] = seconds
        result["cpu_seconds"]["extractor"] = time.process_time() - cpu
        result["tag_names"] = list(tags)
    if "graph_once" in args.variants:
        n_frames = 187
        tf.compat.v1.reset_default_graph()
        with tf.name_scope("model"):
            x = tf.compat.v1.placeholder(tf.float32, [None, n_frames, config.N_MELS])
            is_training = tf.compat.v1.placeholder(tf.bool)
            y = models.define_model(x, is_training, args.model, 50)[0]
            probs = tf.nn.sigmoid(y)
        sess = tf.compat.v1.Session()
        sess.run(tf.compat.v1.global_variables_initializer())
        tf.compat.v1.train.Saver().restore(sess, os.path.dirname(ex.__file__) + "/"
                                           + args.model + "/")
        seconds = []
        for i, path in enumerate([args.files[0], *args.files]):  # the first one is warm-up
            if i == 1:
                cpu = time.process_time()
            t = time.perf_counter()
            batch, _ = ex.batch_data(path, n_frames, n_frames)
            for k in range(0, batch.shape[0], config.BATCH_SIZE):
                sess.run(probs, feed_dict={x: batch[k:k + config.BATCH_SIZE],
                                           is_training: False})
            if i:
                seconds.append(time.perf_counter() - t)
        sess.close()
        result["seconds"]["graph_once"] = seconds
        result["cpu_seconds"]["graph_once"] = time.process_time() - cpu
    with open(args.out, "w") as f:
        json.dump(result, f)


def _quiet(devnull, fn, *args, **kwargs):
    """Call ``fn`` with its progress prints sent to /dev/null."""
    stdout, sys.stdout = sys.stdout, devnull
    try:
        return fn(*args, **kwargs)
    finally:
        sys.stdout = stdout


if __name__ == "__main__":
    main()
