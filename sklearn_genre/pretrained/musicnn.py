"""MusiCNN (Pons and Serra, 2019) in PyTorch, with the released weights.

The architecture of the ``musicnn`` 0.1.0 package (``models.py``: ``build_musicnn`` with
``num_filt_midend=64, num_units_backend=200``), reproduced layer by layer from its
TensorFlow 1 graph, in its NHWC layout conventions and with its padding:

front-end (input: a patch of 187 frames x 96 mel bands, batch-normalised as one channel)
    * timbral: two 2-D convolutions over (time, frequency), 204 filters each, of 7 x 38 and
      7 x 67 (``int(0.4 * 96)``, ``int(0.7 * 96)``) with 3 zero frames padded on both sides
      in time and no padding in frequency; ReLU, batch norm, max over frequency;
    * temporal: three 1-D convolutions along time of 128, 64 and 32 frames, 51 filters
      each, with TensorFlow's ``"same"`` padding (``(k - 1) // 2`` frames before, ``k // 2``
      after: the asymmetry matters), applied to every mel band; ReLU, batch norm, max over
      frequency.

    Concatenated: 561 channels per frame (``timbral`` = the first 408, ``temporal`` the rest).
mid-end
    three 1-D convolutions of 7 frames and 64 filters (3 zero frames each side), ReLU, batch
    norm; the 2nd and 3rd add their input (residual). The front-end and the three mid-end
    outputs are concatenated: 753 channels per frame.
back-end
    max and mean over time (753 each, ``max_pool`` and ``mean_pool``), interleaved
    channel by channel into 1506 values as TensorFlow's ``concat`` + ``flatten`` does, batch
    norm, dense 200 + ReLU + batch norm (``penultimate``, the embedding), dense 50 (logits),
    sigmoid (``taggram``: the tag probabilities).

Batch norms are in inference mode (moving statistics, epsilon 1e-3 as in
``tf.compat.v1.layers.batch_normalization``); dropout is the identity.

How the front-end is computed (the weights stay in ``Conv2d`` modules, as in the checkpoint):
the max over frequency is taken first and ReLU and batch norm are applied to the reduced map
(exact: both are monotone per channel; for a channel whose batch-norm scale is negative the
min is taken, as the max of the negated filter), and each convolution runs as a matrix
product of unfolded windows and the filter matrix, in buffers reused across blocks of frames.
On the 2-core development CPU the layer-by-layer front-end (``Conv2d``, ReLU, batch norm,
max) alone takes 2.9x the time of this whole forward pass
(``benchmarks/bench_musicnn_forward.py``); the sums run in another order, so activations
differ from the layer-by-layer computation by about 1e-6 relative. Parity with the original
(``benchmarks/results/musicnn_parity.md``) was measured on CPU. On a CUDA GPU, PyTorch runs
convolutions in TF32 by default (``torch.backends.cudnn.allow_tf32``), which rounds their
inputs to 10-bit mantissas; set it to False where GPU results must match the CPU ones closely
(not measured here: no GPU was available). The weights come from
the wheel's checkpoints through :mod:`sklearn_genre.pretrained.checkpoint`; no TensorFlow.

Input pipeline (:func:`musicnn_log_mel`, :func:`musicnn_patches`): the original's
``extractor.batch_data``: a 16 kHz mono waveform, ``librosa.feature.melspectrogram``'s defaults
with ``n_fft=512, hop_length=256, n_mels=96`` (centred STFT with zero padding, periodic Hann
window, power 2, Slaney mel scale and area normalisation), frames as rows, then
``log10(10000 x + 1)`` in float32 (the original casts to float16 first, which under NumPy 2
overflows and makes every clip look the same), cut into consecutive non-overlapping patches of
187 frames (3 s; the original's default ``input_overlap=False``). Frames after the last whole
patch are dropped, as in the original. A clip shorter than one patch (under 2.98 s) makes the
original fail (it builds no batch); here it is repeat-padded to 187 frames by default, which is
what the models' training did with short clips (``"pad_short": "repeat-pad"`` in the wheel's
``config.json``).
"""

from __future__ import annotations

import json

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from .checkpoint import read_checkpoint
from .weights import MUSICNN_MODELS, musicnn_weights_dir

__all__ = [
    "MUSICNN_SR",
    "MUSICNN_N_FFT",
    "MUSICNN_HOP_LENGTH",
    "MUSICNN_N_MELS",
    "MUSICNN_PATCH_FRAMES",
    "MusiCNN",
    "load_musicnn",
    "musicnn_log_mel",
    "musicnn_patches",
]

MUSICNN_SR = 16000
MUSICNN_N_FFT = 512
MUSICNN_HOP_LENGTH = 256
MUSICNN_N_MELS = 96
#: Frames per input patch: ``librosa.time_to_frames(3, sr=16000, n_fft=512, hop_length=256)
#: + 1`` in the original extractor (3 s).
MUSICNN_PATCH_FRAMES = 187

_BN_EPS = 1e-3  # tf.compat.v1.layers.batch_normalization's default


# --------------------------------------------------------------------------- input

def musicnn_log_mel(y):
    """MusiCNN's input representation of a 16 kHz mono waveform.

    ``log10(10000 * mel + 1)`` in float32, where ``mel`` is the power mel spectrogram of
    ``librosa.feature.melspectrogram(y=y, sr=16000, n_fft=512, hop_length=256, n_mels=96)``
    (computed by :func:`sklearn_genre.logmel.mel_power_spectrogram`).

    Parameters
    ----------
    y : ndarray of shape (n_samples,)
        Finite waveform sampled at 16 kHz (e.g. ``sklearn_genre.audio.load_audio(path,
        sr=16000)``).

    Returns
    -------
    log_mel : ndarray of shape (n_frames, 96), float32
        Frames as rows (the original's layout); ``n_frames = 1 + n_samples // 256``.
    """
    from ..logmel import mel_power_spectrogram

    mel = mel_power_spectrogram(
        np.asarray(y, dtype=np.float32), sr=MUSICNN_SR, n_fft=MUSICNN_N_FFT,
        hop_length=MUSICNN_HOP_LENGTH, n_mels=MUSICNN_N_MELS,
    )
    mel *= np.float32(10000.0)
    mel += np.float32(1.0)
    return np.log10(mel, out=mel).T.copy()


def musicnn_patches(log_mel, *, hop=MUSICNN_PATCH_FRAMES, pad_short="repeat"):
    """Cut a MusiCNN log-mel representation into the model's 187-frame patches.

    Parameters
    ----------
    log_mel : ndarray of shape (n_frames, 96)
        From :func:`musicnn_log_mel`.
    hop : int, default=187
        Frames between patch starts. 187: consecutive patches without overlap (the original
        extractor's default); smaller values overlap (``input_overlap`` in seconds there is
        ``librosa.time_to_frames(input_overlap, ...)`` frames here).
    pad_short : {"repeat", "zero", "error"}, default="repeat"
        What to do with fewer than 187 frames (a clip under 2.98 s): ``"repeat"`` tiles the
        frames until there are 187 (the models' training did this), ``"zero"`` appends
        silent frames, ``"error"`` raises ``ValueError`` (the original extractor fails).

    Returns
    -------
    patches : ndarray of shape (n_patches, 187, 96), float32
        Patch ``i`` starts at frame ``i * hop``; frames after the last whole patch are not
        used.
    """
    log_mel = np.asarray(log_mel, dtype=np.float32)
    if log_mel.ndim != 2 or log_mel.shape[1] != MUSICNN_N_MELS:
        raise ValueError(f"log_mel must have shape (n_frames, {MUSICNN_N_MELS}), got "
                         f"{log_mel.shape}")
    if int(hop) != hop or hop < 1:
        raise ValueError(f"hop must be a positive integer, got {hop!r}")
    n = log_mel.shape[0]
    if n < MUSICNN_PATCH_FRAMES:
        if n == 0 or pad_short == "error":
            raise ValueError(f"{n} frames, fewer than one MusiCNN patch "
                             f"({MUSICNN_PATCH_FRAMES} frames, 2.98 s at 16 kHz)")
        if pad_short == "repeat":
            reps = -(-MUSICNN_PATCH_FRAMES // n)
            log_mel = np.tile(log_mel, (reps, 1))[:MUSICNN_PATCH_FRAMES]
        elif pad_short == "zero":
            log_mel = np.pad(log_mel, ((0, MUSICNN_PATCH_FRAMES - n), (0, 0)))
        else:
            raise ValueError(f"pad_short must be 'repeat', 'zero' or 'error', got "
                             f"{pad_short!r}")
        n = MUSICNN_PATCH_FRAMES
    starts = range(0, n - MUSICNN_PATCH_FRAMES + 1, int(hop))
    return np.stack([log_mel[s:s + MUSICNN_PATCH_FRAMES] for s in starts])


# --------------------------------------------------------------------------- model

class _BatchNorm(nn.Module):
    """Inference-mode batch norm over the channel axis ``dim`` (TF1 layer semantics)."""

    def __init__(self, n, dim=1):
        super().__init__()
        self.dim = dim
        self.register_buffer("gamma", torch.ones(n))
        self.register_buffer("beta", torch.zeros(n))
        self.register_buffer("moving_mean", torch.zeros(n))
        self.register_buffer("moving_variance", torch.ones(n))

    def forward(self, x):
        scale = self.gamma * torch.rsqrt(self.moving_variance + _BN_EPS)
        shift = self.beta - self.moving_mean * scale
        shape = [1] * x.dim()
        shape[self.dim] = -1
        return x * scale.view(shape) + shift.view(shape)


class MusiCNN(nn.Module):
    """The MusiCNN tagger (``musicnn`` 0.1.0's ``MSD_musicnn`` / ``MTT_musicnn``).

    Use :func:`load_musicnn` to get one with the released weights; a bare instance has
    random convolution weights and identity batch norms.

    Parameters
    ----------
    n_tags : int, default=50
    tags : sequence of str, default=None
        Tag names in output order (``len(tags) == n_tags``), kept as :attr:`tags`.

    Attributes
    ----------
    tags : tuple of str or None
        Tag names in output order.
    """

    def __init__(self, n_tags=50, tags=None):
        super().__init__()
        self.tags = None if tags is None else tuple(tags)
        self.bn_input = _BatchNorm(1)
        self.timbral = nn.ModuleList([nn.Conv2d(1, 204, (7, 38)), nn.Conv2d(1, 204, (7, 67))])
        self.temporal = nn.ModuleList([nn.Conv2d(1, 51, (k, 1)) for k in (128, 64, 32)])
        self.bn_front = nn.ModuleList([_BatchNorm(204), _BatchNorm(204), _BatchNorm(51),
                                       _BatchNorm(51), _BatchNorm(51)])
        self.midend = nn.ModuleList([nn.Conv1d(561, 64, 7), nn.Conv1d(64, 64, 7),
                                     nn.Conv1d(64, 64, 7)])
        self.bn_mid = nn.ModuleList([_BatchNorm(64) for _ in range(3)])
        self.bn_pool = _BatchNorm(1506)
        self.dense = nn.Linear(1506, 200)
        self.bn_dense = _BatchNorm(200)
        self.output = nn.Linear(200, n_tags)

    def forward(self, x):
        """Tag probabilities and the intermediate representations of a batch of patches.

        Parameters
        ----------
        x : Tensor of shape (n_patches, n_frames, 96)
            Log-mel patches (:func:`musicnn_patches`); the models were trained on
            ``n_frames = 187`` but any length >= 1 runs.

        Returns
        -------
        outputs : dict of str -> Tensor
            The original extractor's outputs, with the same names and layouts:

            - ``"taggram"`` (n_patches, n_tags): sigmoid tag probabilities;
            - ``"logits"`` (n_patches, n_tags);
            - ``"penultimate"`` (n_patches, 200): the embedding (dense + ReLU + batch norm);
            - ``"mean_pool"``, ``"max_pool"`` (n_patches, 753): temporal mean / max of the
              concatenated front- and mid-end features;
            - ``"timbral"`` (n_patches, n_frames, 408), ``"temporal"`` (n_patches, n_frames,
              153): front-end features;
            - ``"cnn1"``, ``"cnn2"``, ``"cnn3"`` (n_patches, n_frames, 64): mid-end features.
        """
        x = self.bn_input(x.unsqueeze(1))[:, 0]  # (B, T, F); TF's (B, T, F, 1) input
        front = torch.cat([_timbral_front(x, self.timbral, self.bn_front[:2]),
                           _temporal_front(x, self.temporal, self.bn_front[2:])], dim=1)
        mid = [front]
        h = front
        for i, (conv, bn) in enumerate(zip(self.midend, self.bn_mid)):
            out = bn(F.relu(conv(F.pad(h, (3, 3)))))
            h = out if i == 0 else out + h
            mid.append(h)
        features = torch.cat(mid, dim=1)  # (B, 753, T)
        max_pool = features.amax(dim=2)
        mean_pool = features.mean(dim=2)
        pooled = torch.stack([max_pool, mean_pool], dim=2).flatten(1)  # TF's interleaving
        penultimate = self.bn_dense(F.relu(self.dense(self.bn_pool(pooled))))
        logits = self.output(penultimate)
        return {
            "taggram": torch.sigmoid(logits),
            "logits": logits,
            "penultimate": penultimate,
            "mean_pool": mean_pool,
            "max_pool": max_pool,
            "timbral": front[:, :408].transpose(1, 2),
            "temporal": front[:, 408:].transpose(1, 2),
            "cnn1": mid[1].transpose(1, 2),
            "cnn2": mid[2].transpose(1, 2),
            "cnn3": mid[3].transpose(1, 2),
        }

    def load_tf_variables(self, variables):
        """Copy the weights from a TensorFlow checkpoint's ``{name: ndarray}``.

        Parameters
        ----------
        variables : dict of str -> ndarray
            As :func:`sklearn_genre.pretrained.checkpoint.read_checkpoint` returns for
            ``MSD_musicnn`` / ``MTT_musicnn`` (TF1 default layer names, in graph order).

        Returns
        -------
        self : MusiCNN
        """
        def t(name):
            if name not in variables:
                raise KeyError(f"the checkpoint has no variable {name!r}")
            return torch.from_numpy(np.ascontiguousarray(variables[name]))

        convs = list(self.timbral) + list(self.temporal)
        for i, conv in enumerate(convs):  # TF kernel (kh, kw, in, out) -> (out, in, kh, kw)
            name = "conv2d" if i == 0 else f"conv2d_{i}"
            _copy(conv.weight, t(f"{name}/kernel").permute(3, 2, 0, 1))
            _copy(conv.bias, t(f"{name}/bias"))
        for j, conv in enumerate(self.midend):  # (7, c_in, 1, out) -> (out, c_in, 7)
            name = f"conv2d_{5 + j}"
            _copy(conv.weight, t(f"{name}/kernel")[:, :, 0, :].permute(2, 1, 0))
            _copy(conv.bias, t(f"{name}/bias"))
        bns = [self.bn_input, *self.bn_front, *self.bn_mid, self.bn_pool, self.bn_dense]
        for i, bn in enumerate(bns):
            name = "batch_normalization" if i == 0 else f"batch_normalization_{i}"
            for field in ("gamma", "beta", "moving_mean", "moving_variance"):
                _copy(getattr(bn, field), t(f"{name}/{field}"))
        for name, layer in (("dense", self.dense), ("dense_1", self.output)):
            _copy(layer.weight, t(f"{name}/kernel").T)
            _copy(layer.bias, t(f"{name}/bias"))
        return self


#: Frames of one patch per matrix product in the front-end: the unfolded windows of 94
#: frames (5.9 MB for the 7 x 38 filters) stay in the CPU's caches.
_FRAMES_PER_PRODUCT = 94


def _bn_signs(bn):
    """+1 where the batch norm's scale is >= 0, -1 where it is negative: (C,)."""
    scale = bn.gamma * torch.rsqrt(bn.moving_variance + _BN_EPS)
    return torch.where(scale >= 0, 1.0, -1.0).to(scale.dtype)


def _front_max(z_max, signs, bn):
    """``bn(relu(z)).amax(frequency)`` from ``amax(signs * z)``: (B, C, T).

    ReLU and rounding are monotone non-decreasing and an inference batch norm is a per-channel
    affine map, so the frequency max of ``bn(relu(z))`` is ``bn(relu(max z))`` for channels
    with a non-negative scale and ``bn(relu(min z))`` for the others; ``min z = -max(-z)``,
    and negating a filter's weights and bias negates its outputs exactly. So the front-end
    computes ``signs * z`` (filters pre-multiplied by the signs), takes the max over frequency
    and applies the sign, the ReLU and the batch norm to the reduced map only: the same
    values as the elementwise passes over the whole map, which the original graph runs.
    """
    return bn(F.relu(z_max * signs.view(1, -1, 1)))


def _needs_grad(x, convs):
    """Whether autograd records the front-end (fine-tuning): then no reused buffers."""
    return torch.is_grad_enabled() and (x.requires_grad
                                        or any(c.weight.requires_grad for c in convs))


def _as_rows(windows, n_cols, buffer):
    """Unfolded windows (..., n_cols) as a (rows, n_cols) matrix, in ``buffer`` if given.

    In inference the windows are copied into a buffer allocated once per call of the
    front-end (a fresh multi-megabyte tensor per product costs page faults every time);
    with autograd (``buffer=None``) a plain reshape, which copies too.
    """
    n_rows = windows.numel() // n_cols
    if buffer is None:
        return windows.reshape(n_rows, n_cols)
    rows = buffer[:n_rows]
    rows.view(windows.shape).copy_(windows)
    return rows


def _product(rows, w, buffer):
    """``rows @ w``, into ``buffer`` (inference) or a new tensor (``buffer=None``)."""
    if buffer is None:
        return rows @ w
    return torch.mm(rows, w, out=buffer[:rows.shape[0]])


def _timbral_front(x, convs, bns):
    """The two timbral branches: (B, T, 96) -> (B, 408, T).

    Each 7 x h filter bank over (time, frequency), with 3 zero frames padded on both sides in
    time, runs as one matrix product per block of frames: the block's (7, h) windows,
    unfolded (``as_strided``, then one copy), times the (7 h, 204) filter matrix. This is the
    convolution's arithmetic in the layout the BLAS runs fastest on a CPU (for one input
    channel, faster than oneDNN's direct convolution on the development machine); sums are
    accumulated in a different order, so results differ from ``Conv2d`` in the last bits.
    """
    padded = F.pad(x, (0, 0, 3, 3))  # (B, T + 6, F)
    n, t = x.shape[0], x.shape[1]
    block = min(t, _FRAMES_PER_PRODUCT)
    grad = _needs_grad(x, convs)
    outs = []
    for conv, bn in zip(convs, bns):
        c_out, _, kt, kf = conv.weight.shape
        n_pos = x.shape[2] - kf + 1
        signs = _bn_signs(bn)
        w = (conv.weight.reshape(c_out, kt * kf) * signs[:, None]).T.contiguous()
        cols = None if grad else x.new_empty((block * n_pos, kt * kf))
        z = None if grad else x.new_empty((block * n_pos, c_out))
        maxima = []
        for i in range(n):
            xi = padded[i]
            s_t, s_f = xi.stride()
            for t0 in range(0, t, block):
                nt = min(block, t - t0)
                win = xi[t0:].as_strided((nt, n_pos, kt, kf), (s_t, s_f, s_t, s_f))
                product = _product(_as_rows(win, kt * kf, cols), w, z)
                maxima.append(product.view(nt, n_pos, c_out).amax(dim=1))
        # the bias is the same at every frequency: added after the max (rounding is
        # monotone, so max(z) + b is max(z + b))
        z_max = torch.cat(maxima).view(n, t, c_out) + conv.bias * signs
        outs.append(_front_max(z_max.transpose(1, 2), signs, bn))
    return torch.cat(outs, dim=1)


def _temporal_front(x, convs, bns):
    """The three temporal branches: (B, T, 96) -> (B, 153, T).

    Each filter spans k frames of one mel band (k = 128, 64, 32; TensorFlow's "same"
    padding: ``(k - 1) // 2`` zero frames before, ``k // 2`` after). One unfolding of each
    patch's bands into 128-frame windows serves all three: with 63 frames padded before, the
    64- and 32-frame filters' windows are columns 32-95 and 48-79 of the 128-frame ones.
    """
    k_max = max(conv.weight.shape[2] for conv in convs)
    lead = (k_max - 1) // 2
    bands = F.pad(x.transpose(1, 2), (lead, k_max // 2))  # (B, F, T + k_max - 1)
    n, n_mels, t = x.shape[0], x.shape[2], x.shape[1]
    grad = _needs_grad(x, convs)
    cols = None if grad else x.new_empty((t * n_mels, k_max))
    filters = []
    for conv in convs:
        c_out, _, k, _ = conv.weight.shape
        first = lead - (k - 1) // 2
        filters.append((slice(first, first + k), c_out, None if grad
                        else x.new_empty((t * n_mels, c_out))))
    signs = [_bn_signs(bn) for bn in bns]
    weights = [(conv.weight[:, 0, :, 0] * sign[:, None]).T.contiguous()
               for conv, sign in zip(convs, signs)]
    maxima = [[] for _ in convs]
    for i in range(n):
        win = bands[i].unfold(1, k_max, 1).transpose(0, 1)  # (T, F, k_max) view
        rows = _as_rows(win, k_max, cols)  # rows (frame, band)
        for out, w, (columns, c_out, z) in zip(maxima, weights, filters):
            product = _product(rows[:, columns], w, z)
            out.append(product.view(t, n_mels, c_out).amax(dim=1))
    return torch.cat([_front_max((torch.stack(out) + conv.bias * sign).transpose(1, 2),
                                 sign, bn)
                      for out, conv, sign, bn in zip(maxima, convs, signs, bns)], dim=1)


def _copy(param, value):
    if tuple(param.shape) != tuple(value.shape):
        raise ValueError(f"checkpoint tensor of shape {tuple(value.shape)} where the model "
                         f"expects {tuple(param.shape)}")
    with torch.no_grad():
        param.copy_(value)


def load_musicnn(model="MSD_musicnn", *, data_home=None, device="cpu"):
    """The pretrained MusiCNN with the released weights, in eval mode.

    Parameters
    ----------
    model : {"MSD_musicnn", "MTT_musicnn"}, default="MSD_musicnn"
        ``MSD_musicnn``: trained on the Million Song Dataset's 50 most frequent Last.fm tags
        (genres such as rock, pop, jazz, metal, Hip-Hop, plus moods and eras);
        ``MTT_musicnn``: on MagnaTagATune's 50 tags (instruments, genres, moods).
    data_home : str or path-like, default=None
        Where :func:`~sklearn_genre.pretrained.fetch_musicnn_weights` put the weights.
    device : str or torch.device, default="cpu"
        ``"auto"``: CUDA when available, else CPU.

    Returns
    -------
    module : MusiCNN
        In eval mode with gradients disabled; ``module.tags`` are the 50 tag names in
        output order.

    Raises
    ------
    MusicnnWeightsNotFoundError
        If the weights have not been fetched (the message says how to fetch them).

    Examples
    --------
    >>> import torch
    >>> from sklearn_genre.pretrained import load_musicnn
    >>> net = load_musicnn("MSD_musicnn")  # doctest: +SKIP
    >>> net(torch.zeros(2, 187, 96))["taggram"].shape  # doctest: +SKIP
    torch.Size([2, 50])
    """
    if model not in MUSICNN_MODELS:
        raise ValueError(f"model must be one of {MUSICNN_MODELS}, got {model!r}")
    folder = musicnn_weights_dir(model, data_home)
    tags = json.loads((folder / "tags.json").read_text())
    variables = read_checkpoint(folder / "variables", select=_needed)
    net = MusiCNN(n_tags=len(tags), tags=tags).load_tf_variables(variables)
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    net.requires_grad_(False)
    return net.eval().to(device)


def _needed(name):
    """Checkpoint variables the model uses (not the optimiser's slots or counters)."""
    return not name.endswith(("/Adam", "/Adam_1")) and name not in ("beta1_power",
                                                                     "beta2_power")
