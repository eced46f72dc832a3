"""Pretrained MusiCNN as a scikit-learn transformer: :class:`MusicnnTransformer`.

Audio files or waveforms go in; one fixed-length vector per clip comes out, ready for any
scikit-learn classifier (``make_pipeline(MusicnnTransformer(), StandardScaler(),
LogisticRegression())``). This is the transfer-learning path: the network was trained on the
Million Song Dataset (``MSD_musicnn``) or MagnaTagATune (``MTT_musicnn``) and is not trained
further; only the classifier after it learns from your labels.

Per clip (:class:`MusicnnPlan`)
    decode and resample to 16 kHz mono (:func:`sklearn_genre.audio.load_audio`), optionally
    ``offset`` / ``duration``; MusiCNN's log-mel input (:func:`~sklearn_genre.pretrained.
    musicnn_log_mel`: 512-point STFT, hop 256, 96 mel bands, ``log10(10000 x + 1)`` in
    float32); consecutive non-overlapping 3 s patches of 187 frames (a clip under 3 s is
    repeat-padded to one patch, as in the model's training); the network on the patches
    (``batch_size`` at a time); one of its outputs per patch; pooled over the clip's
    patches.

Outputs (``output``), per patch, before pooling over patches
    ``"embedding"``
        The 200-d penultimate layer (dense + ReLU + batch norm), the usual transfer feature.
    ``"tags"``
        The 50 tag probabilities (sigmoid). Feature names are the tag names.
    ``"mean_pool"`` / ``"max_pool"``
        The 753-d temporal mean / max of the concatenated front- and mid-end feature maps
        (the layers below the dense back-end).

Pooling over the clip's patches (``pooling``)
    ``"mean"`` (default) averages the patches, as the original ``musicnn.tagger.top_tags``
    does with the taggram; ``"max"`` takes the largest value of each dimension over the
    patches (for tags: "somewhere in the clip").

Engine
    Batching, ``joblib`` parallelism (threads by default: decoding, resampling and torch
    release the GIL), the per-file cache (``memory``), the failure policy (``on_error``) and
    the progress bar are :func:`sklearn_genre.extraction.extract`'s, shared with
    :class:`~sklearn_genre.features.MelSpectrogramTransformer`. Cache entries hold the pooled
    vector and are keyed by the model, output, pooling, cropping and the file's identity.

The network
    Loaded on first use from the data home (``data_home``, where ``sklearn-genre
    fetch-weights musicnn`` or :func:`~sklearn_genre.pretrained.fetch_musicnn_weights` put
    it) and kept once per process for each (model, data home, device); it is never part of
    the transformer's state, so a fitted transformer pickles small, and unpickles on a
    machine without the device it was fitted on (``device="auto"`` resolves again there). A
    missing download raises :class:`~sklearn_genre.pretrained.MusicnnWeightsNotFoundError`
    saying how to fetch the weights.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from numbers import Integral, Real

import numpy as np
import scipy.sparse
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_array, check_is_fitted

from .._compat import HasMethods, Interval, StrOptions, fit_context
from ..audio import RESAMPLE_QUALITIES, AudioDecodeError, load_audio, validate_waveform
from ..extraction import extract, warn_failures
from .weights import MUSICNN_MODELS, MUSICNN_VERSION

__all__ = ["MUSICNN_OUTPUTS", "MusicnnPlan", "MusicnnTransformer", "load_cached_musicnn"]

#: Width of each output per patch (and per clip after pooling).
MUSICNN_OUTPUTS = {"embedding": 200, "tags": 50, "mean_pool": 753, "max_pool": 753}
#: The network's output key for each ``output``.
_OUTPUT_KEYS = {"embedding": "penultimate", "tags": "taggram", "mean_pool": "mean_pool",
                "max_pool": "max_pool"}
_POOLINGS = ("mean", "max")
_SR = 16000

_NETWORKS = {}
_NETWORKS_LOCK = threading.Lock()


def resolve_torch_device(device):
    """``"auto"`` -> ``"cuda"`` when CUDA is available, else ``"cpu"``; others unchanged.

    Raises
    ------
    ValueError
        ``device`` names CUDA and no CUDA device is available.
    """
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if torch.device(device).type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device={device!r}: no CUDA device is available; use 'auto' or 'cpu'")
    return str(device)


def load_cached_musicnn(model="MSD_musicnn", *, data_home=None, device="cpu"):
    """:func:`~sklearn_genre.pretrained.load_musicnn`, loaded once per process and reused.

    Parameters
    ----------
    model : {"MSD_musicnn", "MTT_musicnn"}, default="MSD_musicnn"
    data_home : str or path-like, default=None
        See :func:`~sklearn_genre.pretrained.fetch_musicnn_weights`.
    device : str, default="cpu"
        A resolved torch device (not ``"auto"``).

    Returns
    -------
    module : MusiCNN
        In eval mode; shared by every caller with the same arguments (do not modify it).
    """
    key = (model, None if data_home is None else os.fspath(data_home), str(device))
    net = _NETWORKS.get(key)
    if net is None:
        with _NETWORKS_LOCK:
            net = _NETWORKS.get(key)
            if net is None:
                from .musicnn import load_musicnn

                net = load_musicnn(model, data_home=data_home, device=device)
                _NETWORKS[key] = net
    return net


@dataclass(frozen=True)
class MusicnnPlan:
    """One clip -> one pooled MusiCNN vector (the extraction engine's per-clip plan).

    Small and picklable: it holds names, not the network, which each process loads once
    (:func:`load_cached_musicnn`).

    Attributes
    ----------
    model, output, pooling, data_home, device, batch_size, offset, res_type
        See :class:`MusicnnTransformer` (``device`` resolved, never ``"auto"``).
    n_samples : int or None
        Samples kept after ``offset`` (``duration * 16000``), None for the whole clip.
    """

    model: str
    output: str
    pooling: str
    data_home: str | None
    device: str
    batch_size: int
    offset: float
    n_samples: int | None
    res_type: str

    cache_namespace = f"sklearn_genre-musicnn-{MUSICNN_VERSION}-v1"
    progress_label = "musicnn"

    @property
    def output_shape(self):
        """``(n_features,)``: 200, 50 or 753."""
        return (MUSICNN_OUTPUTS[self.output],)

    def cache_params(self):
        """Every parameter that changes the output, for the cache key."""
        return {"kind": "musicnn", "model": self.model, "output": self.output,
                "pooling": self.pooling, "offset": self.offset, "n_samples": self.n_samples,
                "res_type": self.res_type}

    def features(self, y):
        """Pooled output of a 16 kHz waveform.

        Parameters
        ----------
        y : ndarray of shape (n,), float32
            Finite samples at 16 kHz (already cropped).

        Returns
        -------
        v : ndarray of shape (n_features,), float32
        """
        import torch

        from .musicnn import musicnn_log_mel, musicnn_patches

        patches = musicnn_patches(musicnn_log_mel(y))
        net = load_cached_musicnn(self.model, data_home=self.data_home, device=self.device)
        key = _OUTPUT_KEYS[self.output]
        parts = []
        with torch.inference_mode():
            for first in range(0, len(patches), self.batch_size):
                batch = torch.from_numpy(patches[first:first + self.batch_size])
                parts.append(net(batch.to(self.device))[key].float().cpu().numpy())
        per_patch = np.concatenate(parts)
        pooled = per_patch.max(axis=0) if self.pooling == "max" else per_patch.mean(axis=0)
        return pooled.astype(np.float32, copy=False)

    def from_file(self, path):
        """Pooled output of one audio file.

        Raises
        ------
        AudioDecodeError
            The file cannot be decoded, or its features are not finite.
        """
        duration = None if self.n_samples is None else self.n_samples / _SR
        y = load_audio(path, sr=_SR, mono=True, offset=self.offset, duration=duration,
                       res_type=self.res_type)
        v = self.features(y)
        if not np.isfinite(v).all():
            raise AudioDecodeError(path, "MusiCNN output is not finite (sample overflow)")
        return v

    def from_waveform(self, y, name):
        """Pooled output of a 16 kHz waveform given in memory.

        Raises
        ------
        ValueError
            A bad waveform (non-finite, empty, shorter than ``offset``).
        """
        y = validate_waveform(y, name=name)
        start = int(round(self.offset * _SR))
        if start >= y.shape[0]:
            raise ValueError(f"{name} has {y.shape[0]} samples, not more than "
                             f"offset={self.offset} s at 16 kHz")
        y = y[start:] if self.n_samples is None else y[start:start + self.n_samples]
        v = self.features(y)
        if not np.isfinite(v).all():
            raise ValueError(f"{name}: MusiCNN output is not finite (sample overflow)")
        return v


class MusicnnTransformer(TransformerMixin, BaseEstimator):
    """Audio files or 16 kHz waveforms -> pretrained MusiCNN embeddings or tag probabilities.

    One vector per clip: the network's output on each 3 s patch of the clip, pooled over
    the patches (module docstring: :mod:`sklearn_genre.pretrained.transformer`). Nothing is
    learned in ``fit``; it validates the parameters and the input and checks that the
    weights are there.

    Parameters
    ----------
    model : {"MSD_musicnn", "MTT_musicnn"}, default="MSD_musicnn"
        Which released model (Million Song Dataset or MagnaTagATune tags).
    output : {"embedding", "tags", "mean_pool", "max_pool"}, default="embedding"
        ``"embedding"``: the 200-d penultimate layer; ``"tags"``: the 50 tag probabilities;
        ``"mean_pool"`` / ``"max_pool"``: the 753-d temporal pools below the back-end.
    pooling : {"mean", "max"}, default="mean"
        How the patches of a clip are combined.
    duration : float or None, default=None
        Seconds of audio used per clip, from ``offset``; None: the whole clip (any length).
    offset : float, default=0.0
        Seconds skipped at the start of each clip.
    res_type : str, default="soxr_hq"
        Resampling quality (see :func:`sklearn_genre.audio.load_audio`).
    batch_size : int, default=64
        Patches per forward pass (a 30 s clip has 10).
    device : str, default="auto"
        Torch device of the network: ``"auto"`` (CUDA when available, resolved at each
        ``transform``, so a transformer fitted on a GPU machine runs on a CPU-only one),
        ``"cpu"``, ``"cuda"``, ``"cuda:1"``...
    data_home : str or path-like, default=None
        Where the weights were fetched (``sklearn-genre fetch-weights musicnn``); None: the
        package's data home.
    n_jobs : int, default=None
        Clips processed in parallel (joblib; threads by default). Each thread's forward
        pass also uses all of torch's intra-op threads, so on a CPU ``n_jobs=1`` is the
        fastest: on 2 cores it ran 4.1 clips/s of 30 s MP3 against 3.7 for ``n_jobs=2``
        (``benchmarks/README.md``). Parallel workers pay off with loky or Dask workers on
        more machines or cores, each with fewer torch threads.
    memory : None, str, os.PathLike or joblib.Memory, default=None
        Per-file cache of the output vectors (file inputs only).
    verbose : int, default=0
        Progress bar when > 0.
    on_error : {"raise", "warn"}, default="raise"
        ``"raise"``: the first undecodable file raises
        :class:`~sklearn_genre.audio.AudioDecodeError`. ``"warn"``: its row is NaN, the
        failures are in ``failures_`` and one :class:`~sklearn_genre.exceptions.
        ExtractionWarning` lists them (put a ``SimpleImputer`` or a NaN-tolerant model after
        it, or drop those rows).

    Attributes
    ----------
    tags_ : list of str
        The model's 50 tag names, in output order.
    n_features_in_ : int
        Waveform length, when fitted on a 2-D array of waveforms.
    n_features_out_ : int
        Width of the output: 200, 50 or 753.
    failures_ : list of ExtractionFailure
        Failed clips of the last ``transform`` (``on_error="warn"``).

    See Also
    --------
    sklearn_genre.pretrained.predict_tags : Zero-shot top tags of audio files.
    sklearn_genre.features.MelSpectrogramTransformer : Log-mel input for training networks
        from scratch.

    Notes
    -----
    Waveforms given directly must be sampled at 16 kHz (MusiCNN's rate); files are resampled.
    Clips shorter than 2.98 s (one patch) are repeat-padded to one patch.

    Examples
    --------
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.preprocessing import StandardScaler
    >>> from sklearn_genre.pretrained import MusicnnTransformer
    >>> model = make_pipeline(MusicnnTransformer(), StandardScaler(),
    ...                       LogisticRegression(max_iter=1000))
    >>> model.fit(train_paths, train_genres)  # doctest: +SKIP
    >>> model.predict(["my_song.mp3"])  # doctest: +SKIP
    """

    _parameter_constraints = {
        "model": [StrOptions(set(MUSICNN_MODELS))],
        "output": [StrOptions(set(MUSICNN_OUTPUTS))],
        "pooling": [StrOptions(set(_POOLINGS))],
        "duration": [Interval(Real, 0, None, closed="neither"), None],
        "offset": [Interval(Real, 0, None, closed="left")],
        "res_type": [StrOptions(set(RESAMPLE_QUALITIES))],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "device": [str],
        "data_home": [None, str, os.PathLike],
        "n_jobs": [Integral, None],
        "memory": [None, str, os.PathLike, HasMethods(["cache"])],
        "verbose": ["verbose"],
        "on_error": [StrOptions({"raise", "warn"})],
    }

    def __init__(self, model="MSD_musicnn", *, output="embedding", pooling="mean",
                 duration=None, offset=0.0, res_type="soxr_hq", batch_size=64, device="auto",
                 data_home=None, n_jobs=None, memory=None, verbose=0, on_error="raise"):
        self.model = model
        self.output = output
        self.pooling = pooling
        self.duration = duration
        self.offset = offset
        self.res_type = res_type
        self.batch_size = batch_size
        self.device = device
        self.data_home = data_home
        self.n_jobs = n_jobs
        self.memory = memory
        self.verbose = verbose
        self.on_error = on_error

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = True  # (n_clips, n_samples) waveforms at 16 kHz
        tags.input_tags.string = True  # file paths
        tags.transformer_tags.preserves_dtype = ["float32"]
        return tags

    # ------------------------------------------------------------------ validation
    def _validate_X(self, X, *, reset):
        """The clips of X: a list of str paths / 1-D waveforms, or a 2-D float array."""
        if isinstance(X, (str, bytes, os.PathLike)):
            raise TypeError("X must be a sequence of audio paths or waveforms, got a single "
                            f"{type(X).__name__}; wrap it in a list: [X]")
        if scipy.sparse.issparse(X):
            raise TypeError("X must be audio paths or dense waveforms; sparse input is not "
                            "supported")
        if not isinstance(X, (list, tuple)) and hasattr(X, "__array__"):
            arr = np.asarray(X)
            if arr.dtype.kind in "fiubc" or (arr.dtype == object and arr.ndim == 2):
                arr = check_array(X, dtype=[np.float32, np.float64], input_name="X",
                                  ensure_all_finite=self.on_error == "raise")
                if reset:
                    self.n_features_in_ = arr.shape[1]
                return arr
            X = list(arr) if arr.ndim else [arr.item()]
        try:
            items = list(X)
        except TypeError:
            raise TypeError("X must be a sequence of audio paths or waveforms, got "
                            f"{type(X).__name__}") from None
        if not items:
            raise ValueError("X is empty: 0 clips")
        out = []
        for i, item in enumerate(items):
            if isinstance(item, (str, os.PathLike)):
                out.append(os.fspath(item))
                continue
            arr = np.asarray(item)
            if arr.ndim != 1 or arr.dtype.kind not in "fiub":
                raise ValueError(f"X[{i}] must be a str/PathLike path or a 1-D numeric "
                                 f"waveform, got {type(item).__name__} with shape "
                                 f"{arr.shape} and dtype {arr.dtype}")
            if self.on_error == "raise":
                validate_waveform(arr, name=f"X[{i}]")
            out.append(arr)
        if reset and hasattr(self, "n_features_in_"):
            del self.n_features_in_
        return out

    def _build_plan(self):
        return MusicnnPlan(
            model=self.model, output=self.output, pooling=self.pooling,
            data_home=None if self.data_home is None else os.fspath(self.data_home),
            device=resolve_torch_device(self.device), batch_size=int(self.batch_size),
            offset=float(self.offset),
            n_samples=None if self.duration is None else max(1, int(self.duration * _SR)),
            res_type=self.res_type)

    # ------------------------------------------------------------------ API
    @fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Validate the parameters and the input; check that the weights are there.

        Parameters
        ----------
        X : sequence of str or os.PathLike, sequence of ndarray of shape (n_samples,), or \
ndarray of shape (n_clips, n_samples)
            Audio files, or waveforms at 16 kHz.
        y : None
            Ignored.

        Returns
        -------
        self : MusicnnTransformer

        Raises
        ------
        MusicnnWeightsNotFoundError
            The weights of ``model`` are not in ``data_home``.
        """
        self._validate_X(X, reset=True)
        plan = self._build_plan()
        net = load_cached_musicnn(plan.model, data_home=plan.data_home, device=plan.device)
        self.tags_ = list(net.tags)
        self.n_features_out_ = MUSICNN_OUTPUTS[self.output]
        return self

    def transform(self, X):
        """One pooled MusiCNN vector per clip.

        Parameters
        ----------
        X : sequence of str or os.PathLike, sequence of ndarray of shape (n_samples,), or \
ndarray of shape (n_clips, n_samples)
            Audio files, or waveforms at 16 kHz.

        Returns
        -------
        Xt : ndarray of shape (n_clips, n_features_out_), float32
            With ``on_error="warn"``, rows of failed clips are NaN.

        Raises
        ------
        AudioDecodeError
            A file cannot be decoded (``on_error="raise"``).
        MusicnnWeightsNotFoundError
            The weights are missing (e.g. after unpickling on another machine).
        """
        check_is_fitted(self, "tags_")
        items = self._validate_X(X, reset=False)
        out, failures = extract(items, self._build_plan(), memory=self.memory,
                                n_jobs=self.n_jobs, on_error=self.on_error, dtype="float32",
                                verbose=self.verbose)
        if self.on_error == "warn":
            self.failures_ = failures
            warn_failures(failures, len(items), stacklevel=2)
        return out

    def get_feature_names_out(self, input_features=None):
        """Names of the output columns.

        Parameters
        ----------
        input_features : None
            Ignored (the input is audio).

        Returns
        -------
        names : ndarray of str of shape (n_features_out_,)
            The tag names for ``output="tags"``, else ``"<output>_<i>"``
            (``embedding_0`` ... ``embedding_199``).
        """
        check_is_fitted(self, "tags_")
        if self.output == "tags":
            return np.asarray(self.tags_, dtype=object)
        return np.asarray([f"{self.output}_{i}" for i in range(self.n_features_out_)],
                          dtype=object)
