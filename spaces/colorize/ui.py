"""Colorization tab: a black-and-white (or colour, made gray) photo → DeOldify's or Zhang's colours, full size."""

from __future__ import annotations

from pathlib import Path

import gradio as gr

from gen_models.pipelines.colorize import (
    DEFAULT_RENDER_FACTOR,
    RENDER_FACTORS,
    SWEEP_FACTORS,
    TASK,
    colorize,
    render_factor_sweep,
)
from webui import user_errors, weights_panel
from webui.components import Image, Slider, model_dropdown
from webui.events import clear_then
from webui.launch import heavy
from webui.zerogpu import colorize_seconds, gpu, sweep_seconds

TITLE = "Colorization"
EXAMPLES = Path(__file__).resolve().parent / "examples"


@gpu(colorize_seconds)
@user_errors
def run(image: str, model: str, render_factor: float, post_process: bool, progress=gr.Progress()):
    """The API endpoint `colorize`: ((gray input PNG, colorized PNG), colorized PNG for download, notes)."""
    if not image:
        raise gr.Error("Upload a photo (black-and-white, or colour to see how the model does on colours you know).")
    progress(0, desc="Loading the model (downloaded on first use) and colorizing")
    result = colorize(image, model, int(render_factor), bool(post_process))
    notes = [f"{result.size[0]}×{result.size[1]} px, {result.model}"
             + (f", render factor {result.render_factor} ({result.render_factor * 16} px square)"
                if result.render_factor else "")]
    notes += [f"- {n}" for n in result.notes]
    return (str(result.gray_path), str(result.path)), str(result.path), "\n".join(notes)


@gpu(sweep_seconds)
@user_errors
def run_sweep(image: str, model: str, post_process: bool, progress=gr.Progress()):
    """The API endpoint `render_factor_sweep`: the photo at render factors 10, 20, 30, 40 as (PNG, caption) pairs."""
    if not image:
        raise gr.Error("Upload a photo first.")
    progress(0, desc="Colorizing at several render factors")
    return [(str(path), f"render factor {factor}") for factor, path in render_factor_sweep(image, model, SWEEP_FACTORS,
                                                                                          bool(post_process))]


def build() -> None:
    gr.Markdown(
        "DeOldify (Jason Antic) predicts colours at a *render factor* × 16 px square, then keeps only the colour and "
        "puts it on your photo's own brightness, so the result keeps every detail at full size. Higher factors see "
        "more detail but can wash out colours; 35 is the usual default. Colour photos are made gray first. "
        "The Zhang et al. models are lighter and faster on a CPU. Results are PNGs labelled as AI-colorized."
    )
    with gr.Row():
        with gr.Column(scale=2):
            image = Image(label="Photo", sources=["upload", "clipboard"])
            model = model_dropdown(TASK)
            render_factor = Slider(RENDER_FACTORS[0], RENDER_FACTORS[1], value=DEFAULT_RENDER_FACTOR, step=1,
                                      label="Render factor (DeOldify; ×16 px)")
            post_process = gr.Checkbox(value=True, label="Keep the photo's own brightness (post-processing)")
            with gr.Row():
                button = gr.Button("Colorize", variant="primary")
                sweep = gr.Button("Render factor sweep (10, 20, 30, 40)")
            weights_panel(model, [button, sweep])
            gr.Examples(
                examples=[[str(EXAMPLES / "cameraman.png")], [str(EXAMPLES / "chelsea_cat.jpg")],
                          [str(EXAMPLES / "astronaut.jpg")]],
                inputs=[image], example_labels=["Cameraman (B&W)", "Cat (colour, made gray)", "Astronaut (colour)"],
            )
        with gr.Column(scale=3):
            compare = gr.ImageSlider(label="Before / after (drag the handle)", type="filepath")
            download = gr.File(label="Full-resolution PNG")
            notes = gr.Markdown()
            gallery = gr.Gallery(label="Render factor sweep", columns=4, height=300, format="png")
    clear_then(button.click, run, [image, model, render_factor, post_process], [compare, download, notes],
               api_name="colorize", **heavy())
    clear_then(sweep.click, run_sweep, [image, model, post_process], [gallery], api_name="render_factor_sweep", **heavy())
