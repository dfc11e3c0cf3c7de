"""Reading checkpoint files without executing pickled code, and strict loading with errors users can act on.

``torch.load(weights_only=True)`` only rebuilds tensors and plain containers; an official file that pickles other
harmless objects (DeOldify's ``slice``, for example) names them in ``allow``. safetensors files need no pickle at all.
"""

from __future__ import annotations

import pickle
import zipfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from gen_models.core.errors import WeightsIntegrityError


def load_checkpoint(path: str | Path, *, allow: Iterable[Any] = ()) -> Any:
    """The file's contents on the CPU; pickled code is refused, ``allow`` lists the extra globals it may hold."""
    path = Path(path)
    if path.suffix == ".safetensors":
        from safetensors import SafetensorError
        from safetensors.torch import load_file

        try:
            return load_file(str(path))
        except (SafetensorError, OSError) as exc:
            raise WeightsIntegrityError(f"{path.name} is not a valid safetensors file ({exc})") from None
    try:
        with torch.serialization.safe_globals(list(allow)):
            return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else exc.__class__.__name__
        raise WeightsIntegrityError(
            f"{path.name} holds objects that would need code to be executed to load, which is refused ({reason})"
        ) from None
    except (RuntimeError, EOFError, zipfile.BadZipFile, ValueError) as exc:
        raise WeightsIntegrityError(f"{path.name} is not a readable PyTorch checkpoint (truncated or corrupt?): {exc}") from None


def load_strict(module: nn.Module, state_dict: Mapping[str, torch.Tensor], source: str) -> nn.Module:
    """``load_state_dict(strict=True)`` whose failure names the missing, unexpected and mis-shaped keys."""
    own = module.state_dict()
    missing = sorted(set(own) - set(state_dict))
    unexpected = sorted(set(state_dict) - set(own))
    shapes = [
        f"{k}: file {tuple(state_dict[k].shape)} vs model {tuple(own[k].shape)}"
        for k in sorted(set(own) & set(state_dict))
        if tuple(state_dict[k].shape) != tuple(own[k].shape)
    ]
    if missing or unexpected or shapes:
        parts = []
        for label, keys in (("missing keys", missing), ("unexpected keys", unexpected), ("wrong shapes", shapes)):
            if keys:
                shown = ", ".join(keys[:6]) + (f" (+{len(keys) - 6} more)" if len(keys) > 6 else "")
                parts.append(f"{label}: {shown}")
        raise WeightsIntegrityError(f"{source} does not fit {type(module).__name__}: " + "; ".join(parts))
    module.load_state_dict(state_dict, strict=True)
    return module
