"""The age prediction demo on its own, as a Hugging Face Space runs it: python spaces/age/app.py [--share]."""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import gradio as gr  # noqa: E402

from webui import launch, parse_args  # noqa: E402
import ui  # noqa: E402  (spaces/age/ui.py, next to this file)

with gr.Blocks(title=ui.TITLE) as demo:
    gr.Markdown(f"# {ui.TITLE}")
    ui.build()

if __name__ == "__main__":
    launch(demo, parse_args(description=ui.TITLE))
