"""Colorizing black-and-white photos: DeOldify's exact inference steps, or Zhang et al.'s lighter colorizers.

DeOldify (``filters.py``/``visualize.py`` of jantic/DeOldify): the photo is stretched to a square of
render_factor × 16 px, made gray (PIL's ITU-R 601 luma) in 3 channels, ImageNet-normalised, run through the
generator, de-normalised, clamped and truncated to 8 bits, stretched back to the photo's size, and then
(post-processing, on by default) only its chroma is kept: the output's luma (YUV) is the input's own, so the
result has the input's full resolution and detail. The watermark of the original is not added; the PNG's
metadata says the colours are AI-generated instead.

Colour photos are accepted: they are made gray first, so users can judge a model on photos whose colours they know.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch
from PIL import Image

from gen_models.core import registry
from gen_models.core.device import gpu
from gen_models.core.errors import InputError
from gen_models.core.manifest import load_manifest
from gen_models.media.image import load_image, save_png
from gen_models.media.outputs import new_output_path

ARCHITECTURES = ("deoldify", "zhang")
RENDER_BASE = 16
RENDER_FACTORS = (7, 45)
DEFAULT_RENDER_FACTOR = 35
IMAGENET_MEAN = np.array([0.485, 0.456, 0.406], np.float32)
IMAGENET_STD = np.array([0.229, 0.224, 0.225], np.float32)
SWEEP_FACTORS = (10, 20, 30, 40)


def colorizer_models() -> dict[str, str]:
    """Manifest entries usable here: name → description."""
    return {e.name: e.description for e in load_manifest() if e.architecture in ARCHITECTURES}


def check_render_factor(render_factor: int) -> int:
    low, high = RENDER_FACTORS
    if isinstance(render_factor, bool) or int(render_factor) != render_factor or not low <= render_factor <= high:
        raise InputError(f"render factor must be a whole number from {low} to {high}, got {render_factor!r}")
    return int(render_factor)


def to_gray(rgb: np.ndarray) -> np.ndarray:
    """PIL's ``convert('L')`` (ITU-R 601-2 luma) copied to three channels."""
    return np.asarray(Image.fromarray(rgb).convert("L").convert("RGB"))


def transfer_luma(gray_rgb: np.ndarray, color_rgb: np.ndarray) -> np.ndarray:
    """The input's Y with the model's U and V (OpenCV's YUV, as DeOldify's post-processing)."""
    yuv = cv2.cvtColor(gray_rgb, cv2.COLOR_RGB2YUV)
    yuv[..., 1:] = cv2.cvtColor(color_rgb, cv2.COLOR_RGB2YUV)[..., 1:]
    return cv2.cvtColor(yuv, cv2.COLOR_YUV2RGB)


def deoldify_colorize(model: torch.nn.Module, gray_rgb: np.ndarray, render_factor: int = DEFAULT_RENDER_FACTOR,
                      post_process: bool = True) -> np.ndarray:
    """DeOldify's steps on a gray 3-channel uint8 photo; returns uint8 RGB of the same size."""
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


@dataclass(frozen=True)
class Colorized:
    """The colorized PNG, the gray input it was made from (for a before/after view), and how."""

    path: Path
    gray_path: Path
    model: str
    render_factor: int | None
    size: tuple[int, int]
    notes: list[str]


def _check_model(model: str) -> str:
    models = colorizer_models()
    if model not in models:
        raise InputError(f"unknown colorization model {model!r}; choose one of {', '.join(models) or '(none)'}")
    return load_manifest()[model].architecture


def _run(net: torch.nn.Module, kind: str, gray: np.ndarray, render_factor: int, post_process: bool) -> np.ndarray:
    if kind == "deoldify":
        return deoldify_colorize(net, gray, render_factor, post_process)
    from gen_models.models.zhang import colorize_lab

    return colorize_lab(net, gray)


@gpu(duration=60)
def colorize(image: str | Path | bytes, model: str = "deoldify-artistic", render_factor: int = DEFAULT_RENDER_FACTOR,
             post_process: bool = True) -> Colorized:
    """Colorize one photo at its full resolution; returns the PNG (labelled AI-colorized) and the gray input."""
    kind = _check_model(model)
    render_factor = check_render_factor(render_factor)
    loaded = load_image(image)
    gray = to_gray(loaded.rgb)
    notes = list(loaded.notes)
    if not np.array_equal(loaded.rgb[..., 0], loaded.rgb[..., 1]) or not np.array_equal(loaded.rgb[..., 1], loaded.rgb[..., 2]):
        notes.append("the photo had colours; they were removed first, so the model sees what a B&W photo shows")
    net = registry.load(model)
    color = _run(net, kind, gray, render_factor, post_process)
    stem = Path(loaded.name).stem
    used = render_factor if kind == "deoldify" else None
    detail = f" at render factor {render_factor}" if used else ""
    path = save_png(color, new_output_path(".png", prefix=f"{stem}-colorized"), synthetic=True, model=model,
                    description=f"Colours of {loaded.name} predicted by {model}{detail} (AI-generated colours)")
    gray_path = save_png(gray, new_output_path(".png", prefix=f"{stem}-gray"), synthetic=False)
    return Colorized(path, gray_path, model, used, (gray.shape[1], gray.shape[0]), notes)


@gpu(duration=120)
def render_factor_sweep(image: str | Path | bytes, model: str = "deoldify-artistic",
                        factors: Sequence[int] = SWEEP_FACTORS, post_process: bool = True) -> list[tuple[int, Path]]:
    """The same photo at several render factors (DeOldify), to see how the factor changes the colours."""
    if _check_model(model) != "deoldify":
        raise InputError("the render-factor sweep is for DeOldify models (the others have no render factor)")
    factors = [check_render_factor(f) for f in factors]
    loaded = load_image(image)
    gray = to_gray(loaded.rgb)
    net = registry.load(model)
    out = []
    for factor in factors:
        color = deoldify_colorize(net, gray, factor, post_process)
        path = save_png(color, new_output_path(".png", prefix=f"sweep-rf{factor}"), synthetic=True, model=model,
                        description=f"Colours predicted by {model} at render factor {factor} (AI-generated colours)")
        out.append((factor, path))
    return out
