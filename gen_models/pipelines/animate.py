"""Talking heads: a face photo moved by a driving video (FOMM / TPSMM), the official demos' animate logic, streamed.

Data flow: photo → face crop (square, padded) → 256×256 source; driving video → one stable face box found on a
first pass → a second pass decodes, crops, batches frames through the keypoint detector and the generator, and
streams the results into an H.264 MP4 at the driver's fps with its audio. Only one batch of frames is ever in
memory, so a long video costs time, not memory.

Motion transfer follows ``demo.py``/``animate.py`` of both official repos: relative keypoints (the driver's motion
since a reference frame, added to the source's keypoints) with the movement scaled by the ratio of the keypoints'
convex-hull areas; "absolute" uses the driver's keypoints as they are; TPSMM's "avd" swaps the driver's identity
for the source's with its avd network. "Best frame" picks as reference the driving frame whose face landmarks are
closest to the photo's; the official demo animates backwards and forwards from it, which gives the same frames as
one forward pass with that frame as reference, since every frame depends only on itself and the reference.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import torch
from scipy.spatial import ConvexHull, QhullError

from gen_models.core import limits, registry
from gen_models.core.errors import InputError
from gen_models.core.manifest import load_manifest
from gen_models.media.face import Face, crop_box, face_finder, square_box
from gen_models.media.image import load_image
from gen_models.media.outputs import new_output_path
from gen_models.media.provenance import edited
from gen_models.media.remote import served
from gen_models.media.video import VideoInput, open_video, read_frames, write_mp4

SIZE = 256
TASK = "talking-head"
MODES = ("relative", "absolute", "avd")
FACE_MARGIN = 0.65  # VoxCeleb-like framing: the square is 2.3× the face box, the whole head and some neck
FACE_LIFT = 0.1  # dlib's box starts at the eyebrows; move the square up to keep the hair
DETECT_SIDE = 480  # faces in driving frames are searched on a copy this large
DETECTIONS_PER_SECOND = 4  # frames searched per second of video for the stable box (all frames for "best frame")
SOURCE_MAX_SIDE = 1280  # the photo is reduced to this before cropping; also the largest paste-back video
# frames per network call. On a CPU, with the allocator tuned (gen_models.core.allocator), batch 1, 2 and 4 run at
# the same speed within noise (FOMM 0.81 / 0.77 / 0.77 s a frame, TPSMM 1.87 / 1.86 / 1.89 on one thread) while the
# peak grows with the batch (FOMM 1.05 / 1.24 / 1.46 GB, TPSMM 1.5 / 1.7 / 2.7 GB): 2 is the fastest at a low peak
BATCH_CPU, BATCH_GPU = 2, 32

Progress = Callable[[float, str], None]


def talking_head_models() -> dict[str, str]:
    """The catalog's talking-head models: name → description (the default first)."""
    return {e.name: e.description for e in load_manifest().for_task(TASK)}


def _check_options(model: str, mode: str) -> None:
    registry.require(model, TASK)
    if mode not in MODES:
        raise InputError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")


def _check_model_mode(net: torch.nn.Module, model: str, mode: str) -> None:
    if mode == "avd" and not net.has_avd:
        raise InputError(f"the 'avd' mode needs a model with an avd network (TPSMM); {model} has none")


# ----------------------------------------------------------------------------------------------- keypoint logic
def hull_scale(kp_source: torch.Tensor, kp_reference: torch.Tensor) -> float:
    """sqrt(area of the source keypoints' convex hull / area of the reference's), as ``adapt_movement_scale``."""
    try:
        source = ConvexHull(kp_source.detach().cpu().double().numpy()).volume
        reference = ConvexHull(kp_reference.detach().cpu().double().numpy()).volume
    except QhullError:
        return 1.0
    return float(np.sqrt(source) / np.sqrt(reference)) if reference > 0 else 1.0


def normalize_keypoints(
    key: str,
    kp_source: Mapping[str, torch.Tensor],
    kp_driving: Mapping[str, torch.Tensor],
    kp_reference: Mapping[str, torch.Tensor],
    *,
    mode: str = "relative",
    adapt_scale: bool = True,
    scale: float | None = None,
) -> dict[str, torch.Tensor]:
    """The keypoints the generator is driven with, for a batch of driving frames (sources are batch 1).

    ``key`` names the keypoint tensor (the model's ``keypoints_key``); local affine ``jacobian``s, where the model
    has them (FOMM), are carried over relative to the reference frame as well."""
    if mode == "absolute":
        return dict(kp_driving)
    if scale is None:
        scale = hull_scale(kp_source[key][0], kp_reference[key][0]) if adapt_scale else 1.0
    out = dict(kp_driving)
    out[key] = (kp_driving[key] - kp_reference[key]) * scale + kp_source[key]
    if "jacobian" in kp_driving:
        change = torch.matmul(kp_driving["jacobian"], torch.inverse(kp_reference["jacobian"]))
        out["jacobian"] = torch.matmul(change, kp_source["jacobian"])
    return out


def to_tensor(frames: Sequence[np.ndarray], device: torch.device) -> torch.Tensor:
    """uint8 256×256×3 frames → float (N, 3, 256, 256) in [0, 1], what both models take."""
    batch = torch.from_numpy(np.stack(frames)).to(device)
    return batch.permute(0, 3, 1, 2).float().div_(255.0)


def animate_frames(
    model: torch.nn.Module,
    source: np.ndarray,
    driving: Iterable[np.ndarray],
    *,
    mode: str = "relative",
    adapt_scale: bool = True,
    reference: np.ndarray | None = None,
    batch: int = BATCH_CPU,
) -> Iterator[np.ndarray]:
    """Animated 256×256 frames, float32 in [0, 1], one per driving frame (all uint8 256×256×3 crops).

    ``reference`` is the driving frame the motion is measured from (the first frame when None).
    """
    key = model.keypoints_key
    device = next(model.parameters()).device
    iterator = iter(driving)
    with torch.inference_mode():
        src = to_tensor([source], device)
        kp_source = model.keypoints(src)
        kp_reference = model.keypoints(to_tensor([reference], device)) if reference is not None else None
        scale = None
        while True:
            chunk = [frame for _, frame in zip(range(batch), iterator)]
            if not chunk:
                return
            kp_driving = model.keypoints(to_tensor(chunk, device))
            if kp_reference is None:
                kp_reference = {k: v[:1] for k, v in kp_driving.items()}
            if mode == "avd":
                kp_norm = model.avd(kp_source, kp_driving)
            else:
                if scale is None:
                    scale = hull_scale(kp_source[key][0], kp_reference[key][0]) if adapt_scale else 1.0
                kp_norm = normalize_keypoints(key, kp_source, kp_driving, kp_reference, mode=mode, scale=scale)
            out = model.render(src, kp_source, kp_norm)
            yield from out.permute(0, 2, 3, 1).float().cpu().numpy()


# ----------------------------------------------------------------------------------------------- faces and boxes
def resize_square(rgb: np.ndarray, size: int = SIZE) -> np.ndarray:
    """A square crop scaled to size×size (area filter when shrinking, cubic when enlarging)."""
    interp = cv2.INTER_AREA if rgb.shape[0] > size else cv2.INTER_CUBIC
    return cv2.resize(rgb, (size, size), interpolation=interp)


def whole_frame_box(width: int, height: int) -> tuple[int, int, int, int]:
    """The centred square that holds the whole frame (the short side is padded, nothing is squashed)."""
    side = max(width, height)
    x0, y0 = (width - side) // 2, (height - side) // 2
    return x0, y0, x0 + side, y0 + side


def _largest(faces: list[Face]) -> Face | None:
    return max(faces, key=lambda f: f.width * f.height) if faces else None


def _shape_signature(face: Face) -> np.ndarray:
    """Landmarks centred and divided by sqrt(hull area): comparable across positions and sizes (find_best_frame)."""
    points = np.asarray(face.landmarks, np.float64)
    points -= points.mean(axis=0)
    try:
        area = ConvexHull(points).volume
    except QhullError:
        area = 0.0
    return points / math.sqrt(area) if area > 0 else points


def _detect(rgb: np.ndarray, max_side: int = DETECT_SIDE) -> tuple[Face | None, float]:
    """The largest face on a reduced copy, and the factor that maps its coordinates back."""
    scale = min(1.0, max_side / max(rgb.shape[:2]))
    small = cv2.resize(rgb, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA) if scale < 1 else rgb
    return _largest(face_finder().detect(small)), 1.0 / scale


@dataclass
class Source:
    """The photo, its 256×256 crop and where that crop sits in the photo."""

    rgb: np.ndarray
    crop: np.ndarray
    box: tuple[int, int, int, int]
    face: Face | None
    name: str
    notes: list[str] = field(default_factory=list)  # what the loader changed (16-bit, transparency, size...)


def prepare_source(image: str | Path | bytes, *, crop: bool = True) -> Source:
    """Decode the photo and cut the square face crop (or pad the whole photo to a square with ``crop=False``)."""
    loaded = load_image(image, max_side=SOURCE_MAX_SIDE)
    rgb = loaded.rgb
    face, back = _detect(rgb, max_side=SOURCE_MAX_SIDE)
    if crop:
        if face is None:
            raise InputError(
                f"No face found in {loaded.name}. Use a photo where one face is clearly visible and upright, "
                "or switch off 'crop to the face' if the photo is already a tight face crop."
            )
        box = square_box(face.box, FACE_MARGIN, FACE_LIFT)
    else:
        box = whole_frame_box(rgb.shape[1], rgb.shape[0])
    return Source(rgb, resize_square(crop_box(rgb, box)), box, face, loaded.name, list(loaded.notes))


@dataclass
class DrivingPlan:
    """What the first pass over the driving video found: the crop box, and the reference frame if one was chosen."""

    box: tuple[int, int, int, int]
    frames: int
    reference_index: int | None = None
    reference: np.ndarray | None = None
    faces_found: int = 0
    notes: list[str] = field(default_factory=list)


def plan_driving(
    video: VideoInput,
    *,
    crop: bool = True,
    best_frame_of: Face | None = None,
    progress: Progress | None = None,
) -> DrivingPlan:
    """One pass over the video: a stable square face box (union of the faces found) and, if asked, the frame
    whose landmarks best match ``best_frame_of``'s (the photo's face)."""
    every = 1 if best_frame_of is not None else max(1, round(video.fps / DETECTIONS_PER_SECOND))
    target = _shape_signature(best_frame_of) if best_frame_of is not None else None
    union: list[int] | None = None
    best = (math.inf, None, None)
    count = found = 0
    for index, frame in enumerate(read_frames(video)):
        count += 1
        if index % every == 0 and (crop or target is not None):
            face, back = _detect(frame)
            if face is not None:
                found += 1
                left, top, right, bottom = (int(round(v * back)) for v in face.box)
                union = [left, top, right, bottom] if union is None else [
                    min(union[0], left), min(union[1], top), max(union[2], right), max(union[3], bottom)]
                if target is not None:
                    distance = float(np.sum((_shape_signature(face) - target) ** 2))
                    if distance < best[0]:
                        best = (distance, index, frame.copy())
        if progress and index % 10 == 0:
            progress(min(0.99, (index + 1) / video.frames_estimate), "finding the face in the driving video")
    if count == 0:
        raise InputError(f"{video.name} has no frames that could be decoded")
    height, width = frame.shape[:2]
    notes = []
    if crop:
        if union is None:
            raise InputError(
                f"No face found in the driving video {video.name}. Use a video with a face visible from the start, "
                "or switch off 'crop to the face' if it is already cropped to the face."
            )
        box = square_box(tuple(union), FACE_MARGIN, FACE_LIFT)
    else:
        box = whole_frame_box(width, height)
    if min(box[2] - box[0], box[3] - box[1]) < SIZE // 2:
        notes.append(f"the driving face is only about {box[2] - box[0]} px wide; it is enlarged to {SIZE} px")
    plan = DrivingPlan(box, count, faces_found=found, notes=notes)
    if target is not None:
        if best[1] is None:
            plan.notes.append("best-frame search found no face in the driving video; the first frame is the reference")
        else:
            plan.reference_index, plan.reference = best[1], resize_square(crop_box(best[2], box))
    return plan


# ----------------------------------------------------------------------------------------------- output frames
class PasteBack:
    """Puts each animated crop back into the photo, blended over a soft border so the seam does not show."""

    def __init__(self, source: Source, feather: float = 0.08) -> None:
        self.base = source.rgb.astype(np.float32)
        x0, y0, x1, y1 = source.box
        side = x1 - x0
        ramp = np.clip(np.minimum(np.arange(side), np.arange(side)[::-1]) / max(1.0, feather * side), 0.0, 1.0)
        alpha = np.minimum.outer(ramp, ramp)[..., None].astype(np.float32)
        height, width = self.base.shape[:2]
        self.dst = (slice(max(0, y0), min(height, y1)), slice(max(0, x0), min(width, x1)))
        self.src = (slice(self.dst[0].start - y0, self.dst[0].stop - y0), slice(self.dst[1].start - x0, self.dst[1].stop - x0))
        self.alpha = alpha[self.src]
        self.side = side

    def __call__(self, frame: np.ndarray) -> np.ndarray:
        big = cv2.resize(frame, (self.side, self.side), interpolation=cv2.INTER_CUBIC)[self.src]
        out = self.base.copy()
        region = out[self.dst]
        out[self.dst] = region + self.alpha * (big.astype(np.float32) - region)
        return np.clip(out + 0.5, 0, 255).astype(np.uint8)


def to_uint8(frame: np.ndarray) -> np.ndarray:
    return np.clip(frame * 255.0 + 0.5, 0, 255).astype(np.uint8)


@dataclass
class Animation:
    """The written video and what was done to make it."""

    path: Path
    frames: int
    fps: float
    has_audio: bool
    model: str
    mode: str
    source_box: tuple[int, int, int, int]
    driving_box: tuple[int, int, int, int]
    reference_frame: int
    notes: list[str]


@served("talking-heads")
def animate(
    source_image: str | Path | bytes,
    driving_video: str | Path,
    *,
    model: str = "fomm-vox",
    mode: str = "relative",
    adapt_scale: bool = True,
    best_frame: bool = False,
    crop_source: bool = True,
    crop_driving: bool = True,
    paste_back: bool = False,
    side_by_side: bool = False,
    batch: int | None = None,
    max_seconds: float | None = None,
    progress: Progress | None = None,
) -> Animation:
    """Animate the photo's face with the driving video's motion; returns the H.264 MP4 (driver's fps and audio)."""
    _check_options(model, mode)
    net = registry.load(model)
    _check_model_mode(net, model, mode)
    video = open_video(driving_video, max_seconds=max_seconds)
    source = prepare_source(source_image, crop=crop_source)
    if best_frame and source.face is None:
        raise InputError(f"'best frame' needs a face in {source.name} to compare with, and none was found")
    height, width = source.rgb.shape[:2] if paste_back else (SIZE, 3 * SIZE if side_by_side else SIZE)
    limits.check_video_pixels(video.frames_estimate * width * height, paste_back)
    plan = plan_driving(video, crop=crop_driving, best_frame_of=source.face if best_frame else None,
                        progress=(lambda f, t: progress(0.15 * f, t)) if progress else None)
    device = next(net.parameters()).device
    batch = batch or (BATCH_GPU if device.type == "cuda" else BATCH_CPU)
    paster = PasteBack(source) if paste_back else None
    done = 0

    def driving_crops() -> Iterator[np.ndarray]:
        for frame in read_frames(video):
            yield resize_square(crop_box(frame, plan.box))

    def output() -> Iterator[np.ndarray]:
        nonlocal done
        crops = driving_crops()
        shown: list[np.ndarray] = []

        def remember(frames: Iterator[np.ndarray]) -> Iterator[np.ndarray]:
            for frame in frames:
                shown.append(frame)
                yield frame

        animated = animate_frames(net, source.crop, remember(crops) if side_by_side else crops, mode=mode,
                                  adapt_scale=adapt_scale, reference=plan.reference, batch=batch)
        for result in animated:
            frame = to_uint8(result)
            if paster is not None:
                frame = paster(frame)
            elif side_by_side:
                frame = np.concatenate([source.crop, shown.pop(0), frame], axis=1)
            done += 1
            if progress:
                progress(0.15 + 0.85 * min(1.0, done / plan.frames), f"animating frame {done} of {plan.frames}")
            yield frame

    path = new_output_path(".mp4", prefix="talking-head")
    # the photo is the parent, the driver a component; pasted back or beside real frames, the video is a composite
    provenance = edited(model, source_image, driving_video, composite=paste_back or side_by_side,
                        description=f"{source.name} animated by {model} with the motion of {video.name}")
    write_mp4(output(), path, fps=video.fps, model=model, audio_path=video.path if video.has_audio else None,
              provenance=provenance)
    notes = [f"{source.name}: {note}" for note in source.notes] + list(plan.notes)
    if not video.has_audio:
        notes.append("the driving video has no sound, so the result is silent")
    return Animation(path, done, video.fps, video.has_audio, model, mode, source.box, plan.box,
                     plan.reference_index or 0, notes)
