"""Face generation pipelines: a grid of faces from seeds, and latent walks rendered as GIF and H.264 MP4.

Generators share one interface: ``z_dim`` and ``forward(z)`` → (N, 3, H, W) in about [-1, 1]. Work runs in
batches on the model's device; frames are resized to the requested output size on the way out.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import torch
from PIL import Image

from gen_models.core import registry
from gen_models.core.errors import InputError
from gen_models.core.latent import walk, z_from_seeds
from gen_models.core.manifest import load_manifest
from gen_models.media.image import save_png
from gen_models.media.outputs import new_output_path
from gen_models.media.remote import served
from gen_models.media.video import write_gif, write_mp4

TASK = "face-generation"
OUTPUT_SIZES = (64, 128, 256, 512, 1024)
MAX_FACES = 64
MAX_KEYFRAMES = 8
MAX_WALK_FRAMES = 240
MAX_WALK_SIZE = 512
BATCH = 8


def to_uint8(images: torch.Tensor) -> np.ndarray:
    """(N, 3, H, W) in [-1, 1] → (N, H, W, 3) uint8 in the steps of SeFa's ``postprocess``: (x - (-1)) · 255 / 2,
    + 0.5, clipped to [0, 255], truncated; each step in float32, so the bytes equal the official demo's."""
    scaled = (images.detach().float() - (-1.0)) * 255 / 2.0
    return (scaled + 0.5).clamp_(0, 255).to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()


def _resize(frame: np.ndarray, size: int) -> np.ndarray:
    if frame.shape[0] == size and frame.shape[1] == size:
        return frame
    return np.asarray(Image.fromarray(frame).resize((size, size), Image.LANCZOS))


def synthesize(generator: torch.nn.Module, z: torch.Tensor, size: int, batch: int = BATCH) -> Iterator[np.ndarray]:
    """Yield one uint8 H×W×3 image per latent row, computed ``batch`` at a time."""
    device = next(generator.parameters()).device
    with torch.inference_mode():
        for start in range(0, z.shape[0], batch):
            images = to_uint8(generator(z[start:start + batch].to(device)))
            for image in images:
                yield _resize(image, size)


def face_models() -> dict[str, str]:
    """The catalog's face generators: name → description (the default first)."""
    return {e.name: e.description or e.name for e in load_manifest().for_task(TASK)}


def check_model(model: str) -> None:
    registry.require(model, TASK)


def check_size(size: int, limit: int = OUTPUT_SIZES[-1]) -> int:
    size = int(size)
    if not 16 <= size <= limit:
        raise InputError(f"Output size {size} px is out of range: choose 16 to {limit} px.")
    return size


@dataclass
class GeneratedFace:
    seed: int
    path: Path
    age: float | None = None


def with_ages(faces: list[GeneratedFace], age_model: str = "dlib-age", sort: bool = False) -> list[GeneratedFace]:
    """Predict each generated face's age (the whole image is the face: generated faces are tight crops)."""
    from gen_models.pipelines.age import MAX_IMAGES, predict_age

    for start in range(0, len(faces), MAX_IMAGES):  # predict_age takes at most MAX_IMAGES photos per call
        chunk = faces[start:start + MAX_IMAGES]
        result = predict_age([f.path for f in chunk], model=age_model, whole_image=True, write_annotated=False)
        for face, image in zip(chunk, result.data["images"]):
            face.age = image["faces"][0]["age"] if image["faces"] else None
    return sorted(faces, key=lambda f: (f.age is None, f.age)) if sort else faces


@served("face-generation")
def generate_faces(model: str, seeds: Sequence[int], size: int = 256) -> list[GeneratedFace]:
    """One PNG per seed (same seed, same face), labelled synthetic in its metadata."""
    check_model(model)
    size = check_size(size)
    seeds = [int(s) for s in seeds]
    if not 1 <= len(seeds) <= MAX_FACES:
        raise InputError(f"Ask for 1 to {MAX_FACES} faces at a time (got {len(seeds)}).")
    generator = registry.load(model)
    z = z_from_seeds(seeds, generator.z_dim)
    faces = []
    for seed, image in zip(seeds, synthesize(generator, z, size)):
        path = save_png(image, new_output_path(".png", prefix=f"face-seed{seed}"), synthetic=True, model=model,
                        description=f"seed {seed}")
        faces.append(GeneratedFace(seed, path))
    return faces


@dataclass
class Walk:
    gif: Path
    mp4: Path
    frames: int
    fps: float


@served("face-generation")
def latent_walk(
    model: str,
    seeds: Sequence[int],
    frames_per_segment: int = 12,
    fps: float = 12,
    mode: Literal["slerp", "lerp"] = "slerp",
    loop: bool = True,
    size: int = 256,
    progress: Callable[[float, str], None] | None = None,
) -> Walk:
    """Walk through the seeds' faces (and back to the first when looping), as a GIF and an H.264 MP4.

    ``progress(fraction, text)`` is called after every frame; an exception it raises (a stopped request) ends the
    walk before any file is written."""
    check_model(model)
    size = check_size(size, MAX_WALK_SIZE)
    seeds = [int(s) for s in seeds]
    if not 2 <= len(seeds) <= MAX_KEYFRAMES:
        raise InputError(f"A walk needs 2 to {MAX_KEYFRAMES} keyframes (got {len(seeds)}).")
    if mode not in ("slerp", "lerp"):
        raise InputError("Interpolation must be 'slerp' or 'lerp'.")
    if not 1 <= fps <= 60:
        raise InputError("Frames per second must be between 1 and 60.")
    segments = len(seeds) if loop else len(seeds) - 1
    total = segments * int(frames_per_segment) + 1
    if frames_per_segment < 1 or total > MAX_WALK_FRAMES:
        raise InputError(
            f"That walk has {total} frames; the limit is {MAX_WALK_FRAMES}. Use fewer frames per segment or keyframes."
        )
    generator = registry.load(model)
    z = walk(z_from_seeds(seeds, generator.z_dim), int(frames_per_segment), loop=loop, mode=mode)
    frames = []
    for frame in synthesize(generator, z, size):
        frames.append(frame)
        if progress:
            progress(len(frames) / len(z), f"frame {len(frames)} of {len(z)}")
    gif = write_gif(frames, new_output_path(".gif", prefix="walk"), fps, model=model)
    mp4 = write_mp4(frames, new_output_path(".mp4", prefix="walk"), fps, model=model)
    return Walk(gif, mp4, len(frames), float(fps))


@dataclass
class Arithmetic:
    grid: Path
    center: Path


@served("face-generation")
def latent_arithmetic(
    model: str,
    a_seeds: Sequence[int],
    b_seeds: Sequence[int],
    c_seeds: Sequence[int],
    *,
    jitter: float = 0.25,
    noise_seed: int = 0,
    size: int = 128,
) -> Arithmetic:
    """The DCGAN paper's recipe: average each concept's z over its exemplars, take A − B + C, and show G(result)
    in the middle of a 3×3 grid whose other cells add uniform noise in [−jitter, jitter] to it."""
    check_model(model)
    size = check_size(size, MAX_WALK_SIZE)
    groups = [[int(s) for s in g] for g in (a_seeds, b_seeds, c_seeds)]
    if any(not 1 <= len(g) <= MAX_KEYFRAMES for g in groups):
        raise InputError(f"Give each of A, B and C 1 to {MAX_KEYFRAMES} exemplar seeds (the paper used 3).")
    if not 0 <= jitter <= 2:
        raise InputError("Jitter must be between 0 and 2.")
    generator = registry.load(model)
    a, b, c = (z_from_seeds(g, generator.z_dim).mean(dim=0) for g in groups)
    result = a - b + c
    noise = torch.from_numpy(np.random.RandomState(noise_seed).uniform(-jitter, jitter, (9, generator.z_dim)))
    noise[4] = 0
    cells = list(synthesize(generator, result[None] + noise.float(), size))
    grid = np.concatenate([np.concatenate(cells[r * 3:r * 3 + 3], axis=1) for r in range(3)], axis=0)
    label = f"A{groups[0]} - B{groups[1]} + C{groups[2]}"
    return Arithmetic(
        save_png(grid, new_output_path(".png", prefix="arithmetic"), synthetic=True, model=model, description=label),
        save_png(cells[4], new_output_path(".png", prefix="arithmetic-center"), synthetic=True, model=model,
                 description=label),
    )
