"""Run one demo alone, as its Hugging Face Space does: ``python spaces/<demo>/app.py [--share] [--mcp]``, or the
``app.py`` that ``python -m webui export-space`` writes at a Space's root (which names its demo)."""

from __future__ import annotations

from pathlib import Path

import gradio as gr

from .events import dismiss_toasts_on_tab_switch
from .launch import launch, parse_args
from .loading import find_demo, load_demo
from .provenance import check_file_panel


def _demo_folder(app_file: str | None, demo: str | None) -> str:
    if (app_file is None) == (demo is None):
        raise TypeError("give either the app file (spaces/<demo>/app.py) or the demo's name")
    return find_demo(demo if demo is not None else Path(app_file).resolve().parent.name).folder


def build_space(app_file: str | None = None, *, demo: str | None = None) -> gr.Blocks:
    """The Blocks for one demo: ``demo`` by name (``"age"``), or the one whose folder holds ``app_file``."""
    ui = load_demo(_demo_folder(app_file, demo))
    with gr.Blocks(title=ui.TITLE) as blocks:
        gr.Markdown(f"# {ui.TITLE}")
        ui.build()
        check_file_panel()
    dismiss_toasts_on_tab_switch(blocks)
    return blocks


def main(app_file: str | None = None, *, demo: str | None = None) -> None:
    blocks = build_space(app_file, demo=demo)
    launch(blocks, parse_args(description=blocks.title))
