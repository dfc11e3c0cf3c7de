"""Face generation and the latent walk tab in the browser, on a staged PGGAN in the genforce layout."""

from __future__ import annotations

import re

from browse import (
    block,
    error_badges,
    fill_number,
    image_sizes,
    open_tab,
    press,
    text_of,
    toasts,
    video_duration,
    wait_for,
)


def test_generate_faces_with_ages(page):
    scope = open_tab(page, "Face generation")
    fill_number(scope, "How many faces", 4)
    press(scope, "Generate")
    sizes = wait_for(page, lambda: len(image_sizes(block(scope, "Generated faces (click one, then download)"))) >= 4
                     and image_sizes(block(scope, "Generated faces (click one, then download)")), "four faces")
    assert (256, 256) in sizes
    assert "seed 0" in text_of(scope) and " y" in text_of(scope)  # captions: seed and predicted age

    press(scope, "🎲 Random seed")
    wait_for(page, lambda: block(scope, "First seed").locator("input").input_value() != "0", "a new seed")
    fill_number(scope, "How many faces", 1000)  # the slider stops at its maximum: 64 faces, each with its age
    press(scope, "Generate")
    gallery = block(scope, "Generated faces (click one, then download)")
    wait_for(page, lambda: len(re.findall(r"seed \d+ · \d+ y", text_of(gallery))) == 64, "64 faces with ages")


def test_latent_walk_arithmetic_directions_and_age(page):
    scope = open_tab(page, "Latent walk & arithmetic")
    fill_number(scope, "Frames per segment", 3)
    press(scope, "Render walk")
    wait_for(page, lambda: image_sizes(block(scope, "Animated GIF")), "the walk GIF")
    assert wait_for(page, lambda: video_duration(block(scope, "MP4 (H.264)")), "the walk MP4") > 0

    press(scope, "Compute A − B + C")
    grid = wait_for(page, lambda: image_sizes(block(scope, "A − B + C (middle) with jittered neighbours")), "a grid")
    assert grid[0] == (3 * 128, 3 * 128)

    press(scope, "Move along the direction")
    strips = scope.locator(".block").filter(has_text="−distance … original … +distance")
    wait_for(page, lambda: image_sizes(strips.first), "a SeFa strip")

    press(scope, "Make younger → older")
    ages = block(scope, "Predicted ages along the strip").locator("textarea, input").first
    wait_for(page, lambda: ages.input_value().count(" y") == 5, "the ages along the strip", timeout=300)
    assert error_badges(scope) == 0 and not toasts(page)
