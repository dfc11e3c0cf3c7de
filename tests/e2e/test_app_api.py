"""The same app through gradio_client: bad photos are refused with a message naming the file, and a 16-bit PNG gives
the result of its 8-bit version (Gradio no longer clips it before our loader sees it)."""

from __future__ import annotations

import numpy as np
import pytest
from bad_files import ASTRONAUT, CAMERAMAN, NODDING, png_16bit
from PIL import Image


@pytest.fixture(scope="module")
def client(app):
    from gradio_client import Client

    return Client(app.url, verbose=False)


def _file(path):
    from gradio_client import handle_file

    return handle_file(str(path))


CALLS = {
    "/colorize": lambda photo: (photo, "deoldify-artistic", 10, True),
    "/translate": lambda photo: (photo, "cyclegan-horse2zebra", 256),
    "/animate": lambda photo: (photo, _file(NODDING), "fomm-vox", "relative", True, False, True, True, "face"),
}


@pytest.mark.parametrize("endpoint", sorted(CALLS))
def test_text_named_photo_png_is_refused_by_name(client, tmp_path, endpoint):
    from gradio_client import handle_file

    fake = tmp_path / "photo.png"
    fake.write_text("not a photo")
    with pytest.raises(Exception) as info:
        client.predict(*CALLS[endpoint](handle_file(str(fake))), api_name=endpoint)
    assert "photo.png" in str(info.value) and "not an image" in str(info.value)


@pytest.mark.parametrize("endpoint, source", [("/colorize", CAMERAMAN), ("/translate", ASTRONAUT)])
def test_16bit_png_gives_the_8bit_result(client, tmp_path, endpoint, source):
    from gradio_client import handle_file

    def result(path):
        answer = client.predict(*CALLS[endpoint](handle_file(str(path))), api_name=endpoint)
        png = answer[1] if endpoint == "/colorize" else answer
        return np.asarray(Image.open(png)).astype(int)

    eight, sixteen = result(source), result(png_16bit(source, tmp_path / f"{source.stem}16.png"))
    assert eight.shape == sixteen.shape and np.abs(eight - sixteen).max() <= 1


def test_range_errors_name_the_control(client):
    with pytest.raises(Exception, match="How many faces: Value 1000 is greater than maximum value 64"):
        client.predict("pggan-celebahq-1024", 0, 1000, "64", "", False, api_name="/generate_faces")
    with pytest.raises(Exception, match="Render factor \\(DeOldify; ×16 px\\): Value 50 is greater than maximum"):
        client.predict(_file(CAMERAMAN), "deoldify-artistic", 50, True, api_name="/colorize")
    with pytest.raises(Exception, match="Frames per second: Value 0 is less than minimum value 1"):
        client.predict("tutorial-all", "1, 2", 3, 0, api_name="/digit_walk")


FACE_SWAP_EXAMPLES = ASTRONAUT.parents[2] / "face_swap" / "examples"


def test_swap_faces_with_the_bundled_pair_gives_an_h264_clip_of_every_frame(client):
    import re

    from gen_models.media.video import probe

    clip = FACE_SWAP_EXAMPLES / "astronaut_clip.mp4"
    video, image, notes = client.predict(_file(clip), None, "faceswap-astronaut-hopper", None, "a-to-b",
                                         "smoothed", False, False, api_name="/swap_faces")
    path = video["video"] if isinstance(video, dict) else video
    info, source = probe(path), probe(clip)
    assert image is None
    assert info.video_codec == "h264" and info.frames == source.frames == 60
    assert abs(info.fps - 25) < 0.01 and info.audio_codec is not None
    assert (info.width, info.height) == (source.width, source.height)
    assert "60 frames at 25 fps" in notes and "faceswap-astronaut-hopper" in notes
    assert re.search(r"per-frame \d+\.\d+×, smoothed \d+\.\d+×", notes), notes


def test_train_face_swap_answers_with_per_step_metrics_and_files(client):
    clips = [_file(FACE_SWAP_EXAMPLES / "astronaut_clip.mp4")], [_file(FACE_SWAP_EXAMPLES / "grace_hopper_clip.mp4")]
    result, files = client.predict(*clips, "original", 64, 8, 20, 4, 0, api_name="/train_face_swap")
    assert result["steps"] == 20
    assert {"loss_a", "loss_b"} <= set(result["metrics"])
    assert len(result["per_step"]) == 20 and [r["step"] for r in result["per_step"]] == list(range(1, 21))
    assert all(np.isfinite(r["loss_a"]) and np.isfinite(r["loss_b"]) for r in result["per_step"])
    names = sorted(str(f).rsplit(".", 1)[-1] for f in files)
    assert len(files) == 3 and "safetensors" in names and "json" in names, files
