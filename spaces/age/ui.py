"""Age prediction tab: upload photos (or click an example), see each face boxed with its age and bucket chart."""

from __future__ import annotations

from pathlib import Path

import gradio as gr
import pandas as pd

from gen_models.pipelines.age import TASK, predict_age
from webui import user_errors, weights_panel
from webui.components import model_dropdown
from webui.events import clear_then

TITLE = "Age prediction"
EXAMPLES = Path(__file__).resolve().parent / "examples"


@user_errors
def run(files: list[str] | None, model: str, whole_image: bool, progress=gr.Progress(track_tqdm=True)):
    """The API endpoint `predict_age`: (JSON with every image's faces, boxes, ages and probabilities; the annotated
    images as a gallery, in the JSON's order, which API clients can download; a summary)."""
    if not files:
        raise gr.Error("Upload at least one image (or click an example).")
    progress(0, desc="Finding faces")
    data = predict_age(list(files), model=model, whole_image=bool(whole_image)).data
    gallery, summary = _views(data)
    # the annotated files reach clients through the gallery; a server path in the JSON is of no use to them
    public = {**data, "images": [{k: v for k, v in image.items() if k != "annotated"} for image in data["images"]]}
    return public, gallery, summary


def _views(data: dict) -> tuple[list[tuple[str, str]], str]:
    gallery, lines = [], []
    for image in data["images"]:
        if "annotated" in image:
            caption = ", ".join(f"#{i} {f['age']:.0f} y" for i, f in enumerate(image["faces"], 1)) or "no face"
            gallery.append((image["annotated"], f"{image['name']}: {caption}"))
        for text in [image.get("error"), image.get("message"), *image.get("notes", [])]:
            if text:
                lines.append(f"- {text}")
    summary = f"**{data['face_count']} face(s)** with {data['model_title']}."
    return gallery, "\n".join([summary, *lines])


def build() -> None:
    """Add the tab's components to the current Blocks."""
    gr.Markdown(
        "Find every face and estimate its age. **dlib** (default) runs offline; **AgeNet** is the Levi & Hassner "
        "network from the seed report and is downloaded from the Hugging Face Hub on first use. "
        "Generated faces are tight crops: tick *treat the whole image as one face* for them."
    )
    with gr.Row():
        with gr.Column(scale=2):
            files = gr.File(label="Photos (one or more)", file_count="multiple", file_types=["image"],
                            type="filepath")
            model = model_dropdown(TASK, titles=True)
            whole = gr.Checkbox(label="Treat the whole image as one face (tight crops, generated faces)")
            button = gr.Button("Predict ages", variant="primary")
            weights_panel(model, [button])
            gr.Examples(
                examples=[
                    [[str(EXAMPLES / "astronaut.jpg")], "dlib-age", False],
                    [[str(EXAMPLES / "face_64.png")], "dlib-age", True],
                    [[str(EXAMPLES / "astronaut.jpg"), str(EXAMPLES / "coffee.jpg")], "dlib-age", False],
                ],
                inputs=[files, model, whole],
                example_labels=["Astronaut photo", "Tight 64×64 face crop (whole image)", "Two photos, one without a face"],
            )
        with gr.Column(scale=3):
            gallery = gr.Gallery(label="Faces found", format="png", columns=2, height=420)
            status = gr.Markdown()
            result = gr.JSON(label="Result (the API's answer)")

    @gr.render(inputs=result)
    def charts(data):
        for image in (data or {}).get("images", []):
            for index, face in enumerate(image["faces"], 1):
                frame = pd.DataFrame({"bucket": list(face["buckets"]), "probability": list(face["buckets"].values())})
                gr.BarPlot(frame, x="bucket", y="probability", sort=list(face["buckets"]), y_lim=[0, 1],
                           title=f"{image['name']} · face #{index}: {face['age']:.1f} years", height=220)

    clear_then(button.click, run, [files, model, whole], [result, gallery, status], api_name="predict_age")
