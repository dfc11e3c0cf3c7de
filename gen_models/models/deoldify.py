"""DeOldify colorization generators (jantic/DeOldify @ 5f86c28, fastai v1 ``DynamicUnet`` variants) in plain PyTorch.

The official weights are bare state_dicts of fastai models, so they only load into a network whose module tree
matches fastai's. This module rebuilds that tree without fastai, so ``ColorizeArtistic_gen.pth`` (``ARTISTIC``:
resnet34 encoder, ``DynamicUnetDeep``, nf_factor 1.5; 378 tensors) and ``ColorizeStable_gen.pth`` /
``ColorizeVideo_gen.pth`` (``STABLE``: resnet101, ``DynamicUnetWide``, nf_factor 2; 754 tensors) load with strict key
and shape checks.

The model is a fastai ``SequentialEx``, so every key starts with ``layers.<i>.``:
0 encoder (torchvision ResNet children ``conv1, bn1, relu, maxpool, layer1..4``) · 1 BatchNorm · 2 ReLU ·
3 middle convs ``ni → 2ni → ni`` · 4–7 U-Net blocks fed by the skips ``layer3, layer2, layer1, relu`` (where fastai's
``_get_sfs_idxs`` finds the encoder's size changes) · 8 weight-norm ``PixelShuffle_ICNR`` back to full resolution ·
9 concatenation with the input image · 10 residual block · 11 1×1 conv to 3 channels · 12 ``SigmoidRange(-3, 3)``.

Op order follows fastai v1 exactly: each ``custom_conv_layer`` is conv → ReLU → BatchNorm (→ self-attention);
upsampling is conv(+BN) → ReLU → PixelShuffle(2) → replication pad (1, 0, 1, 0) → 2×2 average pool with stride 1
(the blur is always applied: the official ``if self.blur`` tests a module, never false); a U-Net block resizes the
upsampled tensor to its skip's size with nearest interpolation when they differ (render factor 35 → 560 px gives a
35 → 18 → 36 mismatch), then concatenates it with BatchNorm(skip) and applies ReLU. Self-attention (SAGAN style,
softmax over dim 1) sits on the second block (stride 8).

The 2019 files store every conv of the decoder spectral-normalised (``weight_orig``, ``weight_u``, ``weight_v``, from
``torch.nn.utils.spectral_norm``) and the final upsampling conv weight-normalised (``weight_g``, ``weight_v``). At load
time both are folded into plain ``weight`` tensors, as torch computes them in eval mode (no power iteration):
``W = weight_orig / (u · (W_mat v))`` and ``W = v · g / ‖v‖`` (norm per output channel). The inference module then
holds only ordinary ``Conv1d``/``Conv2d`` layers with no normalisation hooks; :func:`checkpoint_shapes` derives the
file's key set from it, so the official layout is checked key by key before folding.

Input and output are ImageNet-normalised RGB, as in the official pipeline (which denormalises the output once).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn
from torchvision import models

from gen_models.core.checkpoint import load_checkpoint, load_strict
from gen_models.core.errors import InputError, WeightsIntegrityError
from gen_models.models._config import config_from_dict

# registry.create lays the model out channels-last on a CPU, where oneDNN's NHWC convolutions are faster
# (one thread, Artistic at render factor 35: 16.0 → 12.2 s); the outputs differ by float rounding only
CPU_CHANNELS_LAST = True
IMAGENET_MEAN = np.array([0.485, 0.456, 0.406], np.float32)
IMAGENET_STD = np.array([0.229, 0.224, 0.225], np.float32)
RENDER_BASE = 16  # the official square render size is render_factor × 16 px
RENDER_FACTORS = (7, 45)  # the render factors the demos accept (inclusive)
DEFAULT_RENDER_FACTOR = 35

# Settings of the official ``gen_inference_deep`` / ``gen_inference_wide`` learners (deoldify/generators.py).
# ``blur`` is recorded for completeness: the official upsamplers blur whatever it says (see the module docstring).
ARTISTIC: dict[str, Any] = {
    "variant": "artistic",
    "encoder": "resnet34",
    "unet": "deep",
    "nf_factor": 1.5,
    "blur": True,
    "self_attention": True,
    "norm_type": "spectral",
    "y_range": (-3.0, 3.0),
    "last_cross": True,
    "bottle": False,
    "n_classes": 3,
    "render_factor": 35,
}
STABLE: dict[str, Any] = {
    **ARTISTIC,
    "variant": "stable",
    "encoder": "resnet101",
    "unet": "wide",
    "nf_factor": 2,
}
VIDEO: dict[str, Any] = {**STABLE, "variant": "video", "render_factor": 21}  # ColorizeVideo_gen.pth: Stable's layout
VARIANTS: dict[str, dict[str, Any]] = {"artistic": ARTISTIC, "stable": STABLE, "video": VIDEO}

# torchvision constructor and the channels of the skips (relu, layer1, layer2, layer3) and of layer4.
_ENCODERS: dict[str, tuple[Callable[..., nn.Module], tuple[int, int, int, int, int]]] = {
    "resnet34": (models.resnet34, (64, 64, 128, 256, 512)),
    "resnet101": (models.resnet101, (64, 256, 512, 1024, 2048)),
}
_SKIP_CHILDREN = (2, 4, 5, 6)  # encoder children whose outputs feed the U-Net blocks (relu, layer1, layer2, layer3)


class _SpectralConv2d(nn.Conv2d):
    """A plain Conv2d whose weight the checkpoint stores spectral-normalised (``weight_orig``/``_u``/``_v``)."""


class _SpectralConv1d(nn.Conv1d):
    """A plain Conv1d whose weight the checkpoint stores spectral-normalised (``weight_orig``/``_u``/``_v``)."""


class _WeightNormConv2d(nn.Conv2d):
    """A plain Conv2d whose weight the checkpoint stores weight-normalised over dim 0 (``weight_g``/``weight_v``)."""


_SPECTRAL = (_SpectralConv2d, _SpectralConv1d)


class SelfAttention(nn.Module):
    """fastai's SAGAN self-attention: 1×1 Conv1d query/key (n → n/8) and value (n → n), ``x + γ·(h β)``."""

    def __init__(self, n_channels: int) -> None:
        super().__init__()
        self.query = _SpectralConv1d(n_channels, n_channels // 8, 1, bias=False)
        self.key = _SpectralConv1d(n_channels, n_channels // 8, 1, bias=False)
        self.value = _SpectralConv1d(n_channels, n_channels, 1, bias=False)
        self.gamma = nn.Parameter(torch.zeros(1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        size = x.shape
        flat = x.flatten(2)
        f, g, h = self.query(flat), self.key(flat), self.value(flat)
        beta = F.softmax(torch.bmm(f.transpose(1, 2), g), dim=1)
        return (self.gamma * torch.bmm(h, beta) + flat).view(size)


def _conv_layer(
    ni: int, nf: int, ks: int = 3, activ: bool = True, bn: bool = True, self_attention: bool = False
) -> nn.Sequential:
    """``custom_conv_layer`` with spectral norm: conv (bias only without BN) → [ReLU] → [BN] → [self-attention]."""
    layers: list[nn.Module] = [_SpectralConv2d(ni, nf, ks, padding=(ks - 1) // 2, bias=not bn)]
    if activ:
        layers.append(nn.ReLU())
    if bn:
        layers.append(nn.BatchNorm2d(nf))
    if self_attention:
        layers.append(SelfAttention(nf))
    return nn.Sequential(*layers)


class PixelShuffleUp(nn.Module):
    """×2 upsampling: ``conv`` → ReLU → PixelShuffle(2) → replication pad (1, 0, 1, 0) → 2×2 average, stride 1.

    ``conv`` is ``[SN-conv 1×1, BN]`` in the U-Net blocks (``CustomPixelShuffle_ICNR``) and ``[WN-conv 1×1 + bias]``
    at the end (fastai's ``PixelShuffle_ICNR``); both produce 4× the output channels.
    """

    def __init__(self, conv: nn.Sequential) -> None:
        super().__init__()
        self.conv = conv

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.pixel_shuffle(F.relu(self.conv(x)), 2)
        return F.avg_pool2d(F.pad(x, (1, 0, 1, 0), mode="replicate"), 2, stride=1)


def _merge_skip(shuf: PixelShuffleUp, bn: nn.BatchNorm2d, up_in: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
    """Upsample, resize to the skip's size (nearest) if they differ, concat with BN(skip), ReLU (both block kinds)."""
    up = shuf(up_in)
    if up.shape[-2:] != skip.shape[-2:]:
        up = F.interpolate(up, skip.shape[-2:], mode="nearest")
    return F.relu(torch.cat([up, bn(skip)], dim=1))


class UnetBlockDeep(nn.Module):
    """``UnetBlockDeep``: upsample to ``up_in_c // 2``; two 3×3 convs to ``int(ni · nf_factor)`` (``ni // 2`` last)."""

    def __init__(self, up_in_c: int, x_in_c: int, final_div: bool, self_attention: bool, nf_factor: float) -> None:
        super().__init__()
        self.shuf = PixelShuffleUp(_conv_layer(up_in_c, up_in_c // 2 * 4, ks=1, activ=False))
        self.bn = nn.BatchNorm2d(x_in_c)
        ni = up_in_c // 2 + x_in_c
        nf = int((ni if final_div else ni // 2) * nf_factor)
        self.conv1 = _conv_layer(ni, nf)
        self.conv2 = _conv_layer(nf, nf, self_attention=self_attention)
        self.out_channels = nf

    def forward(self, up_in: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        return self.conv2(self.conv1(_merge_skip(self.shuf, self.bn, up_in, skip)))


class UnetBlockWide(nn.Module):
    """``UnetBlockWide``: upsample to ``n_out // 2``; one 3×3 conv to ``n_out // 2``."""

    def __init__(self, up_in_c: int, x_in_c: int, n_out: int, self_attention: bool) -> None:
        super().__init__()
        half = n_out // 2
        self.shuf = PixelShuffleUp(_conv_layer(up_in_c, half * 4, ks=1, activ=False))
        self.bn = nn.BatchNorm2d(x_in_c)
        self.conv = _conv_layer(half + x_in_c, half, self_attention=self_attention)
        self.out_channels = half

    def forward(self, up_in: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        return self.conv(_merge_skip(self.shuf, self.bn, up_in, skip))


class ConcatInput(nn.Module):
    """fastai's ``MergeLayer(dense=True)`` at the top level: concatenate the network's input image."""

    def forward(self, x: torch.Tensor, image: torch.Tensor) -> torch.Tensor:
        return torch.cat([x, image], dim=1)


class ResBlock(nn.Module):
    """fastai ``res_block`` with spectral norm: ``x + (SN-conv+bias → ReLU)²(x)``; keys ``layers.{0,1}.0.*``."""

    def __init__(self, nf: int) -> None:
        super().__init__()
        self.layers = nn.ModuleList([_conv_layer(nf, nf, bn=False), _conv_layer(nf, nf, bn=False)])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.layers[1](self.layers[0](x))


class SigmoidRange(nn.Module):
    """``sigmoid(x) · (high − low) + low``."""

    def __init__(self, low: float, high: float) -> None:
        super().__init__()
        self.low, self.high = low, high

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(x) * (self.high - self.low) + self.low


def resolve_config(config: Mapping[str, Any]) -> dict[str, Any]:
    """A full generator config: ``variant`` picks ``ARTISTIC``/``STABLE``/video defaults, other keys override them."""
    variant = str(config.get("variant", "artistic"))
    if variant not in VARIANTS:
        raise ValueError(f"unknown DeOldify variant '{variant}'; choose one of {', '.join(VARIANTS)}")
    full = {**VARIANTS[variant], **config}
    unsupported = [
        f"{key}={full[key]!r}"
        for key, wanted in (("norm_type", "spectral"), ("last_cross", True), ("bottle", False))
        if full[key] != wanted
    ]
    if full["encoder"] not in _ENCODERS:
        unsupported.append(f"encoder={full['encoder']!r}")
    if full["unet"] not in ("deep", "wide"):
        unsupported.append(f"unet={full['unet']!r}")
    if unsupported:
        raise ValueError("DeOldify generators are built as the official ones; unsupported: " + ", ".join(unsupported))
    return full


@dataclass(frozen=True)
class Config:
    """DeOldify generator settings: ``variant`` picks one of the official presets (:data:`VARIANTS`), and every other
    field, when set, overrides that preset's value (None keeps it).

    * ``variant``: ``"artistic"`` (resnet34, deep U-Net, nf_factor 1.5), ``"stable"`` (resnet101, wide U-Net,
      nf_factor 2) or ``"video"`` (Stable's layout, render factor 21); default ``"artistic"``;
    * ``encoder``: ``"resnet34"`` or ``"resnet101"``;
    * ``unet``: ``"deep"`` or ``"wide"``;
    * ``nf_factor``: the decoder's width factor;
    * ``self_attention``: the SAGAN layer of the second U-Net block;
    * ``blur``: recorded only (the official upsamplers always blur);
    * ``y_range``: the output's ``SigmoidRange`` (low, high), (-3, 3);
    * ``n_classes``: output channels (3);
    * ``render_factor``: the preset's suggested render factor (35; 21 for video);
    * ``norm_type``, ``last_cross``, ``bottle``: only the official ``"spectral"``, True, False are built.
    """

    variant: str = "artistic"
    encoder: str | None = None
    unet: str | None = None
    nf_factor: float | None = None
    self_attention: bool | None = None
    blur: bool | None = None
    y_range: tuple[float, float] | None = None
    n_classes: int | None = None
    render_factor: int | None = None
    norm_type: str | None = None
    last_cross: bool | None = None
    bottle: bool | None = None

    def __post_init__(self) -> None:
        if self.y_range is not None:
            if not isinstance(self.y_range, (list, tuple)) or len(self.y_range) != 2:
                raise ValueError(f"y_range must be [low, high], got {self.y_range!r}")
            object.__setattr__(self, "y_range", (float(self.y_range[0]), float(self.y_range[1])))
        self.settings()  # unknown variant or unsupported settings raise ValueError here

    def settings(self) -> dict[str, Any]:
        """The full settings dict the network is built from: the variant's preset with the set fields over it."""
        return resolve_config({f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name) is not None})

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any] | None) -> Config:
        """The catalog's ``config`` object (e.g. ``{"variant": "artistic"}``); unknown keys are errors."""
        return config_from_dict(cls, raw, "deoldify")


class DeOldify(nn.Module):
    """The DeOldify generator: ImageNet-normalised RGB [B, 3, H, W] → raw colour output, still ImageNet-normalised."""

    kind = "deoldify"
    uses_render_factor = True

    def __init__(self, config: Mapping[str, Any] = ARTISTIC) -> None:
        super().__init__()
        self.config = resolve_config(config)
        make_encoder, (c_relu, c1, c2, c3, c4) = _ENCODERS[self.config["encoder"]]
        resnet = make_encoder(weights=None)
        encoder = nn.Sequential(*list(resnet.children())[:-2])
        middle = nn.Sequential(_conv_layer(c4, c4 * 2), _conv_layer(c4 * 2, c4))
        layers: list[nn.Module] = [encoder, nn.BatchNorm2d(c4), nn.ReLU(), middle]
        up_c, skips = c4, (c3, c2, c1, c_relu)
        nf_factor = self.config["nf_factor"]
        for i, x_in_c in enumerate(skips):
            not_final = i != len(skips) - 1
            attention = bool(self.config["self_attention"]) and i == len(skips) - 3
            if self.config["unet"] == "deep":
                block: UnetBlockDeep | UnetBlockWide = UnetBlockDeep(
                    up_c, x_in_c, not_final, attention, float(nf_factor)
                )
            else:
                nf = 512 * int(nf_factor)
                block = UnetBlockWide(up_c, x_in_c, nf if not_final else nf // 2, attention)
            layers.append(block)
            up_c = block.out_channels
        n_in = up_c + 3
        layers += [
            PixelShuffleUp(nn.Sequential(_WeightNormConv2d(up_c, up_c * 4, 1))),
            ConcatInput(),
            ResBlock(n_in),
            _conv_layer(n_in, int(self.config["n_classes"]), ks=1, activ=False, bn=False),
        ]
        y_range = self.config["y_range"]
        layers.append(SigmoidRange(*y_range) if y_range is not None else nn.Identity())
        self.layers = nn.ModuleList(layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """[B, 3, H, W] ImageNet-normalised (H, W even; the official uses multiples of 16) → [B, 3, H, W] in (-3, 3)."""
        if x.ndim != 4 or x.shape[1] != 3 or x.shape[2] % 2 or x.shape[3] % 2:
            raise ValueError(f"expected a [B, 3, H, W] batch with even H and W, got {tuple(x.shape)}")
        skips = []
        h = x
        for index, child in enumerate(self.layers[0]):
            h = child(h)
            if index in _SKIP_CHILDREN:
                skips.append(h)
        h = self.layers[3](self.layers[2](self.layers[1](h)))
        for block, skip in zip(self.layers[4:8], reversed(skips), strict=True):
            h = block(h, skip)
        h = self.layers[9](self.layers[8](h), x)
        return self.layers[12](self.layers[11](self.layers[10](h)))

    def colorize(self, gray_rgb: np.ndarray, render_factor: int = DEFAULT_RENDER_FACTOR,
                 post_process: bool = True) -> np.ndarray:
        """:func:`deoldify_colorize` with this generator: a gray 3-channel uint8 photo → uint8 RGB of its size."""
        return deoldify_colorize(self, gray_rgb, render_factor, post_process)


def checkpoint_shapes(model: nn.Module) -> dict[str, tuple[int, ...]]:
    """Key → shape of the official file for ``model``: its state_dict with each normalised conv's ``weight`` replaced
    by the stored form (spectral: ``weight_orig``, ``weight_u`` (out,), ``weight_v`` (in·k…,); weight norm:
    ``weight_g`` (out, 1, …), ``weight_v``)."""
    stored = {}
    for name, module in model.named_modules():
        if isinstance(module, _SPECTRAL):
            stored[f"{name}.weight"] = "spectral"
        elif isinstance(module, _WeightNormConv2d):
            stored[f"{name}.weight"] = "weight_norm"
    shapes: dict[str, tuple[int, ...]] = {}
    for key, tensor in model.state_dict().items():
        shape = tuple(tensor.shape)
        prefix = key[: -len("weight")]
        if stored.get(key) == "spectral":
            shapes[prefix + "weight_orig"] = shape
            shapes[prefix + "weight_u"] = (shape[0],)
            shapes[prefix + "weight_v"] = (math.prod(shape[1:]),)
        elif stored.get(key) == "weight_norm":
            shapes[prefix + "weight_g"] = (shape[0],) + (1,) * (len(shape) - 1)
            shapes[prefix + "weight_v"] = shape
        else:
            shapes[key] = shape
    return shapes


def _state_dict(raw: Any, source: str) -> dict[str, torch.Tensor]:
    """The tensors of a plain state_dict, or of the ``model`` entry of fastai's ``{'model': ..., 'opt': ...}``."""
    if isinstance(raw, dict) and isinstance(raw.get("model"), dict):
        raw = raw["model"]
    if not isinstance(raw, dict) or not raw or not all(isinstance(v, torch.Tensor) for v in raw.values()):
        raise WeightsIntegrityError(f"{source} is not a DeOldify generator state_dict")
    return dict(raw)


def _layout_errors(state: Mapping[str, torch.Tensor], expected: Mapping[str, tuple[int, ...]]) -> list[str]:
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    shapes = [
        f"{k}: file {tuple(state[k].shape)} vs expected {expected[k]}"
        for k in sorted(set(expected) & set(state))
        if tuple(state[k].shape) != expected[k]
    ]
    parts = []
    for label, keys in (("missing keys", missing), ("unexpected keys", unexpected), ("wrong shapes", shapes)):
        if keys:
            shown = ", ".join(keys[:6]) + (f" (+{len(keys) - 6} more)" if len(keys) > 6 else "")
            parts.append(f"{label}: {shown}")
    return parts


def _other_variant(state: Mapping[str, torch.Tensor], config: Mapping[str, Any]) -> str | None:
    """The official variant whose layout the file does fit, if any (e.g. a Stable file given as Artistic)."""
    for name in ("artistic", "stable"):
        if VARIANTS[name]["encoder"] == config["encoder"] and VARIANTS[name]["unet"] == config["unet"]:
            continue
        with torch.device("meta"):
            other = DeOldify(VARIANTS[name])
        if not _layout_errors(state, checkpoint_shapes(other)):
            return name
    return None


def _fold(state: Mapping[str, torch.Tensor], model: nn.Module, source: str) -> dict[str, torch.Tensor]:
    """Replace every stored spectral/weight norm by the plain weight torch uses in eval mode."""
    folded: dict[str, torch.Tensor] = {}
    norms = {
        f"{name}.": module
        for name, module in model.named_modules()
        if isinstance(module, (*_SPECTRAL, _WeightNormConv2d))
    }
    for prefix, module in norms.items():
        if isinstance(module, _SPECTRAL):
            weight = state[prefix + "weight_orig"].float()
            u, v = state[prefix + "weight_u"].float(), state[prefix + "weight_v"].float()
            sigma = torch.dot(u, torch.mv(weight.reshape(weight.shape[0], -1), v))
            if not torch.isfinite(sigma) or sigma <= 0:
                raise WeightsIntegrityError(
                    f"{source}: the spectral norm of {prefix}weight_orig is {float(sigma):g} (expected a positive "
                    "number); the file is corrupt"
                )
            folded[prefix + "weight"] = weight / sigma
        else:
            g, v = state[prefix + "weight_g"].float(), state[prefix + "weight_v"].float()
            norm = v.reshape(v.shape[0], -1).norm(dim=1).view(-1, *([1] * (v.ndim - 1)))
            folded[prefix + "weight"] = v * (g / norm)
    stored = {prefix + suffix for prefix in norms for suffix in ("weight_orig", "weight_u", "weight_v", "weight_g")}
    folded.update({k: t for k, t in state.items() if k not in stored})
    return folded


def deoldify_from_state_dict(raw: Any, config: Mapping[str, Any], source: str = "state_dict") -> DeOldify:
    """Build the generator from an official state_dict (or fastai container): strict layout check, fold, eval."""
    config = resolve_config(config)
    state = _state_dict(raw, source)
    with torch.device("meta"):
        model = DeOldify(config)
    errors = _layout_errors(state, checkpoint_shapes(model))
    if errors:
        other = _other_variant(state, config)
        hint = f"; it fits the '{other}' variant instead" if other else ""
        raise WeightsIntegrityError(
            f"{source} does not fit the DeOldify '{config['variant']}' generator ({config['encoder']}, "
            f"{config['unet']} U-Net): " + "; ".join(errors) + hint
        )
    folded = _fold(state, model, source)
    model.to_empty(device="cpu")
    load_strict(model, folded, source)
    return model.eval()


def load_deoldify(path: str | Path, config: Mapping[str, Any] = ARTISTIC) -> DeOldify:
    """Load an official ``Colorize*_gen.pth`` (plain state_dict or fastai ``{'model', 'opt'}``) on the CPU, in eval."""
    return deoldify_from_state_dict(load_checkpoint(path, allow=[slice]), config, Path(path).name)


def build(config: Config) -> DeOldify:
    """A DeOldify generator with fresh (random) weights and plain (folded) convolutions."""
    return DeOldify(config.settings())


def load(path: str | Path, config: Config) -> DeOldify:
    """An official ``Colorize*_gen.pth`` (plain state_dict or fastai ``{'model', 'opt'}``) checked key by key against
    ``config``'s layout (naming the variant it fits instead, if any), folded and loaded strictly; eval, CPU."""
    return load_deoldify(path, config.settings())


def from_manifest(path: Path, config: dict, device: torch.device) -> DeOldify:
    """Registry loader: :func:`load` with ``Config.from_dict(config)``, moved to ``device``."""
    return load(path, Config.from_dict(config)).to(device)


# ------------------------------------------------------------------------------------------------------------------
# Inference, as ``filters.py``/``visualize.py`` of jantic/DeOldify do it
# ------------------------------------------------------------------------------------------------------------------


def check_render_factor(render_factor: int) -> int:
    """A whole number in :data:`RENDER_FACTORS`; anything else is an input error."""
    low, high = RENDER_FACTORS
    if isinstance(render_factor, bool) or int(render_factor) != render_factor or not low <= render_factor <= high:
        raise InputError(f"render factor must be a whole number from {low} to {high}, got {render_factor!r}")
    return int(render_factor)


def to_gray(rgb: np.ndarray) -> np.ndarray:
    """PIL's ``convert('L')`` (ITU-R 601-2 luma) copied to three channels."""
    return np.asarray(Image.fromarray(rgb).convert("L").convert("RGB"))


def transfer_luma(gray_rgb: np.ndarray, color_rgb: np.ndarray) -> np.ndarray:
    """The input's Y with the model's U and V (OpenCV's YUV, as DeOldify's post-processing)."""
    import cv2

    yuv = cv2.cvtColor(gray_rgb, cv2.COLOR_RGB2YUV)
    yuv[..., 1:] = cv2.cvtColor(color_rgb, cv2.COLOR_RGB2YUV)[..., 1:]
    return cv2.cvtColor(yuv, cv2.COLOR_YUV2RGB)


def deoldify_colorize(model: torch.nn.Module, gray_rgb: np.ndarray, render_factor: int = DEFAULT_RENDER_FACTOR,
                      post_process: bool = True) -> np.ndarray:
    """DeOldify's steps on a gray 3-channel uint8 photo; returns uint8 RGB of the same size.

    The photo is stretched to a square of render_factor × 16 px, made gray in 3 channels, ImageNet-normalised, run
    through the generator, de-normalised, clamped and truncated to 8 bits and stretched back to the photo's size;
    with ``post_process`` only its chroma is kept (:func:`transfer_luma`).
    """
    size = check_render_factor(render_factor) * RENDER_BASE
    height, width = gray_rgb.shape[:2]
    square = Image.fromarray(gray_rgb).resize((size, size), Image.Resampling.BILINEAR).convert("LA").convert("RGB")
    x = (np.asarray(square, np.float32) / 255.0 - IMAGENET_MEAN) / IMAGENET_STD
    device = next(model.parameters()).device
    batch = torch.from_numpy(x.transpose(2, 0, 1).copy())[None].to(device)
    try:
        with torch.inference_mode():
            out = model(batch)[0].float().cpu().numpy().transpose(1, 2, 0)
    except torch.OutOfMemoryError:
        if device.type == "cuda":
            torch.cuda.empty_cache()
        raise InputError(
            f"render factor {render_factor} ({size}×{size} px) needs more GPU memory than is free; try a lower one"
        ) from None
    out = np.clip(out * IMAGENET_STD + IMAGENET_MEAN, 0.0, 1.0)
    raw = Image.fromarray((out * 255).astype(np.uint8)).resize((width, height), Image.Resampling.BILINEAR)
    color = np.asarray(raw)
    return transfer_luma(gray_rgb, color) if post_process else color
