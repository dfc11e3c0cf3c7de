"""Face swap in the browser: extract the example faces, train a pair (Start → finished; Start → Stop → Resume), swap
the example clip and a photo with the bundled pair, and the messages for a bad checkpoint and a faceless photo."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
from browse import (
    block,
    error_badges,
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
    video_duration,
    wait_for,
    wait_for_toast,
    wait_resumed_run,
)
from PIL import Image

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "spaces" / "face_swap" / "examples"
TAB = "Face swap"
EXTRACT, TRAIN, SWAP = "1 · Extract faces", "2 · Train", "3 · Swap"
KEPT = "60 faces kept from 60 frames"
RESULT_VIDEO = "Result (H.264 MP4, the input's fps and sound; labelled AI-generated)"
RESULT_IMAGE = "Result (PNG, labelled AI-generated)"
PHOTO = "…or a photo of person A"
CHECKPOINT = "…or upload a checkpoint (.safetensors from the training above)"
FILES = "Model (.safetensors) + card (.json) + resumable checkpoint"
STEP = re.compile(r"preview (\d+)/(\d+), step (\d+)/(\d+)")
STOPPED = re.compile(r"stopped after (\d+) preview\(s\), (\d+) steps")
FINISHED = re.compile(r"finished after (\d+) preview\(s\), (\d+) steps")
FLICKER = re.compile(r"per-frame (\d+\.\d+)×, smoothed (\d+\.\d+)×")


def _status(scope) -> str:
    return status_text(scope)


def _extract_example(page):
    """The example row through "Extract faces": both galleries show faces and the counts say 60 of 60 each."""
    scope = open_tab(page, TAB, EXTRACT)
    page.get_by_text("Astronaut clip (A) + Grace Hopper clip (B)", exact=True).click()
    for label in ("Person A: clips or photos (the face that gets replaced)", "Person B: clips or photos (the new face)"):
        wait_for(page, lambda label=label: block(scope, label).locator("a, .file-preview, [data-testid=file]").count(),
                 f"the example file in {label}")
    press(scope, "Extract faces")
    wait_for(page, lambda: text_of(scope).count(KEPT) == 2, "both people's counts")
    for label in ("A: aligned faces", "B: aligned faces"):
        wait_for(page, lambda label=label: image_sizes(block(scope, label)), f"faces in {label}")
    return scope


def test_extract_the_example_faces(page):
    scope = _extract_example(page)
    assert "go on to 2 · Train" in text_of(scope)
    assert (64, 64) in image_sizes(block(scope, "A: aligned faces"))
    assert error_badges(scope) == 0 and not toasts(page)


def test_train_without_faces_says_extract_first(page):
    scope = open_tab(page, TAB, TRAIN)
    press(scope, "Start")
    wait_for_toast(page, "Extract both people's faces first")
    assert not image_sizes(block(scope, "Preview, columns: " + _preview_columns()))


def _preview_columns() -> str:
    from gen_models.train.face_swap import PREVIEW_COLUMNS

    return ", ".join(PREVIEW_COLUMNS)


def test_train_a_short_run_to_the_end(page):
    _extract_example(page)
    scope = open_tab(page, TRAIN)
    fill_number(scope, "Steps", 40)
    fill_number(scope, "Batch", 4)
    press(scope, "Start")
    plot = scope.locator(".block").filter(has=page.locator(".vega-embed")).first
    wait_for(page, lambda: plot_marks(plot) and {"person A", "person B"} <= set(legend(plot)), "both loss curves")
    done = wait_for(page, lambda: FINISHED.search(_status(scope)), "the run to finish")
    assert int(done.group(2)) == 40
    assert wait_for(page, lambda: image_sizes(block(scope, "Preview, columns: " + _preview_columns())), "a preview")
    files = block(scope, FILES)
    links = wait_for(page, lambda: files.locator("a[href]").evaluate_all("els => els.map(e => e.href)"),
                     "the files to download")
    assert len(links) == 3 and any(h.endswith(".safetensors") for h in links) and any(h.endswith(".json")
                                                                                     for h in links), links
    assert "face-swap-model" in text_of(files)
    assert error_badges(scope) == 0 and not toasts(page)


def test_train_stop_then_resume_for_more_steps(page):
    _extract_example(page)
    scope = open_tab(page, TRAIN)
    fill_number(scope, "Steps", 2000)
    fill_number(scope, "Batch", 4)
    press(scope, "Start")
    wait_for(page, lambda: STEP.search(_status(scope)) and int(STEP.search(_status(scope)).group(3)) >= 3,
             "the first steps")
    press(scope, "Stop")
    stopped = wait_for(page, lambda: STOPPED.search(_status(scope)), "the run to stop")
    stopped_step = int(stopped.group(2))
    assert 0 < stopped_step < 2000
    wait_for(page, lambda: block(scope, FILES).locator("a").count(), "the stopped run's files")

    fill_number(scope, "Resume for more steps", 20)
    press(scope, "Resume")
    wait_resumed_run(page, scope, STEP, FINISHED, stopped_step)
    assert error_badges(scope) == 0 and not toasts(page)


def test_swap_the_example_clip_with_the_bundled_pair(page):
    scope = open_tab(page, TAB, SWAP)
    assert block(scope, "Pair model").locator("input").first.input_value() != "the model trained in this session"
    page.get_by_text("Astronaut clip (A), swapped to Grace Hopper", exact=True).click()
    wait_for(page, lambda: block(scope, "Video of person A").locator("video").count(), "the example video")
    press(scope, "Swap")
    wait_for(page, lambda: "60 frames at 25 fps" in text_of(scope), "the swap's notes", timeout=240)
    result = block(scope, RESULT_VIDEO)
    wait_for(page, lambda: result.locator("video").count() and result.locator("video").first.get_attribute("src"),
             "the result video's source")
    assert wait_for(page, lambda: video_duration(result), "a playable video") > 2.0
    notes = text_of(scope)
    assert "flicker" in notes and "sound kept" in notes and "with faceswap-astronaut-hopper" in notes
    figures = FLICKER.search(notes)
    assert figures, notes
    assert all(float(f) > 0 for f in figures.groups())
    assert error_badges(scope) == 0 and not toasts(page)


def test_swap_a_photo(page):
    scope = open_tab(page, TAB, SWAP)
    upload(scope, PHOTO, EXAMPLES / "astronaut.jpg")
    press(scope, "Swap")
    sizes = wait_for(page, lambda: image_sizes(block(scope, RESULT_IMAGE)), "the swapped photo")
    with Image.open(EXAMPLES / "astronaut.jpg") as source:
        assert sizes[0] == source.size
    assert "The face swapped a-to-b with" in text_of(scope)
    assert video_duration(block(scope, RESULT_VIDEO)) == 0
    assert error_badges(scope) == 0 and not toasts(page)


def test_a_text_file_as_checkpoint_is_named(page, tmp_path):
    fake = tmp_path / "model.safetensors"
    fake.write_text("not a model")
    scope = open_tab(page, TAB, SWAP)
    page.get_by_text("Astronaut clip (A), swapped to Grace Hopper", exact=True).click()
    upload(scope, CHECKPOINT, fake)
    press(scope, "Swap")
    wait_for_toast(page, r"model\.safetensors is not a safetensors file")
    assert video_duration(block(scope, RESULT_VIDEO)) == 0
    assert "frames at" not in text_of(scope)


def test_a_faceless_photo_for_person_b_is_named(page, tmp_path):
    noise = tmp_path / "noise.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (256, 256, 3), dtype=np.uint8)).save(noise)
    scope = open_tab(page, TAB, EXTRACT)
    upload(scope, "Person A: clips or photos (the face that gets replaced)", EXAMPLES / "astronaut_clip.mp4")
    upload(scope, "Person B: clips or photos (the new face)", noise)
    press(scope, "Extract faces")
    text = wait_for_toast(page, "person B")
    assert "noise.png" in text, text
    assert KEPT not in text_of(scope)


def test_continue_a_run_from_its_uploaded_checkpoint(page, tmp_path):
    """A resumable checkpoint saved at step 20 (as the Train tab's download is) goes on in a fresh page."""
    from gen_models.media.face_sets import extract
    from gen_models.train.face_swap import FaceSwapConfig, FaceSwapTrainer

    people = [extract([EXAMPLES / f"{name}_clip.mp4"], 64, name=side)
              for side, name in (("A", "astronaut"), ("B", "grace_hopper"))]
    trainer = FaceSwapTrainer(FaceSwapConfig(steps=20, batch=4, preview_every=20, device="cpu"), *people)
    list(trainer.run())
    checkpoint = trainer.save(tmp_path / "run.safetensors")
    scope = open_tab(page, TAB, TRAIN)
    upload(scope, "Continue a run: upload its resumable checkpoint", checkpoint)
    fill_number(scope, "Resume for more steps", 20)
    press(scope, "Continue the uploaded run")
    wait_resumed_run(page, scope, STEP, FINISHED, 20)
    assert "finished after 2 preview(s), 40 steps" in _status(scope)
    wait_for(page, lambda: block(scope, FILES).locator("a").count() == 3, "the continued run's files")
    assert error_badges(scope) == 0 and not toasts(page)
