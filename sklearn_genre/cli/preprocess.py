"""``preprocess``: compute the log-mel features of a data source into the feature cache."""

from __future__ import annotations

from .console import EXIT_OK
from .data import add_data_options, add_feature_options, extract_features, make_transformer

__all__ = ["add_parser", "run"]


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
    from .console import CLIError
    from .data import resolve_data

    if args.no_cache:
        raise CLIError("preprocess fills the feature cache; --no-cache makes it pointless")
    data = resolve_data(args, console)
    transformer = make_transformer(args, data, console)
    X = extract_features(transformer, data.paths, console)
    console.result(
        f"{len(X)} clips of {data.description}: features {X.shape[1:]} (n_mels, n_frames) "
        f"cached in {transformer.memory}"
    )
    return EXIT_OK
