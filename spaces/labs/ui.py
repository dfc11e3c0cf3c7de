"""Classic labs tab: DCGAN digits (generate, walk, train live), autoencoders (reconstruct, denoise, anomalies,
latent map, train live) and CycleGAN horse ↔ zebra. The digits and autoencoder parts run offline.

Recipes, choices and defaults come from gen_models (the trainers' configs and recipes, the labs pipeline); this
module only wires components to them. Both live-training panels drive any trainer the same way (see
:mod:`gen_models.train.protocol`).
"""

from __future__ import annotations

import re

import gradio as gr
import pandas as pd

from gen_models.core import limits
from gen_models.core.errors import InputError
from gen_models.models.autoencoders import ARCHS as AE_ARCHS
from gen_models.models.autoencoders import NOISE_KINDS, PROBE_KINDS
from gen_models.models.dcgan_digits import ARCHS as GAN_ARCHS
from gen_models.pipelines.labs import (
    DIGIT_CHOICES,
    DIGIT_GAN_EXAMPLES,
    LIVE_EPOCHS,
    MAX_DIGITS,
    NOISE_CHOICES,
    NOISE_STRENGTH,
    LabRun,
    ae_models,
    anomaly_view,
    decode_map_point,
    denoise_digits,
    digit_choice,
    digit_gan_models,
    digit_walk,
    enlarge,
    generate_digit_grid,
    latent_map_points,
    reconstruct_digits,
    train_events,
)
from gen_models.pipelines.translation import translate_photo, translation_models
from gen_models.train.autoencoders import AEConfig, AETrainer
from gen_models.train.digits import SOURCES, load_digits
from gen_models.train.digits_gan import (
    DEFAULTS,
    OPTIMIZERS,
    DigitGANConfig,
    DigitGANTrainer,
    adam_text,
    arch_text,
    optimizer_text,
)
from gen_models.train.protocol import CurveGroup, Trainer
from webui import user_errors, weights_panel
from webui.components import Dropdown, Image, Number, Radio, Slider
from webui.events import clear_then
from webui.launch import heavy
from webui.zerogpu import gpu, translate_seconds

TITLE = "Classic labs"


def _seeds(text: str) -> list[int]:
    parts = [p for p in re.split(r"[\s,;]+", text or "") if p]
    if not all(p.isdigit() for p in parts):
        raise InputError("Keyframes are seeds: whole numbers separated by commas, e.g. 1, 2, 3.")
    return [int(p) for p in parts]


# --------------------------------------------------------------------------------------------- digits: generate
@user_errors
def generate(model: str, seed: float, count: float):
    """The API endpoint `generate_digits`: a PNG grid of digits for seeds seed … seed+count-1."""
    return str(generate_digit_grid(model, int(seed), int(count)))


@user_errors
def walk_digits(model: str, seeds: str, frames_per_segment: float, fps: float):
    """The API endpoint `digit_walk`: a looping GIF through the keyframe seeds' digits."""
    return str(digit_walk(model, _seeds(seeds), int(frames_per_segment), float(fps)))


# --------------------------------------------------------------------------------------------- live training
def _plots(snapshot, curves: tuple[CurveGroup, ...]) -> list[pd.DataFrame]:
    """One frame per chart of the trainer's curves."""
    # typed even when empty: the plot keeps the axis types of the first frame it gets (object would be categorical)
    frame = pd.DataFrame(snapshot.curves or [], columns=["step", "metric", "value"]).astype(
        {"step": "int64", "metric": "str", "value": "float64"})
    return [frame[frame.metric.isin(group.metrics)] for group in curves]


def _stream(run: LabRun, until_epoch: int, progress: gr.Progress):
    """Clear the previous run's plots, grid and checkpoint at once, then stream snapshots and end with the file."""
    blank = [None] * len(run.trainer.curves)
    yield run, *blank, None, gr.update(), f"Starting: {run.description}…", None
    for snapshot in run.run(until_epoch):
        progress(snapshot.progress, desc=snapshot.status)
        plots = _plots(snapshot, run.trainer.curves)
        image = enlarge(snapshot.image) if snapshot.image is not None else None
        slider = gr.update(maximum=max(2, snapshot.epoch), value=max(1, snapshot.epoch),
                           interactive=snapshot.epoch > 1)
        metrics = ", ".join(f"{k} {v:.3f}" for k, v in snapshot.metrics.items())
        status = snapshot.status + (f" · last epoch: {metrics}" if metrics else "")
        yield run, *plots, image, slider, status, None
    yield run, *plots, image, slider, status, str(run.save())


@user_errors
def start_gan(arch: str, digit: str, source: str, epochs: float, batch: float, optimizer: str, seed: float,
              run: LabRun | None, progress=gr.Progress()):
    if run is not None:
        run.stop()
    lr, beta1 = OPTIMIZERS[optimizer]
    run = LabRun.digit_gan(arch, digit_choice(digit), source, int(epochs), int(batch) or None, int(seed), lr=lr,
                           beta1=beta1)
    yield from _stream(run, int(epochs), progress)


@user_errors
def start_ae(arch: str, noise: str, strength: float, digit: str, source: str, epochs: float, seed: float,
             run: LabRun | None, progress=gr.Progress()):
    if run is not None:
        run.stop()
    run = LabRun.autoencoder(arch, noise or None, float(strength), digit_choice(digit), source, int(epochs),
                             seed=int(seed))
    yield from _stream(run, int(epochs), progress)


@user_errors
def resume(run: LabRun | None, more: float, progress=gr.Progress()):
    if run is None:
        raise gr.Error("Start a training run first.")
    yield from _stream(run, run.trainer.epoch + int(more), progress)


def stop(run: LabRun | None) -> str:
    if run is None or not run.active:
        return gr.update()  # nothing to stop: the finished run's status stays
    run.stop()
    return "Stopping after the current step…"


def replay(run: LabRun | None, epoch: float):
    if run is None:
        return None
    images = run.epoch_images()
    return enlarge(images[int(epoch)]) if int(epoch) in images else None


def _streamed(run: LabRun):
    """Progress now and then, the result last, with its files as Gradio file objects (API clients get them
    downloaded, not a server path they cannot read). A generator, so a cancelled or disconnected request stops the
    training before its next step."""
    for result in train_events(run):
        yield {**result, **{key: gr.FileData(path=result[key]).model_dump() for key in ("image", "checkpoint")
                            if result.get(key)}}


@user_errors
def train_digits_gan(arch: str = "tutorial", digit: int = -1, source: str = "auto", epochs: int = 1, batch: int = 0,
                     seed: int = 0, limit: int = 0, lr: float = 0, beta1: float = -1) -> dict:
    """Train a digits DCGAN and return when done: per-epoch losses and discriminator accuracies, the final sample
    grid PNG and the checkpoint. ``digit`` -1 means all ten; ``batch`` 0, ``lr`` 0 and ``beta1`` -1 the
    architecture's own (tutorial 256, Adam 1e-4, β1 0.9; lab 128, 2e-4, 0.5); ``limit`` 0 all training images."""
    run = LabRun.digit_gan(arch, None if digit < 0 else digit, source, epochs, batch or None, seed, limit or None,
                           lr=lr or None, beta1=None if beta1 < 0 else beta1)
    yield from _streamed(run)


@user_errors
def train_autoencoder(arch: str = "dense", noise: str = "", strength: float = 0.3, digit: int = -1,
                      source: str = "auto", epochs: int = 1, seed: int = 0) -> dict:
    """Train an autoencoder (``noise`` gaussian or salt_pepper for a denoising one) and return when done: per-epoch
    training loss and test MSE, the last reconstructions PNG and the checkpoint."""
    run = LabRun.autoencoder(arch, noise or None, strength, None if digit < 0 else digit, source, epochs, seed=seed)
    yield from _streamed(run)


def _training_panel(trainer: type[Trainer], settings: list, start) -> None:
    """Buttons, one plot per curve group of the trainer, the epoch image, the replay slider and the checkpoint
    download, wired to ``start`` (called with ``settings`` and the run)."""
    with gr.Row():
        start_btn = gr.Button("Start", variant="primary")
        stop_btn = gr.Button("Stop")
        more = Number(value=1, precision=0, minimum=1, label="Resume for more epochs")
        resume_btn = gr.Button("Resume")
    status = gr.Markdown()
    with gr.Row():
        plots = [gr.LinePlot(x="step", y="value", color="metric", title=group.title, height=260,
                             y_lim=list(group.y_lim) if group.y_lim else None) for group in trainer.curves]
    with gr.Row():
        image = gr.Image(label=f"After the latest epoch ({trainer.epoch_image_caption})", image_mode="L", height=360)
        with gr.Column():
            epoch = Slider(1, 2, value=1, step=1, label="Replay epoch", interactive=False)
            checkpoint = gr.File(label="Checkpoint (resumable with python -m gen_models.train … --resume)")
    run = gr.State(None)
    outputs = [run, *plots, image, epoch, status, checkpoint]
    start_btn.click(start, [*settings, run], outputs, api_visibility="private")
    stop_btn.click(stop, run, status, api_visibility="private")
    resume_btn.click(resume, [run, more], outputs, api_visibility="private")
    epoch.release(replay, [run, epoch], image, api_visibility="private")


def _epochs_slider() -> Slider:
    return Slider(1, limits.max_epochs(), value=LIVE_EPOCHS, step=1, label="Epochs")


def _source_radio(default: str) -> Radio:
    return Radio(choices=list(SOURCES), value=default, label="Data")


def _digit_dropdown() -> Dropdown:
    return Dropdown(choices=DIGIT_CHOICES, value=DIGIT_CHOICES[0][1], label="Train on")


# --------------------------------------------------------------------------------------------- autoencoders
@user_errors
def reconstruct(model: str, count: float, seed: float):
    """The API endpoint `reconstruct`: (PNG of test digits over their reconstructions, summary)."""
    result = reconstruct_digits(model, int(count), int(seed))
    return str(result.image), (f"Test MSE {result.mse:.4f} vs {result.mean_image_mse:.4f} for always answering the "
                               f"mean image ({result.data}).")


@user_errors
def denoise(model: str, kind: str, strength: float, seed: float):
    """The API endpoint `denoise`: (PNG rows clean / noisy / denoised, summary with both MSEs)."""
    result = denoise_digits(model, kind, float(strength), 12, int(seed))
    return str(result.image), (f"MSE against the clean digits: noisy {result.noisy_mse:.4f} → denoised "
                               f"{result.denoised_mse:.4f}")


@user_errors
def anomalies(model: str, others: str, threshold: float | None):
    """The API endpoint `anomaly`: (error histogram rows, PNG of the worst-reconstructed inputs, summary)."""
    view = anomaly_view(model, others, None if threshold is None else float(threshold))
    r = view.report
    text = (f"Threshold {r.threshold:.4f} ({r.threshold_rule}): flags {r.flagged_others}/{len(r.other_errors)} "
            f"{others} and {r.flagged_digits}/{len(r.digit_errors)} digits · AUROC {r.auroc:.3f}")
    return pd.DataFrame(view.histogram), str(view.top_image), text


def show_map(model: str):
    rows, latent = latent_map_points(model)
    return pd.DataFrame(rows), (f"First two principal components of the codes: {latent.explained[0]:.0%} and "
                                f"{latent.explained[1]:.0%} of their variance. Click a point to decode it.")


def decode_clicked(model: str, evt: gr.SelectData):
    value = evt.value if isinstance(evt.value, dict) else {}
    x, y = value.get("x"), value.get("y")
    if x is None or y is None:
        x, y = (evt.index if isinstance(evt.index, (list, tuple)) and len(evt.index) == 2 else (0.0, 0.0))
    return decode_map_point(model, float(x), float(y)), f"decoded at ({float(x):.2f}, {float(y):.2f})"


@user_errors
def decode_typed(model: str, x: float, y: float):
    """The API endpoint `decode_point`: the digit an autoencoder decodes from the point (x, y) of its 2-D latent map."""
    return decode_map_point(model, float(x), float(y))


# --------------------------------------------------------------------------------------------- CycleGAN
@gpu(translate_seconds)
@user_errors
def translate(image: str, model: str, max_side: float):
    """The API endpoint `translate`: the photo translated by a CycleGAN generator (PNG at the photo's size)."""
    if not image:
        raise gr.Error("Upload a photo first.")
    return str(translate_photo(image, model, int(max_side)).path)


# --------------------------------------------------------------------------------------------- the tab
def _digits_tab(gan_models: dict[str, str]) -> None:
    """Bundled digit generators: a grid of seeds and a latent walk."""
    with gr.Row():
        with gr.Column(scale=1):
            model = Dropdown(choices=[(n, n) for n in gan_models], value=next(iter(gan_models), None),
                                label="Bundled generator")
            about = gr.Markdown(next(iter(gan_models.values()), ""))
            seed = Number(value=0, precision=0, minimum=0, label="First seed")
            count = Slider(1, MAX_DIGITS, value=32, step=1, label="How many digits")
            go = gr.Button("Generate", variant="primary")
            keyframes = gr.Textbox(value="0, 1, 2, 3", label="Walk through seeds")
            frames = Slider(2, 30, value=10, step=1, label="Frames between keyframes")
            walk_btn = gr.Button("Latent walk (GIF)")
        with gr.Column(scale=2):
            grid = gr.Image(label="Generated digits", type="filepath", height=420)
            walk_out = gr.Image(label="Latent walk", type="filepath", height=200)
    model.change(lambda m: gan_models.get(m, ""), model, about, api_visibility="private")
    clear_then(go.click, generate, [model, seed, count], [grid], api_name="generate_digits")
    walk_fps = Number(12, minimum=1, maximum=60, visible=False, label="Frames per second")
    clear_then(walk_btn.click, walk_digits, [model, keyframes, frames, walk_fps], [walk_out], api_name="digit_walk")


def _train_gan_tab() -> None:
    """A live digits-DCGAN run: settings, the offline examples and the training panel."""
    defaults = DigitGANConfig()
    tutorial_adam = adam_text(*DEFAULTS["tutorial"][1:])
    gr.Markdown("Watch the discriminator and generator pull against each other (their losses move in "
                "antiphase) while the fixed-noise grid turns into digits. Your run is yours alone. On the "
                "offline scikit-learn digits (1,500 images) the grid stays noise for the first few hundred "
                "steps; the examples below are settings that get to digits there. The course's optimizer for "
                f"the tutorial DCGAN ({tutorial_adam}, made for MNIST's 60,000 images and thousands of steps) "
                "draws no digits in 20 epochs on them.")
    with gr.Row():
        arch = Radio(choices=[(arch_text(a), a) for a in GAN_ARCHS], value=defaults.arch, label="Architecture")
        digit = _digit_dropdown()
        source = _source_radio(defaults.source)
    with gr.Row():
        epochs = _epochs_slider()
        batch = Number(value=0, precision=0, minimum=0, label="Batch (0: the architecture's)")
        optimizer = Radio(choices=[(optimizer_text(n), n) for n in OPTIMIZERS], value=next(iter(OPTIMIZERS)),
                          label="Optimizer")
        seed = Number(value=defaults.seed, precision=0, minimum=0, label="Seed")
    settings = [arch, digit, source, epochs, batch, optimizer, seed]
    gr.Examples(
        [[e["arch"], "all" if e["digit"] is None else str(e["digit"]), e["source"], e["epochs"], e["batch"],
          e["optimizer"], e["seed"]] for e in DIGIT_GAN_EXAMPLES],
        settings, label="Runs that draw digits on the offline data (about 2, 1 and 10 minutes on a 2-core CPU)")
    _training_panel(DigitGANTrainer, settings, start_gan)


def _train_ae_tab() -> None:
    """A live autoencoder run: settings and the training panel."""
    defaults = AEConfig()
    with gr.Row():
        arch = Radio(choices=list(AE_ARCHS), value=defaults.arch, label="Architecture")
        noise = Radio(choices=NOISE_CHOICES, value=NOISE_CHOICES[0][1], label="Denoising: train on noisy inputs")
        strength = Slider(0, 1, value=NOISE_STRENGTH, step=0.05, label="Noise strength")
    with gr.Row():
        digit = _digit_dropdown()
        source = _source_radio(defaults.source)
        epochs = _epochs_slider()
        seed = Number(value=defaults.seed, precision=0, minimum=0, label="Seed")
    _training_panel(AETrainer, [arch, noise, strength, digit, source, epochs, seed], start_ae)


def _reconstruct_tab(ae_model: Dropdown) -> None:
    with gr.Row():
        count = Slider(4, 32, value=12, step=1, label="Test digits")
        seed = Number(value=0, precision=0, minimum=0, label="Pick seed")
        btn = gr.Button("Reconstruct", variant="primary")
    image = gr.Image(label="Inputs (top) and reconstructions (bottom)", type="filepath")
    text = gr.Markdown()
    clear_then(btn.click, reconstruct, [ae_model, count, seed], [image, text], api_name="reconstruct")


def _denoise_tab(ae_model: Dropdown) -> None:
    with gr.Row():
        kind = Radio(choices=list(NOISE_KINDS), value=NOISE_KINDS[0], label="Noise")
        strength = Slider(0, 1, value=0.5, step=0.05, label="Strength")
        seed = Number(value=0, precision=0, minimum=0, label="Seed")
        btn = gr.Button("Add noise and denoise", variant="primary")
    image = gr.Image(label="Clean / noisy / denoised", type="filepath")
    text = gr.Markdown()
    clear_then(btn.click, denoise, [ae_model, kind, strength, seed], [image, text], api_name="denoise")


def _anomalies_tab(ae_model: Dropdown) -> None:
    with gr.Row():
        others = Radio(choices=list(PROBE_KINDS), value="letters", label="Non-digits")
        threshold = Number(value=None, minimum=0, label="Threshold (MSE)",
                           placeholder="empty: the digits' 99th percentile")
        btn = gr.Button("Score", variant="primary")
    with gr.Row():
        hist = gr.BarPlot(x="error", y="count", color="group", height=300,
                          title="Reconstruction error: digits vs non-digits")
        top = gr.Image(label="Worst reconstructed inputs", type="filepath", height=300)
    text = gr.Markdown()
    clear_then(btn.click, anomalies, [ae_model, others, threshold], [hist, top, text], api_name="anomaly")


def _latent_map_tab(ae_model: Dropdown) -> None:
    btn = gr.Button("Map the test digits' codes", variant="primary")
    with gr.Row():
        scatter = gr.ScatterPlot(x="x", y="y", color="digit", height=420, title="Codes (PCA)")
        with gr.Column():
            decoded = gr.Image(label="Decoded point", image_mode="L", height=200)
            x = Number(value=0.0, label="x")
            y = Number(value=0.0, label="y")
            dec_btn = gr.Button("Decode (x, y)")
    text = gr.Markdown()
    btn.click(show_map, ae_model, [scatter, text], api_visibility="private")
    scatter.select(decode_clicked, ae_model, [decoded, text], api_visibility="private")
    dec_btn.click(decode_typed, [ae_model, x, y], decoded, api_name="decode_point")


def _cyclegan_tab() -> None:
    translators = translation_models()
    gr.Markdown("The authors' pretrained CycleGAN generators (downloaded on first use). The photo keeps its "
                "aspect ratio; the networks were trained on 256 px crops of horses and zebras.")
    with gr.Row():
        with gr.Column():
            photo = Image(label="Photo")
            direction = Radio(choices=[(d, n) for n, d in translators.items()],
                              value=next(iter(translators), None), label="Direction")
            max_side = Slider(128, 1024, value=512, step=64, label="Working size (long side, px)")
            btn = gr.Button("Translate", variant="primary")
            weights_panel(direction, [btn])
        translated = gr.Image(label="Translated (PNG, labelled AI-generated)", type="filepath")
    clear_then(btn.click, translate, [photo, direction, max_side], [translated], api_name="translate", **heavy())


def build() -> None:
    data = load_digits("train")
    gr.Markdown(
        "The labs behind the slides, runnable offline. Digits data: **" + data.description + "**. "
        "Fetch the real MNIST with `python -m gen_models fetch mnist-train mnist-test`."
    )
    gan_models, autoencoders = digit_gan_models(), ae_models()
    with gr.Tabs():
        with gr.Tab("DCGAN digits"):
            _digits_tab(gan_models)
        with gr.Tab("Train a DCGAN"):
            _train_gan_tab()
        with gr.Tab("Autoencoders"):
            ae_model = Dropdown(choices=[(f"{n}: {d}", n) for n, d in autoencoders.items()],
                                   value=next(iter(autoencoders), None), label="Bundled autoencoder")
            with gr.Tabs():
                with gr.Tab("Reconstruct"):
                    _reconstruct_tab(ae_model)
                with gr.Tab("Denoise"):
                    _denoise_tab(ae_model)
                with gr.Tab("Anomalies"):
                    _anomalies_tab(ae_model)
                with gr.Tab("Latent map"):
                    _latent_map_tab(ae_model)
                with gr.Tab("Train an autoencoder"):
                    _train_ae_tab()
        with gr.Tab("CycleGAN horse ↔ zebra"):
            _cyclegan_tab()

    gr.api(train_digits_gan, api_name="train_digits_gan")
    gr.api(train_autoencoder, api_name="train_autoencoder")
