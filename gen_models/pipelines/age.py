"""Age prediction pipeline: images in, faces with boxes, ages and bucket probabilities out (plain data).

The catalog's ``age`` models (``python -m gen_models list --task age``) each know how to crop and read a face
(``predict_faces``): dlib's CC0 predictor aligns 64×64 chips, AgeNet takes square crops at 227×227. The API, the
UI, the CLI and the tests all call :func:`predict_age`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from gen_models.core import registry
from gen_models.core.errors import InputError
from gen_models.core.manifest import load_manifest
from gen_models.media.face import Face, face_finder
from gen_models.media.image import LoadedImage, load_image, save_png
from gen_models.media.outputs import new_output_path

MAX_IMAGES = 16

TASK = "age"


def age_models() -> dict[str, str]:
    """The catalog's age predictors: name → menu title (the default first)."""
    return {e.name: e.label for e in load_manifest().for_task(TASK)}

NO_FACE = (
    "No face found in {name}. For a tight crop such as a generated 64×64 face, tick "
    "'Treat the whole image as one face'."
)


@dataclass
class AgeResult:
    """Everything the UI shows; ``data`` is the JSON the API returns."""

    data: dict
    annotated: list[Path]


def _predict_faces(model_name: str, rgb: np.ndarray, faces: list[Face], whole_image: bool) -> list[dict]:
    """Each age model crops, aligns and normalises faces its own way (``predict_faces`` of the age-task models)."""
    return registry.load(model_name).predict_faces(rgb, faces, whole_image) if faces else []


def _font(size: int) -> ImageFont.ImageFont:
    try:
        return ImageFont.load_default(size=size)
    except TypeError:
        return ImageFont.load_default()


def annotate(rgb: np.ndarray, faces: list[dict]) -> np.ndarray:
    """Draw each face's box and its age (and gender when known) on a copy of the image."""
    image = Image.fromarray(rgb)
    draw = ImageDraw.Draw(image)
    width = max(2, round(max(image.size) / 300))
    font = _font(max(12, round(max(image.size) / 40)))
    for index, face in enumerate(faces, 1):
        left, top, right, bottom = face["box"]
        draw.rectangle([left, top, right, bottom], outline=(255, 215, 0), width=width)
        label = f"#{index} {face['age']:.0f} y"
        if "gender" in face:
            label += f" {face['gender'][0].upper()}"
        box = draw.textbbox((left, top), label, font=font)
        y = top - (box[3] - box[1]) - 2 * width
        y = y if y >= 0 else bottom + width
        box = draw.textbbox((left, y), label, font=font)
        draw.rectangle([box[0] - width, box[1] - width, box[2] + width, box[3] + width], fill=(0, 0, 0))
        draw.text((left, y), label, fill=(255, 215, 0), font=font)
    return np.asarray(image)


def predict_age(
    sources: Sequence[str | Path | bytes | LoadedImage],
    model: str = "dlib-age",
    whole_image: bool = False,
    *,
    write_annotated: bool = True,
) -> AgeResult:
    """Find faces in each image and predict their ages.

    Unreadable files are reported per image; if none can be read an :class:`InputError` says why.
    """
    chosen = registry.require(model, TASK)
    if not sources:
        raise InputError("Upload at least one image.")
    if len(sources) > MAX_IMAGES:
        raise InputError(f"{len(sources)} images were given; the limit is {MAX_IMAGES} per request.")
    finder = face_finder()
    entries, annotated, errors = [], [], []
    for source in sources:
        try:
            image = source if isinstance(source, LoadedImage) else load_image(source)
        except InputError as exc:
            errors.append(str(exc))
            entries.append({"name": Path(str(source)).name if not isinstance(source, bytes) else "upload",
                            "error": str(exc), "faces": []})
            continue
        found = [finder.whole_image(image.rgb)] if whole_image else finder.detect(image.rgb)
        results = _predict_faces(model, image.rgb, found, whole_image)
        faces = [{"box": list(face.box), "score": face.score, **result} for face, result in zip(found, results)]
        entry = {
            "name": image.name,
            "width": int(image.rgb.shape[1]),
            "height": int(image.rgb.shape[0]),
            "notes": list(image.notes),
            "faces": faces,
        }
        if not faces:
            entry["message"] = NO_FACE.format(name=image.name)
        if write_annotated:
            path = save_png(annotate(image.rgb, faces), new_output_path(".png", prefix="age"), synthetic=False,
                            model=model, description=f"Face boxes and age estimates by {model}")
            entry["annotated"] = str(path)
            annotated.append(path)
        entries.append(entry)
    if len(errors) == len(sources):
        raise InputError(" ".join(errors))
    data = {
        "model": model,
        "model_title": chosen.label,
        "whole_image": bool(whole_image),
        "face_count": sum(len(e["faces"]) for e in entries),
        "images": entries,
    }
    return AgeResult(data, annotated)
