"""DCGAN 64×64 generator (Radford et al. 2015) in the PyTorch-tutorial / HugGAN layout.

z (N, 100, 1, 1) ~ N(0, I) → ConvT 4×4 to 4×4×512 → three ×2 ConvT+BN+ReLU blocks → ConvT to 64×64×3 → tanh.
Keys are ``model.{0,3,6,9,12}.weight`` (no bias) and BatchNorm ``model.{1,4,7,10}.*``; the tutorial's ``main.``
prefix is accepted too, so community checkpoints in either layout load with strict key checking.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn

from gen_models.core.checkpoint import load_checkpoint, load_strict
from gen_models.core.errors import WeightsIntegrityError


class Generator(nn.Module):
    """The DCGAN generator: ``model`` is the one Sequential the checkpoints name."""

    def __init__(self, latent_dim: int = 100, hidden_size: int = 64, num_channels: int = 3) -> None:
        super().__init__()
        self.latent_dim = self.z_dim = latent_dim
        widths = [hidden_size * 8, hidden_size * 4, hidden_size * 2, hidden_size]
        layers: list[nn.Module] = [nn.ConvTranspose2d(latent_dim, widths[0], 4, 1, 0, bias=False),
                                   nn.BatchNorm2d(widths[0]), nn.ReLU(True)]
        for c_in, c_out in zip(widths[:-1], widths[1:]):
            layers += [nn.ConvTranspose2d(c_in, c_out, 4, 2, 1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(True)]
        layers += [nn.ConvTranspose2d(widths[-1], num_channels, 4, 2, 1, bias=False), nn.Tanh()]
        self.model = nn.Sequential(*layers)

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


def from_manifest(path: Path, config: dict, device: torch.device) -> Generator:
    """Load a DCGAN generator file (``model.*`` or ``main.*`` keys; .pth/.bin or .safetensors)."""
    state = _state_dict(load_checkpoint(path), Path(path).name)
    first = state.get("model.0.weight")
    latent = int(first.shape[0]) if first is not None else int(config.get("latent_dim", 100))
    hidden = int(first.shape[1]) // 8 if first is not None else int(config.get("hidden_size", 64))
    model = Generator(latent, hidden, int(config.get("num_channels", 3)))
    return load_strict(model, state, Path(path).name).eval().to(device)
