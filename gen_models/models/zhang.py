"""Zhang et al. automatic colorizers: ECCV16 ("Colorful Image Colorization") and SIGGRAPH17 ("Real-Time User-Guided
Image Colorization"), as released in richzhang/colorization (``colorizers/eccv16.py``, ``colorizers/siggraph17.py``,
``colorizers/base_color.py``, ``colorizers/util.py``).

Both networks see only the lightness of an image and predict its chroma: ``forward`` takes L in [0, 100] (CIE Lab)
and returns ab in raw Lab units. The official normalisation happens inside, ``(L - 50) / 100`` in and ``ab × 110``
out, so the modules are drop-in for the official ``colorization_release_v2-9b330a0b.pth`` and
``siggraph17-df00044c.pth`` state_dicts, whose keys (``model1.0.weight``, ``model1.4.running_mean``, …) follow
the ``nn.Sequential`` indices rebuilt below and load with strict key checking.

* ECCV16 (``ECCVGenerator``): a VGG-like stack ``model1``…``model7`` (stride-2 convolutions end ``model1``,
  ``model2`` and ``model3``; ``model5``/``6`` are dilated), ``model8`` upsamples ×2 and classifies each pixel into 313
  quantised ab bins. The official port takes ``softmax`` over the bins (temperature 1: the plain expectation, not
  the paper's annealed mean) and the bias-free 1×1 ``model_out`` whose weights are the bin centres ÷ 110, then
  upsamples ×4 (bilinear).
* SIGGRAPH17 (``SIGGRAPHGenerator``): a U-Net over 4 input channels (L, ab hints ÷ 110, hint mask). Without user
  hints both are zero, the official default. Downsampling is ``[:, :, ::2, ::2]`` subsampling between blocks; the
  decoder adds ``model3short8``/``model2short9``/``model1short10`` skips; the regression head ``model_out`` (conv +
  tanh) gives ab at full resolution. ``model_class`` (529-way) is in the file but unused by the forward pass.

:func:`colorize_lab` is the official pipeline of ``util.py``: Lab of the original, the network's L from a
size×size bicubic resize, ab upsampled bilinearly to the original size and joined with the original-resolution L.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

from gen_models.core.checkpoint import load_checkpoint, load_strict
from gen_models.core.errors import WeightsIntegrityError
from gen_models.models._config import config_from_dict

# registry.create lays the model out channels-last on a CPU, where oneDNN's NHWC convolutions are faster
# (one thread, a 512² photo: SIGGRAPH17 1.00 → 0.84 s, ECCV16 0.60 → 0.51 s); the outputs differ by float rounding only
CPU_CHANNELS_LAST = True
L_CENT = 50.0
L_NORM = 100.0
AB_NORM = 110.0
ECCV16_BINS = 313
SIGGRAPH17_CLASSES = 529
VARIANTS = ("eccv16", "siggraph17")
DOWNSAMPLING = 8  # both networks reduce the image 8× before decoding
NETWORK_SIZE = 256  # the official demo's square input side


@dataclass(frozen=True)
class Config:
    """Zhang colorizer settings.

    * ``variant``: ``"eccv16"`` or ``"siggraph17"``; None (the default) lets :func:`load` infer it from the file's
      keys, and :func:`build` then makes an ECCV16;
    * ``size``: side of the square the network sees (256, the official demo's; a multiple of 8).
    """

    variant: str | None = None
    size: int = NETWORK_SIZE

    def __post_init__(self) -> None:
        if self.variant is not None and self.variant not in VARIANTS:
            raise ValueError(f"unknown Zhang colorizer variant {self.variant!r}; expected one of {', '.join(VARIANTS)}")
        if self.size < DOWNSAMPLING or self.size % DOWNSAMPLING:
            raise ValueError(f"size must be a positive multiple of {DOWNSAMPLING}, got {self.size}")

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any] | None) -> Config:
        """The catalog's ``config`` object (e.g. ``{"variant": "eccv16"}``); unknown keys are errors."""
        return config_from_dict(cls, raw, "zhang")


def _conv_block(
    widths: list[int],
    *,
    last_stride: int = 1,
    dilation: int = 1,
    lead_relu: bool = False,
    batch_norm: bool = True,
) -> nn.Sequential:
    """[ReLU] → (3×3 conv → ReLU) per width step → [BatchNorm], in the official index order."""
    layers: list[nn.Module] = [nn.ReLU(True)] if lead_relu else []
    steps = list(pairwise(widths))
    for i, (c_in, c_out) in enumerate(steps):
        stride = last_stride if i == len(steps) - 1 else 1
        layers += [nn.Conv2d(c_in, c_out, 3, stride=stride, padding=dilation, dilation=dilation), nn.ReLU(True)]
    if batch_norm:
        layers.append(nn.BatchNorm2d(widths[-1]))
    return nn.Sequential(*layers)


def _check_l(l: torch.Tensor) -> None:
    if l.dim() != 4 or l.shape[1] != 1:
        raise ValueError(f"L must have shape (batch, 1, height, width), got {tuple(l.shape)}")
    if l.shape[2] % DOWNSAMPLING or l.shape[3] % DOWNSAMPLING:
        raise ValueError(f"L height and width must be multiples of {DOWNSAMPLING}, got {tuple(l.shape[2:])}")


class ECCV16(nn.Module):
    """``ECCVGenerator`` of richzhang/colorization: L (B, 1, H, W) in [0, 100] → ab (B, 2, H, W) in Lab units."""

    kind = "zhang"
    variant = "eccv16"

    uses_render_factor = False
    network_size = NETWORK_SIZE

    def colorize(self, gray_rgb: np.ndarray, render_factor: int | None = None, post_process: bool = True) -> np.ndarray:
        """:func:`colorize_lab` at ``network_size``; ``render_factor`` and ``post_process`` are DeOldify's and are
        ignored (the L of the input is always kept)."""
        return colorize_lab(self, gray_rgb, self.network_size)

    def __init__(self) -> None:
        super().__init__()
        self.model1 = _conv_block([1, 64, 64], last_stride=2)
        self.model2 = _conv_block([64, 128, 128], last_stride=2)
        self.model3 = _conv_block([128, 256, 256, 256], last_stride=2)
        self.model4 = _conv_block([256, 512, 512, 512])
        self.model5 = _conv_block([512, 512, 512, 512], dilation=2)
        self.model6 = _conv_block([512, 512, 512, 512], dilation=2)
        self.model7 = _conv_block([512, 512, 512, 512])
        self.model8 = nn.Sequential(
            nn.ConvTranspose2d(512, 256, 4, stride=2, padding=1),
            nn.ReLU(True),
            nn.Conv2d(256, 256, 3, padding=1),
            nn.ReLU(True),
            nn.Conv2d(256, 256, 3, padding=1),
            nn.ReLU(True),
            nn.Conv2d(256, ECCV16_BINS, 1),
        )
        self.model_out = nn.Conv2d(ECCV16_BINS, 2, 1, bias=False)

    def forward(self, l: torch.Tensor) -> torch.Tensor:
        """Softmax over the 313 bins → expected ab (``model_out``) at 1/4 size → bilinear ×4 → × 110."""
        _check_l(l)
        x = (l - L_CENT) / L_NORM
        for block in (self.model1, self.model2, self.model3, self.model4, self.model5, self.model6, self.model7):
            x = block(x)
        ab = self.model_out(torch.softmax(self.model8(x), dim=1))
        return F.interpolate(ab, scale_factor=4, mode="bilinear", align_corners=False) * AB_NORM


class SIGGRAPH17(nn.Module):
    """``SIGGRAPHGenerator`` of richzhang/colorization: L (B, 1, H, W) in [0, 100], optional ab hints and mask →
    ab (B, 2, H, W) in Lab units."""

    kind = "zhang"
    variant = "siggraph17"

    uses_render_factor = False
    network_size = NETWORK_SIZE

    def colorize(self, gray_rgb: np.ndarray, render_factor: int | None = None, post_process: bool = True) -> np.ndarray:
        """:func:`colorize_lab` at ``network_size``; ``render_factor`` and ``post_process`` are DeOldify's and are
        ignored (the L of the input is always kept)."""
        return colorize_lab(self, gray_rgb, self.network_size)

    def __init__(self, classes: int = SIGGRAPH17_CLASSES) -> None:
        super().__init__()
        self.model1 = _conv_block([4, 64, 64])
        self.model2 = _conv_block([64, 128, 128])
        self.model3 = _conv_block([128, 256, 256, 256])
        self.model4 = _conv_block([256, 512, 512, 512])
        self.model5 = _conv_block([512, 512, 512, 512], dilation=2)
        self.model6 = _conv_block([512, 512, 512, 512], dilation=2)
        self.model7 = _conv_block([512, 512, 512, 512])
        self.model8up = nn.Sequential(nn.ConvTranspose2d(512, 256, 4, stride=2, padding=1))
        self.model8 = _conv_block([256, 256, 256], lead_relu=True)
        self.model9up = nn.Sequential(nn.ConvTranspose2d(256, 128, 4, stride=2, padding=1))
        self.model9 = _conv_block([128, 128], lead_relu=True)
        self.model10up = nn.Sequential(nn.ConvTranspose2d(128, 128, 4, stride=2, padding=1))
        self.model10 = nn.Sequential(nn.ReLU(True), nn.Conv2d(128, 128, 3, padding=1), nn.LeakyReLU(0.2))
        self.model3short8 = nn.Sequential(nn.Conv2d(256, 256, 3, padding=1))
        self.model2short9 = nn.Sequential(nn.Conv2d(128, 128, 3, padding=1))
        self.model1short10 = nn.Sequential(nn.Conv2d(64, 128, 3, padding=1))
        self.model_class = nn.Sequential(nn.Conv2d(256, classes, 1))
        self.model_out = nn.Sequential(nn.Conv2d(128, 2, 1), nn.Tanh())

    def forward(
        self, l: torch.Tensor, ab_hint: torch.Tensor | None = None, mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Encoder with ``::2`` subsampling, decoder with skip sums, tanh head × 110. Hints default to zero."""
        _check_l(l)
        if ab_hint is None:
            ab_hint = torch.zeros_like(l).expand(-1, 2, -1, -1)
        if mask is None:
            mask = torch.zeros_like(l)
        x = torch.cat(((l - L_CENT) / L_NORM, ab_hint / AB_NORM, mask), dim=1)
        conv1 = self.model1(x)
        conv2 = self.model2(conv1[:, :, ::2, ::2])
        conv3 = self.model3(conv2[:, :, ::2, ::2])
        x = self.model4(conv3[:, :, ::2, ::2])
        x = self.model7(self.model6(self.model5(x)))
        x = self.model8(self.model8up(x) + self.model3short8(conv3))
        x = self.model9(self.model9up(x) + self.model2short9(conv2))
        x = self.model10(self.model10up(x) + self.model1short10(conv1))
        return self.model_out(x) * AB_NORM


def build(config: Config) -> nn.Module:
    """An untrained ``ECCV16`` or ``SIGGRAPH17`` (ECCV16 when ``config.variant`` is None)."""
    variant = config.variant or "eccv16"
    model = ECCV16() if variant == "eccv16" else SIGGRAPH17()
    if config.size != NETWORK_SIZE:
        model.network_size = config.size
    return model


def _state_dict(raw: Any, source: str) -> dict[str, torch.Tensor]:
    if not isinstance(raw, Mapping) or not raw or not all(isinstance(v, torch.Tensor) for v in raw.values()):
        raise WeightsIntegrityError(f"{source} is not a colorizer state_dict (expected a mapping of tensors)")
    return dict(raw)


def _with_batchnorm_counters(model: nn.Module, state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Add ``num_batches_tracked`` = 0 where a BatchNorm has its running stats but no counter, as PyTorch's own
    BatchNorm loading does for state_dicts saved before torch 0.4.1; the counter does not affect inference."""
    for name, module in model.named_modules():
        if isinstance(module, nn.BatchNorm2d):
            counter = f"{name}.num_batches_tracked"
            if counter not in state and f"{name}.running_mean" in state:
                state[counter] = torch.tensor(0, dtype=torch.long)
    return state


def infer_variant(state: Mapping[str, torch.Tensor]) -> str:
    """``"siggraph17"`` for files with its U-Net decoder keys, ``"eccv16"`` otherwise."""
    return "siggraph17" if "model8up.0.weight" in state or "model_class.0.weight" in state else "eccv16"


def _load(state: dict[str, torch.Tensor], config: Config, source: str) -> nn.Module:
    with torch.device("meta"):
        model = build(config)  # no random initialisation: every tensor comes from the file
    model.to_empty(device="cpu")
    load_strict(model, _with_batchnorm_counters(model, state), f"{source} ({config.variant})")
    return model.eval()


def load(path: str | Path, config: Config) -> nn.Module:
    """The official ECCV16 / SIGGRAPH17 weights in ``path``, loaded with strict keys into ``build(config)`` (the
    variant inferred from the file's keys when ``config.variant`` is None), in eval mode on the CPU."""
    source = Path(path).name
    state = _state_dict(load_checkpoint(path), source)
    if config.variant is None:
        config = Config(infer_variant(state), config.size)
    return _load(state, config, source)


def load_zhang(path: str | Path, variant: str) -> nn.Module:
    """:func:`load` with ``variant`` (``"eccv16"`` or ``"siggraph17"``)."""
    if variant not in VARIANTS:
        raise ValueError(f"unknown Zhang colorizer variant {variant!r}; expected one of {', '.join(VARIANTS)}")
    return load(path, Config(variant))


def from_manifest(path: Path, config: dict, device: torch.device) -> nn.Module:
    """Registry loader: :func:`load` with ``Config.from_dict(config)``, moved to ``device``."""
    return load(path, Config.from_dict(config)).to(device)


def _as_rgb(rgb: np.ndarray) -> np.ndarray:
    if not isinstance(rgb, np.ndarray) or rgb.dtype != np.uint8:
        raise ValueError("the image must be a uint8 numpy array")
    if rgb.ndim == 2:
        return np.repeat(rgb[:, :, None], 3, axis=2)
    if rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"the image must be H×W×3 RGB or H×W gray, got shape {rgb.shape}")
    return rgb


def colorize_lab(model: nn.Module, rgb: np.ndarray, size: int = 256) -> np.ndarray:
    """Colorize ``rgb`` (H×W×3 or H×W uint8) with a Zhang colorizer; returns H×W×3 uint8 at the input's size.

    Only the lightness is used, so a colour photo is treated as its gray version: its L (at full resolution) is kept
    and the network's ab replace its chroma. The network sees the L of a ``size``×``size`` bicubic resize (256 in the
    official demo; a multiple of 8).
    """
    from skimage import color

    rgb = _as_rgb(rgb)
    if size < DOWNSAMPLING or size % DOWNSAMPLING:
        raise ValueError(f"size must be a positive multiple of {DOWNSAMPLING}, got {size}")
    height, width = rgb.shape[:2]
    l_orig = color.rgb2lab(rgb)[:, :, 0]
    small = np.asarray(Image.fromarray(rgb).resize((size, size), Image.BICUBIC))
    l_small = color.rgb2lab(small)[:, :, 0]
    weight = next(model.parameters())
    with torch.inference_mode():
        l_tensor = torch.from_numpy(l_small)[None, None].to(device=weight.device, dtype=weight.dtype)
        ab = model(l_tensor).float().cpu()
        if ab.shape[2:] != (height, width):
            ab = F.interpolate(ab, size=(height, width), mode="bilinear", align_corners=False)
    lab = np.concatenate([l_orig[:, :, None], ab[0].permute(1, 2, 0).numpy().astype(np.float64)], axis=2)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Conversion from CIE-LAB")
        out = color.lab2rgb(lab)
    return np.clip(np.round(out * 255.0), 0, 255).astype(np.uint8)
