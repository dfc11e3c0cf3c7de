"""Where models run: CUDA, then Apple MPS, then CPU; half precision only where it is safe (ZeroGPU's
``spaces.GPU`` is put on the heavy handlers, in webui/zerogpu.py, with durations sized to each request).

``GEN_MODELS_DEVICE`` (``cpu``, ``cuda``, ``cuda:1``, ``mps``) overrides the choice; ``GEN_MODELS_HALF=0`` turns
half precision off everywhere (both read by :mod:`gen_models.core.settings`).
"""

from __future__ import annotations

import functools

import torch

from gen_models.core import settings
from gen_models.core.errors import GenModelsError


def _mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend and backend.is_available())


@functools.cache
def _resolve(requested: str) -> torch.device:
    if requested:
        try:
            device = torch.device(requested)
        except RuntimeError:
            raise GenModelsError(f"GEN_MODELS_DEVICE={requested!r} is not a device (use cpu, cuda, cuda:N or mps)") from None
        if device.type == "cuda" and not torch.cuda.is_available():
            raise GenModelsError(f"GEN_MODELS_DEVICE={requested!r} but no CUDA GPU is available")
        if device.type == "mps" and not _mps_available():
            raise GenModelsError(f"GEN_MODELS_DEVICE={requested!r} but Apple MPS is not available")
        return device
    if torch.cuda.is_available():
        return torch.device("cuda")
    if _mps_available():
        return torch.device("mps")
    return torch.device("cpu")


def get_device() -> torch.device:
    """The device models should use now (env override, else CUDA → MPS → CPU). The first call also sets the C
    allocator for CPU work (:mod:`gen_models.core.allocator`)."""
    from gen_models.core import allocator

    allocator.tune()
    return _resolve(settings.device() or "")


def half_allowed(device: torch.device, *, model_supports_half: bool) -> bool:
    """Half precision only on CUDA, only for models known to be accurate in it, and only unless disabled."""
    if not settings.half_enabled():
        return False
    return device.type == "cuda" and model_supports_half


def compute_dtype(device: torch.device, *, model_supports_half: bool = False) -> torch.dtype:
    return torch.float16 if half_allowed(device, model_supports_half=model_supports_half) else torch.float32
