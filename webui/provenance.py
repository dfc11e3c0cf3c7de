"""The "Check a file" panel: what an uploaded file says about itself (its C2PA Content Credentials, checked, its
source type and model, its text labels), the same report as ``python -m gen_models provenance FILE``."""

from __future__ import annotations

from pathlib import Path

import gradio as gr

from gen_models.core.errors import InputError
from gen_models.media import provenance

from .messages import user_errors


@user_errors
def check_file(file: str | None) -> str:
    """The API endpoint `check_provenance`: a file's C2PA Content Credentials (validated: intact or changed, signer
    trusted or not), its IPTC source type, the model that made it, and its AI-generated text labels, as Markdown."""
    if not file:
        raise InputError("Choose a file to check first.")
    report = provenance.read(file, Path(file).name)
    lines = report.lines()
    return "\n".join(f"- **{line}**" if line.startswith(("Content Credentials:", "Verdict:")) else f"- {line}"
                     for line in lines)


def check_file_panel() -> None:
    """An accordion with an upload and the report; every app and Space ends with it."""
    with gr.Accordion("Check a file: Content Credentials and AI labels", open=False, elem_id="check-file"):
        gr.Markdown(provenance.signing_note() + " Upload any image or video (one of ours or not) to see what it "
                    "says about itself; a file changed after signing reads as invalid.")
        with gr.Row():
            upload = gr.File(label="File to check", type="filepath")
            report = gr.Markdown(label="What the file says")
        gr.Button("Check", variant="secondary").click(check_file, upload, report, api_name="check_provenance")
        upload.upload(check_file, upload, report, api_visibility="private")
