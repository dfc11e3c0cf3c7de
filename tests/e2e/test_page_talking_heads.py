"""Talking heads in the browser: the example with FOMM, TPSMM in avd mode, a 16-bit photo, bad photos."""

from __future__ import annotations

import re

import pytest
from bad_files import (
    ASTRONAUT,
    EXPECTED,
    NODDING,
    REFUSED_BY_IMAGE_INPUTS,
    bad_images,
    png_16bit,
)
from browse import (
    block,
    choose,
    error_badges,
    open_tab,
    press,
    text_of,
    toasts,
    upload,
    video_duration,
    wait_for,
    wait_for_message,
)

RESULT = "Result (H.264 MP4, the driver's fps and sound)"
PHOTO = "Photo (the face to animate)"
FRAMES = re.compile(r"(\d+) frames at ([\d.]+) fps")


def _animate(page, scope, model: str = "fomm-vox") -> float:
    """Press Animate and wait for this run's notes (naming ``model``) and its playable video."""
    press(scope, "Animate")
    wait_for(page, lambda: FRAMES.search(text_of(scope)) and f"with {model} " in text_of(scope),
             "the animation's notes", timeout=240)
    return wait_for(page, lambda: video_duration(block(scope, RESULT)), "a playable video")


def test_example_with_fomm_then_tpsmm_avd(page):
    scope = open_tab(page, "Talking heads")
    page.get_by_text("Astronaut photo + a nodding driver clip made from it", exact=True).click()
    duration = _animate(page, scope)
    frames, fps = FRAMES.search(text_of(scope)).groups()
    assert abs(duration - int(frames) / float(fps)) < 0.2
    assert "fomm-vox" in text_of(scope)

    choose(scope, "Model", "tpsmm-vox")
    page.get_by_text("avd (TPSMM only: the driver's pose with the photo's identity)", exact=True).click()
    page.get_by_text("side by side", exact=True).click()
    assert _animate(page, scope, "tpsmm-vox") > 0
    assert "tpsmm-vox (avd mode)" in text_of(scope)
    assert error_badges(scope) == 0 and not toasts(page)


def test_16bit_photo_is_animated_not_clipped(page, tmp_path):
    scope = open_tab(page, "Talking heads")
    upload(scope, PHOTO, png_16bit(ASTRONAUT, tmp_path / "astronaut16.png"))
    upload(scope, "Driving video (the motion)", NODDING)
    assert _animate(page, scope) > 0
    assert "No face found" not in text_of(scope)
    assert "astronaut16.png: 16-bit image converted to 8-bit" in text_of(scope)


@pytest.mark.parametrize("kind", ["text", "empty", "huge", "video"])
def test_bad_photos_name_the_file(page, tmp_path, kind):
    scope = open_tab(page, "Talking heads")
    refused = kind in REFUSED_BY_IMAGE_INPUTS
    upload(scope, PHOTO, bad_images(tmp_path)[kind], shown=not refused)
    upload(scope, "Driving video (the motion)", NODDING)
    press(scope, "Animate")
    wait_for_message(page, scope, "Upload a photo with a face" if refused else EXPECTED[kind])
    assert video_duration(block(scope, RESULT)) == 0
