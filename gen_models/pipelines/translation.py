"""Unpaired image-to-image translation with CycleGAN (horse ↔ zebra): photo in, translated PNG out.

The official generators run at the photo's aspect ratio (sides rounded to multiples of 4, the long side at most
``max_side``) and the result is scaled back to the photo's size, as :func:`gen_models.models.cyclegan.translate` does.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from gen_models.core import registry
from gen_models.core.errors import InputError
from gen_models.core.manifest import load_manifest
from gen_models.media.image import load_image, save_png
from gen_models.media.outputs import new_output_path
from gen_models.media.provenance import edited
from gen_models.models.cyclegan import translate

MAX_SIDE = 512  # the models were trained on 256 px crops; larger inputs cost time without adding detail
MAX_SIDE_LIMIT = 1024


TASK = "translation"


def translation_models() -> dict[str, str]:
    """The catalog's image-to-image translators: name → description (the default first)."""
    return {e.name: e.description for e in load_manifest().for_task(TASK)}


@dataclass(frozen=True)
class Translated:
    path: Path
    model: str
    size: tuple[int, int]
    notes: list[str]


def translate_photo(image: str | Path | bytes, model: str = "cyclegan-horse2zebra",
                    max_side: int = MAX_SIDE) -> Translated:
    """Translate one photo with a CycleGAN generator; the PNG has the photo's size and is labelled AI-generated."""
    registry.require(model, TASK)
    if isinstance(max_side, bool) or int(max_side) != max_side or not 64 <= max_side <= MAX_SIDE_LIMIT:
        raise InputError(f"working size must be a whole number from 64 to {MAX_SIDE_LIMIT} px, got {max_side!r}")
    loaded = load_image(image)
    out = translate(registry.load(model), loaded.rgb, int(max_side))
    description = f"{loaded.name} translated by {model} (AI-generated)"
    path = save_png(out, new_output_path(".png", prefix=f"{Path(loaded.name).stem}-{model}"), synthetic=True,
                    model=model, description=description, provenance=edited(model, image, description=description))
    return Translated(path, model, (out.shape[1], out.shape[0]), list(loaded.notes))
