"""Face swap tab: the classic deepfake autoencoder — extract two people's faces, train a pair, swap a video.

The work is in :mod:`gen_models.pipelines.face_swap`; this module only wires components to it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import gradio as gr
import pandas as pd

from gen_models.core import limits
from gen_models.core.manifest import load_manifest
from gen_models.media.face_sets import MIN_FACES, gallery
from gen_models.media.outputs import new_output_path
from gen_models.models.faceswap import LAYOUTS, SIZES, WIDTHS
from gen_models.pipelines.face_swap import (
    DIRECTIONS,
    SMOOTHING,
    TASK,
    extract_people,
    flicker_text,
    start_training,
    swap_image,
    swap_video,
)
from gen_models.pipelines.labs import LabRun
from gen_models.train.face_swap import PREVIEW_COLUMNS, FaceSwapConfig
from webui import user_errors
from webui.components import Dropdown, Image, Number, Radio, Slider
from webui.events import clear_then, while_working
from webui.launch import heavy
from webui.zerogpu import extract_seconds, gpu, swap_seconds, train_swap_seconds

TITLE = "Face swap"
EXAMPLES = Path(__file__).resolve().parent / "examples"
SESSION = "session"  # the model menu's value for "the model trained in this session"
CURVE_POINTS = 400  # points per curve sent to the page
DIRECTION_LABELS = {"a-to-b": "A → B (A's video gets B's face)", "b-to-a": "B → A"}
SMOOTHING_LABELS = {"per-frame": "per frame (each frame on its own: it flickers)",
                    "smoothed": "smoothed (landmarks and colours filtered over time)"}


def _paths(files: Any) -> list[str]:
    if not files:
        return []
    items = files if isinstance(files, list) else [files]
    return [str(getattr(f, "name", f)) for f in items]


# --------------------------------------------------------------------------------------------- extraction
@gpu(extract_seconds)
@user_errors
def extract(a_files, b_files, size: float, progress=gr.Progress()):
    """The API endpoint `extract_faces`: (aligned faces of A, of B, counts). Clips and photos of each person."""
    people = yield from while_working(
        lambda report: extract_people(_paths(a_files), _paths(b_files), int(size), progress=report),
        progress, lambda text: (gr.update(), gr.update(), gr.update(), text))
    a, b = people
    lines = [f"**A**: {a.counts.text()}", f"**B**: {b.counts.text()}", *[f"- {n}" for n in a.notes + b.notes],
             f"Both have at least {MIN_FACES} faces: go on to **2 · Train**."]
    yield people, gallery(a), gallery(b), "\n\n".join(lines)


# --------------------------------------------------------------------------------------------- training
def _curves(run: LabRun) -> pd.DataFrame:
    history = run.trainer.history
    every = max(1, len(history) // CURVE_POINTS)
    rows = [{"step": r.step, "metric": f"person {name[-1].upper()}", "value": r.metrics[name]}
            for r in history[::every] for name in ("loss_a", "loss_b")]
    return pd.DataFrame(rows, columns=["step", "metric", "value"]).astype(
        {"step": "int64", "metric": "str", "value": "float64"})


def _files(run: LabRun) -> list[str]:
    """The model (safetensors, for swapping), its JSON card and the resumable checkpoint."""
    model = run.trainer.export(new_output_path(".safetensors", prefix="face-swap-model"))
    return [str(model), str(model.with_suffix(".json")), str(run.save())]


def _stream(run: LabRun, until: int, progress: gr.Progress):
    yield run, None, None, f"Starting: {run.description}…", None
    snapshot = None
    for snapshot in run.run(until):
        progress(snapshot.progress, desc=snapshot.status)
        metrics = snapshot.metrics
        text = snapshot.status.replace("epoch", "preview")
        if metrics:
            text += f" · loss A {metrics['loss_a']:.4f}, B {metrics['loss_b']:.4f}"
        yield run, _curves(run), snapshot.image, text, None
    final = snapshot.status.replace("epoch", "preview") if snapshot else "nothing to train"
    yield run, _curves(run), run.trainer.preview(), f"{final} ({run.trainer.seconds:.0f} s of training)", _files(run)


@user_errors
def start(people, layout: str, width: str, steps: float, batch: float, seed: float, run: LabRun | None,
          progress=gr.Progress()):
    if people is None:
        raise gr.Error("Extract both people's faces first (1 · Extract faces).")
    if run is not None:
        run.stop()  # one run per browser session: a new Start ends the previous one
    a, b = people
    run = start_training(a, b, layout=layout, size=a.size, width=int(width), steps=int(steps), batch=int(batch),
                         seed=int(seed))
    yield from _stream(run, run.trainer.config.epochs, progress)


@user_errors
def resume(run: LabRun | None, more: float, progress=gr.Progress()):
    if run is None:
        raise gr.Error("Start a training run first.")
    periods = max(1, -(-int(more) // run.trainer.config.preview_every))
    yield from _stream(run, run.trainer.epoch + periods, progress)


@user_errors
def resume_file(checkpoint, more: float, run: LabRun | None, progress=gr.Progress()):
    """Go on training from an uploaded resumable checkpoint (its faces, weights and optimiser state)."""
    if not checkpoint:
        raise gr.Error("Upload a resumable checkpoint (.safetensors saved by this tab) first.")
    if run is not None:
        run.stop()
    run = LabRun.resume(_paths(checkpoint)[0])
    periods = max(1, -(-int(more) // run.trainer.config.preview_every))
    yield from _stream(run, run.trainer.epoch + periods, progress)


def stop(run: LabRun | None):
    if run is None or not run.active:
        return gr.update()
    run.stop()
    return "Stopping after the current step…"


@gpu(train_swap_seconds)
@user_errors
def train_api(a_files, b_files, layout: str, size: float, width: float, steps: float, batch: float, seed: float):
    """The API endpoint `train_face_swap`: extract both people, train, and return when done with the per-step
    metrics (loss_a, loss_b, mse_a, mse_b), the data counts, and the model, card and checkpoint files."""
    a, b = extract_people(_paths(a_files), _paths(b_files), int(size))
    run = start_training(a, b, layout=layout, size=int(size), width=int(width), steps=int(steps), batch=int(batch),
                         seed=int(seed))
    for _ in run.run():
        yield gr.update(), gr.update()
    trainer = run.trainer
    result = {"steps": trainer.step, "seconds": round(trainer.seconds, 2), "metrics": trainer.latest_metrics(),
              "per_step": [{"step": r.step, **r.metrics} for r in trainer.history], "data": trainer.counts,
              "description": trainer.description}
    yield result, _files(run)


# --------------------------------------------------------------------------------------------- swapping
@gpu(swap_seconds)
@user_errors
def swap(video, photo, model: str, checkpoint, direction: str, smoothing: str, seamless: bool, side_by_side: bool,
         run: LabRun | None = None, progress=gr.Progress()):
    """The API endpoint `swap_faces`: (MP4 or None, PNG or None, notes). A video of person A (or a photo), the
    catalog pair ``model`` or an uploaded ``checkpoint`` (.safetensors from this tab's training)."""
    checkpoint = _paths(checkpoint)[0] if checkpoint else None
    pair = None
    if not checkpoint and model == SESSION:
        if run is None:
            raise gr.Error("No model has been trained in this session yet: train one (2 · Train), or pick a "
                           "bundled pair or upload a checkpoint.")
        pair = run.trainer.model
    options = {"model": None if model == SESSION else model, "checkpoint": checkpoint, "pair": pair,
               "direction": direction, "seamless": bool(seamless)}
    if video:
        result = yield from while_working(lambda report: swap_video(
            video, smoothing=smoothing, side_by_side=bool(side_by_side), progress=report, **options),
            progress, lambda text: (gr.update(), gr.update(), text))
        lines = [f"{result.frames} frames at {result.fps:g} fps, {result.direction} with {result.model} "
                 f"({result.smoothing})" + ("; sound kept" if result.has_audio else ""), flicker_text(result.flicker)]
        lines += [f"- {n}" for n in result.notes]
        yield str(result.path), None, "\n\n".join(lines)
    elif photo:
        result = swap_image(photo, **options)
        yield None, str(result.path), "\n".join([f"The face swapped {result.direction} with {result.model}.",
                                                *[f"- {n}" for n in result.notes]])
    else:
        raise gr.Error("Upload a video (or a photo) of person A first.")


# --------------------------------------------------------------------------------------------- the tab
def _extract_tab(people: gr.State) -> None:
    gr.Markdown("Upload clips or photos of two people. Every frame is searched for a face (dlib); each face is "
                "aligned on its eyes and nose to the model's size. Faces too small, too blurred or missing are "
                f"counted and dropped; each person needs at least {MIN_FACES}.")
    with gr.Row():
        a_files = gr.File(label="Person A: clips or photos (the face that gets replaced)", file_count="multiple")
        b_files = gr.File(label="Person B: clips or photos (the new face)", file_count="multiple")
    with gr.Row():
        size = Radio(choices=list(SIZES), value=SIZES[0], label="Face size (px)")
        button = gr.Button("Extract faces", variant="primary")
    clips = [EXAMPLES / "astronaut_clip.mp4", EXAMPLES / "grace_hopper_clip.mp4"]
    if all(c.is_file() for c in clips):
        gr.Examples([[[str(clips[0])], [str(clips[1])]]], inputs=[a_files, b_files],
                    example_labels=["Astronaut clip (A) + Grace Hopper clip (B)"])
    counts = gr.Markdown()
    with gr.Row():
        gallery_a = gr.Gallery(label="A: aligned faces", columns=8, height=200, format="png")
        gallery_b = gr.Gallery(label="B: aligned faces", columns=8, height=200, format="png")
    clear_then(button.click, extract, [a_files, b_files, size], [people, gallery_a, gallery_b, counts],
               api_name="extract_faces", **heavy())
    api_out = [gr.JSON(visible=False), gr.File(visible=False, file_count="multiple")]
    api_inputs = [a_files, b_files, Radio(choices=list(LAYOUTS), value="original", visible=False, label="layout"),
                  size, Number(8, visible=False, label="width"), Number(100, visible=False, label="steps"),
                  Number(16, visible=False, label="batch"), Number(0, visible=False, label="seed")]
    gr.Button(visible=False).click(train_api, api_inputs, api_out, api_name="train_face_swap", **heavy())


def _train_tab(people: gr.State, run: gr.State) -> None:
    defaults = FaceSwapConfig()
    gr.Markdown(
        "One encoder learns both faces; decoder A rebuilds A and decoder B rebuilds B. Inputs are randomly warped "
        "while the targets are not, and the loss (SSIM + MSE) counts only the face, eyes ×3 and mouth ×2. "
        "**What to expect:** on a 2-core CPU the ÷8 original layout at 64 px does about 400 steps a minute and "
        "shows recognisable faces after 2,000–6,000 steps (the bundled pair took 6,000); full-width models need "
        "a GPU and, like the desktop tools, 10,000+ steps (hours) for a convincing swap. Your run is yours alone; "
        f"the server trains at most {limits.max_steps():,} steps per run.")
    with gr.Row():
        layout = Radio(choices=list(LAYOUTS), value=defaults.layout, label="Layout")
        width = Dropdown(choices=[(f"÷{w}" + (" (full width)" if w == 1 else ""), str(w)) for w in WIDTHS],
                         value=str(defaults.width), label="Width (channels divided by)")
        steps = Slider(20, limits.max_steps(), value=300, step=10, label="Steps")
        batch = Number(value=defaults.batch, precision=0, minimum=1, maximum=256, label="Batch")
        seed = Number(value=0, precision=0, minimum=0, label="Seed")
    with gr.Row():
        start_btn = gr.Button("Start", variant="primary")
        stop_btn = gr.Button("Stop")
        more = Number(value=200, precision=0, minimum=1, label="Resume for more steps")
        resume_btn = gr.Button("Resume")
    status = gr.Markdown()
    with gr.Row():
        plot = gr.LinePlot(x="step", y="value", color="metric", height=280,
                           title="Reconstruction loss per person (SSIM + MSE on the face)")
        preview = gr.Image(label="Preview, columns: " + ", ".join(PREVIEW_COLUMNS), height=300)
    files = gr.File(label="Model (.safetensors) + card (.json) + resumable checkpoint", file_count="multiple")
    with gr.Row():
        upload = gr.File(label="Continue a run: upload its resumable checkpoint")
        upload_btn = gr.Button("Continue the uploaded run")
    outputs = [run, plot, preview, status, files]
    start_btn.click(start, [people, layout, width, steps, batch, seed, run], outputs, api_visibility="private")
    stop_btn.click(stop, run, status, api_visibility="private")
    resume_btn.click(resume, [run, more], outputs, api_visibility="private")
    upload_btn.click(resume_file, [upload, more, run], outputs, api_visibility="private")


def _swap_tab(run: gr.State) -> None:
    entries = load_manifest().for_task(TASK)
    choices = [(e.label, e.name) for e in entries] + [("the model trained in this session", SESSION)]
    gr.Markdown(
        "Each frame: find the face, align it, encode it, decode it with the other person's decoder, match its "
        "colours to the frame (Reinhard, in L\\*a\\*b\\*), and paste it back through the inverse alignment with a "
        "feathered mask. **Flicker is the classic weakness**: every frame is processed on its own. Switch between "
        "*per frame* and *smoothed* and compare the flicker figures in the notes (both are measured on every run).")
    with gr.Row():
        with gr.Column():
            with gr.Row():
                video = gr.Video(label="Video of person A", sources=["upload", "webcam"])
                photo = Image(label="…or a photo of person A")
            model = Dropdown(choices=choices, value=choices[0][1], label="Pair model")
            checkpoint = gr.File(label="…or upload a checkpoint (.safetensors from the training above)")
            direction = Radio(choices=[(DIRECTION_LABELS[d], d) for d in DIRECTIONS], value="a-to-b",
                              label="Direction")
            smoothing = Radio(choices=[(SMOOTHING_LABELS[s], s) for s in SMOOTHING], value="smoothed",
                              label="Frames")
            with gr.Row():
                seamless = gr.Checkbox(value=False, label="Poisson blending (cv2.seamlessClone)")
                side_by_side = gr.Checkbox(value=True, label="Side by side with the input")
            button = gr.Button("Swap", variant="primary")
        with gr.Column():
            out_video = gr.Video(label="Result (H.264 MP4, the input's fps and sound; labelled AI-generated)",
                                 autoplay=True)
            out_image = gr.Image(label="Result (PNG, labelled AI-generated)", type="filepath")
            notes = gr.Markdown()
    clip = EXAMPLES / "astronaut_clip.mp4"
    if clip.is_file():
        gr.Examples([[str(clip)]], inputs=[video], example_labels=["Astronaut clip (A), swapped to Grace Hopper"])
    clear_then(button.click, swap, [video, photo, model, checkpoint, direction, smoothing, seamless, side_by_side,
                                    run], [out_video, out_image, notes], api_name="swap_faces", **heavy())


def build() -> None:
    gr.Markdown(
        "**The classic deepfake.** A face-swap autoencoder has one shared encoder and one decoder per person. "
        "Trained to rebuild each person's own faces, the encoder learns what faces have in common (pose, "
        "expression, light) and each decoder how its person looks; decoding A's face with B's decoder draws B "
        "with A's pose. A bundled pair (the astronaut Eileen Collins ↔ Grace Hopper, trained on the two example "
        "clips) swaps offline at once; train your own below.")
    people = gr.State(None)
    run = gr.State(None)
    with gr.Tabs():
        with gr.Tab("1 · Extract faces"):
            _extract_tab(people)
        with gr.Tab("2 · Train"):
            _train_tab(people, run)
        with gr.Tab("3 · Swap"):
            _swap_tab(run)
