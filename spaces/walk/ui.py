"""Latent walk tab: keyframe seeds → a looping animation through the generator's latent space (GIF and MP4)."""

from __future__ import annotations

import re

import gradio as gr

from gen_models.core.errors import InputError
from gen_models.pipelines.directions import attribute_strip, direction_strip
from gen_models.pipelines.faces import MAX_KEYFRAMES, MAX_WALK_FRAMES, TASK, latent_arithmetic, latent_walk
from webui import user_errors, weights_panel
from webui.components import Dropdown, Number, Radio, Slider, model_dropdown
from webui.events import clear_then, while_working
from webui.launch import heavy
from webui.zerogpu import arithmetic_seconds, attribute_seconds, directions_seconds, gpu, walk_seconds

TITLE = "Latent walk & arithmetic"


def parse_seeds(text: str) -> list[int]:
    parts = [p for p in re.split(r"[\s,;]+", text or "") if p]
    if not all(p.isdigit() for p in parts):
        raise InputError("Keyframes are seeds: whole numbers separated by commas, e.g. 1, 42, 7.")
    return [int(p) for p in parts]


@gpu(walk_seconds)
@user_errors
def run(model: str, seeds: str, frames_per_segment: float, fps: float, mode: str, loop: bool, size: str,
        progress=gr.Progress(track_tqdm=True)):
    """The API endpoint `latent_walk`: (animated GIF, H.264 MP4) through the keyframe seeds. A generator, so a
    cancelled or closed request stops the walk within a frame, writing no file."""
    progress(0, desc="Generating frames")
    keyframes = parse_seeds(seeds)
    result = yield from while_working(
        lambda report: latent_walk(model, keyframes, int(frames_per_segment), float(fps), mode, bool(loop),
                                   int(size), progress=report),
        progress, lambda text: (gr.update(), gr.update()))
    yield str(result.gif), str(result.mp4)


@gpu(arithmetic_seconds)
@user_errors
def run_arithmetic(model: str, a: str, b: str, c: str, jitter: float, size: str):
    """The API endpoint `latent_arithmetic`: a 3×3 grid PNG with G(mean A − mean B + mean C) in the middle."""
    result = latent_arithmetic(model, parse_seeds(a), parse_seeds(b), parse_seeds(c), jitter=float(jitter),
                               size=int(size))
    return str(result.grid)


@gpu(directions_seconds)
@user_errors
def run_direction(model: str, seed: float, index: float, distance: float, steps: float, size: str):
    """The API endpoint `latent_directions`: one face moved along a SeFa direction, as a strip PNG."""
    return str(direction_strip(model, int(seed), int(index), float(distance), int(steps), int(size)))


@gpu(attribute_seconds)
@user_errors
def run_attribute(model: str, seed: float, attribute: str, distance: float, progress=gr.Progress(track_tqdm=True)):
    """The API endpoint `attribute_edit`: the face made younger → older (or along gender), with predicted ages."""
    progress(0, desc="Fitting the direction (first time per model: labels 200 generated faces)")
    path, ages = attribute_strip(model, int(seed), attribute, float(distance))
    return str(path), " → ".join(f"{a:.0f} y" for a in ages)


def build() -> None:
    gr.Markdown(
        f"Walk from face to face through the latent space: 2–{MAX_KEYFRAMES} keyframe seeds (from the *Face "
        f"generation* tab), at most {MAX_WALK_FRAMES} frames. Gaussian latents are interpolated along great "
        "circles (slerp), which keeps faces sharp; straight lines (lerp) pass through blurrier, average faces."
    )
    with gr.Row():
        with gr.Column(scale=1):
            model = model_dropdown(TASK, "Generator")
            seeds = gr.Textbox(value="1, 42, 7", label="Keyframe seeds")
            frames = Slider(2, 60, value=12, step=1, label="Frames per segment")
            fps = Slider(1, 30, value=12, step=1, label="Frames per second")
            mode = Radio(["slerp", "lerp"], value="slerp", label="Interpolation")
            loop = gr.Checkbox(value=True, label="Loop back to the first face")
            size = Dropdown(choices=["64", "128", "256", "512"], value="256", label="Frame size (px)")
            button = gr.Button("Render walk", variant="primary")
            panel_at = gr.Column()  # the weights panel goes here once every button it controls exists
        with gr.Column(scale=2):
            gif = gr.Image(label="Animated GIF", type="filepath", format="gif")
            mp4 = gr.Video(label="MP4 (H.264)", format="mp4", height=360)
    clear_then(button.click, run, [model, seeds, frames, fps, mode, loop, size], [gif, mp4], api_name="latent_walk", **heavy())

    gr.Markdown(
        "### Latent arithmetic\nThe DCGAN paper's recipe: pick exemplar seeds for three concepts (say *smiling "
        "woman*, *neutral woman*, *neutral man*), average each concept's latent, compute A − B + C. The middle of the "
        "grid is the result; the other cells add a little uniform noise to it."
    )
    with gr.Row():
        with gr.Column(scale=1):
            a_seeds = gr.Textbox(value="11, 12, 13", label="A: exemplar seeds")
            b_seeds = gr.Textbox(value="21, 22, 23", label="B: exemplar seeds (subtracted)")
            c_seeds = gr.Textbox(value="31, 32, 33", label="C: exemplar seeds")
            jitter = Slider(0, 1, value=0.25, step=0.05, label="Jitter of the outer cells (±)")
            grid_size = Dropdown(choices=["64", "128", "256"], value="128", label="Cell size (px)")
            compute = gr.Button("Compute A − B + C", variant="primary")
        with gr.Column(scale=2):
            grid = gr.Image(label="A − B + C (middle) with jittered neighbours", type="filepath", format="png")
    clear_then(compute.click, run_arithmetic, [model, a_seeds, b_seeds, c_seeds, jitter, grid_size], [grid],
               api_name="latent_arithmetic", **heavy())

    gr.Markdown(
        "### Directions found in the weights (SeFa)\nThe generator's first layer amplifies some directions of z far "
        "more than others; its strongest eigenvectors often change one thing at a time (pose, age, hair, light). "
        "Move a face along one of them."
    )
    with gr.Row():
        with gr.Column(scale=1):
            d_seed = Number(value=42, precision=0, minimum=0, label="Seed")
            d_index = Slider(0, 19, value=0, step=1, label="Direction (0 = strongest)")
            d_distance = Slider(0.5, 10, value=3, step=0.5, label="Distance (±)")
            d_steps = Slider(3, 9, value=7, step=2, label="Steps")
            d_size = Dropdown(choices=["64", "128", "256"], value="128", label="Face size (px)")
            move = gr.Button("Move along the direction", variant="primary")
        with gr.Column(scale=2):
            strip = gr.Image(label="−distance … original … +distance", type="filepath", format="png")
    clear_then(move.click, run_direction, [model, d_seed, d_index, d_distance, d_steps, d_size], [strip],
               api_name="latent_directions", **heavy())

    gr.Markdown(
        "### Older / younger\nInterFaceGAN style: 200 generated faces are labelled with the bundled age and gender "
        "models, a linear boundary is fitted in z (once per model, then cached), and the face moves along its normal."
    )
    with gr.Row():
        with gr.Column(scale=1):
            a_seed = Number(value=42, precision=0, minimum=0, label="Seed")
            attribute = Radio(["age", "gender"], value="age", label="Direction (younger → older, female → male)")
            a_distance = Slider(0.5, 6, value=3, step=0.5, label="Distance (±)")
            edit = gr.Button("Make younger → older", variant="primary")
        with gr.Column(scale=2):
            a_strip = gr.Image(label="−distance … original … +distance", type="filepath", format="png")
            a_ages = gr.Textbox(label="Predicted ages along the strip")
    with panel_at:
        weights_panel(model, [button, compute, move, edit])
    clear_then(edit.click, run_attribute, [model, a_seed, attribute, a_distance], [a_strip, a_ages],
               api_name="attribute_edit", **heavy())
