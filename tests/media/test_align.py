"""Alignment, masks, merge and extraction for the face swap."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from gen_models.core.errors import InputError
from gen_models.media import align
from gen_models.media.face_sets import MIN_FACES, extract

EXAMPLES = Path(__file__).resolve().parents[2] / "spaces" / "face_swap" / "examples"
RNG = np.random.default_rng(0)


def test_alignment_maps_similar_landmarks_exactly_onto_the_template():
    angle, scale, shift = np.deg2rad(17), 2.3, np.array([40.0, 75.0])
    rotation = scale * np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    landmarks = align.TEMPLATE * 100 @ rotation.T + shift  # the template moved by a similarity transform
    matrix = align.alignment(landmarks, 64)
    mapped = landmarks @ matrix[:, :2].T + matrix[:, 2]
    np.testing.assert_allclose(mapped, align.TEMPLATE * 64, atol=1e-9)
    np.testing.assert_allclose(align.invert(matrix) @ np.r_[mapped[0], 1], landmarks[0], atol=1e-9)


def test_masks_cover_the_face_and_weight_eyes_and_mouth():
    mask, weights = align.face_mask(64), align.loss_weights(64)
    assert mask[0, 0] == 0 and mask[35, 32] == 1
    eye = (np.array(align.EYES[0]) * 64).astype(int)
    mouth = (np.array(align.MOUTH_CENTRE) * 64).astype(int)
    assert weights[eye[1], eye[0]] == align.EYE_WEIGHT and weights[mouth[1], mouth[0]] == align.MOUTH_WEIGHT
    assert (weights[mask == 0] == 0).all()
    soft = align.feathered_mask(64)
    assert (soft[mask == 0] == 0).all() and soft.max() == pytest.approx(1, abs=1e-3)


def test_merge_changes_only_pixels_inside_the_pasted_mask():
    frame = RNG.integers(0, 256, (120, 160, 3), dtype=np.uint8)
    face = RNG.integers(0, 256, (64, 64, 3), dtype=np.uint8)
    landmarks = align.TEMPLATE * 50 + [50, 30]
    matrix = align.alignment(landmarks, 64)
    mask = align.feathered_mask(64)
    for seamless in (False, True):
        out = align.merge(frame, face, matrix, mask, seamless=seamless)
        paste = align.paste_region(frame.shape, matrix, mask)
        inside = np.zeros(frame.shape[:2], bool)
        inside[paste.region] = paste.inside
        assert np.array_equal(out[~inside], frame[~inside])
        assert (out[inside] != frame[inside]).any()


def test_reinhard_matches_the_targets_colour_statistics_inside_the_mask():
    mask = align.face_mask(64)
    source = RNG.integers(60, 120, (64, 64, 3), dtype=np.uint8)
    target = RNG.integers(120, 220, (64, 64, 3), dtype=np.uint8)
    out = align.reinhard(source, target, mask)
    got, want = align.lab_stats(out, mask), align.lab_stats(target, mask)
    np.testing.assert_allclose(got[0], want[0], atol=1.5)
    np.testing.assert_allclose(got[1], want[1], rtol=0.1)


def test_extraction_aligns_every_frame_of_the_example_clip():
    faces = extract([EXAMPLES / "astronaut_clip.mp4"], 64, name="A")
    assert faces.counts.frames == 60 and faces.counts.kept == len(faces) == 60
    assert faces.faces.shape == (60, 64, 64, 3) and faces.matrices.shape == (60, 2, 3)
    assert faces.sources[0] == "astronaut_clip.mp4#0"
    # aligned faces of a head that nods by ±8° are nearly still: alignment took the motion out
    assert np.abs(faces.faces.astype(int) - faces.faces[:1]).mean() < 20


def test_extraction_filters_and_explains(tmp_path):
    from PIL import Image

    sharp = np.asarray(Image.open(EXAMPLES / "grace_hopper.jpg").convert("RGB"))
    blurred = cv2.GaussianBlur(sharp, (0, 0), 8)
    Image.fromarray(blurred).save(tmp_path / "blurred.png")
    noise = tmp_path / "noise.png"
    Image.fromarray(RNG.integers(0, 256, (200, 200, 3), dtype=np.uint8)).save(noise)
    with pytest.raises(InputError, match=r"person B: no usable face in noise.png \(0 faces kept from 1 frames "
                                         r"\(1 without a face"):
        extract([noise], 64, name="B")
    with pytest.raises(InputError, match=f"only 1 usable face.*at least {MIN_FACES} are needed"):
        extract([EXAMPLES / "grace_hopper.jpg", noise], 64, name="B")
    with pytest.raises(InputError, match="1 too blurred"):
        extract([tmp_path / "blurred.png"], 64, name="A")
    with pytest.raises(InputError, match="person A: upload at least one clip"):
        extract([], 64)
