"""Run one demo alone, as its Hugging Face Space does: ``python spaces/<demo>/app.py [--share]``."""

from __future__ import annotations

from pathlib import Path

import gradio as gr

from .events import dismiss_toasts_on_tab_switch
from .launch import launch, parse_args
from .loading import load_demo


def build_space(app_file: str) -> gr.Blocks:
    """The Blocks for the demo whose folder holds ``app_file``."""
    ui = load_demo(Path(app_file).resolve().parent.name)
    with gr.Blocks(title=ui.TITLE) as demo:
        gr.Markdown(f"# {ui.TITLE}")
        ui.build()
    dismiss_toasts_on_tab_switch(demo)
    return demo


def main(app_file: str) -> None:
    demo = build_space(app_file)
    launch(demo, parse_args(description=demo.title))
