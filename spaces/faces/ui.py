"""Face generation tab: seeds in, a grid of faces out, each a PNG labelled synthetic, with its seed to reuse."""

from __future__ import annotations

import random

import gradio as gr

from gen_models.pipelines.age import TASK as AGE_TASK
from gen_models.pipelines.faces import MAX_FACES, OUTPUT_SIZES, TASK, generate_faces, with_ages
from webui import user_errors, weights_panel
from webui.components import Dropdown, Number, Slider, model_dropdown
from webui.events import clear_then
from webui.launch import heavy
from webui.zerogpu import faces_seconds, gpu

TITLE = "Face generation"


@gpu(faces_seconds)
@user_errors
def run(model: str, seed: float, count: float, size: str, age_model: str | None = None, sort_by_age: bool = False,
        progress=gr.Progress(track_tqdm=True)):
    """The API endpoint `generate_faces`: faces for seeds seed … seed+count-1, as (PNG, "seed N[ · age]") pairs;
    with an age model each face's predicted age is added (and the grid can be sorted by it)."""
    progress(0, desc="Loading the generator (downloaded on first use)")
    seeds = [int(seed) + i for i in range(int(count))]
    faces = generate_faces(model, seeds, int(size))
    if age_model:
        progress(0.9, desc="Predicting ages")
        faces = with_ages(faces, age_model, sort=bool(sort_by_age))
    return [(str(f.path), f"seed {f.seed}" + (f" · {f.age:.0f} y" if f.age is not None else "")) for f in faces]


def build() -> None:
    gr.Markdown(
        "Each face comes from a seed: the same seed gives the same face on any machine, so note the seeds you like "
        "and use them as keyframes in the *Latent walk* tab. Files are PNGs labelled as AI-generated."
    )
    with gr.Row():
        with gr.Column(scale=1):
            model = model_dropdown(TASK, "Generator")
            seed = Number(value=0, precision=0, minimum=0, label="First seed")
            shuffle = gr.Button("🎲 Random seed", size="sm")
            count = Slider(1, MAX_FACES, value=8, step=1, label="How many faces")
            size = Dropdown(choices=[str(s) for s in OUTPUT_SIZES], value="256", label="Output size (px)")
            age_model = model_dropdown(AGE_TASK, "Predict each face's age with", none="no age prediction")
            sort_by_age = gr.Checkbox(label="Sort the grid by age")
            button = gr.Button("Generate", variant="primary")
            weights_panel(model, [button])
        with gr.Column(scale=3):
            gallery = gr.Gallery(label="Generated faces (click one, then download)", format="png", columns=4,
                                 height=640)
    shuffle.click(lambda: random.randint(0, 2**31 - 1), None, seed, api_visibility="private")
    clear_then(button.click, run, [model, seed, count, size, age_model, sort_by_age], [gallery],
               api_name="generate_faces", **heavy())
