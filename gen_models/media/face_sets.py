"""Extraction for the face swap: every frame of a person's clips and photos → aligned faces, filtered, counted.

Each frame goes through dlib's detector (the largest face is the person's), its 5 landmarks and the similarity
alignment of :mod:`gen_models.media.align`. Faces too small to hold the model's detail, too blurred (variance of the
Laplacian of the aligned face below :data:`BLUR_THRESHOLD`) and frames with no face are counted and dropped. The
frame → face matrix of every kept face is kept with it, which is what the merge inverts.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from gen_models.core.errors import InputError
from gen_models.media.align import alignment, warp_face
from gen_models.media.face import face_finder
from gen_models.media.image import load_image
from gen_models.media.video import is_still_image, open_video, read_frames

VIDEO_SUFFIXES = (".mp4", ".mov", ".webm", ".avi", ".mkv", ".m4v", ".gif")
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff")
MIN_FACE = 40  # detector boxes narrower than this (in frame pixels) are "too small"
BLUR_THRESHOLD = 100.0  # variance of the Laplacian of the face at 64 px: sharp faces score 500–5000; a 1 px blur ~130
MAX_FACES = 400  # faces kept per person; longer inputs are sampled evenly
MIN_FACES = 4  # the least a person needs to be trained on
DETECT_SIDE = 640  # frames are searched for faces on a copy at most this large

Progress = Callable[[float, str], None]


@dataclass(frozen=True)
class Counts:
    """What extraction saw: frames read, and why the ones without a kept face were dropped."""

    frames: int = 0
    no_face: int = 0
    too_small: int = 0
    blurred: int = 0
    kept: int = 0

    def text(self) -> str:
        return (f"{self.kept} faces kept from {self.frames} frames ({self.no_face} without a face, "
                f"{self.too_small} too small, {self.blurred} too blurred)")


@dataclass
class FaceSet:
    """One person's aligned faces: uint8 (N, size, size, 3), their frame → face matrices (N, 2, 3), where each came
    from ("file#frame"), and the counts."""

    name: str
    size: int
    faces: np.ndarray
    matrices: np.ndarray
    sources: list[str]
    counts: Counts
    notes: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.faces)


def blur_score(face: np.ndarray) -> float:
    """Variance of the Laplacian of the face's grey image at 64×64 (low = blurred)."""
    gray = cv2.cvtColor(cv2.resize(face, (64, 64), interpolation=cv2.INTER_AREA), cv2.COLOR_RGB2GRAY)
    return float(cv2.Laplacian(gray, cv2.CV_64F).var())


def largest_face(rgb: np.ndarray, max_side: int = DETECT_SIDE) -> tuple[tuple[int, int, int, int], np.ndarray] | None:
    """(box, 5 landmarks as float (5, 2)) of the largest face in frame coordinates, or None. Faces are searched on a
    copy at most ``max_side`` large; the landmarks are then found on the full frame."""
    finder = face_finder()
    scale = min(1.0, max_side / max(rgb.shape[:2]))
    small = cv2.resize(rgb, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA) if scale < 1 else rgb
    faces = finder.detect(small)
    if not faces:
        return None
    face = faces[0]
    if scale < 1:
        box = tuple(int(round(v / scale)) for v in face.box)
        face = finder.on_box(rgb, box)
    return face.box, np.asarray(face.landmarks, np.float64)


def frames_of(path: str | Path, *, max_seconds: float | None = None) -> tuple[str, int, Iterator[np.ndarray]]:
    """(display name, estimated frame count, frames) of a video or a photo."""
    path = Path(path)
    if path.suffix.lower() in IMAGE_SUFFIXES or (path.suffix.lower() not in VIDEO_SUFFIXES and is_still_image(path)):
        loaded = load_image(path)
        return loaded.name, 1, iter([loaded.rgb])
    video = open_video(path, max_seconds=max_seconds)
    return video.name, video.frames_estimate, read_frames(video)


def extract(inputs: Sequence[str | Path], size: int, *, name: str = "A", max_faces: int = MAX_FACES,
            max_seconds: float | None = None, progress: Progress | None = None) -> FaceSet:
    """The aligned faces of one person from clips and photos; errors name the file when nothing usable is found."""
    if not inputs:
        raise InputError(f"person {name}: upload at least one clip or a few photos")
    plans = [frames_of(p, max_seconds=max_seconds) for p in inputs]
    total = sum(estimate for _, estimate, _ in plans)
    every = max(1, int(np.ceil(total / max_faces)))  # sample long inputs evenly rather than keep only their start
    faces, matrices, sources = [], [], []
    frames = no_face = too_small = blurred = 0
    seen = 0
    for file_name, _, iterator in plans:
        for index, rgb in enumerate(iterator):
            seen += 1
            if (seen - 1) % every:
                continue
            frames += 1
            found = largest_face(rgb)
            if progress and frames % 5 == 0:
                progress(min(0.99, seen / max(total, 1)), f"person {name}: finding faces, frame {seen} of ~{total}")
            if found is None:
                no_face += 1
                continue
            box, landmarks = found
            if box[2] - box[0] + 1 < MIN_FACE:
                too_small += 1
                continue
            matrix = alignment(landmarks, size)
            face = warp_face(rgb, matrix, size)
            if blur_score(face) < BLUR_THRESHOLD:
                blurred += 1
                continue
            faces.append(face)
            matrices.append(matrix)
            sources.append(f"{file_name}#{index}")
    counts = Counts(frames, no_face, too_small, blurred, len(faces))
    names = ", ".join(file_name for file_name, _, _ in plans)
    if not faces:
        raise InputError(f"person {name}: no usable face in {names} ({counts.text()}). Use clips or photos where "
                         f"the face is frontal, at least {MIN_FACE} px wide and in focus.")
    if len(faces) < MIN_FACES:
        raise InputError(f"person {name}: only {len(faces)} usable face(s) in {names}; at least {MIN_FACES} are "
                         f"needed ({counts.text()}). Add a longer clip or more photos.")
    notes = [] if every == 1 else [f"person {name}: every {every}th frame was used (at most {max_faces} faces)"]
    return FaceSet(name, size, np.stack(faces), np.stack(matrices), sources, counts, notes)


def gallery(faces: FaceSet, count: int = 24) -> list[np.ndarray]:
    """Up to ``count`` of the set's faces, evenly spread over it."""
    picks = np.linspace(0, len(faces) - 1, min(count, len(faces))).round().astype(int)
    return [faces.faces[i] for i in picks]
