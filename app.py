"""All demos as tabs of one Gradio app: python app.py [--host H] [--port P] [--share]."""

from __future__ import annotations

import gradio as gr

from webui import DEMOS, launch, load_demo, parse_args
from webui.events import dismiss_toasts_on_tab_switch
from webui.provenance import check_file_panel

TITLE = "Generative models, seen working"


def build_app() -> gr.Blocks:
    with gr.Blocks(title=TITLE) as demo:
        gr.Markdown(
            f"# {TITLE}\nGANs, autoencoders and the deepfake techniques built on them, with the original papers' "
            "checkpoints. Everything generated here is synthetic and says so in its file metadata: C2PA Content "
            "Credentials and IPTC labels (check any file at the bottom of the page)."
        )
        with gr.Tabs():
            for entry in DEMOS:
                with gr.Tab(entry.title):
                    if entry.folder:
                        load_demo(entry.folder).build()
                    else:
                        gr.Markdown(f"### {entry.title}\n{entry.summary}\n\n*This demo is being built; it is not "
                                    "available in this version yet.*")
        check_file_panel()
    dismiss_toasts_on_tab_switch(demo)
    return demo


demo = build_app()

if __name__ == "__main__":
    launch(demo, parse_args(description=TITLE))
