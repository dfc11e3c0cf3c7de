"""Latent vectors: seeds → z, interpolation (slerp for Gaussian z, lerp as an option) and looping walks.

Seeds map to z with NumPy's ``RandomState(seed).randn`` as in the genforce and NVIDIA tools, so a seed names the
same face on every machine and device (z is made on the CPU in float64, then moved).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np
import torch

from gen_models.core.errors import InputError

MAX_SEED = 2**32 - 1


def z_from_seeds(seeds: Sequence[int], dim: int) -> torch.Tensor:
    """(len(seeds), dim) float32 standard-normal latents, one fixed vector per seed."""
    for seed in seeds:
        if not 0 <= int(seed) <= MAX_SEED:
            raise InputError(f"Seed {seed} is out of range: use a whole number from 0 to {MAX_SEED}.")
    rows = [np.random.RandomState(int(seed)).randn(dim) for seed in seeds]
    return torch.from_numpy(np.stack(rows).astype(np.float32)) if rows else torch.empty(0, dim)


def lerp(a: torch.Tensor, b: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Straight line from a to b; t has shape (T,) and the result (T, dim)."""
    t = t[:, None]
    return (1 - t) * a[None] + t * b[None]


def slerp(a: torch.Tensor, b: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Great-circle interpolation with the norm interpolated linearly, so points stay on the Gaussian shell."""
    na, nb = a.norm(), b.norm()
    ua, ub = a / na, b / nb
    omega = torch.arccos(torch.clamp((ua * ub).sum(), -1.0, 1.0))
    t = t[:, None]
    if omega.abs() < 1e-6:
        return lerp(a, b, t[:, 0])
    so = torch.sin(omega)
    direction = (torch.sin((1 - t) * omega) / so) * ua[None] + (torch.sin(t * omega) / so) * ub[None]
    return direction * ((1 - t) * na + t * nb)


def walk(
    keyframes: torch.Tensor,
    frames_per_segment: int,
    *,
    loop: bool = True,
    mode: Literal["slerp", "lerp"] = "slerp",
) -> torch.Tensor:
    """Latents visiting each keyframe in turn (and back to the first when looping); the last frame is the
    final keyframe itself, so a looping walk ends where it starts."""
    if keyframes.shape[0] < 2:
        raise InputError("A walk needs at least 2 keyframes.")
    if frames_per_segment < 1:
        raise InputError("Frames per segment must be at least 1.")
    points = torch.cat([keyframes, keyframes[:1]]) if loop else keyframes
    step = slerp if mode == "slerp" else lerp
    t = torch.arange(frames_per_segment, dtype=keyframes.dtype) / frames_per_segment
    pieces = []
    for i in range(points.shape[0] - 1):
        segment = step(points[i], points[i + 1], t)
        segment[0] = points[i]  # keyframes exactly, not up to float error
        pieces.append(segment)
    return torch.cat(pieces + [points[-1:]])
