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

import numpy as np

from gen_models.core import registry
from gen_models.core.errors import InputError
from gen_models.core.manifest import load_manifest
from gen_models.media.image import load_image, save_png
from gen_models.media.outputs import new_output_path
from gen_models.media.provenance import edited
from gen_models.media.remote import served
from gen_models.models.deoldify import (  # noqa: F401  (DeOldify's inference lives with the model; re-exported)
    DEFAULT_RENDER_FACTOR,
    IMAGENET_MEAN,
    IMAGENET_STD,
    RENDER_BASE,
    RENDER_FACTORS,
    check_render_factor,
    deoldify_colorize,
    to_gray,
    transfer_luma,
)

TASK = "colorization"
SWEEP_FACTORS = (10, 20, 30, 40)


def colorizer_models() -> dict[str, str]:
    """The catalog's colorizers: name → description (the default first)."""
    return {e.name: e.description for e in load_manifest().for_task(TASK)}


@dataclass(frozen=True)
class Colorized:
    """The colorized PNG, the gray input it was made from (for a before/after view), and how."""

    path: Path
    gray_path: Path
    model: str
    render_factor: int | None
    size: tuple[int, int]
    notes: list[str]


@served("colorization")
def colorize(image: str | Path | bytes, model: str = "deoldify-artistic", render_factor: int = DEFAULT_RENDER_FACTOR,
             post_process: bool = True) -> Colorized:
    """Colorize one photo at its full resolution; returns the PNG (labelled AI-colorized) and the gray input."""
    registry.require(model, TASK)
    render_factor = check_render_factor(render_factor)
    loaded = load_image(image)
    gray = to_gray(loaded.rgb)
    notes = list(loaded.notes)
    if not np.array_equal(loaded.rgb[..., 0], loaded.rgb[..., 1]) or not np.array_equal(loaded.rgb[..., 1], loaded.rgb[..., 2]):
        notes.append("the photo had colours; they were removed first, so the model sees what a B&W photo shows")
    net = registry.load(model)
    color = net.colorize(gray, render_factor, post_process)
    stem = Path(loaded.name).stem
    used = render_factor if net.uses_render_factor else None
    detail = f" at render factor {render_factor}" if used else ""
    description = f"Colours of {loaded.name} predicted by {model}{detail} (AI-generated colours)"
    path = save_png(color, new_output_path(".png", prefix=f"{stem}-colorized"), synthetic=True, model=model,
                    description=description, provenance=edited(model, image, description=description))
    gray_path = save_png(gray, new_output_path(".png", prefix=f"{stem}-gray"), synthetic=False)
    return Colorized(path, gray_path, model, used, (gray.shape[1], gray.shape[0]), notes)


@served("colorization")
def render_factor_sweep(image: str | Path | bytes, model: str = "deoldify-artistic",
                        factors: Sequence[int] = SWEEP_FACTORS, post_process: bool = True) -> list[tuple[int, Path]]:
    """The same photo at several render factors (DeOldify), to see how the factor changes the colours."""
    registry.require(model, TASK)
    factors = [check_render_factor(f) for f in factors]
    loaded = load_image(image)
    gray = to_gray(loaded.rgb)
    net = registry.load(model)
    if not net.uses_render_factor:
        raise InputError(f"the render-factor sweep is for models with a render factor (DeOldify); {model} has none")
    out = []
    for factor in factors:
        color = net.colorize(gray, factor, post_process)
        description = f"Colours predicted by {model} at render factor {factor} (AI-generated colours)"
        path = save_png(color, new_output_path(".png", prefix=f"sweep-rf{factor}"), synthetic=True, model=model,
                        description=description, provenance=edited(model, image, description=description))
        out.append((factor, path))
    return out
