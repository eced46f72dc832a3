"""Pretrained networks: MusiCNN (Pons and Serra, 2019) in PyTorch, with its released weights.

:func:`fetch_musicnn_weights` downloads the weights once (``sklearn-genre fetch-weights
musicnn``); :func:`load_musicnn` returns the network. Importing this package does not import
torch: the network module loads on first use.
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
    "MusicnnWeightsNotFoundError",
    "fetch_musicnn_weights",
    "load_musicnn",
    "musicnn_log_mel",
    "musicnn_patches",
    "musicnn_weights_dir",
]

_LAZY = {"MusiCNN", "load_musicnn", "musicnn_log_mel", "musicnn_patches"}


def __getattr__(name):
    if name in _LAZY:
        from . import musicnn

        return getattr(musicnn, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | _LAZY)
