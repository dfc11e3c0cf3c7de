"""Progressive GAN generator (Karras et al. 2018) in the genforce layout that ``huggan/pggan-celebahq-1024`` uses.

Mirrors ``PGGANGenerator`` of genforce/sefa (``models/pggan_generator.py``, commit 69467f2) and genforce/genforce
(de3e017), so the 55-key file loads with ``strict=True``:

* ``lod``: a scalar buffer, the level of detail (0 = full resolution);
* ``layer{2k}``, ``layer{2k+1}`` (``.weight``/``.bias``): the two convolutions of level ``k`` (resolution 4·2^k).
  ``layer0.weight`` is (512, 512, 4, 4) and is applied with padding 3 to the 1×1 latent (the TF "Dense" layer);
  every later ``layer{2k}`` upsamples ×2 (nearest) before its 3×3 convolution;
* ``output{k}``: the 1×1 toRGB head of level ``k``.

Every block does pixel norm → (upsample) → conv with the raw weight times ``gain / sqrt(fan_in)`` plus bias →
LeakyReLU(0.2); toRGB heads use gain 1 and no activation. z is pixel-normed before ``layer0``. Channels are
``min(fmaps_base // res, fmaps_max)``. There is no final tanh: images are about [-1, 1] and are not clamped.

``forward(z, out_level=k)`` stops at the toRGB head of resolution 4·2^k (genforce's lod mechanism). Those heads
stopped training once their resolution was faded out, so on the finished model they give a cheap preview whose
colours may drift; only ``output{num_levels - 1}`` is what the published model draws.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from gen_models.core.checkpoint import load_checkpoint, load_strict
from gen_models.core.errors import WeightsIntegrityError
from gen_models.models._config import config_from_dict
from gen_models.models._ops import derived, phase_conv, phase_kernels

# registry.create lays the model out channels-last on a CPU, where oneDNN's NHWC convolutions are faster
# (one thread, a 1024² face at batch 1: 0.76 → 0.57 s); the outputs differ by float rounding only
CPU_CHANNELS_LAST = True
INIT_RES = 4
CONV_GAIN = math.sqrt(2.0)
RGB_GAIN = 1.0
PIXEL_NORM_EPS = 1e-8
LRELU_SLOPE = 0.2


@dataclass(frozen=True)
class Config:
    """PGGAN generator settings (defaults: the CelebA-HQ 1024 model, ``huggan/pggan-celebahq-1024``).

    * ``resolution``: output side in px, a power of two of at least 8 (1024);
    * ``z_dim``: latent size (512);
    * ``fmaps_base``: channels are ``min(fmaps_base // res, fmaps_max)`` (16384);
    * ``fmaps_max``: the cap on channels (512).
    """

    resolution: int = 1024
    z_dim: int = 512
    fmaps_base: int = 16 << 10
    fmaps_max: int = 512

    def __post_init__(self) -> None:
        if self.resolution < 8 or self.resolution & (self.resolution - 1):
            raise ValueError(f"resolution must be a power of two of at least 8, got {self.resolution}")
        for name in ("z_dim", "fmaps_base", "fmaps_max"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any] | None) -> Config:
        """The catalog's ``config`` object (e.g. ``{"resolution": 1024, "z_dim": 512}``); unknown keys are errors."""
        return config_from_dict(cls, raw, "pggan")


def pixel_norm(x: torch.Tensor) -> torch.Tensor:
    """Normalise each pixel's feature vector (dim 1) to unit root-mean-square."""
    return x / torch.sqrt(torch.mean(x**2, dim=1, keepdim=True) + PIXEL_NORM_EPS)


class ConvBlock(nn.Module):
    """Pixel norm → optional nearest ×2 upsample → equalised-lr conv + bias → LeakyReLU(0.2) or linear."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int = 3,
        padding: int = 1,
        upsample: bool = False,
        gain: float = CONV_GAIN,
        activate: bool = True,
    ) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, kernel_size, kernel_size))
        self.bias = nn.Parameter(torch.zeros(out_channels))
        self.wscale = gain / math.sqrt(in_channels * kernel_size * kernel_size)
        self.padding = padding
        self.upsample = upsample
        self.activate = activate

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = pixel_norm(x)
        if self.upsample and self.weight.shape[2:] == (3, 3) and self.padding == 1:
            # the upsample and the 3×3 conv as four 2×2 convs on the small input (_ops.upsample_conv's math)
            kernel, bias = derived(self, "phases", (self.weight, self.bias),
                                   lambda: phase_kernels(self.weight * self.wscale, self.bias))
            x = phase_conv(x, kernel, bias)
        else:
            if self.upsample:
                x = F.interpolate(x, scale_factor=2, mode="nearest")
            (weight,) = derived(self, "scaled", (self.weight,), lambda: (self.weight * self.wscale,))
            x = F.conv2d(x, weight, self.bias, padding=self.padding)
        return F.leaky_relu(x, LRELU_SLOPE, inplace=True) if self.activate else x  # x is the conv's own output


class PGGANGenerator(nn.Module):
    """genforce ``PGGANGenerator`` (unconditional, no fused upsampling, weight scaling on, no final tanh)."""

    def __init__(
        self,
        resolution: int = Config.resolution,
        z_dim: int = Config.z_dim,
        fmaps_base: int = Config.fmaps_base,
        fmaps_max: int = Config.fmaps_max,
    ) -> None:
        super().__init__()
        if resolution < 8 or resolution & (resolution - 1):
            raise ValueError(f"resolution must be a power of two of at least 8, got {resolution}")
        self.resolution = resolution
        self.z_dim = z_dim
        self.fmaps_base = fmaps_base
        self.fmaps_max = fmaps_max
        self.num_levels = int(math.log2(resolution)) - int(math.log2(INIT_RES)) + 1
        self.register_buffer("lod", torch.zeros(()))
        for k in range(self.num_levels):
            res = self.resolution_at(k)
            if k == 0:
                first = ConvBlock(z_dim, self.channels(res), kernel_size=INIT_RES, padding=INIT_RES - 1)
            else:
                first = ConvBlock(self.channels(res // 2), self.channels(res), upsample=True)
            self.add_module(f"layer{2 * k}", first)
            self.add_module(f"layer{2 * k + 1}", ConvBlock(self.channels(res), self.channels(res)))
            self.add_module(
                f"output{k}", ConvBlock(self.channels(res), 3, kernel_size=1, padding=0, gain=RGB_GAIN, activate=False)
            )

    def channels(self, res: int) -> int:
        """Feature maps at resolution ``res``: ``min(fmaps_base // res, fmaps_max)``."""
        return min(self.fmaps_base // res, self.fmaps_max)

    @staticmethod
    def resolution_at(level: int) -> int:
        """Image side produced by ``output{level}``: 4·2^level."""
        return INIT_RES << level

    def level_for_resolution(self, res: int) -> int:
        """The ``out_level`` whose toRGB head gives ``res`` × ``res`` images."""
        level = int(math.log2(res)) - int(math.log2(INIT_RES)) if res > 0 else -1
        if level < 0 or level >= self.num_levels or self.resolution_at(level) != res:
            sizes = ", ".join(str(self.resolution_at(k)) for k in range(self.num_levels))
            raise ValueError(f"no level of detail gives {res} px; this generator has {sizes}")
        return level

    def first_layer_weight(self) -> np.ndarray:
        """``layer0``'s weight as a (z_dim, features) matrix (it is a conv applied to the 1×1 latent with padding
        k-1, so its kernel is flipped), float32 on the CPU: what SeFa factorises."""
        weight = self.layer0.weight.detach().flip(2, 3).permute(1, 0, 2, 3).flatten(1)
        return weight.float().cpu().numpy()

    def _block(self, k: int, x: torch.Tensor) -> torch.Tensor:
        x = getattr(self, f"layer{2 * k}")(x)
        return getattr(self, f"layer{2 * k + 1}")(x)

    def _rgb(self, k: int, x: torch.Tensor) -> torch.Tensor:
        return getattr(self, f"output{k}")(x)

    def forward(self, z: torch.Tensor, out_level: int | None = None) -> torch.Tensor:
        """z (N, z_dim) → RGB images (N, 3, H, W) in about [-1, 1], not clamped.

        ``out_level=None`` follows the ``lod`` buffer as genforce does: lod 0 gives the full resolution; a larger
        lod stops early and upsamples (nearest) to full size, a fractional one blends two heads. ``out_level=k``
        runs levels 0..k only and returns ``output{k}`` at 4·2^k px, without upsampling: the image genforce gives
        at ``lod = num_levels - 1 - k`` before its final nearest upsample.
        """
        if z.ndim != 2 or z.shape[1] != self.z_dim:
            raise ValueError(f"z must have shape (batch, {self.z_dim}), got {tuple(z.shape)}")
        x = pixel_norm(z).view(z.shape[0], self.z_dim, 1, 1)
        if out_level is not None:
            if not 0 <= out_level < self.num_levels:
                raise ValueError(f"out_level must be 0..{self.num_levels - 1}, got {out_level}")
            for k in range(out_level + 1):
                x = self._block(k, x)
            return self._rgb(out_level, x)
        lod = float(self.lod)
        if not 0 <= lod <= self.num_levels - 1:
            raise ValueError(f"lod must be 0..{self.num_levels - 1}, got {lod}")
        image = torch.empty(0)
        for k in range(self.num_levels):
            current = self.num_levels - 1 - k
            if lod < current + 1:
                x = self._block(k, x)
            if current - 1 < lod <= current:
                image = self._rgb(k, x)
            elif current < lod < current + 1:
                alpha = math.ceil(lod) - lod
                image = self._rgb(k, x) * alpha + F.interpolate(image, scale_factor=2, mode="nearest") * (1 - alpha)
            elif lod >= current + 1:
                image = F.interpolate(image, scale_factor=2, mode="nearest")
        return image


def _state_dict(raw: Any, source: str) -> Mapping[str, torch.Tensor]:
    """The generator's tensors: a plain state_dict (huggan) or genforce's ``generator_smooth``/``generator`` entry."""
    if isinstance(raw, dict):
        for key in ("generator_smooth", "generator"):
            if isinstance(raw.get(key), dict):
                raw = raw[key]
                break
    if not isinstance(raw, dict) or not raw or not all(isinstance(v, torch.Tensor) for v in raw.values()):
        raise WeightsIntegrityError(f"{source} is not a PGGAN generator state_dict")
    return raw


def build(config: Config) -> PGGANGenerator:
    """A PGGAN generator with fresh (random) weights."""
    return PGGANGenerator(config.resolution, config.z_dim, config.fmaps_base, config.fmaps_max)


def load(path: str | Path, config: Config) -> PGGANGenerator:
    """A genforce PGGAN generator file (.bin/.pth or .safetensors, plain or in a ``generator_smooth``/``generator``
    wrapper) loaded strictly into ``build(config)``; its ``lod`` must be in range. Eval mode, CPU."""
    source = Path(path).name
    state = _state_dict(load_checkpoint(path), source)
    model = build(config)
    load_strict(model, state, source)
    lod = float(model.lod)
    if not 0 <= lod <= model.num_levels - 1:
        raise WeightsIntegrityError(f"{source}: lod is {lod}, outside 0..{model.num_levels - 1}")
    return model.eval()


def from_manifest(path: Path, config: dict, device: torch.device) -> PGGANGenerator:
    """Registry loader: :func:`load` with ``Config.from_dict(config)``, moved to ``device``."""
    return load(path, Config.from_dict(config)).to(device)
