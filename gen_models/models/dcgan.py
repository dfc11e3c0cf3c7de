"""DCGAN 64×64 generator (Radford et al. 2015) in the PyTorch-tutorial / HugGAN layout.

z (N, 100, 1, 1) ~ N(0, I) → ConvT 4×4 to 4×4×512 → three ×2 ConvT+BN+ReLU blocks → ConvT to 64×64×3 → tanh.
Keys are ``model.{0,3,6,9,12}.weight`` (no bias) and BatchNorm ``model.{1,4,7,10}.*``; the tutorial's ``main.``
prefix is accepted too, so community checkpoints in either layout load with strict key checking.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from gen_models.core.checkpoint import load_checkpoint, load_strict
from gen_models.core.errors import WeightsIntegrityError
from gen_models.models._config import config_from_dict


@dataclass(frozen=True)
class Config:
    """DCGAN 64×64 generator settings (the PyTorch tutorial's).

    * ``latent_dim``: z size (100);
    * ``hidden_size``: ``ngf``, the width of the last hidden block; the first is 8× (64);
    * ``num_channels``: image channels (3).

    :func:`load` takes ``latent_dim`` and ``hidden_size`` from the file's first layer when it has one.
    """

    latent_dim: int = 100
    hidden_size: int = 64
    num_channels: int = 3

    def __post_init__(self) -> None:
        for name in ("latent_dim", "hidden_size", "num_channels"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any] | None) -> Config:
        """The catalog's ``config`` object; unknown keys are errors."""
        return config_from_dict(cls, raw, "dcgan")


class Generator(nn.Module):
    """The DCGAN generator: ``model`` is the one Sequential the checkpoints name."""

    def __init__(self, latent_dim: int = Config.latent_dim, hidden_size: int = Config.hidden_size,
                 num_channels: int = Config.num_channels) -> None:
        super().__init__()
        self.latent_dim = self.z_dim = latent_dim
        widths = [hidden_size * 8, hidden_size * 4, hidden_size * 2, hidden_size]
        layers: list[nn.Module] = [nn.ConvTranspose2d(latent_dim, widths[0], 4, 1, 0, bias=False),
                                   nn.BatchNorm2d(widths[0]), nn.ReLU(True)]
        for c_in, c_out in zip(widths[:-1], widths[1:]):
            layers += [nn.ConvTranspose2d(c_in, c_out, 4, 2, 1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(True)]
        layers += [nn.ConvTranspose2d(widths[-1], num_channels, 4, 2, 1, bias=False), nn.Tanh()]
        self.model = nn.Sequential(*layers)

    def first_layer_weight(self) -> np.ndarray:
        """The first transposed conv's weight (in=z, out, k, k) as a (z_dim, features) float32 matrix on the CPU."""
        return self.model[0].weight.detach().flatten(1).float().cpu().numpy()

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """z (N, latent) or (N, latent, 1, 1) → images (N, 3, 64, 64) in [-1, 1]."""
        if z.dim() == 2:
            z = z[:, :, None, None]
        return self.model(z)


def _state_dict(raw: Any, source: str) -> dict[str, torch.Tensor]:
    if isinstance(raw, dict) and "state_dict" in raw and isinstance(raw["state_dict"], dict):
        raw = raw["state_dict"]
    if not isinstance(raw, dict) or not all(isinstance(v, torch.Tensor) for v in raw.values()):
        raise WeightsIntegrityError(f"{source} is not a DCGAN generator state_dict")
    return {("model." + k[5:] if k.startswith("main.") else k): v for k, v in raw.items()}


def build(config: Config) -> Generator:
    """A DCGAN generator with fresh (random) weights."""
    return Generator(config.latent_dim, config.hidden_size, config.num_channels)


def load(path: str | Path, config: Config) -> Generator:
    """A DCGAN generator file (``model.*`` or ``main.*`` keys; .pth/.bin or .safetensors) loaded strictly; the latent
    and hidden sizes come from the file's first layer (``config``'s when it has none). Eval mode, CPU."""
    state = _state_dict(load_checkpoint(path), Path(path).name)
    first = state.get("model.0.weight")
    if first is not None:
        config = dataclasses.replace(config, latent_dim=int(first.shape[0]), hidden_size=int(first.shape[1]) // 8)
    return load_strict(build(config), state, Path(path).name).eval()


def from_manifest(path: Path, config: dict, device: torch.device) -> Generator:
    """Registry loader: :func:`load` with ``Config.from_dict(config)``, moved to ``device``."""
    return load(path, Config.from_dict(config)).to(device)
