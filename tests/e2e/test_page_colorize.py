"""Colorization in the browser: an example at two models, the render-factor sweep, 16-bit PNGs, bad uploads."""

from __future__ import annotations

import io

import numpy as np
import pytest
from bad_files import CAMERAMAN, EXPECTED, REFUSED_BY_IMAGE_INPUTS, bad_images, png_16bit
from browse import (
    block,
    choose,
    error_badges,
    image_sizes,
    open_tab,
    press,
    text_of,
    toasts,
    upload,
    wait_for,
    wait_for_message,
)
from PIL import Image

COMPARE = "Before / after (drag the handle)"


def _href(scope) -> str | None:
    link = block(scope, "Full-resolution PNG").locator("a")
    return link.first.get_attribute("href") if link.count() else None


def _result_png(page, scope, previous: str | None = None) -> np.ndarray:
    """The downloadable PNG, once it is a new one (not ``previous``)."""
    href = wait_for(page, lambda: _href(scope) not in (None, previous) and _href(scope), "the PNG download")
    return np.asarray(Image.open(io.BytesIO(page.request.get(href).body())))


def test_colorize_example_sweep_and_zhang(page):
    scope = open_tab(page, "Colorization")
    page.get_by_text("Cameraman (B&W)", exact=True).click()
    press(scope, "Colorize")
    sizes = wait_for(page, lambda: len(image_sizes(block(scope, COMPARE))) == 2 and image_sizes(block(scope, COMPARE)),
                     "the before/after slider")
    assert sizes[0] == sizes[1] and sizes[0][0] > 0
    result = _result_png(page, scope)
    assert result.shape[:2] == (sizes[0][1], sizes[0][0]) and result.ndim == 3
    assert "render factor 35" in text_of(scope)

    press(scope, "Render factor sweep (10, 20, 30, 40)")
    wait_for(page, lambda: len(image_sizes(block(scope, "Render factor sweep"))) >= 4, "four sweep images")

    choose(scope, "Model", "zhang-eccv16")
    press(scope, "Colorize")
    wait_for(page, lambda: "zhang-eccv16" in text_of(scope) and len(image_sizes(block(scope, COMPARE))) == 2,
             "Zhang's colours")
    assert error_badges(scope) == 0 and not toasts(page)


def test_colorize_16bit_png_equals_its_8bit_version(page, tmp_path):
    scope = open_tab(page, "Colorization")
    results, href = [], None
    for path in (CAMERAMAN, png_16bit(CAMERAMAN, tmp_path / "cameraman16.png")):
        upload(scope, "Photo", path)
        press(scope, "Colorize")
        results.append(_result_png(page, scope, previous=href).astype(int))
        href = _href(scope)
    assert results[0].shape == results[1].shape
    assert np.abs(results[0] - results[1]).max() <= 1
    assert "16-bit image converted to 8-bit" in text_of(scope)


@pytest.mark.parametrize("kind", ["text", "empty", "huge", "video"])
def test_colorize_bad_uploads_name_the_file(page, tmp_path, kind):
    scope = open_tab(page, "Colorization")
    refused = kind in REFUSED_BY_IMAGE_INPUTS
    upload(scope, "Photo", bad_images(tmp_path)[kind], shown=not refused)
    press(scope, "Colorize")
    wait_for_message(page, scope, "Upload a photo" if refused else EXPECTED[kind])
    assert not image_sizes(block(scope, COMPARE))
