"""Tests for sklearn_genre.modules: shapes, attention, standardisation, augmentation."""

import pytest
import torch
from torch import nn

from sklearn_genre.modules import (
    AdditiveAttention,
    BandStandardize,
    CNNGRUAttentionNet,
    CNNGRUNet,
    CNNNet,
    ConvBlock,
    ConvFrontEnd,
    DepthwiseSeparableConv,
    GRUNet,
    NoiseShiftAugment,
)

NETS = [CNNNet, GRUNet, CNNGRUNet, CNNGRUAttentionNet]


@pytest.mark.parametrize("net_cls", NETS)
@pytest.mark.parametrize("n_frames", [1, 2, 3, 5, 7, 8, 9, 17, 64])
@pytest.mark.parametrize("n_mels", [1, 3, 16])
def test_output_shape_any_length(net_cls, n_frames, n_mels):
    torch.manual_seed(0)
    net = net_cls(n_mels, 4).eval()
    out = net(torch.randn(2, n_mels, n_frames))
    assert out.shape == (2, 4)
    assert out.dtype == torch.float32
    assert torch.isfinite(out).all()


@pytest.mark.parametrize("net_cls", NETS)
def test_variable_length_and_float16_input(net_cls):
    torch.manual_seed(0)
    net = net_cls(16, 3).eval()
    x = torch.randn(3, 16, 40)
    out32 = net(x)
    out16 = net(x.half())
    # float16 input is cast to float32 inside: same as feeding the rounded values
    torch.testing.assert_close(out16, net(x.half().float()))
    assert out32.shape == out16.shape == (3, 3)
    assert net(torch.randn(1, 16, 123)).shape == (1, 3)


@pytest.mark.parametrize("net_cls", NETS)
def test_training_step_reaches_every_parameter(net_cls):
    torch.manual_seed(0)
    net = net_cls(8, 3).train()
    loss = nn.functional.cross_entropy(net(torch.randn(4, 8, 24)), torch.tensor([0, 1, 2, 0]))
    loss.backward()
    missing = [name for name, p in net.named_parameters() if p.grad is None]
    assert not missing


def test_wrong_number_of_bands_is_an_error():
    net = CNNGRUAttentionNet(16, 2)
    with pytest.raises(ValueError, match="16"):
        net(torch.randn(2, 12, 30))


@pytest.mark.parametrize("n_frames", [1, 7, 8, 9, 64, 1292])
def test_front_end_output_length(n_frames):
    front = ConvFrontEnd(channels=(4, 8, 8)).eval()
    out = front(torch.randn(2, 16, n_frames))
    assert out.shape == (2, ConvFrontEnd.output_length(n_frames), 8)
    assert ConvFrontEnd.output_length(n_frames) == -(-n_frames // 8)


def test_reference_architecture_sizes():
    net = CNNGRUAttentionNet(128, 8)
    assert net.cnn.block1.conv.in_channels == 1 and net.cnn.block1.conv.out_channels == 32
    assert isinstance(net.cnn.block2.conv, DepthwiseSeparableConv)
    assert net.cnn.block2.conv.pointwise.out_channels == 64
    assert net.cnn.block3.conv.pointwise.out_channels == 128
    assert net.cnn.block2.conv.depthwise.groups == 32
    assert net.cnn.block2.dropout.p == pytest.approx(0.1)
    assert net.cnn.block3.dropout.p == pytest.approx(0.2)
    assert net.gru.num_layers == 2 and net.gru.hidden_size == 32
    assert net.residual.in_features == 128 and net.residual.out_features == 32
    assert net.head.out_features == 8


def test_attention_weights_sum_to_one_and_match_forward():
    torch.manual_seed(0)
    net = CNNGRUAttentionNet(16, 3, channels=(8, 8, 16)).eval()
    x = torch.randn(5, 16, 50)
    logits, weights = net.forward_with_attention(x)
    assert weights.shape == (5, ConvFrontEnd.output_length(50))
    torch.testing.assert_close(weights.sum(dim=1), torch.ones(5))
    assert (weights >= 0).all()
    torch.testing.assert_close(net(x), logits)
    logits2, weights2 = net(x, return_attention=True)
    torch.testing.assert_close(weights2, weights)


def test_additive_attention_pools_weighted_sum():
    torch.manual_seed(0)
    att = AdditiveAttention(6, 5)
    h = torch.randn(2, 7, 6)
    context, weights = att(h)
    torch.testing.assert_close(context, (weights[:, :, None] * h).sum(dim=1))


def test_pool_before_relu_is_exact():
    torch.manual_seed(0)
    block = ConvBlock(3, 5).eval()
    x = torch.randn(2, 3, 9, 11)
    reference = block.pool(torch.relu(block.bn(block.conv(x))))
    torch.testing.assert_close(block(x), reference, rtol=0, atol=0)


def test_channels_last_matches_contiguous():
    torch.manual_seed(0)
    a = CNNGRUAttentionNet(16, 3, channels_last=True).eval()
    b = CNNGRUAttentionNet(16, 3, channels_last=False).eval()
    b.load_state_dict(a.state_dict())
    x = torch.randn(3, 16, 40)
    torch.testing.assert_close(a(x), b(x), rtol=1e-4, atol=1e-5)


def test_band_standardize_buffers():
    std = BandStandardize(3).set_statistics([1.0, 2.0, 3.0], [1.0, 2.0, 4.0])
    x = torch.tensor([[[1.0, 3.0], [2.0, 6.0], [3.0, 11.0]]])
    expected = torch.tensor([[[0.0, 2.0], [0.0, 2.0], [0.0, 2.0]]])
    torch.testing.assert_close(std(x), expected)
    torch.testing.assert_close(std(x.half()), expected)
    state = std.state_dict()
    assert set(state) == {"mean", "std"}
    fresh = BandStandardize(3)
    fresh.load_state_dict(state)
    torch.testing.assert_close(fresh(x), expected)
    with pytest.raises(ValueError, match="positive"):
        BandStandardize(2).set_statistics([0.0, 0.0], [1.0, 0.0])
    with pytest.raises(ValueError, match="shape"):
        BandStandardize(2).set_statistics([0.0], [1.0])


def test_network_statistics_travel_in_state_dict():
    net = CNNNet(4, 2)
    net.standardize.set_statistics([1, 2, 3, 4], [1, 1, 2, 2])
    other = CNNNet(4, 2)
    other.load_state_dict(net.state_dict())
    torch.testing.assert_close(other.standardize.mean, torch.tensor([1.0, 2, 3, 4]))


def test_augment_identity_in_eval_and_when_disabled():
    x = torch.randn(4, 5, 30)
    aug = NoiseShiftAugment(noise_std=1.0, shift_max=0.5, p=1.0).eval()
    assert torch.equal(aug(x), x)
    off = NoiseShiftAugment(noise_std=1.0, shift_max=0.5, p=0.0).train()
    assert torch.equal(off(x), x)
    assert torch.equal(NoiseShiftAugment().train()(x), x)


def test_augment_shift_is_a_circular_roll():
    torch.manual_seed(0)
    x = torch.randn(8, 5, 30)
    aug = NoiseShiftAugment(noise_std=0.0, shift_max=0.3, p=1.0).train()
    out = aug(x)
    assert not torch.equal(out, x)
    for i in range(len(x)):
        assert any(torch.equal(out[i], torch.roll(x[i], s, dims=1)) for s in range(-9, 10))


def test_augment_noise_scale_and_probability():
    torch.manual_seed(0)
    x = torch.zeros(2000, 2, 10)
    out = NoiseShiftAugment(noise_std=0.5, shift_max=0.0, p=0.5).train()(x)
    noisy = (out != 0).any(dim=(1, 2))
    assert 0.4 < noisy.float().mean() < 0.6
    assert out[noisy].std().item() == pytest.approx(0.5, rel=0.05)


def test_augment_is_reproducible_with_seed():
    x = torch.randn(4, 5, 30)
    aug = NoiseShiftAugment(noise_std=0.3, shift_max=0.2, p=0.5).train()
    torch.manual_seed(3)
    a = aug(x)
    torch.manual_seed(3)
    assert torch.equal(aug(x), a)


def test_gru_pooling_options():
    torch.manual_seed(0)
    assert GRUNet(4, 2, pooling="last")(torch.randn(2, 4, 9)).shape == (2, 2)
    with pytest.raises(ValueError, match="pooling"):
        CNNGRUNet(4, 2, pooling="max")
