"""CycleGAN / pix2pix ``ResnetGenerator`` (junyanz/pytorch-CycleGAN-and-pix2pix, ``models/networks.py``), as used by
the official pretrained generators such as ``horse2zebra.pth`` and ``zebra2horse.pth``
(``--netG resnet_9blocks --norm instance --no_dropout``).

The network is one ``nn.Sequential`` called ``model``, so the keys are ``model.N.…`` (28 entries for 9 blocks):

* 0 reflect-pad 3 · 1 conv 7×7 3→64 · 2 InstanceNorm · 3 ReLU;
* 4/7 conv 3×3 stride 2 (64→128→256), each followed by InstanceNorm (5/8) and ReLU (6/9);
* 10…18 residual blocks, ``conv_block`` = reflect-pad 1 · conv 3×3 · InstanceNorm · ReLU · reflect-pad 1 ·
  conv 3×3 · InstanceNorm, added to the block's input;
* 19/22 ConvTranspose 3×3 stride 2, padding 1, output_padding 1 (256→128→64), InstanceNorm (20/23), ReLU (21/24);
* 25 reflect-pad 3 · 26 conv 7×7 64→3 · 27 tanh.

InstanceNorm is ``affine=False, track_running_stats=False`` (the current ``get_norm_layer('instance')``), so every
convolution has a bias and the norms have no tensors: a current file has 48 keys. The released generators were
saved by an older PyTorch whose InstanceNorm kept ``running_mean``/``running_var`` (and later
``num_batches_tracked``), giving up to 117 keys; the official ``load_networks`` drops those buffers with
``__patch_instance_norm_state_dict`` and then loads strictly. :func:`load_cyclegan` does the same, dropping nothing
else. At test time the images are resized (bicubic) to multiples of 4, mapped to [-1, 1] by ``Normalize(0.5, 0.5)``
and the tanh output is mapped back.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from torch import nn

from gen_models.core.checkpoint import load_checkpoint, load_strict
from gen_models.core.errors import WeightsIntegrityError
from gen_models.models._config import config_from_dict
from gen_models.models._ops import InstanceNorm2d

# registry.create lays the model out channels-last on a CPU, where oneDNN's NHWC convolutions are faster
# (one thread, one 256² image: 0.67 → 0.55 s, with the channels-last InstanceNorm); the outputs differ by float rounding only
CPU_CHANNELS_LAST = True
N_DOWNSAMPLING = 2
SIZE_MULTIPLE = 4  # 2 stride-2 convolutions down, 2 up: sides must be multiples of 2**N_DOWNSAMPLING


@dataclass(frozen=True)
class Config:
    """CycleGAN ``ResnetGenerator`` settings (the official ``--netG resnet_9blocks --norm instance --no_dropout``).

    * ``direction``: a label only, e.g. ``"horse2zebra"`` (None); it does not change the network;
    * ``input_nc`` / ``output_nc``: image channels in and out (3, 3);
    * ``ngf``: filters of the first conv (64);
    * ``n_blocks``: residual blocks (9).
    """

    direction: str | None = None
    input_nc: int = 3
    output_nc: int = 3
    ngf: int = 64
    n_blocks: int = 9

    def __post_init__(self) -> None:
        if self.n_blocks < 0:
            raise ValueError(f"n_blocks must be at least 0, got {self.n_blocks}")
        for name in ("input_nc", "output_nc", "ngf"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any] | None) -> Config:
        """The catalog's ``config`` object (e.g. ``{"direction": "horse2zebra"}``); unknown keys are errors."""
        return config_from_dict(cls, raw, "cyclegan")


def _instance_norm(channels: int) -> nn.InstanceNorm2d:
    return InstanceNorm2d(channels, affine=False, track_running_stats=False)


class ResnetBlock(nn.Module):
    """``x + conv_block(x)`` with reflection padding and no dropout."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.conv_block = nn.Sequential(
            nn.ReflectionPad2d(1),
            nn.Conv2d(dim, dim, 3),
            _instance_norm(dim),
            nn.ReLU(True),
            nn.ReflectionPad2d(1),
            nn.Conv2d(dim, dim, 3),
            _instance_norm(dim),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv_block(x)


class ResnetGenerator(nn.Module):
    """The official ``ResnetGenerator`` with instance norm, reflect padding and no dropout: images in [-1, 1] →
    images in [-1, 1] of the same size (sides must be multiples of 4)."""

    kind = "cyclegan"

    def __init__(self, input_nc: int = Config.input_nc, output_nc: int = Config.output_nc, ngf: int = Config.ngf,
                 n_blocks: int = Config.n_blocks) -> None:
        super().__init__()
        if n_blocks < 0:
            raise ValueError(f"n_blocks must be at least 0, got {n_blocks}")
        self.input_nc, self.output_nc, self.ngf, self.n_blocks = input_nc, output_nc, ngf, n_blocks
        layers: list[nn.Module] = [nn.ReflectionPad2d(3), nn.Conv2d(input_nc, ngf, 7)]
        layers += [_instance_norm(ngf), nn.ReLU(True)]
        for i in range(N_DOWNSAMPLING):
            c_in = ngf * 2**i
            layers += [nn.Conv2d(c_in, c_in * 2, 3, stride=2, padding=1), _instance_norm(c_in * 2), nn.ReLU(True)]
        layers += [ResnetBlock(ngf * 2**N_DOWNSAMPLING) for _ in range(n_blocks)]
        for i in range(N_DOWNSAMPLING):
            c_in = ngf * 2 ** (N_DOWNSAMPLING - i)
            layers += [
                nn.ConvTranspose2d(c_in, c_in // 2, 3, stride=2, padding=1, output_padding=1),
                _instance_norm(c_in // 2),
                nn.ReLU(True),
            ]
        layers += [nn.ReflectionPad2d(3), nn.Conv2d(ngf, output_nc, 7), nn.Tanh()]
        self.model = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, input_nc, H, W) in [-1, 1] → (B, output_nc, H, W) in [-1, 1]."""
        if x.dim() != 4 or x.shape[1] != self.input_nc:
            raise ValueError(f"input must have shape (batch, {self.input_nc}, height, width), got {tuple(x.shape)}")
        if x.shape[2] % SIZE_MULTIPLE or x.shape[3] % SIZE_MULTIPLE:
            raise ValueError(f"height and width must be multiples of {SIZE_MULTIPLE}, got {tuple(x.shape[2:])}")
        return self.model(x)


def _stale_statistic(norm: nn.InstanceNorm2d, name: str) -> bool:
    if name == "num_batches_tracked":
        return True
    return name in ("running_mean", "running_var") and getattr(norm, name) is None


def drop_instance_norm_stats(model: nn.Module, state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """``state`` without the InstanceNorm buffers that old PyTorch versions saved, exactly where the official
    ``__patch_instance_norm_state_dict`` drops them: a key whose module is an InstanceNorm and whose name is
    ``running_mean``/``running_var`` (when the module keeps no such statistic) or ``num_batches_tracked``."""
    modules = dict(model.named_modules())
    kept = {}
    for key, value in state.items():
        owner, _, leaf = key.rpartition(".")
        module = modules.get(owner)
        if not (isinstance(module, nn.InstanceNorm2d) and _stale_statistic(module, leaf)):
            kept[key] = value
    return kept


def _state_dict(raw: Any, source: str) -> dict[str, torch.Tensor]:
    if not isinstance(raw, Mapping) or not raw or not all(isinstance(v, torch.Tensor) for v in raw.values()):
        raise WeightsIntegrityError(f"{source} is not a CycleGAN generator state_dict (expected a mapping of tensors)")
    return dict(raw)


def build(config: Config) -> ResnetGenerator:
    """A CycleGAN generator with fresh (random) weights."""
    return ResnetGenerator(config.input_nc, config.output_nc, config.ngf, config.n_blocks)


def load(path: str | Path, config: Config) -> ResnetGenerator:
    """An official CycleGAN generator file (48 keys, or up to 117 with the old InstanceNorm buffers), loaded with
    strict keys into ``build(config)`` after the official InstanceNorm patch, in eval mode on the CPU."""
    source = Path(path).name
    state = _state_dict(load_checkpoint(path), source)
    model = build(config)
    load_strict(model, drop_instance_norm_stats(model, state), source)
    return model.eval()


def load_cyclegan(path: str | Path, ngf: int = Config.ngf, n_blocks: int = Config.n_blocks) -> ResnetGenerator:
    """:func:`load` with ``ngf`` and ``n_blocks`` set (the rest of :class:`Config` at its defaults)."""
    return load(path, Config(ngf=ngf, n_blocks=n_blocks))


def from_manifest(path: Path, config: dict, device: torch.device) -> ResnetGenerator:
    """Registry loader: :func:`load` with ``Config.from_dict(config)``, moved to ``device``."""
    return load(path, Config.from_dict(config)).to(device)


def network_size(height: int, width: int, max_side: int = 512) -> tuple[int, int]:
    """(height, width) the network runs at: scaled down so the long side is at most ``max_side``, aspect ratio kept,
    each side rounded to a multiple of 4 as the official ``__make_power_2`` does (at least 4)."""
    if max_side < SIZE_MULTIPLE:
        raise ValueError(f"max_side must be at least {SIZE_MULTIPLE}, got {max_side}")
    scale = min(1.0, max_side / max(height, width))
    limit = max_side // SIZE_MULTIPLE * SIZE_MULTIPLE

    def side(n: int) -> int:
        return min(limit, max(SIZE_MULTIPLE, round(n * scale / SIZE_MULTIPLE) * SIZE_MULTIPLE))

    return side(height), side(width)


def translate(model: nn.Module, rgb: np.ndarray, max_side: int = 512) -> np.ndarray:
    """Translate an H×W×3 uint8 image with a CycleGAN generator; returns H×W×3 uint8 at the input's size."""
    if not isinstance(rgb, np.ndarray) or rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
        shape = getattr(rgb, "shape", None)
        raise ValueError(f"the image must be an H×W×3 uint8 RGB array, got {type(rgb).__name__} of shape {shape}")
    height, width = rgb.shape[:2]
    net_h, net_w = network_size(height, width, max_side)
    image = Image.fromarray(rgb)
    if (net_h, net_w) != (height, width):
        image = image.resize((net_w, net_h), Image.BICUBIC)
    weight = next(model.parameters())
    x = torch.from_numpy(np.asarray(image).copy()).permute(2, 0, 1)[None]
    x = (x.to(device=weight.device, dtype=weight.dtype) / 255.0 - 0.5) / 0.5
    with torch.inference_mode():
        y = model(x)[0].float().clamp(-1, 1).permute(1, 2, 0).cpu().numpy()
    out = ((y + 1) / 2.0 * 255.0).astype(np.uint8)  # the official tensor2im: scaled, then truncated
    if (net_h, net_w) != (height, width):
        out = np.asarray(Image.fromarray(out).resize((width, height), Image.BICUBIC))
    return out
