"""Face swap, the classic deepfake: extraction, training and creation, as plain functions for the tab, API and CLI.

* **Extraction** (:func:`extract_people`): every frame of each person's clips and photos → aligned faces
  (:mod:`gen_models.media.face_sets`), with counts and a gallery.
* **Training** (:func:`start_training`): a :class:`~gen_models.pipelines.labs.LabRun` around a
  :class:`~gen_models.train.face_swap.FaceSwapTrainer`: bounded by the server's limits, stoppable, resumable.
* **Creation** (:func:`swap_video`, :func:`swap_image`): A's frames streamed through detection → alignment →
  encoder → B's decoder → colour transfer → paste back → H.264 at the input's fps with its sound, one batch in memory.

**Flicker.** Each frame is found, aligned and decoded on its own, so the pasted face jitters: the landmarks move a
pixel or two between frames, the colour statistics change, the decoder's output changes. "smoothed" filters the
landmarks over time with a One Euro filter (Casiez et al., CHI 2012: little smoothing while the head moves fast, a
lot while it is still, so it removes jitter without lagging behind motion), holds the last alignment through a few
frames without a detection, and smooths the colour statistics. Both versions are rendered from the same detections,
and the notes give each one's **flicker figure**: the mean frame-to-frame change inside the face region divided by
the input's own (1.0 = exactly as steady as the input).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from gen_models.core import limits, registry
from gen_models.core.device import get_device
from gen_models.core.errors import InputError
from gen_models.core.manifest import load_manifest
from gen_models.media import align
from gen_models.media.face_sets import FaceSet, extract, largest_face
from gen_models.media.image import load_image, save_png
from gen_models.media.outputs import new_output_path
from gen_models.media.provenance import edited
from gen_models.media.remote import served
from gen_models.media.video import open_video, read_frames, write_mp4
from gen_models.models import faceswap
from gen_models.pipelines.labs import LabRun
from gen_models.train.face_swap import FaceSwapConfig, FaceSwapTrainer, to_images, to_tensor

TASK = "face-swap"
DIRECTIONS = ("a-to-b", "b-to-a")
SMOOTHING = ("per-frame", "smoothed")
BATCH = 16
HOLD_FRAMES = 5  # "smoothed" keeps the last alignment through this many frames without a detected face
COLOUR_SMOOTHING = 0.3  # weight of the newest frame in the smoothed colour statistics

Progress = Callable[[float, str], None]


def face_swap_models() -> dict[str, str]:
    """The catalog's face-swap pairs: name → description (the default first)."""
    return {e.name: e.title or e.name for e in load_manifest().for_task(TASK)}


def people_of(name: str) -> tuple[str, str]:
    """Who A and B are in a catalog pair (its ``labels``), or just "A" and "B"."""
    labels = registry.require(name, TASK).labels or []
    return (labels[0], labels[1]) if len(labels) == 2 else ("A", "B")


def swap_model(model: str | None = None, checkpoint: str | Path | None = None,
               pair: faceswap.FaceSwapAE | None = None) -> tuple[faceswap.FaceSwapAE, str]:
    """(the pair, what to call it): ``pair`` itself (a model being trained), an uploaded checkpoint, or the catalog
    entry ``model`` (default: the task's default), in that order."""
    if pair is not None:
        return pair, "the model trained in this session"
    if checkpoint:
        return faceswap.load(checkpoint).to(get_device()), Path(checkpoint).name
    name = model or registry.default_model(TASK)
    registry.require(name, TASK)
    return registry.load(name), name


# ----------------------------------------------------------------------------------------------- extraction
def extract_people(a_inputs: Sequence[str | Path], b_inputs: Sequence[str | Path], size: int = 64, *,
                   max_seconds: float | None = None, progress: Progress | None = None) -> tuple[FaceSet, FaceSet]:
    """Both people's aligned faces at the model's ``size``; errors say which person and how many faces are needed."""
    if size not in faceswap.SIZES:
        raise InputError(f"face size must be one of {', '.join(map(str, faceswap.SIZES))} px, got {size!r}")
    if not a_inputs and not b_inputs:
        raise InputError("Upload clips or photos of two people: A (whose face is replaced) and B (the new face).")
    if not a_inputs or not b_inputs:
        missing = "A" if not a_inputs else "B"
        raise InputError(f"Only one person was given: add clips or photos of person {missing} too. A face swap "
                         "trains on two people.")
    sets = []
    for index, (name, inputs) in enumerate((("A", a_inputs), ("B", b_inputs))):
        report = (lambda f, t, i=index: progress((i + f) / 2, t)) if progress else None
        sets.append(extract([Path(p) for p in inputs], size, name=name, max_seconds=max_seconds, progress=report))
    return sets[0], sets[1]


# ----------------------------------------------------------------------------------------------- training
def start_training(faces_a: FaceSet | np.ndarray, faces_b: FaceSet | np.ndarray, *, layout: str = "original",
                   size: int = 64, width: int = 8, steps: int = 500, batch: int = 16, lr: float = FaceSwapConfig.lr,
                   seed: int = 0) -> LabRun:
    """A training run over the two face sets, refused up front when it is over the server's limits."""
    config = FaceSwapConfig(layout=layout, size=int(size), width=int(width), steps=int(steps), batch=int(batch),
                            lr=float(lr), seed=int(seed))
    return LabRun(FaceSwapTrainer(config, faces_a, faces_b))


# ----------------------------------------------------------------------------------------------- smoothing
class OneEuro:
    """The One Euro filter (Casiez, Roussel & Vogel 2012) over arrays: cutoff = ``min_cutoff`` + ``beta`` × speed."""

    def __init__(self, fps: float, min_cutoff: float = 0.6, beta: float = 0.05, d_cutoff: float = 1.0) -> None:
        self.rate, self.min_cutoff, self.beta, self.d_cutoff = fps, min_cutoff, beta, d_cutoff
        self.value: np.ndarray | None = None
        self.speed: np.ndarray | None = None

    def _alpha(self, cutoff: np.ndarray | float) -> np.ndarray | float:
        tau = 1.0 / (2 * math.pi * cutoff)
        return 1.0 / (1.0 + tau * self.rate)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, np.float64)
        if self.value is None:
            self.value, self.speed = x.copy(), np.zeros_like(x)
            return x.copy()
        speed = (x - self.value) * self.rate
        a_d = self._alpha(self.d_cutoff)
        self.speed = a_d * speed + (1 - a_d) * self.speed
        a = self._alpha(self.min_cutoff + self.beta * np.abs(self.speed))
        self.value = a * x + (1 - a) * self.value
        return self.value.copy()


class Aligner:
    """Frame → alignment matrix for one of the two modes, from the frame's raw landmarks (None: no face)."""

    def __init__(self, mode: str, size: int, fps: float) -> None:
        self.mode, self.size = mode, size
        self.filter = OneEuro(fps) if mode == "smoothed" else None
        self.last: np.ndarray | None = None
        self.missing = 0
        self.colour: tuple[np.ndarray, ...] | None = None

    def __call__(self, landmarks: np.ndarray | None) -> np.ndarray | None:
        if landmarks is None:
            self.missing += 1
            if self.filter is not None and self.last is not None and self.missing <= HOLD_FRAMES:
                return self.last
            return None
        self.missing = 0
        points = self.filter(landmarks) if self.filter is not None else landmarks
        self.last = align.alignment(points, self.size)
        return self.last

    def colour_stats(self, measured: tuple[np.ndarray, ...]) -> tuple[np.ndarray, ...]:
        """The Reinhard statistics to use this frame: measured (per frame) or smoothed over time."""
        if self.mode != "smoothed":
            return measured
        if self.colour is None:
            self.colour = measured
        else:
            self.colour = tuple((1 - COLOUR_SMOOTHING) * old + COLOUR_SMOOTHING * new
                                for old, new in zip(self.colour, measured))
        return self.colour


class Flicker:
    """Mean absolute frame-to-frame change inside the face region of each frame, for the input and each output."""

    def __init__(self, names: Sequence[str]) -> None:
        self.previous: dict[str, np.ndarray] = {}
        self.sums = {name: 0.0 for name in ("input", *names)}
        self.frames = 0

    def add(self, region: np.ndarray | None, frames: dict[str, np.ndarray]) -> None:
        """``region``: bool mask of the face in this frame (None: no face, the pair is skipped)."""
        if region is not None and region.any() and self.previous:
            for name, frame in frames.items():
                change = np.abs(frame.astype(np.int16) - self.previous[name].astype(np.int16))[region]
                self.sums[name] += float(change.mean())
            self.frames += 1
        self.previous = {name: frame for name, frame in frames.items()} if region is not None else {}

    def figure(self, name: str) -> float:
        """The output's mean change divided by the input's (nan before two consecutive frames with a face)."""
        if not self.frames or self.sums["input"] <= 0:
            return float("nan")
        return self.sums[name] / self.sums["input"]

    def mean_change(self, name: str) -> float:
        return self.sums[name] / self.frames if self.frames else float("nan")


# ----------------------------------------------------------------------------------------------- creation
def _decode(net: faceswap.FaceSwapAE, crops: list[np.ndarray], to: str) -> list[np.ndarray]:
    if not crops:
        return []
    device = next(net.parameters()).device
    with torch.inference_mode():
        return list(to_images(net(to_tensor(np.stack(crops), device), to)))


def _paste(frame: np.ndarray, decoded: np.ndarray, crop: np.ndarray, matrix: np.ndarray, aligner: Aligner,
           seamless: bool) -> np.ndarray:
    mask = align.face_mask(aligner.size)
    measured = (*align.lab_stats(decoded, mask), *align.lab_stats(crop, mask))
    recoloured = align.reinhard(decoded, crop, mask, aligner.colour_stats(measured))
    return align.merge(frame, recoloured, matrix, align.feathered_mask(aligner.size), seamless=seamless)


@dataclass
class SwapResult:
    """The written file and what was done to make it (``flicker``: mode → figure, for videos)."""

    path: Path
    frames: int
    fps: float
    has_audio: bool
    model: str
    direction: str
    smoothing: str
    faces_found: int
    flicker: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def _check(direction: str, smoothing: str) -> str:
    if direction not in DIRECTIONS:
        raise InputError(f"direction must be one of {', '.join(DIRECTIONS)}, got {direction!r}")
    if smoothing not in SMOOTHING:
        raise InputError(f"smoothing must be one of {', '.join(SMOOTHING)}, got {smoothing!r}")
    return "b" if direction == "a-to-b" else "a"


@served("face-swap")
def swap_video(video_path: str | Path, *, model: str | None = None, checkpoint: str | Path | None = None,
               pair: faceswap.FaceSwapAE | None = None,
               direction: str = "a-to-b", smoothing: str = "smoothed", seamless: bool = False,
               side_by_side: bool = False, max_seconds: float | None = None,
               progress: Progress | None = None) -> SwapResult:
    """Replace the face in every frame of ``video_path`` (person A for "a-to-b") with the other person's, streamed
    into an H.264 MP4 at the input's fps with its sound; both flicker figures are measured on the way."""
    to = _check(direction, smoothing)
    net, label = swap_model(model, checkpoint, pair)
    video = open_video(video_path, max_seconds=max_seconds)
    width = video.width * (2 if side_by_side else 1)
    limits.check_video_pixels(video.frames_estimate * width * video.height)
    size = net.size
    aligners = {mode: Aligner(mode, size, video.fps) for mode in SMOOTHING}
    flicker = Flicker(SMOOTHING)
    counts = {"frames": 0, "faces": 0}

    def batches() -> Iterator[list[tuple[np.ndarray, np.ndarray | None]]]:
        chunk = []
        for frame in read_frames(video):
            found = largest_face(frame)
            chunk.append((frame, None if found is None else found[1]))
            if len(chunk) == BATCH:
                yield chunk
                chunk = []
        if chunk:
            yield chunk

    def frames() -> Iterator[np.ndarray]:
        for chunk in batches():
            plans, crops = [], []
            for frame, landmarks in chunk:
                counts["frames"] += 1
                counts["faces"] += landmarks is not None
                plan = {}
                for mode, aligner in aligners.items():
                    matrix = aligner(landmarks)
                    if matrix is not None:
                        crop = align.warp_face(frame, matrix, size)
                        plan[mode] = (matrix, len(crops), crop)
                        crops.append(crop)
                plans.append((frame, plan))
            decoded = _decode(net, crops, to)
            for frame, plan in plans:
                outputs = {}
                for mode in SMOOTHING:  # a mode with no alignment for this frame leaves it as it is
                    if mode in plan:
                        matrix, index, crop = plan[mode]
                        outputs[mode] = _paste(frame, decoded[index], crop, matrix, aligners[mode], seamless)
                    else:
                        outputs[mode] = frame
                region = None
                if "per-frame" in plan:  # the frame's own face, as found: the region both modes are measured in
                    paste = align.paste_region(frame.shape, plan["per-frame"][0], align.face_mask(size))
                    if paste is not None:
                        region = np.zeros(frame.shape[:2], bool)
                        region[paste.region] = paste.inside
                flicker.add(region, {"input": frame, **outputs})
                shown = outputs[smoothing]
                if progress:
                    progress(min(0.99, counts["frames"] / video.frames_estimate),
                             f"swapping frame {counts['frames']} of ~{video.frames_estimate}")
                yield np.concatenate([frame, shown], axis=1) if side_by_side else shown

    path = new_output_path(".mp4", prefix="face-swap")
    write_mp4(frames(), path, fps=video.fps, model=f"{label} face swap",
              audio_path=video.path if video.has_audio else None,
              provenance=edited(label, video_path, composite=True,
                                description=f"{video.name} with its faces swapped ({direction}) by {label}"))
    if counts["faces"] == 0:
        path.unlink(missing_ok=True)
        raise InputError(f"No face found in any frame of {video.name}. Use a clip where the face is frontal and at "
                         "least 40 px wide.")
    figures = {mode: flicker.figure(mode) for mode in SMOOTHING}
    notes = [f"faces found in {counts['faces']} of {counts['frames']} frames"
             + ("" if counts["faces"] == counts["frames"] else "; frames without one are left as they are"
                if smoothing == "per-frame" else f"; gaps of up to {HOLD_FRAMES} frames keep the last alignment")]
    if not video.has_audio:
        notes.append("the input has no sound, so the result is silent")
    return SwapResult(path, counts["frames"], video.fps, video.has_audio, label, direction, smoothing,
                      counts["faces"], figures, notes)


@served("face-swap")
def swap_image(image: str | Path | bytes, *, model: str | None = None, checkpoint: str | Path | None = None,
               pair: faceswap.FaceSwapAE | None = None,
               direction: str = "a-to-b", seamless: bool = False) -> SwapResult:
    """The largest face of a photo replaced by the other person's; a PNG labelled AI-generated."""
    to = _check(direction, "per-frame")
    net, label = swap_model(model, checkpoint, pair)
    loaded = load_image(image)
    found = largest_face(loaded.rgb)
    if found is None:
        raise InputError(f"No face found in {loaded.name}. Use a photo with one frontal face at least 40 px wide.")
    size = net.size
    matrix = align.alignment(found[1], size)
    crop = align.warp_face(loaded.rgb, matrix, size)
    decoded = _decode(net, [crop], to)[0]
    out = _paste(loaded.rgb, decoded, crop, matrix, Aligner("per-frame", size, 1.0), seamless)
    description = f"{loaded.name} with its face swapped ({direction}) by {label}"
    path = save_png(out, new_output_path(".png", prefix="face-swap"), synthetic=True, model=f"{label} face swap",
                    description=description, provenance=edited(label, image, composite=True, description=description))
    return SwapResult(path, 1, 0.0, False, label, direction, "per-frame", 1, {}, list(loaded.notes))


def flicker_text(flicker: dict[str, float]) -> str:
    """One line for the notes: both figures, and what they mean."""
    parts = [f"{mode} {value:.2f}×" for mode, value in flicker.items() if not math.isnan(value)]
    if not parts:
        return "flicker: not measured (fewer than two consecutive frames with a face)"
    return ("flicker (mean frame-to-frame change inside the face, relative to the input's own): "
            + ", ".join(parts))
