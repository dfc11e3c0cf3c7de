"""Age prediction in the browser: an example, AgeNet on staged weights, and every kind of bad upload."""

from __future__ import annotations

import re

import pytest
from bad_files import EXPECTED, bad_images
from browse import (
    block,
    choose,
    close_toasts,
    error_badges,
    image_sizes,
    open_tab,
    plot_marks,
    press,
    text_of,
    toasts,
    wait_for,
    wait_for_message,
)


def test_age_example_and_agenet(page):
    scope = open_tab(page, "Age prediction")
    page.get_by_text("Astronaut photo", exact=True).click()
    press(scope, "Predict ages")
    sizes = wait_for(page, lambda: image_sizes(block(scope, "Faces found")), "the annotated photo")
    assert sizes == [(512, 512)]
    assert "1 face(s) with dlib" in text_of(scope)
    wait_for(page, lambda: plot_marks(scope, "rect") >= 8, "the age buckets chart")

    choose(scope, "Model", "AgeNet (Adience, 8 buckets)")
    press(scope, "Predict ages")
    wait_for(page, lambda: "1 face(s) with AgeNet (Adience" in text_of(scope), "AgeNet's answer")
    assert wait_for(page, lambda: image_sizes(block(scope, "Faces found")), "the annotated photo") == [(512, 512)]
    assert error_badges(scope) == 0 and not toasts(page)


@pytest.mark.parametrize("kind", ["text", "empty", "huge", "video"])
def test_age_bad_uploads_name_the_file(page, tmp_path, kind):
    scope = open_tab(page, "Age prediction")
    path = bad_images(tmp_path)[kind]
    block(scope, "Photos (one or more)").locator("input[type=file]").set_input_files(str(path))
    wait_for(page, lambda: path.stem in text_of(block(scope, "Photos (one or more)")) or toasts(page),
             "the upload to show")
    if toasts(page):  # the file picker's own type check (an .mp4 is not an image type)
        assert re.search(re.escape(path.name) + "|Invalid file type", " ".join(toasts(page)))
        close_toasts(page)
        return
    press(scope, "Predict ages")
    wait_for_message(page, scope, EXPECTED[kind])
    assert not image_sizes(block(scope, "Faces found"))
