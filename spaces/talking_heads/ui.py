"""Talking heads tab: a face photo + a driving video → the photo's face moving like the driver (FOMM / TPSMM)."""

from __future__ import annotations

from pathlib import Path

import gradio as gr

from gen_models.pipelines.animate import MODES, TASK, animate
from webui import user_errors, weights_panel
from webui.components import Image, Radio, model_dropdown
from webui.events import clear_then, while_working
from webui.launch import heavy
from webui.zerogpu import animate_seconds, gpu

TITLE = "Talking heads"
EXAMPLES = Path(__file__).resolve().parent / "examples"
MODE_LABELS = {
    "relative": "relative (the driver's motion added to the photo's pose; recommended)",
    "absolute": "absolute (the driver's keypoints as they are; needs a similar face and framing)",
    "avd": "avd (TPSMM only: the driver's pose with the photo's identity)",
}


@gpu(animate_seconds)
@user_errors
def run(image: str, video: str, model: str, mode: str, adapt_scale: bool, best_frame: bool, crop_source: bool,
        crop_driving: bool, layout: str, progress=gr.Progress()):
    """The API endpoint `animate`: (MP4 path, notes), after progress notes while it renders. ``layout`` is "face",
    "paste back" or "side by side"."""
    if not image:
        raise gr.Error("Upload a photo with a face (the source).")
    if not video:
        raise gr.Error("Upload a driving video (the motion).")
    result = yield from while_working(lambda report: animate(
        image, video, model=model, mode=mode, adapt_scale=bool(adapt_scale), best_frame=bool(best_frame),
        crop_source=bool(crop_source), crop_driving=bool(crop_driving), paste_back=layout == "paste back",
        side_by_side=layout == "side by side", progress=report,
    ), progress, lambda text: (gr.update(), text))  # a generator: a cancelled or closed request stops the render
    lines = [f"{result.frames} frames at {result.fps:g} fps with {result.model} ({result.mode} mode)"
             + (f", motion measured from driving frame {result.reference_frame}" if best_frame else "")
             + ("; sound kept from the driving video" if result.has_audio else "")]
    lines += [f"- {note}" for note in result.notes]
    yield str(result.path), "\n".join(lines)


def build() -> None:
    gr.Markdown(
        "**How deepfakes work.** A keypoint detector finds a few motion points on the photo and on every video frame; "
        "a generator warps the photo so its points move like the driver's. Faces are found and cropped "
        "automatically (square, padded, never squashed); motion is *relative* to the first driving frame unless "
        "*best frame* picks the frame whose face pose matches the photo best. Results are labelled AI-generated "
        "in the file's metadata. On a CPU expect about a second per frame; on a GPU it is real time."
    )
    with gr.Row():
        with gr.Column(scale=2):
            with gr.Row():
                image = Image(label="Photo (the face to animate)", sources=["upload", "webcam"])
                video = gr.Video(label="Driving video (the motion)", sources=["upload", "webcam"])
            model = model_dropdown(TASK)
            mode = Radio(choices=[(MODE_LABELS[m], m) for m in MODES], value="relative", label="Motion")
            with gr.Row():
                adapt_scale = gr.Checkbox(value=True, label="Adapt movement scale to the face size")
                best_frame = gr.Checkbox(value=False, label="Best frame: align with the driving frame most like the photo")
            with gr.Row():
                crop_source = gr.Checkbox(value=True, label="Crop the photo to the face")
                crop_driving = gr.Checkbox(value=True, label="Crop the video to the face")
            layout = Radio(choices=["face", "paste back", "side by side"], value="face",
                              label="Output: the 256×256 face, pasted back into the photo, or photo | driver | result")
            button = gr.Button("Animate", variant="primary")
            weights_panel(model, [button])
        with gr.Column(scale=2):
            output = gr.Video(label="Result (H.264 MP4, the driver's fps and sound)", autoplay=True)
            notes = gr.Markdown()
    examples = sorted(EXAMPLES.glob("*"))
    photos = [p for p in examples if p.suffix in (".jpg", ".png")]
    clips = [p for p in examples if p.suffix == ".mp4"]
    if photos and clips:
        gr.Examples(examples=[[str(photos[0]), str(clips[0])]], inputs=[image, video],
                    example_labels=["Astronaut photo + a nodding driver clip made from it"])
    clear_then(button.click, run, [image, video, model, mode, adapt_scale, best_frame, crop_source, crop_driving,
                                   layout], [output, notes], api_name="animate", **heavy())
