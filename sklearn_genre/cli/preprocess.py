"""``preprocess``: compute the log-mel features of a data source into the feature cache."""

from __future__ import annotations

import os
import time

from .console import EXIT_OK
from .data import add_data_options, add_feature_options, make_transformer

__all__ = ["add_parser", "run"]

#: Clips per ``transform`` call. ``preprocess`` only fills the cache, so it holds one chunk's
#: features at a time (about 340 MB float32 at the reference recipe) rather than the whole data
#: set's (5.3 GB for FMA small, 70 GB for FMA large).
CHUNK = 512


def add_parser(subparsers, parents):
    """Register ``preprocess``."""
    p = subparsers.add_parser(
        "preprocess",
        parents=parents,
        help="extract and cache log-mel features (later commands read them back)",
        description="Decode every clip of the data source and store its log-mel spectrogram "
        "in the feature cache; train, compare and search with the same feature options then "
        "skip the extraction. Interrupted runs keep what was done.",
    )
    add_data_options(p, with_split=False)
    add_feature_options(p)
    p.set_defaults(handler=run)


def run(args, console):
    """Run ``preprocess``."""
    from ..extraction import extract, progress_bar
    from .console import CLIError
    from .data import resolve_data

    if args.no_cache:
        raise CLIError("preprocess fills the feature cache; --no-cache makes it pointless")
    data = resolve_data(args, console)
    paths = [os.fspath(p) for p in data.paths]  # extract() takes validated str paths
    transformer = make_transformer(args, data, console)
    transformer.set_params(verbose=0).fit(paths)
    plan = transformer.extraction_plan()
    progress = progress_bar(len(paths), verbose=1 if console.progress else 0)  # one for all chunks
    start = time.perf_counter()
    try:
        for first in range(0, len(paths), CHUNK):
            features, _ = extract(
                paths[first : first + CHUNK],
                plan,
                memory=transformer.memory,
                n_jobs=transformer.n_jobs,
                on_error=transformer.on_error,
                dtype=transformer.dtype,
                progress=progress,
            )
            shape = features.shape[1:]
    finally:
        if progress is not None:
            progress.close()
    console.info(f"features: {len(paths)} clips in {time.perf_counter() - start:.1f} s")
    console.result(
        f"{len(paths)} clips of {data.description}: features {shape} (n_mels, n_frames) "
        f"cached in {transformer.memory}"
    )
    return EXIT_OK
