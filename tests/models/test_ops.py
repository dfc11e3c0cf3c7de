"""The fast layers equal the layers they replace: a nearest ×2 upsample then a 3×3 convolution, computed as four
2×2 convolutions on the small input, matches the plain computation to float rounding for every size and phase."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from gen_models.models._ops import upsample_conv


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
