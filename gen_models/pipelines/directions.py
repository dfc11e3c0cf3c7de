"""Attribute directions found in the generator's own weights: SeFa (Shen & Zhou, CVPR 2021).

The first layer maps z to features with a weight A; directions n that A changes most are the top eigenvectors of
AᵀA (columns normalised as in the paper's code). No labels or extra files are needed.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from gen_models.core import registry
from gen_models.core.errors import InputError
from gen_models.core.latent import z_from_seeds
from gen_models.media.image import save_png
from gen_models.media.outputs import new_output_path
from gen_models.pipelines.faces import check_model, check_size, synthesize

MAX_STEPS = 9


def first_layer_weight(generator: torch.nn.Module) -> np.ndarray:
    """The first layer's weight as a (z_dim, features) matrix (the generator's ``first_layer_weight``)."""
    method = getattr(generator, "first_layer_weight", None)
    if method is None:
        raise InputError(f"{type(generator).__name__} has no first layer SeFa can read.")
    return method()


def sefa(generator: torch.nn.Module) -> tuple[np.ndarray, np.ndarray]:
    """(eigenvalues descending, directions (z_dim, z_dim) as unit rows), the strongest first."""
    weight = first_layer_weight(generator)
    weight = weight / np.linalg.norm(weight, axis=0, keepdims=True)
    values, vectors = np.linalg.eigh(weight @ weight.T)
    order = np.argsort(values)[::-1]
    return values[order], vectors[:, order].T


def _check_steps(steps: int) -> None:
    if not 3 <= steps <= MAX_STEPS or steps % 2 == 0:
        raise InputError(f"Steps must be odd, from 3 to {MAX_STEPS}, so the middle face is the original.")


def direction_strip(model: str, seed: int, index: int, distance: float = 3.0, steps: int = 7,
                    size: int = 128) -> Path:
    """A row of faces: the seed's face moved along SeFa direction ``index`` from −distance to +distance."""
    check_model(model)
    size = check_size(size, 512)
    _check_steps(steps)
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


ATTRIBUTES = ("age", "gender")
LABEL_SIZE = 128  # generated faces are labelled at this size (the age model reads a 64×64 aligned chip)


def label_generated(generator: torch.nn.Module, z: torch.Tensor) -> np.ndarray:
    """(N, 2): predicted age in years and P(male) for each latent, with the bundled dlib models, whole image as
    the face (generated faces are tight crops)."""
    from gen_models.media.face import face_finder
    from gen_models.models.dlib_age import AGE_CHIP, GENDER_CHIP, expected_age

    model, finder = registry.load("dlib-age"), face_finder()
    rows = []
    for image in synthesize(generator, z, LABEL_SIZE):
        face = finder.whole_image(image)
        age_p, gender_p = model.predict_chips(finder.chip(image, face, AGE_CHIP)[None],
                                              finder.chip(image, face, GENDER_CHIP)[None])
        rows.append((float(expected_age(age_p)[0]), float(gender_p[0, 1])))
    return np.asarray(rows, dtype=np.float64)


def fit_directions(z: np.ndarray, labels: np.ndarray) -> dict[str, np.ndarray]:
    """InterFaceGAN-style linear boundaries: per attribute, the unit normal of a least-squares linear fit of the
    label on z (pointing towards older / more male)."""
    design = np.c_[z, np.ones(len(z))]
    directions = {}
    for column, name in enumerate(ATTRIBUTES):
        weights = np.linalg.lstsq(design, labels[:, column], rcond=None)[0][:-1]
        directions[name] = weights / (np.linalg.norm(weights) or 1.0)
    return directions


def attribute_directions_for(generator: torch.nn.Module, samples: int = 200, seed: int = 1_000_000) -> dict:
    """Sample ``samples`` faces (seeds seed…), label them with the bundled age/gender models, fit the directions."""
    if samples < 4 * 8:
        raise InputError("Fitting attribute directions needs at least 32 samples.")
    z = z_from_seeds(range(seed, seed + samples), generator.z_dim)
    labels = label_generated(generator, z)
    return {**fit_directions(z.numpy().astype(np.float64), labels), "labels": labels}


def attribute_directions(model: str, samples: int = 200) -> dict:
    """The age and gender directions of a manifest model, computed once and cached on disk next to the outputs."""
    from gen_models.core.manifest import load_manifest
    from gen_models.media.outputs import output_dir

    check_model(model)
    entry = load_manifest()[model]
    key = f"{model}-{entry.revision}-{(entry.sha256 or 'unpinned')[:12]}-{samples}"
    cache = output_dir() / "directions" / f"{key}.npz"
    if cache.exists():
        with np.load(cache) as saved:
            return {name: saved[name] for name in saved.files}
    found = attribute_directions_for(registry.load(model), samples)
    cache.parent.mkdir(parents=True, exist_ok=True)
    np.savez(cache, **found)
    return found


def attribute_strip(model: str, seed: int, attribute: str, distance: float = 3.0, steps: int = 5,
                    size: int = 128, samples: int = 200) -> tuple[Path, list[float]]:
    """A row of faces moved along the age (older →) or gender (more male →) direction, and their predicted ages."""
    if attribute not in ATTRIBUTES:
        raise InputError(f"Attribute must be one of: {', '.join(ATTRIBUTES)}.")
    _check_steps(steps)
    size = check_size(size, 512)
    direction = torch.from_numpy(attribute_directions(model, samples)[attribute]).float()
    generator = registry.load(model)
    z = z_from_seeds([seed], generator.z_dim)[0][None] + torch.linspace(-distance, distance, steps)[:, None] * direction
    ages = [round(float(a), 1) for a in label_generated(generator, z)[:, 0]]
    strip = np.concatenate(list(synthesize(generator, z, size)), axis=1)
    path = save_png(strip, new_output_path(".png", prefix=f"{attribute}-edit"), synthetic=True, model=model,
                    description=f"seed {seed} moved along the {attribute} direction, ±{distance}; ages {ages}")
    return path, ages
