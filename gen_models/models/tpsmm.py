"""Thin-Plate Spline Motion Model (Zhao & Zhang, CVPR 2022) inference, laid out like yoyo-nb's official code.

The official ``vox.pth.tar`` (vox-256 config) is a dict of state_dicts: ``kp_detector``, ``dense_motion_network``,
``inpainting_network``, ``avd_network`` and ``bg_predictor`` (plus, in training snapshots, optimizer states and
``epoch``). The submodules here keep the official module and parameter names so the first four load with
``strict=True``; ``bg_predictor`` only serves training and is not built.

* ``kp_detector``: torchvision ResNet-18 on the [0, 1] image, ``fc`` → ``num_tps * 5 * 2``, sigmoid·2-1: 5 control
  points for each of the ``num_tps`` thin-plate splines, ``{'fg_kp': [B, 50, 2]}`` in [-1, 1] (x, y).
* ``dense_motion_network``: at ``scale_factor`` resolution (anti-aliased), the source is warped by the identity and
  by each TPS (fitted in closed form from driving to source control points); heatmap differences plus the warped
  sources go through an hourglass whose last level gives softmax contribution maps (the optical flow is their
  weighted sum of the ``num_tps + 1`` transforms) and whose last two levels plus two up blocks give four occlusion
  masks, from 1/8 to full resolution.
* ``inpainting_network``: encoder features of the source are warped by the flow, masked by the matching occlusion
  mask and decoded; the output is blended with the warped source image by the last occlusion mask.
* ``avd_network``: the "animation via disentanglement" MLP: pose from the driving keypoints, identity from the source.

Every ``grid_sample``/bilinear ``interpolate`` passes ``align_corners=True``, as the official code does; norms are
``InstanceNorm2d(affine=True)`` except in the ResNet and the AVD MLP (BatchNorm). Relative/standard keypoint
normalisation belongs to the pipeline, not to this module.
"""

from __future__ import annotations

import copy
import itertools
import math
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
import torchvision
from torch import nn

from gen_models.core.checkpoint import load_checkpoint, load_strict
from gen_models.core.errors import InputError, ManifestError, WeightsIntegrityError
from gen_models.models._ops import InstanceNorm2d, conv_norm, upsample_conv

# registry.create lays the model out channels-last on a CPU, where oneDNN's NHWC convolutions are faster
# (one thread, frame loop at batch 2: 1.53 → 1.48 s/frame, with the channels-last InstanceNorm); outputs differ by rounding
CPU_CHANNELS_LAST = True
POINTS_PER_TPS = 5
TPS_REGULARISATION = 0.01
LOG_EPS = 1e-9
OCCLUSION_LEVELS = 4

# model_params of config/vox-256.yaml (``bg`` is left out: the background predictor is training-only)
VOX_256: dict[str, dict[str, Any]] = {
    "common_params": {"num_tps": 10, "num_channels": 3, "multi_mask": True},
    "generator_params": {"block_expansion": 64, "max_features": 512, "num_down_blocks": 3},
    "dense_motion_params": {"block_expansion": 64, "max_features": 1024, "num_blocks": 5, "scale_factor": 0.25},
    "avd_network_params": {"id_bottle_size": 128, "pose_bottle_size": 128},
}

REQUIRED_MODULES = ("kp_detector", "dense_motion_network", "inpainting_network")


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
    """TPSMM settings, the ``model_params`` sections of the official yaml; the defaults are ``config/vox-256.yaml``
    (:data:`VOX_256`, without the training-only ``bg`` predictor), and a catalog ``config`` of ``{}`` means that.

    * ``common_params``: ``num_tps`` (10), ``num_channels`` (3), ``multi_mask`` (True);
    * ``generator_params``: ``block_expansion`` (64), ``max_features`` (512), ``num_down_blocks`` (3);
    * ``dense_motion_params``: ``block_expansion`` (64), ``max_features`` (1024), ``num_blocks`` (5),
      ``scale_factor`` (0.25);
    * ``avd_network_params``: ``id_bottle_size`` (128), ``pose_bottle_size`` (128).
    """

    common_params: Mapping[str, Any] = field(default_factory=lambda: copy.deepcopy(VOX_256["common_params"]))
    generator_params: Mapping[str, Any] = field(default_factory=lambda: copy.deepcopy(VOX_256["generator_params"]))
    dense_motion_params: Mapping[str, Any] = field(default_factory=lambda: copy.deepcopy(VOX_256["dense_motion_params"]))
    avd_network_params: Mapping[str, Any] = field(default_factory=lambda: copy.deepcopy(VOX_256["avd_network_params"]))

    def model_params(self) -> dict[str, dict[str, Any]]:
        """The sections as plain dicts (a deep copy), as :class:`TPSMM` takes them."""
        return {f.name: copy.deepcopy(dict(getattr(self, f.name))) for f in fields(self)}

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any] | None) -> Config:
        """``{}`` (vox-256), or sections overriding it key by key; unknown sections or keys and mistyped values raise
        ManifestError."""
        raw = {} if raw is None else raw
        if not isinstance(raw, Mapping):
            raise ManifestError(f"tpsmm config must be an object, got {type(raw).__name__}")
        unknown = sorted(set(raw) - set(VOX_256))
        if unknown:
            raise ManifestError(f"tpsmm config: unknown section {unknown[0]!r} (known: {', '.join(sorted(VOX_256))})")
        return cls(**{name: _section_override("tpsmm", VOX_256[name], raw.get(name, {}), name) for name in VOX_256})


# Same as fomm.make_coordinate_grid; each file follows its own repository op for op, so a fix must reach both.
def make_coordinate_grid(height: int, width: int, like: torch.Tensor) -> torch.Tensor:
    """[height, width, 2] grid of (x, y) spanning [-1, 1] corner to corner, in ``like``'s dtype and device."""
    x = torch.arange(width, dtype=like.dtype, device=like.device)
    y = torch.arange(height, dtype=like.dtype, device=like.device)
    x = 2 * (x / (width - 1)) - 1
    y = 2 * (y / (height - 1)) - 1
    return torch.stack([x.view(1, -1).expand(height, width), y.view(-1, 1).expand(height, width)], dim=2)


# Same math as fomm.kp2gaussian, written in TPSMM's own op order; a fix must reach both.
def kp2gaussian(kp: torch.Tensor, spatial_size: tuple[int, int], kp_variance: float) -> torch.Tensor:
    """Keypoints [..., N, 2] → unnormalised Gaussian heatmaps [..., N, H, W] of variance ``kp_variance``."""
    grid = make_coordinate_grid(spatial_size[0], spatial_size[1], kp)
    diff = grid - kp[..., None, None, :]
    return torch.exp(-0.5 * (diff**2).sum(-1) / kp_variance)


def tps_fit(kp_1: torch.Tensor, kp_2: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Fit thin-plate splines mapping control points ``kp_1`` [B, K, n, 2] onto ``kp_2`` [B, K, n, 2].

    Solves ``[[U(P), P̃], [P̃ᵀ, 0]] + 0.01·I`` against ``[kp_2; 0]`` (U(r²) = r² log r², P̃ = [P, 1]);
    returns the radial weights [B, K, n, 2] and the affine part [B, K, 3, 2] (rows: x, y, 1).
    """
    b, k, n, _ = kp_1.shape
    # the official steps, op for op (torch.norm then **2, and inverse(L) @ Y rather than a solve): the same bits
    sq = torch.norm(kp_1[:, :, :, None] - kp_1[:, :, None, :], dim=4, p=2) ** 2
    radial = sq * torch.log(sq + LOG_EPS)
    homogeneous = torch.cat([kp_1, kp_1.new_ones(b, k, n, 1)], dim=3)
    top = torch.cat([radial, homogeneous], dim=3)
    bottom = torch.cat([homogeneous.transpose(2, 3), kp_1.new_zeros(b, k, 3, 3)], dim=3)
    system = torch.cat([top, bottom], dim=2)
    system = system + TPS_REGULARISATION * torch.eye(n + 3, dtype=kp_1.dtype, device=kp_1.device)
    rhs = torch.cat([kp_2, kp_2.new_zeros(b, k, 3, 2)], dim=2)
    params = torch.matmul(torch.inverse(system), rhs)
    return params[:, :, :n], params[:, :, n:]


def tps_warp(
    coordinates: torch.Tensor, control_points: torch.Tensor, radial_weights: torch.Tensor, affine: torch.Tensor
) -> torch.Tensor:
    """Apply fitted splines to ``coordinates`` [M, 2]: [B, K, M, 2]."""
    linear = coordinates @ affine[:, :, :2] + affine[:, :, 2:]
    sq = ((coordinates[:, None, :] - control_points[:, :, None]) ** 2).sum(-1)
    return linear + (sq * torch.log(sq + LOG_EPS)) @ radial_weights


# Same as fomm.ResBlock2d with BatchNorm → InstanceNorm (TPSMM's official layers); a fix must reach both.
class ResBlock2d(nn.Module):
    """Pre-activation residual block: norm1 → relu → conv1 → norm2 → relu → conv2, plus the input."""

    def __init__(self, in_features: int, kernel_size: int = 3, padding: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_features, in_features, kernel_size=kernel_size, padding=padding)
        self.conv2 = nn.Conv2d(in_features, in_features, kernel_size=kernel_size, padding=padding)
        self.norm1 = InstanceNorm2d(in_features, affine=True)
        self.norm2 = InstanceNorm2d(in_features, affine=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = conv_norm(torch.relu_(self.norm1(x)), self.conv1, self.norm2)  # in place: a new tensor each time
        return self.conv2(torch.relu_(out)) + x


# Same as fomm.UpBlock2d with BatchNorm → InstanceNorm (TPSMM's official layers); a fix must reach both.
class UpBlock2d(nn.Module):
    """Nearest ×2 upsample → conv → instance norm → relu."""

    def __init__(self, in_features: int, out_features: int, kernel_size: int = 3, padding: int = 1) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_features, out_features, kernel_size=kernel_size, padding=padding)
        self.norm = InstanceNorm2d(out_features, affine=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu_(upsample_conv(x, self.conv, self.norm))


# Same as fomm.DownBlock2d with BatchNorm → InstanceNorm (TPSMM's official layers); a fix must reach both.
class DownBlock2d(nn.Module):
    """Conv → instance norm → relu → 2×2 average pool."""

    def __init__(self, in_features: int, out_features: int, kernel_size: int = 3, padding: int = 1) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_features, out_features, kernel_size=kernel_size, padding=padding)
        self.norm = InstanceNorm2d(out_features, affine=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.avg_pool2d(torch.relu_(conv_norm(x, self.conv, self.norm)), 2)


# Same as fomm.SameBlock2d with BatchNorm → InstanceNorm (TPSMM's official layers); a fix must reach both.
class SameBlock2d(nn.Module):
    """Conv → instance norm → relu at the input resolution."""

    def __init__(self, in_features: int, out_features: int, kernel_size: int = 3, padding: int = 1) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_features, out_features, kernel_size=kernel_size, padding=padding)
        self.norm = InstanceNorm2d(out_features, affine=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu_(conv_norm(x, self.conv, self.norm))


def _hourglass_width(block_expansion: int, max_features: int, level: int) -> int:
    return min(max_features, block_expansion * (2**level))


# Same as fomm.Encoder, built from the InstanceNorm blocks above; a fix must reach both.
class Encoder(nn.Module):
    """Hourglass encoder: ``num_blocks`` down blocks; the forward returns the input and every level."""

    def __init__(self, block_expansion: int, in_features: int, num_blocks: int, max_features: int) -> None:
        super().__init__()
        self.down_blocks = nn.ModuleList(
            DownBlock2d(
                in_features if i == 0 else _hourglass_width(block_expansion, max_features, i),
                _hourglass_width(block_expansion, max_features, i + 1),
            )
            for i in range(num_blocks)
        )

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        outs = [x]
        for block in self.down_blocks:
            outs.append(block(outs[-1]))
        return outs


class Decoder(nn.Module):
    """Hourglass decoder: up blocks deepest first, each followed by a concat with the matching encoder level.

    ``out_channels`` lists the channels of the decoder levels as the official code does: the input width of each
    up block (which is the width of the previous level's concat), then ``block_expansion + in_features``.
    """

    def __init__(self, block_expansion: int, in_features: int, num_blocks: int, max_features: int) -> None:
        super().__init__()
        blocks = []
        self.out_channels: list[int] = []
        for i in reversed(range(num_blocks)):
            width = (1 if i == num_blocks - 1 else 2) * _hourglass_width(block_expansion, max_features, i + 1)
            self.out_channels.append(width)
            blocks.append(UpBlock2d(width, _hourglass_width(block_expansion, max_features, i)))
        self.up_blocks = nn.ModuleList(blocks)
        self.out_channels.append(block_expansion + in_features)

    def forward(self, skips: list[torch.Tensor]) -> list[torch.Tensor]:
        skips = list(skips)
        out = skips.pop()
        outs = []
        for block in self.up_blocks:
            out = torch.cat([block(out), skips.pop()], dim=1)
            outs.append(out)
        return outs


# Same as fomm.Hourglass, built from the InstanceNorm blocks above; a fix must reach both.
class Hourglass(nn.Module):
    """U-Net returning every decoder level, coarsest first (the official ``mode=1``)."""

    def __init__(self, block_expansion: int, in_features: int, num_blocks: int = 3, max_features: int = 256) -> None:
        super().__init__()
        self.encoder = Encoder(block_expansion, in_features, num_blocks, max_features)
        self.decoder = Decoder(block_expansion, in_features, num_blocks, max_features)
        self.out_channels = self.decoder.out_channels

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        return self.decoder(self.encoder(x))


# Same role as fomm.AntiAliasInterpolation2d, in TPSMM's official form; a fix must reach both.
class AntiAliasInterpolation2d(nn.Module):
    """Gaussian blur (sigma = (1/scale - 1)/2, kernel 2·round(4·sigma)+1) then nearest downsampling by ``scale``.

    The depthwise kernel is the registered buffer ``weight`` [C, 1, k, k], so it is part of the state_dict.
    """

    def __init__(self, channels: int, scale: float) -> None:
        super().__init__()
        sigma = (1 / scale - 1) / 2
        size = 2 * round(sigma * 4) + 1
        self.ka = size // 2
        self.kb = self.ka - 1 if size % 2 == 0 else self.ka
        axis = torch.arange(size, dtype=torch.float32)
        bump = torch.exp(-((axis - (size - 1) / 2) ** 2) / (2 * sigma**2))
        kernel = bump[:, None] * bump[None, :]
        kernel = kernel / kernel.sum()
        self.register_buffer("weight", kernel.view(1, 1, size, size).repeat(channels, 1, 1, 1))
        self.groups = channels
        self.scale = scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.pad(x, (self.ka, self.kb, self.ka, self.kb))
        out = F.conv2d(out, self.weight, groups=self.groups)
        return F.interpolate(out, scale_factor=(self.scale, self.scale))


class KPDetector(nn.Module):
    """ResNet-18 regressing ``num_tps * 5`` control points in [-1, 1]; no ImageNet normalisation of the input."""

    def __init__(self, num_tps: int) -> None:
        super().__init__()
        self.num_tps = num_tps
        self.fg_encoder = torchvision.models.resnet18(weights=None)
        self.fg_encoder.fc = nn.Linear(self.fg_encoder.fc.in_features, num_tps * POINTS_PER_TPS * 2)

    def forward(self, image: torch.Tensor) -> dict[str, torch.Tensor]:
        kp = torch.sigmoid(self.fg_encoder(image)) * 2 - 1
        return {"fg_kp": kp.view(image.shape[0], self.num_tps * POINTS_PER_TPS, 2)}


class DenseMotionNetwork(nn.Module):
    """Optical flow from ``num_tps`` TPS transforms plus the identity, and the occlusion masks."""

    def __init__(
        self,
        block_expansion: int,
        num_blocks: int,
        max_features: int,
        num_tps: int,
        num_channels: int,
        scale_factor: float = 0.25,
        multi_mask: bool = True,
        kp_variance: float = 0.01,
    ) -> None:
        super().__init__()
        if scale_factor != 1:
            self.down = AntiAliasInterpolation2d(num_channels, scale_factor)
        self.scale_factor = scale_factor
        self.multi_mask = multi_mask
        self.num_tps = num_tps
        self.kp_variance = kp_variance
        in_features = num_channels * (num_tps + 1) + num_tps * POINTS_PER_TPS + 1
        self.hourglass = Hourglass(block_expansion, in_features, num_blocks, max_features)
        widths = self.hourglass.out_channels
        self.maps = nn.Conv2d(widths[-1], num_tps + 1, kernel_size=7, padding=3)
        if multi_mask:
            self.up_nums = round(math.log2(1 / scale_factor))
            from_hourglass = OCCLUSION_LEVELS - self.up_nums
            self.up = nn.ModuleList(
                UpBlock2d(widths[-1] // 2**i, widths[-1] // 2 ** (i + 1)) for i in range(self.up_nums)
            )
            channels = [widths[-1 - i] for i in reversed(range(from_hourglass))]
            channels += [widths[-1] // 2 ** (i + 1) for i in range(self.up_nums)]
        else:
            channels = [widths[-1]]
        self.occlusion = nn.ModuleList(nn.Conv2d(c, 1, kernel_size=7, padding=3) for c in channels)

    def create_heatmap_representations(
        self, source_image: torch.Tensor, kp_driving: Mapping[str, torch.Tensor], kp_source: Mapping[str, torch.Tensor]
    ) -> torch.Tensor:
        """Driving minus source keypoint Gaussians, after a zero channel for the background: [B, 5K+1, h, w]."""
        size = (source_image.shape[2], source_image.shape[3])
        heatmap = kp2gaussian(kp_driving["fg_kp"], size, self.kp_variance)
        heatmap = heatmap - kp2gaussian(kp_source["fg_kp"], size, self.kp_variance)
        zeros = heatmap.new_zeros(heatmap.shape[0], 1, size[0], size[1])
        return torch.cat([zeros, heatmap], dim=1)

    def create_transformations(
        self, source_image: torch.Tensor, kp_driving: Mapping[str, torch.Tensor], kp_source: Mapping[str, torch.Tensor]
    ) -> torch.Tensor:
        """Sampling grids [B, K+1, h, w, 2]: the identity, then each TPS from driving to source coordinates."""
        bs, _, h, w = source_image.shape
        kp_1 = kp_driving["fg_kp"].view(bs, -1, POINTS_PER_TPS, 2)
        kp_2 = kp_source["fg_kp"].view(bs, -1, POINTS_PER_TPS, 2)
        grid = make_coordinate_grid(h, w, kp_1)
        radial, affine = tps_fit(kp_1, kp_2)
        warped = tps_warp(grid.view(-1, 2), kp_1, radial, affine).view(bs, -1, h, w, 2)
        identity = grid.view(1, 1, h, w, 2).expand(bs, 1, h, w, 2)
        return torch.cat([identity, warped], dim=1)

    def create_deformed_source_image(self, source_image: torch.Tensor, transformations: torch.Tensor) -> torch.Tensor:
        """The source warped by every transform: [B, K+1, C, h, w]."""
        bs, c, h, w = source_image.shape
        n = transformations.shape[1]
        repeated = source_image.unsqueeze(1).expand(bs, n, c, h, w).reshape(bs * n, c, h, w)
        deformed = F.grid_sample(repeated, transformations.reshape(bs * n, h, w, 2), align_corners=True)
        return deformed.view(bs, n, c, h, w)

    def forward(
        self,
        source_image: torch.Tensor,
        kp_driving: Mapping[str, torch.Tensor],
        kp_source: Mapping[str, torch.Tensor],
        bg_param: torch.Tensor | None = None,
        dropout_flag: bool = False,
    ) -> dict[str, Any]:
        """``deformation`` [B, h, w, 2], ``occlusion_map`` (list, coarsest first), ``contribution_maps``,
        ``deformed_source``. ``bg_param`` and ``dropout_flag`` are training features and must stay unset."""
        if bg_param is not None or dropout_flag:
            raise ValueError("bg_param and dropout_flag are training-time features; inference passes neither")
        if self.scale_factor != 1:
            source_image = self.down(source_image)
        bs, _, h, w = source_image.shape
        heatmap = self.create_heatmap_representations(source_image, kp_driving, kp_source)
        transformations = self.create_transformations(source_image, kp_driving, kp_source)
        deformed_source = self.create_deformed_source_image(source_image, transformations)
        prediction = self.hourglass(torch.cat([heatmap, deformed_source.view(bs, -1, h, w)], dim=1))

        contribution_maps = F.softmax(self.maps(prediction[-1]), dim=1)
        deformation = (transformations.permute(0, 1, 4, 2, 3) * contribution_maps.unsqueeze(2)).sum(dim=1)

        occlusion_map = []
        if self.multi_mask:
            from_hourglass = OCCLUSION_LEVELS - self.up_nums
            for i in range(from_hourglass):
                occlusion_map.append(torch.sigmoid(self.occlusion[i](prediction[i - from_hourglass])))
            features = prediction[-1]
            for i, up in enumerate(self.up):
                features = up(features)
                occlusion_map.append(torch.sigmoid(self.occlusion[from_hourglass + i](features)))
        else:
            occlusion_map.append(torch.sigmoid(self.occlusion[0](prediction[-1])))
        return {
            "deformed_source": deformed_source,
            "contribution_maps": contribution_maps,
            "deformation": deformation.permute(0, 2, 3, 1),
            "occlusion_map": occlusion_map,
        }


class InpaintingNetwork(nn.Module):
    """Encoder → flow warp + occlusion masking of every level → decoder, blended with the warped source."""

    def __init__(
        self, num_channels: int, block_expansion: int, max_features: int, num_down_blocks: int, multi_mask: bool = True
    ) -> None:
        super().__init__()
        self.num_down_blocks = num_down_blocks
        self.multi_mask = multi_mask
        self.first = SameBlock2d(num_channels, block_expansion, kernel_size=7, padding=3)
        down_blocks, up_blocks, resblock = [], [], []
        for i in range(num_down_blocks):
            in_features = min(max_features, block_expansion * (2**i))
            out_features = min(max_features, block_expansion * (2 ** (i + 1)))
            down_blocks.append(DownBlock2d(in_features, out_features))
            decoder_in = out_features if i == num_down_blocks - 1 else out_features * 2
            up_blocks.append(UpBlock2d(decoder_in, in_features))
            resblock += [ResBlock2d(decoder_in), ResBlock2d(decoder_in)]
        self.down_blocks = nn.ModuleList(down_blocks)
        self.up_blocks = nn.ModuleList(up_blocks[::-1])
        self.resblock = nn.ModuleList(resblock[::-1])
        self.final = nn.Conv2d(block_expansion, num_channels, kernel_size=7, padding=3)
        self.num_channels = num_channels

    @staticmethod
    def deform_input(inp: torch.Tensor, deformation: torch.Tensor) -> torch.Tensor:
        """Warp ``inp`` by the flow [B, h, w, 2], first resized (bilinear) to ``inp``'s resolution if needed."""
        h, w = inp.shape[2:]
        if deformation.shape[1:3] != (h, w):
            deformation = deformation.permute(0, 3, 1, 2)
            deformation = F.interpolate(deformation, size=(h, w), mode="bilinear", align_corners=True)
            deformation = deformation.permute(0, 2, 3, 1)
        return F.grid_sample(inp, deformation, align_corners=True)

    def occlude_input(self, inp: torch.Tensor, occlusion_map: torch.Tensor) -> torch.Tensor:
        """Multiply by the occlusion mask (resized bilinearly when there is a single mask)."""
        if not self.multi_mask and occlusion_map.shape[2:] != inp.shape[2:]:
            occlusion_map = F.interpolate(occlusion_map, size=inp.shape[2:], mode="bilinear", align_corners=True)
        return inp * occlusion_map

    def forward(self, source_image: torch.Tensor, dense_motion: Mapping[str, Any]) -> dict[str, Any]:
        """``prediction`` [B, C, H, W] in [0, 1], ``deformed`` (the warped source) and the dense motion's maps."""
        out = self.first(source_image)
        encoder_map = [out]
        for block in self.down_blocks:
            out = block(out)
            encoder_map.append(out)
        deformation = dense_motion["deformation"]
        occlusion_map = dense_motion["occlusion_map"]
        out = self.occlude_input(self.deform_input(out, deformation), occlusion_map[0])
        skip = out
        for i in range(self.num_down_blocks):
            out = self.resblock[2 * i + 1](self.resblock[2 * i](out))
            out = self.up_blocks[i](out)
            skip = self.deform_input(encoder_map[-(i + 2)], deformation)
            skip = self.occlude_input(skip, occlusion_map[i + 1 if self.multi_mask else 0])
            if i < self.num_down_blocks - 1:
                out = torch.cat([out, skip], dim=1)
        deformed = self.deform_input(source_image, deformation)
        occlusion_last = occlusion_map[-1]
        if not self.multi_mask:
            occlusion_last = F.interpolate(occlusion_last, size=out.shape[2:], mode="bilinear", align_corners=True)
        out = out * (1 - occlusion_last) + skip
        out = torch.sigmoid(self.final(out))
        out = out * (1 - occlusion_last) + deformed * occlusion_last
        return {
            "prediction": out,
            "deformed": deformed,
            "occlusion_map": occlusion_map,
            "contribution_maps": dense_motion.get("contribution_maps"),
            "deformed_source": dense_motion.get("deformed_source"),
        }


def _mlp(sizes: list[int], inplace: bool) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(itertools.pairwise(sizes)):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers += [nn.BatchNorm1d(b), nn.ReLU(inplace=inplace)]
    return nn.Sequential(*layers)


class AVDNetwork(nn.Module):
    """Animation via disentanglement: decode (pose of the driving keypoints, identity of the source keypoints)."""

    def __init__(self, num_tps: int, id_bottle_size: int = 64, pose_bottle_size: int = 64) -> None:
        super().__init__()
        input_size = POINTS_PER_TPS * 2 * num_tps
        self.num_tps = num_tps
        self.id_encoder = _mlp([input_size, 256, 512, 1024, id_bottle_size], inplace=True)
        self.pose_encoder = _mlp([input_size, 256, 512, 1024, pose_bottle_size], inplace=True)
        self.decoder = _mlp([pose_bottle_size + id_bottle_size, 1024, 512, 256, input_size], inplace=False)

    def forward(
        self, kp_source: Mapping[str, torch.Tensor], kp_target: Mapping[str, torch.Tensor]
    ) -> dict[str, torch.Tensor]:
        bs = kp_source["fg_kp"].shape[0]
        pose = self.pose_encoder(kp_target["fg_kp"].reshape(bs, -1))
        identity = self.id_encoder(kp_source["fg_kp"].reshape(bs, -1))
        rec = self.decoder(torch.cat([pose, identity], dim=1))
        return {"fg_kp": rec.view(bs, self.num_tps * POINTS_PER_TPS, 2)}


def merge_config(config: Mapping[str, Any] | None) -> dict[str, dict[str, Any]]:
    """``VOX_256`` with the sections/keys of ``config`` overriding it; unknown names raise ``ValueError``."""
    merged = copy.deepcopy(VOX_256)
    for section, values in (config or {}).items():
        if section not in merged or not isinstance(values, Mapping):
            raise ValueError(f"unknown TPSMM config section {section!r}; expected one of {sorted(merged)}")
        unknown = sorted(set(values) - set(merged[section]))
        if unknown:
            raise ValueError(f"unknown keys in TPSMM config section {section!r}: {unknown}")
        merged[section].update(values)
    return merged


class TPSMM(nn.Module):
    """The four inference networks of TPSMM plus the calls the talking-head pipeline needs.

    ``has_avd`` is False when the loaded file had no ``avd_network``; :meth:`avd` then refuses.
    """

    kind = "tpsmm"
    keypoints_key = "fg_kp"  # the keypoint tensor of :meth:`keypoints`' dict

    def __init__(self, config: Mapping[str, Any] | None = None) -> None:
        super().__init__()
        self.config = merge_config(config)
        common = self.config["common_params"]
        generator = self.config["generator_params"]
        dense = self.config["dense_motion_params"]
        if common["multi_mask"]:
            up_nums = math.log2(1 / dense["scale_factor"])
            if generator["num_down_blocks"] != OCCLUSION_LEVELS - 1:
                raise ValueError("multi_mask needs num_down_blocks == 3 (one occlusion mask per inpainting level)")
            if up_nums != round(up_nums) or not 0 <= up_nums < OCCLUSION_LEVELS:
                raise ValueError("multi_mask needs scale_factor 1, 1/2, 1/4 or 1/8")
            if dense["num_blocks"] < OCCLUSION_LEVELS - up_nums:
                raise ValueError(f"multi_mask at scale_factor {dense['scale_factor']} needs num_blocks >= "
                                 f"{OCCLUSION_LEVELS - round(up_nums)}")
        self.num_tps = int(common["num_tps"])
        self.kp_detector = KPDetector(self.num_tps)
        self.dense_motion_network = DenseMotionNetwork(
            num_tps=self.num_tps, num_channels=common["num_channels"], multi_mask=common["multi_mask"], **dense
        )
        self.inpainting_network = InpaintingNetwork(
            num_channels=common["num_channels"], multi_mask=common["multi_mask"], **generator
        )
        self.avd_network = AVDNetwork(self.num_tps, **self.config["avd_network_params"])
        self.has_avd = True

    def _param(self) -> torch.Tensor:
        return next(self.parameters())

    @torch.no_grad()
    def keypoints(self, frames: torch.Tensor) -> dict[str, torch.Tensor]:
        """Frames [B, 3, H, W] in [0, 1] → ``{'fg_kp': [B, num_tps * 5, 2]}``."""
        if frames.dim() != 4:
            raise ValueError(f"frames must be [B, C, H, W], got {tuple(frames.shape)}")
        ref = self._param()
        return self.kp_detector(frames.to(ref.device, ref.dtype))

    @torch.no_grad()
    def render(
        self, source: torch.Tensor, kp_source: Mapping[str, torch.Tensor], kp_driving: Mapping[str, torch.Tensor]
    ) -> torch.Tensor:
        """The source [1 or B, 3, H, W] animated to each driving keypoint set: [B, 3, H, W] in [0, 1].

        A batch-1 source and ``kp_source`` are expanded to the driving batch, so many frames run in one call.
        """
        ref = self._param()
        driving = kp_driving["fg_kp"].to(ref.device, ref.dtype)
        src_kp = kp_source["fg_kp"].to(ref.device, ref.dtype)
        source = source.to(ref.device, ref.dtype)
        b = driving.shape[0]
        if source.dim() != 4:
            raise ValueError(f"source must be [B, C, H, W], got {tuple(source.shape)}")
        if source.shape[0] not in (1, b) or src_kp.shape[0] not in (1, b):
            raise ValueError(
                f"source batch {source.shape[0]} and source keypoint batch {src_kp.shape[0]} must be 1 or the "
                f"driving batch {b}"
            )
        source = source.expand(b, -1, -1, -1)
        src = {"fg_kp": src_kp.expand(b, -1, -1)}
        dense_motion = self.dense_motion_network(source, {"fg_kp": driving}, src)
        return self.inpainting_network(source, dense_motion)["prediction"]

    @torch.no_grad()
    def avd(
        self, kp_source: Mapping[str, torch.Tensor], kp_driving: Mapping[str, torch.Tensor]
    ) -> dict[str, torch.Tensor]:
        """Driving keypoints re-targeted to the source identity by the AVD network (batch-1 source expanded)."""
        if not self.has_avd:
            raise InputError("this TPSMM checkpoint has no avd_network, so the avd mode is unavailable; "
                             "use the relative or standard mode")
        ref = self._param()
        driving = kp_driving["fg_kp"].to(ref.device, ref.dtype)
        src_kp = kp_source["fg_kp"].to(ref.device, ref.dtype)
        if src_kp.shape[0] not in (1, driving.shape[0]):
            raise ValueError(f"source keypoint batch {src_kp.shape[0]} must be 1 or {driving.shape[0]}")
        return self.avd_network({"fg_kp": src_kp.expand(driving.shape[0], -1, -1)}, {"fg_kp": driving})


def build(config: Config) -> TPSMM:
    """The four TPSMM inference networks with fresh (random) weights (``has_avd`` True)."""
    return TPSMM(config.model_params())


def load(path: str | Path, config: Config) -> TPSMM:
    """An official TPSMM checkpoint loaded strictly into ``build(config)``; eval mode, CPU.

    ``kp_detector``, ``dense_motion_network`` and ``inpainting_network`` are required; ``avd_network`` is loaded
    when present (``has_avd``); ``bg_predictor``, optimizer states and ``epoch`` are ignored.
    """
    source = Path(path).name
    raw = load_checkpoint(path)
    if not isinstance(raw, dict):
        raise WeightsIntegrityError(
            f"{source} is not a TPSMM checkpoint: expected a dict of state_dicts, got {type(raw).__name__}"
        )
    missing = [name for name in REQUIRED_MODULES if name not in raw]
    if missing:
        found = ", ".join(sorted(map(str, raw))[:8]) or "nothing"
        raise WeightsIntegrityError(
            f"{source} is not a TPSMM checkpoint: missing {', '.join(missing)} (it holds {found})"
        )
    model = build(config)
    for name in (*REQUIRED_MODULES, "avd_network"):
        if name not in raw:
            continue
        state = raw[name]
        if not isinstance(state, Mapping) or not all(isinstance(v, torch.Tensor) for v in state.values()):
            raise WeightsIntegrityError(f"{source}: {name} is not a state_dict of tensors")
        load_strict(getattr(model, name), state, f"{source} [{name}]")
    model.has_avd = "avd_network" in raw
    return model.eval()


def load_tpsmm(path: str | Path, config: Mapping[str, Any] | None = None) -> TPSMM:
    """:func:`load` with ``config`` given as sections overriding vox-256 (None: vox-256)."""
    return load(path, Config(**merge_config(config)))  # merge_config's ValueError names a bad key


def from_manifest(path: Path, config: dict, device: torch.device) -> TPSMM:
    """Registry loader: :func:`load` with ``Config.from_dict(config)`` (``{}`` means vox-256), moved to ``device``."""
    return load(path, Config.from_dict(config)).to(device)
