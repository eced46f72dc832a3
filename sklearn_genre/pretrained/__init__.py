"""Pretrained networks: MusiCNN (Pons and Serra, 2019) in PyTorch, with its released weights.

:func:`fetch_musicnn_weights` downloads the weights once (``sklearn-genre fetch-weights
musicnn``); :func:`load_musicnn` returns the network; :class:`MusicnnTransformer` turns audio
into pooled embeddings or tag probabilities for scikit-learn pipelines; :func:`predict_tags`
gives zero-shot tags. Importing this package does not import torch: the network module loads
on first use.
"""

from .weights import (
    MUSICNN_MODELS,
    MusicnnWeightsNotFoundError,
    fetch_musicnn_weights,
    musicnn_weights_dir,
)

__all__ = [
    "MUSICNN_MODELS",
    "MusiCNN",
    "MusicnnTransformer",
    "MusicnnWeightsNotFoundError",
    "fetch_musicnn_weights",
    "load_musicnn",
    "musicnn_log_mel",
    "musicnn_patches",
    "musicnn_weights_dir",
    "predict_tags",
]

#: Names loaded on first use (they import torch), and their module.
_LAZY = {"MusiCNN": "musicnn", "load_musicnn": "musicnn", "musicnn_log_mel": "musicnn",
         "musicnn_patches": "musicnn", "MusicnnTransformer": "transformer",
         "predict_tags": "tagging"}


def __getattr__(name):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | _LAZY)
