"""The fast layers equal the layers they replace, to float rounding: a nearest ×2 upsample then a 3×3 convolution
computed as four 2×2 convolutions on the small input, a batch norm folded into the convolution before it, an
instance norm that keeps channels-last tensors channels-last; and what they keep from the weights follows the
weights when those change."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from gen_models.models._ops import InstanceNorm2d, conv_norm, upsample_conv


@pytest.mark.parametrize(("cin", "cout", "h", "w", "bias"), [(8, 5, 7, 9, True), (3, 16, 1, 1, False), (16, 4, 12, 12, True)])
def test_upsample_conv_equals_upsampling_then_convolving(cin, cout, h, w, bias):
    torch.manual_seed(h * w)
    conv = nn.Conv2d(cin, cout, 3, padding=1, bias=bias)
    x = torch.randn(2, cin, h, w)
    with torch.no_grad():
        expected = conv(F.interpolate(x, scale_factor=2, mode="nearest"))
        got = upsample_conv(x, conv)
    assert got.shape == expected.shape == (2, cout, 2 * h, 2 * w)
    torch.testing.assert_close(got, expected, rtol=0, atol=2e-6)
    assert not torch.equal(got[:, :, 0::2], got[:, :, 1::2])  # the phases differ: each got its own kernel


def test_other_convolutions_take_the_plain_path():
    conv = nn.Conv2d(4, 4, 5, padding=2)
    x = torch.randn(1, 4, 6, 6)
    with torch.no_grad():
        assert torch.equal(upsample_conv(x, conv), conv(F.interpolate(x, scale_factor=2, mode="nearest")))


def _random_norm(channels: int, seed: int) -> nn.BatchNorm2d:
    gen = torch.Generator().manual_seed(seed)
    norm = nn.BatchNorm2d(channels)
    with torch.no_grad():
        norm.weight.copy_(1 + 0.2 * torch.randn(channels, generator=gen))
        norm.bias.copy_(0.2 * torch.randn(channels, generator=gen))
        norm.running_mean.copy_(0.3 * torch.randn(channels, generator=gen))
        norm.running_var.copy_(torch.rand(channels, generator=gen) + 0.5)
    return norm.eval()


@pytest.mark.parametrize("layout", [torch.contiguous_format, torch.channels_last], ids=["nchw", "channels-last"])
def test_batch_norm_folded_into_the_convolution(layout):
    torch.manual_seed(3)
    conv, norm = nn.Conv2d(6, 5, 3, padding=1).to(memory_format=layout), _random_norm(5, 4)
    up_conv = nn.Conv2d(6, 5, 3, padding=1)
    x = torch.randn(2, 6, 9, 7).contiguous(memory_format=layout)
    with torch.no_grad():
        expected = norm(conv(x))
        expected_up = norm(up_conv(F.interpolate(x, scale_factor=2, mode="nearest")))
        got, got_up = conv_norm(x, conv, norm), upsample_conv(x, up_conv, norm)
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=2e-6)
    torch.testing.assert_close(got_up, expected_up, rtol=1e-5, atol=2e-6)
    assert (expected - conv(x)).abs().max() > 0.1  # the norm really changes the values
    assert got.is_contiguous(memory_format=layout) and got_up.is_contiguous(memory_format=layout)


def test_training_and_gradients_take_torchs_own_layers():
    torch.manual_seed(5)
    conv, norm = nn.Conv2d(4, 4, 3, padding=1), _random_norm(4, 6)
    x = torch.randn(2, 4, 6, 6)
    got = conv_norm(x, conv, norm)  # gradients recorded: the norm's own module, so backward reaches its parameters
    got.sum().backward()
    assert norm.weight.grad is not None and torch.equal(got, norm(conv(x)))
    norm.train()
    before = norm.running_mean.clone()
    with torch.no_grad():
        trained = conv_norm(x, conv, norm)  # batch statistics, and the running ones move, as in torch
    assert not torch.equal(norm.running_mean, before)
    torch.testing.assert_close(trained.mean((0, 2, 3)), norm.bias.detach(), rtol=0, atol=1e-5)


def test_what_is_kept_follows_the_weights():
    torch.manual_seed(7)
    conv, norm = nn.Conv2d(3, 4, 3, padding=1), _random_norm(4, 8)
    x = torch.randn(1, 3, 5, 5)

    def both() -> tuple[torch.Tensor, torch.Tensor]:
        with torch.inference_mode():
            return conv_norm(x, conv, norm), upsample_conv(x, conv, norm)

    def expected() -> tuple[torch.Tensor, torch.Tensor]:
        with torch.no_grad():
            return norm(conv(x)), norm(conv(F.interpolate(x, scale_factor=2, mode="nearest")))

    first = both()
    other = nn.Conv2d(3, 4, 3, padding=1)
    changes = [
        lambda: conv.weight.mul_(2),  # in place (under no_grad, as optimizers do)
        lambda: norm.running_var.add_(1),  # a buffer of the norm
        lambda: conv.load_state_dict(other.state_dict()),  # what loading a checkpoint does
        lambda: setattr(conv, "weight", nn.Parameter(torch.randn_like(conv.weight))),  # a new tensor
        lambda: setattr(norm, "bias", nn.Parameter(norm.bias + 1)),
        lambda: conv.to(memory_format=torch.channels_last).weight.mul_(-1),  # new storage for the same Parameter
    ]
    for change in changes:
        previous = both()
        with torch.no_grad():
            change()
        now = both()
        for got, want, old in zip(now, expected(), previous):
            torch.testing.assert_close(got, want, rtol=1e-5, atol=2e-6)
            assert (got - old).abs().max() > 1e-3
    assert (both()[0] - first[0]).abs().max() > 1e-3
    conv.double(), norm.double()  # a new dtype: kept tensors are not reused
    x = x.double()
    assert all(t.dtype == torch.float64 for t in both())


@pytest.mark.parametrize(("n", "c", "h", "w"), [(2, 64, 40, 40), (1, 3, 7, 5), (3, 16, 1, 9)])
def test_instance_norm_keeps_channels_last_and_equals_torchs(n, c, h, w):
    torch.manual_seed(c)
    ours, theirs = InstanceNorm2d(c, affine=True), nn.InstanceNorm2d(c, affine=True)
    with torch.no_grad():
        ours.weight.copy_(1 + 0.3 * torch.randn(c))
        ours.bias.copy_(0.3 * torch.randn(c))
    assert theirs.load_state_dict(ours.state_dict()) is not None  # the same parameters and keys
    x = torch.randn(n, c, h, w) * 3 + 1
    with torch.inference_mode():
        expected = theirs(x)
        got = ours(x.contiguous(memory_format=torch.channels_last))
        plain = ours(x)
    assert got.shape == expected.shape
    assert got.is_contiguous(memory_format=torch.channels_last)
    torch.testing.assert_close(got, expected, rtol=0, atol=5e-6)
    assert torch.equal(plain, expected)  # a plain tensor goes to torch's own
    with torch.enable_grad():  # with gradients, torch's own too (ours works in place)
        leaf = x.contiguous(memory_format=torch.channels_last).requires_grad_()
        ours(leaf).square().sum().backward()
    assert leaf.grad is not None and leaf.grad.abs().sum() > 0
