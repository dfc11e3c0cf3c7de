"""Classic labs in the browser: digits, live training (Start → Stop → Resume), autoencoder views, CycleGAN."""

from __future__ import annotations

import hashlib
import re

from browse import (
    block,
    error_badges,
    eventually,
    fill_number,
    image_sizes,
    legend,
    open_tab,
    plot_marks,
    press,
    status_text,
    text_of,
    toasts,
    upload,
    wait_for,
    wait_for_toast,
    wait_resumed_run,
)

STEP = re.compile(r"epoch (\d+)/(\d+), step (\d+)/(\d+)")
STOPPED = re.compile(r"stopped after (\d+) epoch\(s\), (\d+) steps")
FINISHED = re.compile(r"finished after (\d+) epoch\(s\), (\d+) steps")


def test_dcgan_digits_generate_and_walk(page):
    scope = open_tab(page, "Classic labs", "DCGAN digits")
    press(scope, "Generate")
    sizes = wait_for(page, lambda: image_sizes(block(scope, "Generated digits")), "a digit grid")
    assert sizes[0][0] > 400 and sizes[0][1] > 100
    press(scope, "Latent walk (GIF)")
    walk = wait_for(page, lambda: image_sizes(block(scope, "Latent walk")), "a latent walk GIF")
    assert walk[0][0] > 0
    assert error_badges(scope) == 0 and not toasts(page)

    box = block(scope, "Walk through seeds").locator("textarea, input").first
    box.fill("1, x")
    press(scope, "Latent walk (GIF)")
    wait_for_toast(page, "Keyframes are seeds")
    assert not image_sizes(block(scope, "Latent walk")), "the previous walk stays on screen beside the error"


def _grid_digest(page, target) -> str:
    src = target.locator("img").first.get_attribute("src")
    return hashlib.sha256(page.request.get(src).body()).hexdigest()


def _status(scope) -> str:
    return status_text(scope)


def _start_stop_resume(page, scope, loss_metrics: set[str]) -> None:
    """Start → loss points and an epoch grid → Stop → Resume continues from the step it stopped at."""
    press(scope, "Start")
    plots = scope.locator(".block").filter(has=page.locator(".vega-embed"))
    wait_for(page, lambda: plot_marks(plots.first) and loss_metrics <= set(legend(plots.first)), "loss curves")
    grid_block = block(scope, next(label for label in (
        "After the latest epoch (fixed noise: seeds 0–63)",
        "After the latest epoch (test digits above their reconstructions)") if block(scope, label).count()))
    wait_for(page, lambda: image_sizes(grid_block), "the first epoch's grid")
    first_grid = _grid_digest(page, grid_block)

    press(scope, "Stop")
    stopped = wait_for(page, lambda: STOPPED.search(_status(scope)), "the run to stop")
    stopped_step = int(stopped.group(2))
    assert stopped_step > 0
    checkpoint = block(scope, "Checkpoint (resumable with python -m gen_models.train … --resume)")
    wait_for(page, lambda: checkpoint.locator("a").count(), "the stopped run's checkpoint to download")

    fill_number(scope, "Resume for more epochs", 1)
    press(scope, "Resume")
    wait_resumed_run(page, scope, STEP, FINISHED, stopped_step)
    wait_for(page, lambda: image_sizes(grid_block), "the last epoch's grid")
    assert _grid_digest(page, grid_block) != first_grid, "the grid changes between epochs"
    assert error_badges(scope) == 0 and not toasts(page)


def test_train_a_dcgan_start_stop_resume(page):
    scope = open_tab(page, "Classic labs", "Train a DCGAN")
    fill_number(scope, "Batch (0: the architecture's)", 32)
    fill_number(scope, "Epochs", 20)
    _start_stop_resume(page, scope, {"d_loss", "g_loss"})
    accuracy = scope.locator(".block").filter(has=page.locator(".vega-embed")).nth(1)
    assert {"d_acc_real", "d_acc_fake"} <= set(legend(accuracy))


def test_train_an_autoencoder_start_stop_resume(page):
    scope = open_tab(page, "Classic labs", "Autoencoders", "Train an autoencoder")
    page.get_by_text("conv", exact=True).click()  # slower than the dense one: time to press Stop mid-run
    fill_number(scope, "Epochs", 100)
    _start_stop_resume(page, scope, {"loss"})


def test_autoencoder_views(page):
    scope = open_tab(page, "Classic labs", "Autoencoders", "Reconstruct")
    press(scope, "Reconstruct")
    wait_for(page, lambda: image_sizes(block(scope, "Inputs (top) and reconstructions (bottom)")), "reconstructions")
    assert "Test MSE" in text_of(scope)

    scope = open_tab(page, "Denoise")
    press(scope, "Add noise and denoise")
    wait_for(page, lambda: image_sizes(block(scope, "Clean / noisy / denoised")), "denoised digits")
    assert "→ denoised" in text_of(scope)

    scope = open_tab(page, "Anomalies")
    press(scope, "Score")
    wait_for(page, lambda: image_sizes(block(scope, "Worst reconstructed inputs")), "the worst inputs")
    bars = scope.locator(".block").filter(has=page.locator(".vega-embed")).first
    assert plot_marks(bars, "rect") > 0 and "AUROC" in text_of(scope)
    fill_number(scope, "Threshold (MSE)", -1)
    press(scope, "Score")
    wait_for_toast(page, "Threshold \\(MSE\\).*less than minimum value 0")
    assert "AUROC" not in text_of(scope), "the previous score stays on screen beside the error"

    scope = open_tab(page, "Latent map")
    assert eventually(lambda: not toasts(page), 5), "the error toast is dismissed by the tab switch"
    press(scope, "Map the test digits' codes")
    points = scope.locator(".block").filter(has=page.locator(".vega-embed")).first
    wait_for(page, lambda: plot_marks(points, "symbol") > 100, "the latent map's points")
    fill_number(scope, "x", 0.5)
    press(scope, "Decode (x, y)")
    wait_for(page, lambda: image_sizes(block(scope, "Decoded point")), "a decoded digit")
    assert error_badges(scope) == 0


def test_cyclegan_translate_and_a_bad_upload(page, tmp_path):
    from bad_files import ASTRONAUT

    scope = open_tab(page, "Classic labs", "CycleGAN horse ↔ zebra")
    upload(scope, "Photo", ASTRONAUT)
    press(scope, "Translate")
    sizes = wait_for(page, lambda: image_sizes(block(scope, "Translated (PNG, labelled AI-generated)")),
                     "a translated photo")
    assert sizes[0] == (512, 512)
    assert error_badges(scope) == 0

    fake = tmp_path / "horse.png"
    fake.write_text("not a horse")
    upload(scope, "Photo", fake)
    press(scope, "Translate")
    wait_for_toast(page, "horse.png is not an image")
    assert not image_sizes(block(scope, "Translated (PNG, labelled AI-generated)"))
