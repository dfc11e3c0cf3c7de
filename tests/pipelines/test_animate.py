"""Talking heads: the official animate logic (relative keypoints, adapt scale, best frame) computed step by step in
the test equals the streamed, batched pipeline; end to end through the local Hub: face crops, H.264 with the
driver's audio, fps and frame count; bad inputs get clear messages."""

from __future__ import annotations

import hashlib
import io
import itertools
import uuid
from pathlib import Path

import numpy as np
import pytest
import torch
from media_fixtures import driving_clip
from PIL import Image
from random_weights import TINY_FOMM, tiny_fomm
from scipy.spatial import ConvexHull

from gen_models.core import registry
from gen_models.core.errors import InputError
from gen_models.media import provenance
from gen_models.media.video import probe, write_mp4
from gen_models.pipelines.animate import animate, animate_frames, prepare_source, to_tensor

EXAMPLES = Path(__file__).resolve().parents[2] / "spaces" / "age" / "examples"


pytestmark = pytest.mark.usefixtures("one_thread")


def astronaut() -> np.ndarray:
    return np.asarray(Image.open(EXAMPLES / "astronaut.jpg").convert("RGB"))


def face_region() -> np.ndarray:
    return astronaut()[20:286, 73:373]


def crops(count: int) -> list[np.ndarray]:
    from media_fixtures import nodding_frames

    return [np.asarray(Image.fromarray(f).resize((256, 256))) for f in nodding_frames(face_region(), count)]


def official_normalize_kp(kp_source, kp_driving, kp_driving_initial, adapt_movement_scale=True):
    """first-order-model animate.normalize_kp with relative movement and relative jacobians, written out."""
    if adapt_movement_scale:
        source_area = ConvexHull(kp_source["value"][0].numpy()).volume
        driving_area = ConvexHull(kp_driving_initial["value"][0].numpy()).volume
        scale = np.sqrt(source_area) / np.sqrt(driving_area)
    else:
        scale = 1
    new = dict(kp_driving)
    new["value"] = (kp_driving["value"] - kp_driving_initial["value"]) * scale + kp_source["value"]
    jacobian_diff = torch.matmul(kp_driving["jacobian"], torch.inverse(kp_driving_initial["jacobian"]))
    new["jacobian"] = torch.matmul(jacobian_diff, kp_source["jacobian"])
    return new


def official_make_animation(model, source, driving, adapt_movement_scale=True):
    """demo.make_animation: one frame at a time, the first driving frame as the initial one."""
    with torch.no_grad():
        src = to_tensor([source], torch.device("cpu"))
        kp_source = model.kp_detector(src)
        kp_initial = model.kp_detector(to_tensor([driving[0]], torch.device("cpu")))
        out = []
        for frame in driving:
            kp_driving = model.kp_detector(to_tensor([frame], torch.device("cpu")))
            kp_norm = official_normalize_kp(kp_source, kp_driving, kp_initial, adapt_movement_scale)
            prediction = model.generator(src, kp_source=kp_source, kp_driving=kp_norm)["prediction"]
            out.append(prediction[0].permute(1, 2, 0).numpy())
    return out


def test_streamed_batches_equal_the_official_frame_by_frame_logic():
    model = tiny_fomm()
    source = np.asarray(Image.fromarray(face_region()).resize((256, 256)))
    driving = crops(5)
    for adapt in (True, False):
        expected = official_make_animation(model, source, driving, adapt)
        got = list(animate_frames(model, source, iter(driving), adapt_scale=adapt, batch=3))
        assert len(got) == len(expected) == 5
        assert max(float(np.abs(g - e).max()) for g, e in zip(got, expected)) < 1e-4
        assert float(np.abs(got[3] - got[0]).max()) > 1e-3  # the motion changes the output
    absolute = list(animate_frames(model, source, iter(driving), mode="absolute", batch=4))
    assert float(np.abs(absolute[2] - expected[2]).max()) > 1e-3


def test_best_frame_equals_the_official_backward_forward_passes():
    model = tiny_fomm(1)
    source = np.asarray(Image.fromarray(face_region()).resize((256, 256)))
    driving = crops(6)
    best = 3
    forward = official_make_animation(model, source, driving[best:])
    backward = official_make_animation(model, source, driving[: best + 1][::-1])
    expected = backward[::-1] + forward[1:]
    got = list(animate_frames(model, source, iter(driving), reference=driving[best], batch=4))
    assert len(got) == 6
    assert max(float(np.abs(g - e).max()) for g, e in zip(got, expected)) < 1e-4


def test_frames_stream_from_an_endless_video():
    model = tiny_fomm()
    frame = crops(1)[0]
    first = list(itertools.islice(animate_frames(model, frame, itertools.repeat(frame), batch=2), 3))
    assert len(first) == 3 and first[0].shape == (256, 256, 3)


@pytest.fixture
def fomm_on_hub(hub):
    model = tiny_fomm()
    buffer = io.BytesIO()
    torch.save({"generator": model.generator.state_dict(), "kp_detector": model.kp_detector.state_dict(),
                "epoch": 99}, buffer)
    data = buffer.getvalue()
    repo = f"test-org/fomm-{uuid.uuid4().hex[:8]}"
    hub.hub.add(repo, "vox-cpk.pth.tar", data)
    hub.write_manifest(**{"fomm-vox": {
        "repo_id": repo, "filename": "vox-cpk.pth.tar", "task": "talking-head", "architecture": "fomm", "config": TINY_FOMM,
        "sha256": hashlib.sha256(data).hexdigest(), "size": len(data), "description": "tiny test FOMM",
    }})
    registry.clear()
    yield "fomm-vox"
    registry.clear()


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    return driving_clip(face_region(), tmp_path_factory.mktemp("clips") / "driver.mp4", frames=12, fps=12.5)


def test_animate_end_to_end_keeps_fps_frames_and_sound(fomm_on_hub, clip):
    result = animate(EXAMPLES / "astronaut.jpg", clip, model=fomm_on_hub, best_frame=True)
    info = probe(result.path)
    driver = probe(clip)
    assert (info.video_codec, info.audio_codec) == ("h264", "aac")
    assert info.frames == driver.frames == result.frames == 12 and info.fps == driver.fps == 12.5
    assert (info.width, info.height) == (256, 256) and "AI-generated" in info.comment
    report = provenance.read(result.path)  # an edit of the photo, with the driver as a component
    assert report.intact and report.actions == ["c2pa.opened", "c2pa.edited"] and report.model == fomm_on_hub
    assert report.source_type == provenance.TRAINED_ALGORITHMIC_MEDIA
    assert report.ingredients == ["astronaut.jpg (parentOf)", "driver.mp4 (componentOf)"]
    assert 0 <= result.reference_frame < 12
    face_box = (179, 83, 266, 170)  # dlib's box on the astronaut photo
    x0, y0, x1, y1 = result.source_box
    assert x1 - x0 == y1 - y0 > 2 * (face_box[2] - face_box[0])  # square, with room around the face
    assert x0 < face_box[0] and y0 < face_box[1] and x1 > face_box[2] and y1 > face_box[3]


def test_paste_back_and_side_by_side_layouts(fomm_on_hub, clip, tmp_path):
    silent = driving_clip(face_region(), tmp_path / "silent.mp4", frames=5, fps=10, audio=False)
    pasted = animate(EXAMPLES / "astronaut.jpg", silent, model=fomm_on_hub, paste_back=True)
    info = probe(pasted.path)
    assert (info.width, info.height, info.frames, info.audio_codec) == (512, 512, 5, None)
    assert any("no sound" in note for note in pasted.notes)
    assert provenance.read(pasted.path).source_type == provenance.COMPOSITE_WITH_TRAINED_ALGORITHMIC_MEDIA
    wide = animate(EXAMPLES / "astronaut.jpg", silent, model=fomm_on_hub, side_by_side=True)
    assert (probe(wide.path).width, probe(wide.path).height) == (768, 256)


def test_vertical_and_uncropped_inputs(fomm_on_hub, tmp_path):
    tall = driving_clip(face_region(), tmp_path / "tall.mp4", frames=4, fps=8, size=(180, 320), audio=False)
    result = animate(EXAMPLES / "face_64.png", tall, model=fomm_on_hub, crop_source=False)
    assert result.frames == 4 and result.source_box == (0, 0, 64, 64)
    tiny = tmp_path / "tiny.mp4"
    write_mp4([np.full((40, 40, 3), 90 + i, np.uint8) for i in range(3)], tiny, fps=5)
    small = animate(EXAMPLES / "astronaut.jpg", tiny, model=fomm_on_hub, crop_driving=False)
    assert small.frames == 3 and any("enlarged" in note for note in small.notes)


def test_bad_inputs_get_clear_messages(fomm_on_hub, clip, tmp_path):
    with pytest.raises(InputError, match="No face found in coffee.jpg"):
        animate(EXAMPLES / "coffee.jpg", clip, model=fomm_on_hub)
    with pytest.raises(InputError, match="still image"):
        animate(EXAMPLES / "astronaut.jpg", EXAMPLES / "coffee.jpg", model=fomm_on_hub)
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(500))
    with pytest.raises(InputError, match="could not be read as a video"):
        animate(EXAMPLES / "astronaut.jpg", broken, model=fomm_on_hub)
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    with pytest.raises(InputError, match="empty"):
        animate(EXAMPLES / "astronaut.jpg", empty, model=fomm_on_hub)
    faceless = tmp_path / "faceless.mp4"
    write_mp4([np.full((96, 96, 3), 40 * i, np.uint8) for i in range(4)], faceless, fps=4)
    with pytest.raises(InputError, match="No face found in the driving video"):
        animate(EXAMPLES / "astronaut.jpg", faceless, model=fomm_on_hub)
    with pytest.raises(InputError, match="limit is 0.5 s"):
        animate(EXAMPLES / "astronaut.jpg", clip, model=fomm_on_hub, max_seconds=0.5)
    with pytest.raises(InputError, match="avd"):
        animate(EXAMPLES / "astronaut.jpg", clip, model=fomm_on_hub, mode="avd")
    with pytest.raises(InputError, match="Unknown talking-head model"):
        animate(EXAMPLES / "astronaut.jpg", clip, model="nope")


def test_source_crop_is_square_and_padded_not_squashed():
    source = prepare_source(EXAMPLES / "astronaut.jpg")
    assert source.crop.shape == (256, 256, 3)
    whole = prepare_source(EXAMPLES / "coffee.jpg", crop=False)  # 600×400: padded to 600×600
    assert whole.box == (0, -100, 600, 500) and whole.crop.shape == (256, 256, 3)


def official_tpsmm_animation(model, source, driving, mode):
    """TPSMM demo.make_animation (relative_kp with its convex-hull scale, standard, avd), one frame at a time."""
    cpu = torch.device("cpu")
    with torch.no_grad():
        src = to_tensor([source], cpu)
        kp_source = model.kp_detector(src)
        kp_initial = model.kp_detector(to_tensor([driving[0]], cpu))
        out = []
        for frame in driving:
            kp_driving = model.kp_detector(to_tensor([frame], cpu))
            if mode == "relative":
                scale = np.sqrt(ConvexHull(kp_source["fg_kp"][0].numpy()).volume) / np.sqrt(
                    ConvexHull(kp_initial["fg_kp"][0].numpy()).volume)
                kp_norm = {"fg_kp": (kp_driving["fg_kp"] - kp_initial["fg_kp"]) * scale + kp_source["fg_kp"]}
            elif mode == "avd":
                kp_norm = model.avd_network(kp_source, kp_driving)
            else:
                kp_norm = kp_driving
            dense = model.dense_motion_network(source_image=src, kp_driving=kp_norm, kp_source=kp_source,
                                               bg_param=None, dropout_flag=False)
            out.append(model.inpainting_network(src, dense)["prediction"][0].permute(1, 2, 0).numpy())
    return out


def test_tpsmm_modes_equal_the_official_demo_logic():
    from random_weights import tiny_tpsmm

    model = tiny_tpsmm()
    frames = [np.asarray(Image.fromarray(f).resize((64, 64))) for f in crops(4)]
    for mode, ours in (("relative", "relative"), ("standard", "absolute"), ("avd", "avd")):
        expected = official_tpsmm_animation(model, frames[2], frames, mode)
        got = list(animate_frames(model, frames[2], iter(frames), mode=ours, batch=2))
        assert max(float(np.abs(g - e).max()) for g, e in zip(got, expected)) < 1e-4, mode


def test_a_stopped_render_writes_no_file(fomm_on_hub, clip):
    from gen_models.core.errors import Cancelled
    from gen_models.media.outputs import output_dir

    def report(fraction, text):
        if "frame 3 " in text:
            raise Cancelled("stopped")

    before = set(output_dir().glob("talking-head-*.mp4"))
    with pytest.raises(Cancelled):
        animate(EXAMPLES / "astronaut.jpg", clip, model=fomm_on_hub, progress=report)
    assert set(output_dir().glob("talking-head-*.mp4")) == before


def test_output_pixels_are_bounded_by_name(fomm_on_hub, clip, monkeypatch):
    monkeypatch.setenv("GEN_MODELS_MAX_VIDEO_MEGAPIXELS", "1")  # 12 frames of 256×256 are 0.8 MP; pasted back, more
    assert animate(EXAMPLES / "astronaut.jpg", clip, model=fomm_on_hub).frames == 12
    with pytest.raises(InputError, match=r"the limit is 1 \(GEN_MODELS_MAX_VIDEO_MEGAPIXELS raises it\)"):
        animate(EXAMPLES / "astronaut.jpg", clip, model=fomm_on_hub, paste_back=True)
