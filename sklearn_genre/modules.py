"""PyTorch networks for log-mel spectrogram genre classification.

Every network takes a batch of log-mel spectrograms, a tensor of shape
``(batch, n_mels, n_frames)`` (float16 or float32; it is cast to float32
inside), and returns class logits of shape ``(batch, n_classes)``. They share
the same parts:

- :class:`BandStandardize`: per-mel-band standardisation with the mean and
  standard deviation stored as buffers, so they travel with ``state_dict``,
  pickles and ``.to(device)``. The estimators in :mod:`sklearn_genre.classifiers`
  learn them in ``fit``.
- :class:`NoiseShiftAugment`: train-only Gaussian noise and random circular
  time shift; the identity in ``eval()`` mode.
- :class:`ConvBlock` / :class:`DepthwiseSeparableConv`: the convolutional
  front end (:class:`ConvFrontEnd`) of the reference CNN-GRU-Attention model.
- :class:`AdditiveAttention`: attention pooling over time that also returns
  its weights.

Four networks are built from them: :class:`CNNNet` (CNN, pooled over time),
:class:`GRUNet` (GRU on the mel frames), :class:`CNNGRUNet` (CNN then GRU,
last state or mean pooling) and :class:`CNNGRUAttentionNet` (the reference
model). Any number of frames works, down to a single frame: every max-pool uses
``ceil_mode=True``.
"""

from __future__ import annotations

import math

import torch
from torch import nn

__all__ = [
    "AdditiveAttention",
    "BandStandardize",
    "CNNGRUAttentionNet",
    "CNNGRUNet",
    "CNNNet",
    "ConvBlock",
    "ConvFrontEnd",
    "DepthwiseSeparableConv",
    "GRUNet",
    "NoiseShiftAugment",
]


class BandStandardize(nn.Module):
    """Standardise each mel band with a stored mean and standard deviation.

    Parameters
    ----------
    n_mels : int
        Number of mel bands (the second axis of the input).

    Notes
    -----
    ``mean`` and ``std`` are buffers of shape ``(n_mels,)`` (initially 0 and
    1, the identity). Set them with :meth:`set_statistics`. The input is cast
    to the buffers' dtype (float32) first, so float16 feature storage works.
    """

    def __init__(self, n_mels: int):
        super().__init__()
        self.n_mels = n_mels
        self.register_buffer("mean", torch.zeros(n_mels))
        self.register_buffer("std", torch.ones(n_mels))

    @torch.no_grad()
    def set_statistics(self, mean, std) -> BandStandardize:
        """Copy per-band statistics into the buffers.

        Parameters
        ----------
        mean, std : array-like of shape (n_mels,)
            Per-band mean and standard deviation; ``std`` must be positive.

        Returns
        -------
        self : BandStandardize
        """
        mean = torch.as_tensor(mean, dtype=self.mean.dtype).reshape(-1)
        std = torch.as_tensor(std, dtype=self.std.dtype).reshape(-1)
        if mean.shape != self.mean.shape or std.shape != self.std.shape:
            raise ValueError(
                f"expected statistics of shape ({self.n_mels},), got {tuple(mean.shape)} "
                f"and {tuple(std.shape)}"
            )
        if not bool(torch.all(std > 0)):
            raise ValueError("std must be positive in every band")
        self.mean.copy_(mean)
        self.std.copy_(std)
        return self

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Standardise ``x`` of shape (batch, n_mels, n_frames); returns float32."""
        x = x.to(self.mean.dtype)
        return (x - self.mean[:, None]) / self.std[:, None]


class NoiseShiftAugment(nn.Module):
    """Train-only augmentation: additive Gaussian noise and a random time shift.

    In training mode, each example independently gets, with probability ``p``,
    Gaussian noise of standard deviation ``noise_std`` added, and, again with
    probability ``p``, a circular shift along time by a uniform random number of
    frames in ``[-round(shift_max * n_frames), round(shift_max * n_frames)]``.
    In ``eval()`` mode it is the identity. Randomness comes from torch's
    global generator (seeded by the estimators' ``random_state``).

    Parameters
    ----------
    noise_std : float, default=0.0
        Noise standard deviation, in units of the input (after
        :class:`BandStandardize`: in per-band standard deviations). 0 disables.
    shift_max : float, default=0.0
        Largest shift as a fraction of the number of frames. 0 disables.
    p : float, default=0.5
        Probability of applying each of the two augmentations to an example.
    """

    def __init__(self, noise_std: float = 0.0, shift_max: float = 0.0, p: float = 0.5):
        super().__init__()
        self.noise_std = float(noise_std)
        self.shift_max = float(shift_max)
        self.p = float(p)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Augment ``x`` of shape (batch, n_mels, n_frames) in training mode."""
        if not self.training or self.p <= 0:
            return x
        batch, n_mels, n_frames = x.shape
        if self.noise_std > 0:
            apply = torch.rand(batch, 1, 1, device=x.device) < self.p
            noise = torch.randn_like(x) * self.noise_std
            x = x + noise * apply.to(x.dtype)
        max_shift = int(round(self.shift_max * n_frames))
        if max_shift > 0 and n_frames > 1:
            shifts = torch.randint(-max_shift, max_shift + 1, (batch,), device=x.device)
            shifts = shifts * (torch.rand(batch, device=x.device) < self.p)
            frames = torch.arange(n_frames, device=x.device)
            index = torch.remainder(frames[None, :] - shifts[:, None], n_frames)
            x = torch.gather(x, 2, index[:, None, :].expand(batch, n_mels, n_frames))
        return x

    def extra_repr(self) -> str:
        return f"noise_std={self.noise_std}, shift_max={self.shift_max}, p={self.p}"


class DepthwiseSeparableConv(nn.Module):
    """Depthwise 3x3 convolution followed by a pointwise 1x1 convolution.

    Parameters
    ----------
    in_channels, out_channels : int
        Channel counts.
    kernel_size : int, default=3
        Size of the depthwise kernel ("same" padding).
    bias : bool, default=False
        Bias of the pointwise convolution (not needed before batch norm).
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 3,
                 bias: bool = False):
        super().__init__()
        self.depthwise = nn.Conv2d(in_channels, in_channels, kernel_size,
                                   padding=kernel_size // 2, groups=in_channels, bias=False)
        self.pointwise = nn.Conv2d(in_channels, out_channels, 1, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Map (batch, in_channels, H, W) to (batch, out_channels, H, W)."""
        return self.pointwise(self.depthwise(x))


class ConvBlock(nn.Module):
    """Convolution, batch norm, ReLU, 2x2 max-pool and optional Dropout2d.

    The max-pool runs before the ReLU: both are monotone, so
    ``relu(maxpool(x)) == maxpool(relu(x))`` exactly, and the ReLU touches a
    quarter of the elements. Pooling uses ``ceil_mode=True`` so a dimension of
    size 1 survives.

    Parameters
    ----------
    in_channels, out_channels : int
        Channel counts.
    separable : bool, default=False
        Use :class:`DepthwiseSeparableConv` instead of a full 3x3 convolution.
    pool : int, default=2
        Max-pool size and stride (1 disables pooling).
    dropout : float, default=0.0
        ``Dropout2d`` probability after pooling (0 disables).
    """

    def __init__(self, in_channels: int, out_channels: int, *, separable: bool = False,
                 pool: int = 2, dropout: float = 0.0):
        super().__init__()
        if separable:
            self.conv = DepthwiseSeparableConv(in_channels, out_channels)
        else:
            self.conv = nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(out_channels)
        self.pool = nn.MaxPool2d(pool, ceil_mode=True) if pool > 1 else nn.Identity()
        self.relu = nn.ReLU(inplace=True)
        self.dropout = nn.Dropout2d(dropout) if dropout > 0 else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Map (batch, in_channels, H, W) to (batch, out_channels, ceil(H/pool), ceil(W/pool))."""
        return self.dropout(self.relu(self.pool(self.bn(self.conv(x)))))


def _pooled_length(n: int, n_pools: int, pool: int = 2) -> int:
    for _ in range(n_pools):
        n = math.ceil(n / pool)
    return n


class ConvFrontEnd(nn.Module):
    """The reference CNN front end: one conv block and two separable blocks.

    conv 1->c1 (3x3) + BN + ReLU + max-pool 2; depthwise-separable c1->c2 +
    BN + ReLU + max-pool 2 + Dropout2d(cnn_dropout / 2); depthwise-separable
    c2->c3 + BN + ReLU + max-pool 2 + Dropout2d(cnn_dropout); mean over frequency.

    Parameters
    ----------
    channels : tuple of 3 int, default=(32, 64, 128)
        Output channels of the three blocks.
    cnn_dropout : float, default=0.2
        Dropout2d probability of the last block (half of it after the second).
    channels_last : bool, default=True
        Run the convolutions in channels-last memory format (faster on CPU
        with oneDNN; see ``benchmarks/bench_training.py``).

    Notes
    -----
    Maps (batch, n_mels, n_frames) to (batch, n_steps, channels[-1]) with
    ``n_steps = output_length(n_frames)``, i.e. ceil(n_frames / 8): time step
    ``i`` covers input frames ``[8 i, 8 i + 8)``.
    """

    time_reduction = 8

    def __init__(self, channels=(32, 64, 128), cnn_dropout: float = 0.2,
                 channels_last: bool = True):
        super().__init__()
        if len(channels) != 3:
            raise ValueError(f"channels must have 3 entries, got {channels!r}")
        c1, c2, c3 = (int(c) for c in channels)
        self.channels_last = bool(channels_last)
        self.out_channels = c3
        self.block1 = ConvBlock(1, c1)
        self.block2 = ConvBlock(c1, c2, separable=True, dropout=cnn_dropout / 2)
        self.block3 = ConvBlock(c2, c3, separable=True, dropout=cnn_dropout)
        if self.channels_last:
            self.to(memory_format=torch.channels_last)

    @staticmethod
    def output_length(n_frames: int) -> int:
        """Number of time steps the front end produces for ``n_frames`` frames."""
        return _pooled_length(n_frames, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Map (batch, n_mels, n_frames) to (batch, n_steps, channels[-1])."""
        x = x.unsqueeze(1)
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        x = self.block3(self.block2(self.block1(x)))
        return x.mean(dim=2).transpose(1, 2)


class AdditiveAttention(nn.Module):
    """Additive attention pooling over time: Linear -> tanh -> Linear -> softmax.

    Parameters
    ----------
    in_features : int
        Size of each time step's feature vector.
    attention_size : int, default=64
        Hidden size of the scoring network.
    """

    def __init__(self, in_features: int, attention_size: int = 64):
        super().__init__()
        self.project = nn.Linear(in_features, attention_size)
        self.score = nn.Linear(attention_size, 1, bias=False)

    def forward(self, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Pool ``h`` of shape (batch, n_steps, in_features).

        Returns
        -------
        context : Tensor of shape (batch, in_features)
            Attention-weighted sum over time.
        weights : Tensor of shape (batch, n_steps)
            Softmax weights over time (each row sums to 1).
        """
        scores = self.score(torch.tanh(self.project(h))).squeeze(-1)
        weights = torch.softmax(scores.float(), dim=1)
        context = torch.bmm(weights.unsqueeze(1).to(h.dtype), h).squeeze(1)
        return context, weights


class _SpectrogramNet(nn.Module):
    """Shared input part: cast, per-band standardisation, train-only augmentation."""

    def __init__(self, n_mels: int, n_classes: int, noise_std: float, shift_max: float,
                 augment_p: float):
        super().__init__()
        if n_mels < 1 or n_classes < 1:
            raise ValueError(f"n_mels and n_classes must be >= 1, got {n_mels}, {n_classes}")
        self.n_mels = int(n_mels)
        self.n_classes = int(n_classes)
        self.standardize = BandStandardize(self.n_mels)
        self.augment = NoiseShiftAugment(noise_std, shift_max, augment_p)

    def _check_input(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 3 or x.shape[1] != self.n_mels:
            raise ValueError(
                f"expected input of shape (batch, {self.n_mels}, n_frames), got {tuple(x.shape)}"
            )
        return self.augment(self.standardize(x))


class CNNNet(_SpectrogramNet):
    """CNN baseline: :class:`ConvFrontEnd`, mean over time, dropout, linear.

    Parameters
    ----------
    n_mels : int
        Number of mel bands of the input.
    n_classes : int
        Number of output logits.
    channels : tuple of 3 int, default=(32, 64, 128)
        Channels of the three conv blocks.
    cnn_dropout : float, default=0.2
        Dropout2d of the conv blocks (see :class:`ConvFrontEnd`).
    dropout : float, default=0.3
        Dropout before the output layer.
    noise_std, shift_max, augment_p : float, default=0.0, 0.0, 0.5
        Train-only augmentation (see :class:`NoiseShiftAugment`); off by default.
    channels_last : bool, default=True
        Channels-last convolutions (see :class:`ConvFrontEnd`).

    Notes
    -----
    Input: Tensor of shape (batch, n_mels, n_frames); output: logits of shape
    (batch, n_classes).
    """

    def __init__(self, n_mels: int, n_classes: int, *, channels=(32, 64, 128),
                 cnn_dropout: float = 0.2, dropout: float = 0.3, noise_std: float = 0.0,
                 shift_max: float = 0.0, augment_p: float = 0.5, channels_last: bool = True):
        super().__init__(n_mels, n_classes, noise_std, shift_max, augment_p)
        self.cnn = ConvFrontEnd(channels, cnn_dropout, channels_last)
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(self.cnn.out_channels, self.n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Return logits of shape (batch, n_classes) for x of shape (batch, n_mels, n_frames)."""
        features = self.cnn(self._check_input(x))
        return self.head(self.dropout(features.mean(dim=1))).float()


def _pool_sequence(h: torch.Tensor, pooling: str) -> torch.Tensor:
    if pooling == "last":
        return h[:, -1]
    return h.mean(dim=1)


def _check_pooling(pooling: str) -> str:
    if pooling not in ("last", "mean"):
        raise ValueError(f"pooling must be 'last' or 'mean', got {pooling!r}")
    return pooling


class GRUNet(_SpectrogramNet):
    """GRU baseline on the mel frames (each frame is one time step).

    Parameters
    ----------
    n_mels : int
        Number of mel bands (GRU input size).
    n_classes : int
        Number of output logits.
    gru_hidden : int, default=64
        GRU hidden size.
    gru_layers : int, default=2
        Number of stacked GRU layers.
    gru_dropout : float, default=0.0
        Dropout between GRU layers.
    pooling : {"last", "mean"}, default="mean"
        Use the last hidden state or the mean over time.
    dropout : float, default=0.3
        Dropout before the output layer.
    noise_std, shift_max, augment_p : float, default=0.0, 0.0, 0.5
        Train-only augmentation (see :class:`NoiseShiftAugment`).

    Notes
    -----
    Input: Tensor of shape (batch, n_mels, n_frames); output: logits of shape
    (batch, n_classes). The recurrence runs over all ``n_frames`` steps, so it
    is the slowest network per frame on CPU.
    """

    def __init__(self, n_mels: int, n_classes: int, *, gru_hidden: int = 64,
                 gru_layers: int = 2, gru_dropout: float = 0.0, pooling: str = "mean",
                 dropout: float = 0.3, noise_std: float = 0.0, shift_max: float = 0.0,
                 augment_p: float = 0.5):
        super().__init__(n_mels, n_classes, noise_std, shift_max, augment_p)
        self.pooling = _check_pooling(pooling)
        self.gru = nn.GRU(self.n_mels, gru_hidden, num_layers=gru_layers, batch_first=True,
                          dropout=gru_dropout if gru_layers > 1 else 0.0)
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(gru_hidden, self.n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Return logits of shape (batch, n_classes) for x of shape (batch, n_mels, n_frames)."""
        h, _ = self.gru(self._check_input(x).transpose(1, 2))
        return self.head(self.dropout(_pool_sequence(h, self.pooling))).float()


class CNNGRUNet(_SpectrogramNet):
    """CNN front end followed by a GRU over the pooled time steps, no attention.

    Parameters
    ----------
    n_mels, n_classes : int
        Input bands and output logits.
    channels : tuple of 3 int, default=(32, 64, 128)
        Channels of the conv blocks.
    cnn_dropout : float, default=0.2
        Dropout2d of the conv blocks.
    gru_hidden : int, default=32
        GRU hidden size.
    gru_layers : int, default=2
        Number of stacked GRU layers.
    gru_dropout : float, default=0.0
        Dropout between GRU layers.
    pooling : {"last", "mean"}, default="last"
        Last hidden state or mean over time.
    dropout : float, default=0.3
        Dropout before the output layer.
    noise_std, shift_max, augment_p : float, default=0.0, 0.0, 0.5
        Train-only augmentation (see :class:`NoiseShiftAugment`).
    channels_last : bool, default=True
        Channels-last convolutions.

    Notes
    -----
    Input: Tensor of shape (batch, n_mels, n_frames); output: logits of shape
    (batch, n_classes).
    """

    def __init__(self, n_mels: int, n_classes: int, *, channels=(32, 64, 128),
                 cnn_dropout: float = 0.2, gru_hidden: int = 32, gru_layers: int = 2,
                 gru_dropout: float = 0.0, pooling: str = "last", dropout: float = 0.3,
                 noise_std: float = 0.0, shift_max: float = 0.0, augment_p: float = 0.5,
                 channels_last: bool = True):
        super().__init__(n_mels, n_classes, noise_std, shift_max, augment_p)
        self.pooling = _check_pooling(pooling)
        self.cnn = ConvFrontEnd(channels, cnn_dropout, channels_last)
        self.gru = nn.GRU(self.cnn.out_channels, gru_hidden, num_layers=gru_layers,
                          batch_first=True, dropout=gru_dropout if gru_layers > 1 else 0.0)
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(gru_hidden, self.n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Return logits of shape (batch, n_classes) for x of shape (batch, n_mels, n_frames)."""
        h, _ = self.gru(self.cnn(self._check_input(x)))
        return self.head(self.dropout(_pool_sequence(h, self.pooling))).float()


class CNNGRUAttentionNet(_SpectrogramNet):
    """The reference CNN-GRU-Attention network.

    :class:`ConvFrontEnd` (conv 1->32, separable 32->64, separable 64->128, each
    with BN, ReLU and max-pool 2; Dropout2d ``cnn_dropout / 2`` and
    ``cnn_dropout``; mean over frequency), a ``gru_layers``-layer GRU with a
    linear residual projection of the CNN features added to its output,
    :class:`AdditiveAttention` pooling over time, dropout, and a linear layer to
    ``n_classes``.

    Parameters
    ----------
    n_mels, n_classes : int
        Input bands and output logits.
    channels : tuple of 3 int, default=(32, 64, 128)
        Channels of the conv blocks.
    cnn_dropout : float, default=0.2
        Dropout2d of the conv blocks.
    gru_hidden : int, default=32
        GRU hidden size (and size of the residual projection).
    gru_layers : int, default=2
        Number of stacked GRU layers.
    gru_dropout : float, default=0.0
        Dropout between GRU layers.
    attention_size : int, default=64
        Hidden size of the attention scoring network.
    dropout : float, default=0.3
        Dropout before the output layer.
    noise_std, shift_max, augment_p : float, default=0.0, 0.0, 0.5
        Train-only augmentation (see :class:`NoiseShiftAugment`).
    channels_last : bool, default=True
        Channels-last convolutions.

    Notes
    -----
    Input: Tensor of shape (batch, n_mels, n_frames); output: logits of shape
    (batch, n_classes). :meth:`forward_with_attention` also returns the
    attention weights, shape (batch, n_steps) with
    ``n_steps = ConvFrontEnd.output_length(n_frames)``; step ``i`` covers input
    frames ``[8 i, 8 i + 8)``, i.e. seconds ``[8 i hop / sr, 8 (i + 1) hop / sr)``.
    """

    def __init__(self, n_mels: int, n_classes: int, *, channels=(32, 64, 128),
                 cnn_dropout: float = 0.2, gru_hidden: int = 32, gru_layers: int = 2,
                 gru_dropout: float = 0.0, attention_size: int = 64, dropout: float = 0.3,
                 noise_std: float = 0.0, shift_max: float = 0.0, augment_p: float = 0.5,
                 channels_last: bool = True):
        super().__init__(n_mels, n_classes, noise_std, shift_max, augment_p)
        self.cnn = ConvFrontEnd(channels, cnn_dropout, channels_last)
        self.gru = nn.GRU(self.cnn.out_channels, gru_hidden, num_layers=gru_layers,
                          batch_first=True, dropout=gru_dropout if gru_layers > 1 else 0.0)
        self.residual = nn.Linear(self.cnn.out_channels, gru_hidden)
        self.attention = AdditiveAttention(gru_hidden, attention_size)
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(gru_hidden, self.n_classes)

    def forward_with_attention(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Return logits (batch, n_classes) and attention weights (batch, n_steps)."""
        features = self.cnn(self._check_input(x))
        h, _ = self.gru(features)
        h = h + self.residual(features)
        context, weights = self.attention(h)
        return self.head(self.dropout(context)).float(), weights

    def forward(self, x: torch.Tensor, return_attention: bool = False):
        """Return logits of shape (batch, n_classes), and the weights if asked.

        Parameters
        ----------
        x : Tensor of shape (batch, n_mels, n_frames)
            Log-mel spectrograms.
        return_attention : bool, default=False
            Also return the attention weights of shape (batch, n_steps).
        """
        logits, weights = self.forward_with_attention(x)
        if return_attention:
            return logits, weights
        return logits
