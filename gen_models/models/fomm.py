"""First Order Motion Model (Siarohin et al., NeurIPS 2019): keypoint detector and occlusion-aware generator.

A plain-PyTorch reimplementation of ``modules/`` of AliaksandrSiarohin/first-order-model (commit c0274845) with the
official module and parameter names, so the published ``vox-cpk.pth.tar`` and ``vox-adv-cpk.pth.tar`` (same
generator and keypoint detector, config ``vox-256``) load with ``strict=True``:

* ``kp_detector``: an anti-aliased ×0.25 downsample (``down``, whose Gaussian kernel is the registered buffer
  ``down.weight``), an hourglass, then 7×7 convolutions without padding: ``kp`` gives one heatmap per keypoint
  (softmax at temperature 0.1; the keypoint is its expected [-1, 1] coordinate) and ``jacobian`` four maps per
  keypoint, averaged under the heatmap into a 2×2 local affine jacobian;
* ``generator``: ``first`` + ``down_blocks`` encode the source to 1/4 size; ``dense_motion_network`` turns the
  keypoints' first-order motions ``J_s J_d⁻¹ (z - kp_d) + kp_s`` (plus the identity as background) into one dense
  backward deformation by a softmax ``mask`` over them, and an ``occlusion`` map; the warped, occlusion-weighted
  features go through ``bottleneck`` residual blocks, ``up_blocks`` and ``final`` + sigmoid to an image in [0, 1].

The official code's ``SynchronizedBatchNorm2d`` has the state_dict keys of ``nn.BatchNorm2d``, which replaces it.
It calls ``grid_sample``/``interpolate`` without ``align_corners``; the torch it pins (≥1.3) then uses
``align_corners=False``, which is passed here explicitly. Relative-motion normalisation (``normalize_kp``) is the
pipeline's job, not this module's.

Checkpoints are the training container ``{generator, kp_detector, discriminator, optimizer_generator,
optimizer_discriminator, optimizer_kp_detector, epoch}`` (raw modules, no ``module.`` prefix) or a stripped file with
just ``generator`` and ``kp_detector``. Everything in it is tensors and plain Python values (Adam's ``betas`` tuple,
lists, ints, floats), so torch's weights-only unpickler needs no extra globals, in the zip format and in the
legacy pre-1.6 format that the torch 1.0 the files were written with produces.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from gen_models.core.checkpoint import load_checkpoint, load_strict
from gen_models.core.errors import ManifestError, WeightsIntegrityError
from gen_models.models._ops import conv_norm, upsample_conv

# model_params of config/vox-256.yaml (vox-adv-256.yaml has the same generator and kp_detector params)
VOX_256: dict[str, dict[str, Any]] = {
    "common_params": {"num_kp": 10, "num_channels": 3, "estimate_jacobian": True},
    "kp_detector_params": {
        "temperature": 0.1,
        "block_expansion": 32,
        "max_features": 1024,
        "scale_factor": 0.25,
        "num_blocks": 5,
    },
    "generator_params": {
        "block_expansion": 64,
        "max_features": 512,
        "num_down_blocks": 2,
        "num_bottleneck_blocks": 6,
        "estimate_occlusion_map": True,
        "dense_motion_params": {"block_expansion": 64, "max_features": 1024, "num_blocks": 5, "scale_factor": 0.25},
    },
}
# registry.create lays the model out channels-last on a CPU, where oneDNN's NHWC convolutions are faster
# (one thread, frame loop at batch 2: 0.64 → 0.58 s/frame); the outputs differ by float rounding only
CPU_CHANNELS_LAST = True
INFERENCE_PARTS = ("generator", "kp_detector")


def _section_override(arch: str, defaults: Mapping[str, Any], raw: Any, where: str) -> dict[str, Any]:
    """``defaults`` (deep-copied) with ``raw``'s keys over them; a key ``defaults`` lacks is a ManifestError."""
    if not isinstance(raw, Mapping):
        raise ManifestError(f"{arch} config: {where!r} must be an object, got {type(raw).__name__}")
    merged = copy.deepcopy(dict(defaults))
    for key, value in raw.items():
        if key not in merged:
            raise ManifestError(f"{arch} config: unknown key {key!r} in {where!r} (known: {', '.join(sorted(merged))})")
        if isinstance(merged[key], dict):
            value = _section_override(arch, merged[key], value, f"{where}.{key}")
        elif isinstance(value, bool) != isinstance(merged[key], bool) or (
            isinstance(merged[key], (int, float)) and not isinstance(value, (int, float))
        ):
            raise ManifestError(f"{arch} config: {where}.{key} must be like {merged[key]!r}, got {value!r}")
        merged[key] = value
    return merged


@dataclass(frozen=True)
class Config:
    """FOMM settings, the ``model_params`` sections of the official yaml; the defaults are ``config/vox-256.yaml``
    (:data:`VOX_256`), and a catalog ``config`` of ``{}`` means exactly that.

    * ``common_params``: ``num_kp`` (10), ``num_channels`` (3), ``estimate_jacobian`` (True);
    * ``kp_detector_params``: ``temperature`` (0.1), ``block_expansion`` (32), ``max_features`` (1024),
      ``scale_factor`` (0.25), ``num_blocks`` (5);
    * ``generator_params``: ``block_expansion`` (64), ``max_features`` (512), ``num_down_blocks`` (2),
      ``num_bottleneck_blocks`` (6), ``estimate_occlusion_map`` (True) and ``dense_motion_params``
      (``block_expansion`` 64, ``max_features`` 1024, ``num_blocks`` 5, ``scale_factor`` 0.25).
    """

    common_params: Mapping[str, Any] = field(default_factory=lambda: copy.deepcopy(VOX_256["common_params"]))
    kp_detector_params: Mapping[str, Any] = field(default_factory=lambda: copy.deepcopy(VOX_256["kp_detector_params"]))
    generator_params: Mapping[str, Any] = field(default_factory=lambda: copy.deepcopy(VOX_256["generator_params"]))

    def model_params(self) -> dict[str, dict[str, Any]]:
        """The nested sections as plain dicts (a deep copy), as :class:`FOMM` takes them."""
        return {f.name: copy.deepcopy(dict(getattr(self, f.name))) for f in fields(self)}

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any] | None) -> Config:
        """``{}`` (vox-256), or sections overriding it key by key (also inside ``generator_params.dense_motion_params``);
        a whole yaml's ``model_params`` is accepted and its ``discriminator_params`` ignored. Unknown sections or
        keys and mistyped values raise ManifestError."""
        raw = {} if raw is None else raw
        if not isinstance(raw, Mapping):
            raise ManifestError(f"fomm config must be an object, got {type(raw).__name__}")
        if "model_params" in raw:
            raw = raw["model_params"]
            if not isinstance(raw, Mapping):
                raise ManifestError("fomm config: 'model_params' must be an object")
        raw = {k: v for k, v in raw.items() if k != "discriminator_params"}
        unknown = sorted(set(raw) - set(VOX_256))
        if unknown:
            raise ManifestError(f"fomm config: unknown section {unknown[0]!r} (known: {', '.join(sorted(VOX_256))})")
        return cls(**{name: _section_override("fomm", VOX_256[name], raw.get(name, {}), name) for name in VOX_256})


def make_coordinate_grid(height: int, width: int, like: torch.Tensor) -> torch.Tensor:
    """(height, width, 2) grid of (x, y), each spanning [-1, 1] corner pixel to corner pixel, on ``like``'s device."""
    x = torch.arange(width, dtype=like.dtype, device=like.device)
    y = torch.arange(height, dtype=like.dtype, device=like.device)
    x = 2 * (x / (width - 1)) - 1
    y = 2 * (y / (height - 1)) - 1
    return torch.stack([x.view(1, width).expand(height, width), y.view(height, 1).expand(height, width)], dim=-1)


def kp2gaussian(value: torch.Tensor, size: tuple[int, int], variance: float) -> torch.Tensor:
    """Keypoints (..., 2) → unnormalised Gaussians (..., h, w): ``exp(-0.5 ||grid - kp||² / variance)``."""
    grid = make_coordinate_grid(size[0], size[1], value)
    diff = grid - value[..., None, None, :]
    return torch.exp(-0.5 * (diff**2).sum(-1) / variance)


class ResBlock2d(nn.Module):
    """Pre-activation residual block: BN → ReLU → conv → BN → ReLU → conv, plus the input."""

    def __init__(self, in_features: int, kernel_size: int = 3, padding: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_features, in_features, kernel_size, padding=padding)
        self.conv2 = nn.Conv2d(in_features, in_features, kernel_size, padding=padding)
        self.norm1 = nn.BatchNorm2d(in_features, affine=True)
        self.norm2 = nn.BatchNorm2d(in_features, affine=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = conv_norm(torch.relu_(self.norm1(x)), self.conv1, self.norm2)  # in place: a new tensor each time
        return self.conv2(torch.relu_(out)) + x


class UpBlock2d(nn.Module):
    """Nearest ×2 upsample → conv → BN → ReLU."""

    def __init__(self, in_features: int, out_features: int, kernel_size: int = 3, padding: int = 1) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_features, out_features, kernel_size, padding=padding)
        self.norm = nn.BatchNorm2d(out_features, affine=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu_(upsample_conv(x, self.conv, self.norm))


class DownBlock2d(nn.Module):
    """Conv → BN → ReLU → 2×2 average pooling."""

    def __init__(self, in_features: int, out_features: int, kernel_size: int = 3, padding: int = 1) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_features, out_features, kernel_size, padding=padding)
        self.norm = nn.BatchNorm2d(out_features, affine=True)
        self.pool = nn.AvgPool2d(kernel_size=(2, 2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pool(torch.relu_(conv_norm(x, self.conv, self.norm)))


class SameBlock2d(nn.Module):
    """Conv → BN → ReLU at the input's resolution."""

    def __init__(self, in_features: int, out_features: int, kernel_size: int = 3, padding: int = 1) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_features, out_features, kernel_size, padding=padding)
        self.norm = nn.BatchNorm2d(out_features, affine=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu_(conv_norm(x, self.conv, self.norm))


def _width(block_expansion: int, max_features: int, level: int) -> int:
    return min(max_features, block_expansion * 2**level)


class Encoder(nn.Module):
    """Hourglass encoder: ``num_blocks`` DownBlocks; returns the input and every block's output."""

    def __init__(self, block_expansion: int, in_features: int, num_blocks: int = 3, max_features: int = 256) -> None:
        super().__init__()
        self.down_blocks = nn.ModuleList(
            DownBlock2d(
                in_features if i == 0 else _width(block_expansion, max_features, i),
                _width(block_expansion, max_features, i + 1),
            )
            for i in range(num_blocks)
        )

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        outs = [x]
        for block in self.down_blocks:
            outs.append(block(outs[-1]))
        return outs


class Decoder(nn.Module):
    """Hourglass decoder: UpBlocks from the deepest level up, each followed by concatenation with its skip."""

    def __init__(self, block_expansion: int, in_features: int, num_blocks: int = 3, max_features: int = 256) -> None:
        super().__init__()
        blocks = []
        for i in reversed(range(num_blocks)):
            factor = 1 if i == num_blocks - 1 else 2
            in_width = factor * _width(block_expansion, max_features, i + 1)
            blocks.append(UpBlock2d(in_width, _width(block_expansion, max_features, i)))
        self.up_blocks = nn.ModuleList(blocks)
        self.out_filters = block_expansion + in_features

    def forward(self, features: list[torch.Tensor]) -> torch.Tensor:
        out = features[-1]
        for block, skip in zip(self.up_blocks, reversed(features[:-1])):
            out = torch.cat([block(out), skip], dim=1)
        return out


class Hourglass(nn.Module):
    """U-Net: Encoder then Decoder; ``out_filters`` = block_expansion + in_features channels at input size."""

    def __init__(self, block_expansion: int, in_features: int, num_blocks: int = 3, max_features: int = 256) -> None:
        super().__init__()
        self.encoder = Encoder(block_expansion, in_features, num_blocks, max_features)
        self.decoder = Decoder(block_expansion, in_features, num_blocks, max_features)
        self.out_filters = self.decoder.out_filters

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.encoder(x))


class AntiAliasInterpolation2d(nn.Module):
    """Downsample by ``scale`` (1/n): depthwise Gaussian blur, σ = (1/scale - 1)/2, then every n-th pixel."""

    def __init__(self, channels: int, scale: float) -> None:
        super().__init__()
        sigma = (1 / scale - 1) / 2
        kernel_size = 2 * round(sigma * 4) + 1
        self.pad = kernel_size // 2
        taps = torch.arange(kernel_size, dtype=torch.float32)
        gauss = torch.exp(-((taps - (kernel_size - 1) / 2) ** 2) / (2 * sigma**2))
        kernel = gauss.view(-1, 1) * gauss.view(1, -1)
        kernel = kernel / torch.sum(kernel)
        self.register_buffer("weight", kernel.view(1, 1, kernel_size, kernel_size).repeat(channels, 1, 1, 1))
        self.groups = channels
        self.scale = scale
        self.step = int(1 / scale)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.scale == 1.0:
            return x
        out = F.pad(x, (self.pad, self.pad, self.pad, self.pad))
        out = F.conv2d(out, weight=self.weight, groups=self.groups)
        return out[:, :, :: self.step, :: self.step]


class KPDetector(nn.Module):
    """Images (B, C, H, W) in [0, 1] → ``{'value': (B, K, 2) in [-1, 1], 'jacobian': (B, K, 2, 2)}``."""

    def __init__(
        self,
        block_expansion: int = 32,
        num_kp: int = 10,
        num_channels: int = 3,
        max_features: int = 1024,
        num_blocks: int = 5,
        temperature: float = 0.1,
        estimate_jacobian: bool = True,
        scale_factor: float = 0.25,
        single_jacobian_map: bool = False,
        pad: int = 0,
    ) -> None:
        super().__init__()
        self.predictor = Hourglass(block_expansion, num_channels, num_blocks, max_features)
        self.kp = nn.Conv2d(self.predictor.out_filters, num_kp, kernel_size=(7, 7), padding=pad)
        if estimate_jacobian:
            self.num_jacobian_maps = 1 if single_jacobian_map else num_kp
            self.jacobian: nn.Conv2d | None = nn.Conv2d(
                self.predictor.out_filters, 4 * self.num_jacobian_maps, kernel_size=(7, 7), padding=pad
            )
            with torch.no_grad():
                self.jacobian.weight.zero_()
                self.jacobian.bias.copy_(torch.tensor([1.0, 0.0, 0.0, 1.0] * self.num_jacobian_maps))
        else:
            self.jacobian = None
        self.temperature = temperature
        self.scale_factor = scale_factor
        if scale_factor != 1:
            self.down = AntiAliasInterpolation2d(num_channels, scale_factor)

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """Keypoints as the heatmap-weighted mean grid position; jacobians as heatmap-weighted map averages."""
        if self.scale_factor != 1:
            x = self.down(x)
        features = self.predictor(x)
        logits = self.kp(features)
        b, k, h, w = logits.shape
        heatmap = F.softmax(logits.view(b, k, h * w) / self.temperature, dim=2).view(b, k, h, w)
        grid = make_coordinate_grid(h, w, heatmap).view(1, 1, h, w, 2)
        out = {"value": (heatmap.unsqueeze(-1) * grid).sum(dim=(2, 3))}
        if self.jacobian is not None:
            maps = self.jacobian(features).reshape(b, self.num_jacobian_maps, 4, h, w)
            jacobian = (heatmap.unsqueeze(2) * maps).view(b, k, 4, h * w).sum(dim=-1)
            out["jacobian"] = jacobian.view(b, k, 2, 2)
        return out


class DenseMotionNetwork(nn.Module):
    """Source image + keypoints → dense backward deformation (B, h, w, 2), softmax mask and occlusion map."""

    def __init__(
        self,
        block_expansion: int = 64,
        num_blocks: int = 5,
        max_features: int = 1024,
        num_kp: int = 10,
        num_channels: int = 3,
        estimate_occlusion_map: bool = True,
        scale_factor: float = 0.25,
        kp_variance: float = 0.01,
    ) -> None:
        super().__init__()
        self.hourglass = Hourglass(block_expansion, (num_kp + 1) * (num_channels + 1), num_blocks, max_features)
        self.mask = nn.Conv2d(self.hourglass.out_filters, num_kp + 1, kernel_size=(7, 7), padding=(3, 3))
        self.occlusion: nn.Conv2d | None = None
        if estimate_occlusion_map:
            self.occlusion = nn.Conv2d(self.hourglass.out_filters, 1, kernel_size=(7, 7), padding=(3, 3))
        self.num_kp = num_kp
        self.scale_factor = scale_factor
        self.kp_variance = kp_variance
        if scale_factor != 1:
            self.down = AntiAliasInterpolation2d(num_channels, scale_factor)

    def heatmap_representations(
        self, size: tuple[int, int], kp_driving: Mapping[str, torch.Tensor], kp_source: Mapping[str, torch.Tensor]
    ) -> torch.Tensor:
        """(B, K+1, 1, h, w): Gaussian(kp_driving) - Gaussian(kp_source), a zero background channel first."""
        heatmap = kp2gaussian(kp_driving["value"], size, self.kp_variance) - kp2gaussian(
            kp_source["value"], size, self.kp_variance
        )
        background = heatmap.new_zeros(heatmap.shape[0], 1, *size)
        return torch.cat([background, heatmap], dim=1).unsqueeze(2)

    def sparse_motions(
        self, size: tuple[int, int], kp_driving: Mapping[str, torch.Tensor], kp_source: Mapping[str, torch.Tensor]
    ) -> torch.Tensor:
        """(B, K+1, h, w, 2): the identity, then per keypoint ``J_s J_d⁻¹ (z - kp_d) + kp_s`` at every z."""
        h, w = size
        value_d, value_s = kp_driving["value"], kp_source["value"]
        b = value_d.shape[0]
        identity = make_coordinate_grid(h, w, value_d).view(1, 1, h, w, 2)
        motion = identity - value_d.view(b, self.num_kp, 1, 1, 2)
        if "jacobian" in kp_driving:
            jacobian = torch.matmul(kp_source["jacobian"], torch.inverse(kp_driving["jacobian"]))
            motion = torch.matmul(jacobian[:, :, None, None], motion.unsqueeze(-1)).squeeze(-1)
        motion = motion + value_s.view(b, self.num_kp, 1, 1, 2)
        return torch.cat([identity.expand(b, 1, h, w, 2), motion], dim=1)

    def deformed_sources(self, source_image: torch.Tensor, sparse_motions: torch.Tensor) -> torch.Tensor:
        """(B, K+1, C, h, w): the source warped by each sparse motion."""
        b, c, h, w = source_image.shape
        n = self.num_kp + 1
        repeated = source_image.unsqueeze(1).expand(b, n, c, h, w).reshape(b * n, c, h, w)
        warped = F.grid_sample(repeated, sparse_motions.reshape(b * n, h, w, 2), align_corners=False)
        return warped.view(b, n, c, h, w)

    def forward(
        self, source_image: torch.Tensor, kp_driving: Mapping[str, torch.Tensor], kp_source: Mapping[str, torch.Tensor]
    ) -> dict[str, torch.Tensor]:
        """``{'sparse_deformed', 'mask', 'deformation'}`` plus ``'occlusion_map'`` when estimated."""
        if self.scale_factor != 1:
            source_image = self.down(source_image)
        b, _, h, w = source_image.shape
        heatmaps = self.heatmap_representations((h, w), kp_driving, kp_source)
        motions = self.sparse_motions((h, w), kp_driving, kp_source)
        deformed = self.deformed_sources(source_image, motions)
        features = self.hourglass(torch.cat([heatmaps, deformed], dim=2).view(b, -1, h, w))
        mask = F.softmax(self.mask(features), dim=1)
        out = {
            "sparse_deformed": deformed,
            "mask": mask,
            "deformation": (motions * mask.unsqueeze(-1)).sum(dim=1),
        }
        if self.occlusion is not None:
            out["occlusion_map"] = torch.sigmoid(self.occlusion(features))
        return out


class OcclusionAwareGenerator(nn.Module):
    """Source image warped to the driving keypoints: features are deformed, occlusion-masked and decoded."""

    def __init__(
        self,
        num_channels: int = 3,
        num_kp: int = 10,
        block_expansion: int = 64,
        max_features: int = 512,
        num_down_blocks: int = 2,
        num_bottleneck_blocks: int = 6,
        estimate_occlusion_map: bool = True,
        dense_motion_params: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__()
        if dense_motion_params is None:
            dense_motion_params = VOX_256["generator_params"]["dense_motion_params"]
        params = dict(dense_motion_params)
        self.dense_motion_network = DenseMotionNetwork(
            num_kp=num_kp, num_channels=num_channels, estimate_occlusion_map=estimate_occlusion_map, **params
        )
        self.first = SameBlock2d(num_channels, block_expansion, kernel_size=7, padding=3)
        self.down_blocks = nn.ModuleList(
            DownBlock2d(_width(block_expansion, max_features, i), _width(block_expansion, max_features, i + 1))
            for i in range(num_down_blocks)
        )
        self.up_blocks = nn.ModuleList(
            UpBlock2d(
                _width(block_expansion, max_features, num_down_blocks - i),
                _width(block_expansion, max_features, num_down_blocks - i - 1),
            )
            for i in range(num_down_blocks)
        )
        self.bottleneck = nn.Sequential()
        width = _width(block_expansion, max_features, num_down_blocks)
        for i in range(num_bottleneck_blocks):
            self.bottleneck.add_module(f"r{i}", ResBlock2d(width, kernel_size=3, padding=1))
        self.final = nn.Conv2d(block_expansion, num_channels, kernel_size=(7, 7), padding=(3, 3))
        self.estimate_occlusion_map = estimate_occlusion_map
        self.num_channels = num_channels

    @staticmethod
    def deform_input(x: torch.Tensor, deformation: torch.Tensor) -> torch.Tensor:
        """Sample ``x`` at ``deformation`` (B, h, w, 2), resized bilinearly to ``x``'s size first if it differs."""
        h, w = x.shape[2:]
        if deformation.shape[1:3] != (h, w):
            deformation = deformation.permute(0, 3, 1, 2)
            deformation = F.interpolate(deformation, size=(h, w), mode="bilinear", align_corners=False)
            deformation = deformation.permute(0, 2, 3, 1)
        return F.grid_sample(x, deformation, align_corners=False)

    def forward(
        self, source_image: torch.Tensor, kp_driving: Mapping[str, torch.Tensor], kp_source: Mapping[str, torch.Tensor]
    ) -> dict[str, torch.Tensor]:
        """``{'prediction' (B, C, H, W) in [0, 1], 'mask', 'sparse_deformed', 'deformation', 'deformed'}`` plus
        ``'occlusion_map'`` when estimated."""
        out = self.first(source_image)
        for block in self.down_blocks:
            out = block(out)
        motion = self.dense_motion_network(source_image, kp_driving, kp_source)
        result = {key: motion[key] for key in ("mask", "sparse_deformed", "deformation")}
        out = self.deform_input(out, motion["deformation"])
        if "occlusion_map" in motion:
            occlusion_map = motion["occlusion_map"]
            result["occlusion_map"] = occlusion_map
            if occlusion_map.shape[2:] != out.shape[2:]:
                occlusion_map = F.interpolate(occlusion_map, size=out.shape[2:], mode="bilinear", align_corners=False)
            out = out * occlusion_map
        result["deformed"] = self.deform_input(source_image, motion["deformation"])
        out = self.bottleneck(out)
        for block in self.up_blocks:
            out = block(out)
        result["prediction"] = torch.sigmoid(self.final(out))
        return result


def model_params(config: Mapping[str, Any] | None = None) -> dict[str, dict[str, Any]]:
    """VOX_256 overridden section by section by ``config`` (its own ``model_params`` section, or the whole yaml)."""
    config = dict(config or {})
    if "model_params" in config:
        config = dict(config["model_params"])
    config.pop("discriminator_params", None)
    unknown = sorted(set(config) - set(VOX_256))
    if unknown:
        raise ValueError(f"unknown FOMM config sections {unknown}; expected {sorted(VOX_256)}")
    params = copy.deepcopy(VOX_256)
    for section, values in config.items():
        values = dict(values)
        if section == "generator_params" and "dense_motion_params" in values:
            params[section]["dense_motion_params"].update(values.pop("dense_motion_params"))
        params[section].update(values)
    return params


def _expand(tensor: torch.Tensor, batch: int, what: str) -> torch.Tensor:
    if tensor.shape[0] == batch:
        return tensor
    if tensor.shape[0] == 1:
        return tensor.expand(batch, *tensor.shape[1:])
    raise ValueError(f"{what} has batch {tensor.shape[0]}; it must be 1 or the driving batch {batch}")


class FOMM(nn.Module):
    """The two inference networks of one FOMM checkpoint, ``kp_detector`` and ``generator``."""

    kind = "fomm"
    keypoints_key = "value"  # the keypoint tensor of :meth:`keypoints`' dict (local ``jacobian``s beside it)
    has_avd = False

    def __init__(self, config: Mapping[str, Any] | None = None) -> None:
        super().__init__()
        self.config = model_params(config)
        common = self.config["common_params"]
        self.kp_detector = KPDetector(
            num_kp=common["num_kp"],
            num_channels=common["num_channels"],
            estimate_jacobian=common["estimate_jacobian"],
            **self.config["kp_detector_params"],
        )
        self.generator = OcclusionAwareGenerator(
            num_channels=common["num_channels"], num_kp=common["num_kp"], **self.config["generator_params"]
        )

    @torch.no_grad()
    def keypoints(self, frames: torch.Tensor) -> dict[str, torch.Tensor]:
        """Frames (B, 3, H, W) in [0, 1] → ``{'value': (B, K, 2), 'jacobian': (B, K, 2, 2)}``."""
        return self.kp_detector(frames)

    @torch.no_grad()
    def render(
        self, source: torch.Tensor, kp_source: Mapping[str, torch.Tensor], kp_driving: Mapping[str, torch.Tensor]
    ) -> torch.Tensor:
        """The source (1 or B, 3, H, W) moved to each of the B driving keypoint sets → (B, 3, H, W) in [0, 1].

        A batch-1 source and kp_source are broadcast to the driving batch, so many frames render in one call.
        """
        batch = kp_driving["value"].shape[0]
        source = _expand(source, batch, "source")
        kp_source = {key: _expand(value, batch, f"kp_source[{key!r}]") for key, value in kp_source.items()}
        return self.generator(source, kp_driving=kp_driving, kp_source=kp_source)["prediction"]


def _inference_state(checkpoint: Any, source: str) -> dict[str, Mapping[str, torch.Tensor]]:
    """The generator and kp_detector state dicts; everything else in the container is released at once."""
    if not isinstance(checkpoint, Mapping):
        raise WeightsIntegrityError(
            f"{source} is not a FOMM checkpoint: expected a dict with 'generator' and 'kp_detector', "
            f"found {type(checkpoint).__name__}"
        )
    missing = [name for name in INFERENCE_PARTS if name not in checkpoint]
    if missing:
        found = ", ".join(sorted(repr(key) for key in checkpoint)) or "none"
        absent = " or ".join(repr(name) for name in missing)
        raise WeightsIntegrityError(f"{source} is not a FOMM checkpoint: no {absent} entry (top-level keys: {found})")
    parts = {name: checkpoint[name] for name in INFERENCE_PARTS}
    if isinstance(checkpoint, dict):
        checkpoint.clear()
    for name, state in parts.items():
        if not isinstance(state, Mapping) or not state or not all(isinstance(v, torch.Tensor) for v in state.values()):
            raise WeightsIntegrityError(f"{source}: '{name}' is not a state_dict of tensors")
    return parts


def load_fomm(path: str | Path, config: Mapping[str, Any] | None = None) -> FOMM:
    """A FOMM checkpoint (official training container or stripped) → FOMM in eval mode on the CPU, loaded strictly.

    ``config`` overrides VOX_256 section by section (``common_params``, ``kp_detector_params``, ``generator_params``).
    """
    source = Path(path).name
    parts = _inference_state(load_checkpoint(path), source)
    model = FOMM(config)
    for name, state in parts.items():
        load_strict(getattr(model, name), state, f"{source} ({name})")
    return model.eval()


def build(config: Config) -> FOMM:
    """The FOMM keypoint detector and generator with fresh (random) weights."""
    return FOMM(config.model_params())


def load(path: str | Path, config: Config) -> FOMM:
    """A FOMM checkpoint (official training container or stripped) loaded strictly into ``build(config)``; eval, CPU."""
    source = Path(path).name
    parts = _inference_state(load_checkpoint(path), source)
    model = build(config)
    for name, state in parts.items():
        load_strict(getattr(model, name), state, f"{source} ({name})")
    return model.eval()


def from_manifest(path: Path, config: dict, device: torch.device) -> FOMM:
    """Registry loader: :func:`load` with ``Config.from_dict(config)`` (``{}`` means vox-256), moved to ``device``."""
    return load(path, Config.from_dict(config)).to(device)
