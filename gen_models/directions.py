"""Attribute directions found in the generator's own weights: SeFa (Shen & Zhou, CVPR 2021).

The first layer maps z to features with a weight A; directions n that A changes most are the top eigenvectors of
AᵀA (columns normalised as in the paper's code). No labels or extra files are needed.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from . import registry
from .device import gpu
from .errors import InputError
from .faces import _check_model, _check_size, synthesize
from .latent import z_from_seeds
from .media import new_output_path, save_png

MAX_STEPS = 9


def first_layer_weight(generator: torch.nn.Module) -> np.ndarray:
    """The first layer's weight as a (z_dim, features) matrix, for PGGAN (conv) and DCGAN (transposed conv)."""
    state = generator.state_dict()
    if "layer0.weight" in state:  # Conv2d (out, in=z, k, k), applied to the 1×1 latent with padding k-1
        weight = state["layer0.weight"].flip(2, 3).permute(1, 0, 2, 3).flatten(1)
    elif "model.0.weight" in state:  # ConvTranspose2d (in=z, out, k, k)
        weight = state["model.0.weight"].flatten(1)
    else:
        raise InputError(f"{type(generator).__name__} has no first layer SeFa can read.")
    return weight.detach().float().cpu().numpy()


def sefa(generator: torch.nn.Module) -> tuple[np.ndarray, np.ndarray]:
    """(eigenvalues descending, directions (z_dim, z_dim) as unit rows), the strongest first."""
    weight = first_layer_weight(generator)
    weight = weight / np.linalg.norm(weight, axis=0, keepdims=True)
    values, vectors = np.linalg.eigh(weight @ weight.T)
    order = np.argsort(values)[::-1]
    return values[order], vectors[:, order].T


@gpu(duration=60)
def direction_strip(model: str, seed: int, index: int, distance: float = 3.0, steps: int = 7,
                    size: int = 128) -> Path:
    """A row of faces: the seed's face moved along SeFa direction ``index`` from −distance to +distance."""
    _check_model(model)
    size = _check_size(size, 512)
    if not 3 <= steps <= MAX_STEPS or steps % 2 == 0:
        raise InputError(f"Steps must be odd, from 3 to {MAX_STEPS}, so the middle face is the original.")
    generator = registry.load(model)
    _, directions = sefa(generator)
    if not 0 <= index < len(directions):
        raise InputError(f"Direction {index} does not exist: choose 0 to {len(directions) - 1}.")
    z = z_from_seeds([seed], generator.z_dim)[0]
    offsets = torch.linspace(-distance, distance, steps)[:, None] * torch.from_numpy(directions[index]).float()
    strip = np.concatenate(list(synthesize(generator, z[None] + offsets, size)), axis=1)
    description = f"seed {seed}, SeFa direction {index}, distance ±{distance}"
    return save_png(strip, new_output_path(".png", prefix="sefa"), synthetic=True, model=model,
                    description=description)
