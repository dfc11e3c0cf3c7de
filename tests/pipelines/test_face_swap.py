"""Creating a face swap with the bundled astronaut ↔ Grace Hopper pair: the swap keeps A's pose and takes B's
looks, videos keep their frames, fps and sound, smoothing lowers the measured flicker, bad inputs are named."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from PIL import Image

from gen_models.core import registry
from gen_models.core.errors import GenModelsError, InputError
from gen_models.media import align, provenance
from gen_models.media.face import face_finder
from gen_models.media.face_sets import extract
from gen_models.media.image import read_png_metadata
from gen_models.media.video import probe, write_mp4
from gen_models.pipelines.face_swap import OneEuro, extract_people, swap_image, swap_video
from gen_models.train.face_swap import to_images, to_tensor

EXAMPLES = Path(__file__).resolve().parents[2] / "spaces" / "face_swap" / "examples"
CLIP = EXAMPLES / "astronaut_clip.mp4"
PAIR = "faceswap-astronaut-hopper"


@pytest.fixture(scope="module")
def pair():
    registry.clear()
    return registry.create(PAIR, device="cpu")


@pytest.fixture(scope="module")
def faces():
    return extract([CLIP], 64, name="A").faces, extract([EXAMPLES / "grace_hopper_clip.mp4"], 64, name="B").faces


def _turn(face: np.ndarray, degrees: float) -> np.ndarray:
    return cv2.warpAffine(face, cv2.getRotationMatrix2D((32, 32), degrees, 1.0), (64, 64),
                          borderMode=cv2.BORDER_REPLICATE)


def _swap(pair, faces: list[np.ndarray], to: str = "b") -> np.ndarray:
    with torch.inference_mode():
        return to_images(pair(to_tensor(np.stack(faces), torch.device("cpu")), to))


def _tilt(face: np.ndarray) -> float:
    """The eye line's angle in degrees from dlib's landmarks (found on a padded 4× copy, the face as the box)."""
    big = cv2.resize(cv2.copyMakeBorder(face, 16, 16, 16, 16, cv2.BORDER_REPLICATE), None, fx=4, fy=4,
                     interpolation=cv2.INTER_CUBIC)
    points = np.asarray(face_finder().on_box(big, (64, 64, 319, 319)).landmarks, np.float64)
    dx, dy = points[0] - points[2]  # the image-right eye's outer corner minus the image-left eye's
    return float(np.degrees(np.arctan2(dy, dx)))


def _rotation_from(reference: np.ndarray, face: np.ndarray) -> float:
    """The rotation (whole degrees, ±16) of ``reference`` that correlates best with ``face`` inside the face mask."""
    mask = align.face_mask(64) > 0
    target = face.astype(np.float32)[mask]
    target -= target.mean()

    def score(degrees: float) -> float:
        turned = _turn(reference, degrees).astype(np.float32)[mask]
        turned -= turned.mean()
        return float((turned * target).sum() / np.sqrt((turned ** 2).sum() * (target ** 2).sum()))

    return max(np.arange(-16.0, 17.0), key=score)


def test_the_swap_keeps_as_pose_and_takes_bs_colours(pair, faces):
    """Decoder B on A's faces turned by ±10° (beyond what alignment removes): B's face, turned like A's."""
    a_faces, b_faces = faces
    b = b_faces[0]
    b_pose = _swap(pair, [b])[0]  # B as decoder B draws B upright
    cases = [(a_faces[i], degrees) for i in (0, 20, 40) for degrees in (10.0, -10.0)]
    swapped = _swap(pair, [_turn(a, degrees) for a, degrees in cases])
    for (_, degrees), out in zip(cases, swapped):
        found = _rotation_from(b_pose, out)
        assert abs(found - degrees) <= 5 < abs(found), (degrees, found)  # A's turn, not B's upright pose
    tilt_out = np.array([_tilt(out) for out in swapped])
    tilt_a = np.array([_tilt(_turn(a, degrees)) for a, degrees in cases])
    assert np.abs(tilt_out - tilt_a).mean() < np.abs(tilt_out - _tilt(b)).mean()  # dlib's landmarks agree
    mask = align.face_mask(64) > 0
    for (a, _), out in zip(cases, swapped):
        colour = {name: image[mask].mean(axis=0) for name, image in (("a", a), ("b", b), ("out", out))}
        assert np.linalg.norm(colour["out"] - colour["b"]) < np.linalg.norm(colour["out"] - colour["a"])


def test_a_video_swap_keeps_frames_fps_and_sound_and_smoothing_lowers_flicker():
    result = swap_video(CLIP, model=PAIR, smoothing="smoothed")
    info = probe(result.path)
    assert (info.video_codec, info.audio_codec, info.frames, info.fps) == ("h264", "aac", 60, 25.0)
    assert (info.width, info.height) == (256, 256) and "AI-generated" in info.comment
    assert result.faces_found == 60 and result.has_audio
    assert 0 < result.flicker["smoothed"] < result.flicker["per-frame"], result.flicker
    report = provenance.read(result.path)  # a composite: the clip's frames with generated faces pasted in
    assert report.intact and report.actions == ["c2pa.opened", "c2pa.edited"] and report.model == PAIR
    assert report.source_type == provenance.COMPOSITE_WITH_TRAINED_ALGORITHMIC_MEDIA
    assert report.ingredients == [f"{CLIP.name} (parentOf)"]
    side = swap_video(CLIP, model=PAIR, smoothing="per-frame", side_by_side=True)
    assert probe(side.path).width == 512 and side.flicker == pytest.approx(result.flicker)


def test_a_photo_swap_is_a_labelled_png_that_changes_only_the_face():
    result = swap_image(EXAMPLES / "astronaut.jpg", model=PAIR)
    out = np.asarray(Image.open(result.path).convert("RGB")).astype(int)
    original = np.asarray(Image.open(EXAMPLES / "astronaut.jpg").convert("RGB")).astype(int)
    changed = np.abs(out - original).max(axis=2) > 0
    assert out.shape == original.shape and 0.002 < changed.mean() < 0.1  # the face, not the suit or the flag
    ys, xs = np.nonzero(changed)
    face = face_finder().detect(original.astype(np.uint8))[0].box
    assert face[0] - 40 <= xs.mean() <= face[2] + 40 and face[1] - 40 <= ys.mean() <= face[3] + 40
    metadata = read_png_metadata(result.path)
    assert any("AI-generated" in v or "synthetic" in v.lower() for v in metadata.values()), metadata
    assert metadata["DigitalSourceType"] == provenance.COMPOSITE_WITH_TRAINED_ALGORITHMIC_MEDIA
    assert provenance.read(result.path).source_type == provenance.COMPOSITE_WITH_TRAINED_ALGORITHMIC_MEDIA


def test_one_euro_removes_jitter_but_follows_motion():
    rng = np.random.default_rng(0)
    still = OneEuro(25.0)
    noisy = [still(np.array([100.0]) + rng.normal(0, 1.0, 1)) for _ in range(100)]
    assert np.std(np.diff(np.array(noisy[20:]).ravel())) < 0.5  # raw jitter's frame-to-frame std is 1.4
    moving = OneEuro(25.0)
    track = [moving(np.array([4.0 * t])) for t in range(50)]
    assert abs(track[-1][0] - 4.0 * 49) < 15  # a head turning by 4 px a frame is followed within a few frames


def test_bad_inputs_get_messages_that_name_them(tmp_path):
    fake = tmp_path / "model.safetensors"
    fake.write_text("not weights")
    with pytest.raises(GenModelsError, match="model.safetensors is not a safetensors file"):
        swap_video(CLIP, checkpoint=fake)
    blank = write_mp4((np.full((96, 96, 3), 128, np.uint8) for _ in range(10)), tmp_path / "wall.mp4", 10.0)
    with pytest.raises(InputError, match="No face found in any frame of wall.mp4"):
        swap_video(blank, model=PAIR)
    assert not list(tmp_path.glob("face-swap*"))
    with pytest.raises(InputError, match=r"astronaut_clip.mp4 is 2.4 s long; the limit is 1 s"):
        swap_video(CLIP, model=PAIR, max_seconds=1)
    with pytest.raises(InputError, match="Only one person was given: add clips or photos of person B"):
        extract_people([CLIP], [], 64)
    with pytest.raises(InputError, match="direction must be one of a-to-b, b-to-a"):
        swap_video(CLIP, model=PAIR, direction="sideways")
    with pytest.raises(InputError, match="Unknown face-swap model 'fomm-vox'; choose one of: " + PAIR):
        swap_video(CLIP, model="fomm-vox")
