"""Every benchmark in one command: each model and each end-to-end pipeline, one table, the same data as JSON.

    python benchmarks/run.py [--device cpu|cuda] [--json FILE] [--quick] [--only NAME ...] [--repeat N]

Each row runs in a fresh process of its own (so its memory peak is its own): the row's models are built and warmed
up untimed, then ``--repeat`` runs (default 3) are timed with :func:`benchmarks.timing.median_seconds` (one call
each, after a ``torch.cuda.synchronize`` on CUDA), and the table gives their median, min and max, a throughput
(items of one run ÷ the median) and the process's memory peak: its peak RSS (``VmHWM``) on a CPU, and on CUDA
``torch.cuda.max_memory_allocated`` (the RSS peak is then in the JSON and an extra column).

Models run at full size with fresh random weights from the catalog (``registry.create(name, weights=False)``;
speed does not depend on the values), so nothing is downloaded (``HF_HUB_OFFLINE=1`` is set for the rows). The
end-to-end pipelines that load catalog weights (talking heads, the face grid, colorization) get full-size random
weights in the released file formats, written once per run to a temporary ``GEN_MODELS_WEIGHTS_DIR`` with a
manifest that points there; the digits and face-swap pipelines use their bundled weights.

``--quick`` (a smoke test, about a minute on a 2-core CPU) times one run of tiny inputs and skips PGGAN 1024 and
DeOldify. ``--only`` takes row names or shell patterns (``'pggan*'``). ``--device cuda`` runs every row on the GPU
(this is the one GPU benchmark command); without ``--device`` the project's own choice is used
(``GEN_MODELS_DEVICE``, else CUDA, MPS, CPU). The table and JSON go to ``benchmarks/results/run.json``, or
``--json FILE``. The exit status is 1 if any row failed.
"""

from __future__ import annotations

import argparse
import fnmatch
import itertools
import json
import multiprocessing
import os
import shutil
import statistics
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if __name__ == "__main__" and not __package__:  # `python benchmarks/run.py`: run as the module, with the repository
    paths = [str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]  # on the path (its imports are absolute)
    os.execve(sys.executable, [sys.executable, "-m", "benchmarks.run", *sys.argv[1:]],
              {**os.environ, "PYTHONPATH": os.pathsep.join(paths)})

from benchmarks.timing import add_json_option, device_meta, median_seconds, peak_rss_mb, report, torch_sync  # noqa: E402

SPACES = ROOT / "spaces"
AGE_PHOTO = SPACES / "age" / "examples" / "astronaut.jpg"
TALKING_PHOTO = SPACES / "talking_heads" / "examples" / "astronaut.jpg"
TALKING_CROP = (slice(20, 286), slice(73, 373))  # the face area of that photo that the driving clip moves
GRAY_PHOTO = SPACES / "colorize" / "examples" / "cameraman.png"
SWAP_EXAMPLES = SPACES / "face_swap" / "examples"
DRIVER_FPS = 25.0
QUICK_SKIP = "skipped by --quick: full-size {what} is too slow for a smoke test on a CPU"


# ----------------------------------------------------------------------------------------------------- rows
@dataclass
class Ctx:
    """What a row's setup knows: the device, --quick, and a scratch folder of its own."""

    device: Any  # torch.device
    quick: bool
    tmp: Path

    @property
    def gpu(self) -> bool:
        return self.device.type == "cuda"

    def size(self, full: int, quick: int, gpu: int | None = None) -> int:
        """A workload size: tiny with --quick, larger on a GPU."""
        return quick if self.quick else gpu if self.gpu and gpu is not None else full


@dataclass
class Job:
    """One row, ready to time: ``run`` is one timed run doing ``items`` units of work (it may return the count it
    actually did); ``warm`` (default: ``run``) is the untimed warm-up; ``note`` is short (the table's), ``detail``
    says what exactly is timed (JSON only)."""

    run: Callable[[], Any]
    items: int
    work: str
    warm: Callable[[], Any] | None = None
    note: str = ""
    detail: str = ""


@dataclass(frozen=True)
class Row:
    name: str
    kind: str  # "model" or "pipeline"
    unit: str
    setup: Callable[[Ctx], Job]
    quick_skip: str | None = None  # why --quick skips the row
    stage: tuple[str, ...] = ()  # catalog entries whose random weights must be staged first


def _model(name: str, ctx: Ctx):
    """A catalog model at full size with fresh random weights, on the row's device, in eval mode."""
    from gen_models.core import registry

    return registry.create(name, weights=False, device=ctx.device)


def _n(count: int, noun: str) -> str:
    return f"{count} {noun}" + ("" if count == 1 else "s")


def _random_frames(count: int, side: int = 256):
    import numpy as np

    rng = np.random.default_rng(0)
    return [rng.integers(0, 256, (side, side, 3), dtype=np.uint8) for _ in range(count)]


def talking_model(entry: str) -> Callable[[Ctx], Job]:
    def setup(ctx: Ctx) -> Job:
        from gen_models.pipelines.animate import BATCH_CPU, BATCH_GPU, animate_frames

        model = _model(entry, ctx)
        batch = BATCH_GPU if ctx.gpu else BATCH_CPU
        frames = _random_frames(ctx.size(4 * batch, batch))

        def loop(driving) -> None:
            for _ in animate_frames(model, frames[0], iter(driving), batch=batch):
                pass

        return Job(lambda: loop(frames), len(frames), f"{len(frames)} frames, batch {batch}",
                   warm=lambda: loop(frames[:batch]), note="random 256² frames",
                   detail="pipelines.animate.animate_frames (keypoints, relative motion, generator) on random frames")

    return setup


def pggan(batch: int | None) -> Callable[[Ctx], Job]:
    def setup(ctx: Ctx) -> Job:
        from gen_models.core.latent import z_from_seeds
        from gen_models.pipelines.faces import BATCH, synthesize

        model = _model("pggan-celebahq-1024", ctx)
        size = batch or BATCH
        count = ctx.size(2 * size if batch == 1 else size, size, 16 if batch == 1 else 8 * size)
        z = z_from_seeds(range(count), model.z_dim)
        return Job(lambda: list(synthesize(model, z, 1024, size)), count, f"{count} faces of 1024², batch {size}",
                   warm=lambda: list(synthesize(model, z[:size], 1024, size)),
                   detail="pipelines.faces.synthesize: generator and uint8 conversion, no resize")

    return setup


def deoldify(factor: int) -> Callable[[Ctx], Job]:
    def setup(ctx: Ctx) -> Job:
        import numpy as np
        import torch

        from gen_models.pipelines.colorize import deoldify_colorize, to_gray

        model = _model("deoldify-artistic", ctx)
        photo = to_gray(np.random.default_rng(0).integers(0, 256, (768, 1024, 3), dtype=np.uint8))
        count = ctx.size(1, 1, 4)

        def run() -> None:
            with torch.inference_mode():
                for _ in range(count):
                    deoldify_colorize(model, photo, factor)

        return Job(run, count, f"{_n(count, 'photo')} 1024×768 at {factor * 16}²",
                   detail="models.deoldify.deoldify_colorize (resize, network, luma transfer) on a random gray photo")

    return setup


def cyclegan(ctx: Ctx) -> Job:
    from gen_models.models.cyclegan import translate

    model = _model("cyclegan-horse2zebra", ctx)
    images = _random_frames(ctx.size(4, 1, 64))

    def run() -> None:
        for image in images:
            translate(model, image)

    return Job(run, len(images), f"{_n(len(images), 'image')} of 256², one per call", warm=lambda: translate(model, images[0]),
               note="horse2zebra", detail="models.cyclegan.translate on random images")


def dcgan(ctx: Ctx) -> Job:
    from gen_models.core.latent import z_from_seeds
    from gen_models.models import dcgan as dcgan_module
    from gen_models.pipelines.faces import BATCH, synthesize

    model = dcgan_module.build(dcgan_module.Config()).eval().to(ctx.device)
    count = ctx.size(64, BATCH, 512)
    z = z_from_seeds(range(count), model.z_dim)
    return Job(lambda: list(synthesize(model, z, 64, BATCH)), count, f"{count} faces of 64², batch {BATCH}",
               warm=lambda: list(synthesize(model, z[:BATCH], 64, BATCH)), note="models.dcgan (not in the catalog)",
               detail="pipelines.faces.synthesize with the DCGAN 64 face generator")


def age_model(entry: str) -> Callable[[Ctx], Job]:
    def setup(ctx: Ctx) -> Job:
        import torch

        from gen_models.media.face import face_finder
        from gen_models.media.image import load_image

        model = _model(entry, ctx)
        rgb = load_image(AGE_PHOTO).rgb
        faces = face_finder().detect(rgb)[:1]
        if not faces:
            raise RuntimeError(f"no face found in {AGE_PHOTO.name}")
        count = ctx.size(20, 4, 100) if entry == "dlib-age" else ctx.size(8, 2, 64)

        def run() -> None:
            with torch.inference_mode():
                for _ in range(count):
                    model.predict_faces(rgb, faces, False)

        note = "ONNX Runtime on the CPU (no GPU path)" if entry == "dlib-age" and ctx.device.type != "cpu" else ""
        return Job(run, count, f"{count} faces, one per call", warm=lambda: model.predict_faces(rgb, faces, False),
                   note=note, detail=f"predict_faces (crop or align, network) on the detected face of {AGE_PHOTO.name}")

    return setup


def _short_clip(source: Path, frames: int, target: Path) -> Path:
    """The first ``frames`` frames of a clip, re-encoded (H.264, no sound)."""
    from gen_models.media.video import open_video, read_frames, write_mp4

    video = open_video(source)
    reader = read_frames(video)
    try:
        write_mp4(list(itertools.islice(reader, frames)), target, video.fps, model=None)
    finally:
        reader.close()
    return target


def faceswap_training(ctx: Ctx) -> Job:
    from gen_models.core import registry
    from gen_models.media.face_sets import extract
    from gen_models.train.face_swap import FaceSwapConfig, FaceSwapTrainer

    config = registry.entry("faceswap-astronaut-hopper").config  # the bundled pair's layout, size and width
    clips = [SWAP_EXAMPLES / f"{name}_clip.mp4" for name in ("astronaut", "grace_hopper")]
    if ctx.quick:
        clips = [_short_clip(clip, 12, ctx.tmp / clip.name) for clip in clips]
    size = int(config["size"])
    people = [extract([clip], size, name=side) for clip, side in zip(clips, "AB")]
    trainer = FaceSwapTrainer(FaceSwapConfig(config["layout"], size, int(config["width"]), batch=16,
                                             device=str(ctx.device)), *people)
    steps = ctx.size(10, 2, 50)
    events = (e for e in trainer.run_steps(10**6) if e.kind == "step")

    def run() -> None:
        for _ in range(steps):
            next(events)

    faces = "/".join(str(len(p.faces)) for p in people)
    return Job(run, steps, f"{steps} steps, batch 16", warm=lambda: [next(events) for _ in range(2)],
               note=f"{config['layout']} {size} px ÷{config['width']}, {faces} faces",
               detail="train.face_swap.FaceSwapTrainer steps (augment, warp, masked SSIM + MSE, Adam) with the bundled "
                      "pair's config on the faces of the two example clips")


def talking_heads(ctx: Ctx) -> Job:
    import numpy as np
    from PIL import Image

    from gen_models.pipelines.animate import animate
    from tests.fixtures.media_fixtures import driving_clip

    photo = np.asarray(Image.open(TALKING_PHOTO).convert("RGB"))[TALKING_CROP]
    frames = ctx.size(int(5 * DRIVER_FPS), 8)
    clip = driving_clip(photo, ctx.tmp / "driver.mp4", frames=frames, fps=DRIVER_FPS)
    warm_clip = driving_clip(photo, ctx.tmp / "warm.mp4", frames=2, fps=DRIVER_FPS)
    seconds = frames / DRIVER_FPS
    return Job(lambda: animate(TALKING_PHOTO, clip, model="fomm-vox").frames, frames,
               f"{seconds:g} s driver, {frames} frames", warm=lambda: animate(TALKING_PHOTO, warm_clip, model="fomm-vox"),
               note="animate(), random FOMM weights staged",
               detail="pipelines.animate.animate: decode, face box, crop, FOMM vox-256 at the default batch, H.264 + AAC; "
                      "random full-size weights staged to a temporary GEN_MODELS_WEIGHTS_DIR; driver: the example photo "
                      "nodding (tests/fixtures/media_fixtures.py), 320², 25 fps, with sound")


def face_grid(ctx: Ctx) -> Job:
    from gen_models.pipelines.faces import generate_faces

    entry = "pggan-celebahq-1024"
    return Job(lambda: len(generate_faces(entry, range(16), 256)), 16, "16 faces, PNGs at 256²",
               warm=lambda: generate_faces(entry, [0], 256), note="generate_faces(), random weights staged",
               detail="pipelines.faces.generate_faces: PGGAN 1024 at batch 8, resized to 256², PNGs with metadata")


def colorization(factor: int) -> Callable[[Ctx], Job]:
    def setup(ctx: Ctx) -> Job:
        from gen_models.pipelines.colorize import colorize

        entry = "deoldify-artistic"
        return Job(lambda: colorize(GRAY_PHOTO, entry, factor), 1, f"{GRAY_PHOTO.name} (512²), factor {factor}",
                   warm=lambda: colorize(GRAY_PHOTO, entry, 7), note="colorize(), random weights staged",
                   detail="pipelines.colorize.colorize: decode, DeOldify artistic, luma transfer, 2 PNGs")

    return setup


def digit_walk(ctx: Ctx) -> Job:
    from gen_models.models.dcgan_digits import bundled_models
    from gen_models.pipelines.labs import digit_walk as walk_gif

    name = next(iter(bundled_models()))
    seeds, per_segment = [0, 1, 2, 3], 12  # the tab's keyframes; 4 × 12 = 48 frames, + the closing keyframe
    frames = len(seeds) * per_segment + 1
    return Job(lambda: walk_gif(name, seeds, per_segment, 12.0, loop=True), frames, f"{frames}-frame looping GIF",
               note="48 frames + the closing keyframe",
               detail=f"pipelines.labs.digit_walk with the bundled {name}: 4 keyframes, 12 frames each, GIF")


def digits_epoch(ctx: Ctx) -> Job:
    from gen_models.pipelines.labs import LabRun, train_to_end

    def epoch(limit: int | None) -> int:
        run = LabRun.digit_gan(arch="tutorial", source="sklearn", epochs=1, batch=64, limit=limit)
        train_to_end(run)
        return run.trainer.steps_per_epoch

    limit = 128 if ctx.quick else None
    return Job(lambda: epoch(limit), 0, "1 epoch, batch 64" + (", first 128 digits" if ctx.quick else ""),
               warm=lambda: epoch(128), note="tutorial DCGAN, scikit-learn digits",
               detail="pipelines.labs.LabRun.digit_gan + train_to_end: one epoch, epoch PNG and checkpoint written")


def face_swap(ctx: Ctx) -> Job:
    from gen_models.pipelines.face_swap import swap_video

    clip = SWAP_EXAMPLES / "astronaut_clip.mp4"
    if ctx.quick:
        clip = _short_clip(clip, 10, ctx.tmp / "clip.mp4")
    warm = _short_clip(SWAP_EXAMPLES / "astronaut_clip.mp4", 4, ctx.tmp / "warm.mp4")
    frames = 10 if ctx.quick else 60
    return Job(lambda: swap_video(clip).frames, frames, f"{frames} frames of 256²" + (" (copy)" if ctx.quick else ""),
               warm=lambda: swap_video(warm), note="swap_video(), bundled pair",
               detail="pipelines.face_swap.swap_video: decode, detect, align, both smoothings, merge, H.264 (+ AAC)")


ROWS: tuple[Row, ...] = (
    Row("fomm", "model", "frames/s", talking_model("fomm-vox")),
    Row("tpsmm", "model", "frames/s", talking_model("tpsmm-vox")),
    Row("pggan-1024-b1", "model", "faces/s", pggan(1), QUICK_SKIP.format(what="PGGAN 1024")),
    Row("pggan-1024-batched", "model", "faces/s", pggan(None), QUICK_SKIP.format(what="PGGAN 1024")),
    Row("deoldify-rf21", "model", "images/s", deoldify(21), QUICK_SKIP.format(what="DeOldify")),
    Row("deoldify-rf35", "model", "images/s", deoldify(35), QUICK_SKIP.format(what="DeOldify")),
    Row("cyclegan-256", "model", "images/s", cyclegan),
    Row("dcgan-64", "model", "faces/s", dcgan),
    Row("dlib-age", "model", "faces/s", age_model("dlib-age")),
    Row("agenet", "model", "faces/s", age_model("agenet-adience")),
    Row("faceswap-train", "model", "steps/s", faceswap_training),
    Row("talking-heads-5s", "pipeline", "frames/s", talking_heads, stage=("fomm-vox",)),
    Row("face-grid-16", "pipeline", "faces/s", face_grid, QUICK_SKIP.format(what="PGGAN 1024"),
        stage=("pggan-celebahq-1024",)),
    Row("colorize-rf21", "pipeline", "images/s", colorization(21), QUICK_SKIP.format(what="DeOldify"),
        stage=("deoldify-artistic",)),
    Row("colorize-rf35", "pipeline", "images/s", colorization(35), QUICK_SKIP.format(what="DeOldify"),
        stage=("deoldify-artistic",)),
    Row("digit-walk-48", "pipeline", "frames/s", digit_walk),
    Row("digits-epoch", "pipeline", "steps/s", digits_epoch),
    Row("face-swap-clip", "pipeline", "frames/s", face_swap),
)
BY_NAME = {row.name: row for row in ROWS}


# ----------------------------------------------------------------------------------------------- measuring
def measure(row: Row, quick: bool, repeat: int, tmp: Path) -> dict[str, Any]:
    """(In the row's own process) set up, warm up, then time ``repeat`` runs; the raw figures."""
    import torch

    from gen_models.core.device import get_device

    device = get_device()  # GEN_MODELS_DEVICE, set by the parent; also tunes the CPU allocator as the app does
    cuda = device.type == "cuda"
    if cuda:
        torch.cuda.reset_peak_memory_stats(device)
    job = row.setup(Ctx(device, quick, tmp))
    sync = torch_sync(device)
    (job.warm or job.run)()
    done: list[Any] = []
    times = [median_seconds(lambda: done.append(job.run()), 1, warmup=0, sync=sync) for _ in range(repeat)]
    items = done[-1] if isinstance(done[-1], int) and not isinstance(done[-1], bool) else job.items
    return {"work": job.work, "items": items, "times_s": times, "note": job.note, "detail": job.detail,
            "peak_rss_mb": peak_rss_mb(),
            "peak_cuda_mb": torch.cuda.max_memory_allocated(device) / 2**20 if cuda else None}


def _child(name: str, quick: bool, repeat: int, env: dict[str, str], tmp: str, conn) -> None:
    """Entry point of a row's process: the result (or the error) goes back through ``conn``."""
    os.environ.update(env)
    try:
        result = measure(BY_NAME[name], quick, repeat, Path(tmp))
    except Exception as exc:
        traceback.print_exc()
        result = {"error": f"{type(exc).__name__}: {exc}".splitlines()[0][:300]}
    conn.send(result)
    conn.close()


def run_row(row: Row, quick: bool, repeat: int, env: dict[str, str], tmp: Path) -> dict[str, Any]:
    """The row in a fresh interpreter (spawn: nothing inherited, so the peak is the row's own, and CUDA is safe)."""
    context = multiprocessing.get_context("spawn")
    receive, send = context.Pipe(duplex=False)
    process = context.Process(target=_child, args=(row.name, quick, repeat, env, str(tmp), send), daemon=True)
    process.start()
    send.close()
    try:
        result = receive.recv()
    except EOFError:
        result = None
    process.join()
    if result is None:
        code = process.exitcode
        why = " (killed: out of memory?)" if code == -9 else ""
        result = {"error": f"the row's process exited with code {code}{why} before reporting"}
    return result


# ------------------------------------------------------------------------------------------------- staging
class Staging:
    """Full-size random weights in the released formats for catalog entries, under one temporary folder with a
    manifest pointing there (sha256 and size filled in, so the usual integrity check runs); each entry once."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.weights = folder / "weights"
        self.manifest_path = folder / "weights_manifest.json"
        self.done: set[str] = set()

    def env(self) -> dict[str, str]:
        return {"GEN_MODELS_MANIFEST": str(self.manifest_path), "GEN_MODELS_WEIGHTS_DIR": str(self.weights)}

    def ensure(self, names: Sequence[str]) -> None:
        todo = [n for n in names if n not in self.done]
        if not todo:
            return
        import torch

        from gen_models.core.hub import sha256_file
        from gen_models.core.manifest import DEFAULT_MANIFEST, load_manifest

        source = load_manifest(DEFAULT_MANIFEST)
        data = json.loads(self.manifest_path.read_text() if self.manifest_path.exists() else DEFAULT_MANIFEST.read_text())
        for name in todo:
            path = self.weights / name / source[name].basename
            path.parent.mkdir(parents=True, exist_ok=True)
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(0)
                torch.save(self._state(name), path)
            data["weights"][name].update(sha256=sha256_file(path), size=path.stat().st_size)
            self.done.add(name)
        self.manifest_path.write_text(json.dumps(data, indent=2) + "\n")

    @staticmethod
    def _state(name: str) -> Any:
        from gen_models.core import registry

        architecture = registry.entry(name).architecture
        if architecture == "deoldify":  # the fastai state_dict with spectral- and weight-norm keys
            from tests.fixtures.random_weights import official_artistic_state

            if registry.entry(name).config.get("variant", "artistic") != "artistic":
                raise ValueError(f"{name}: only the artistic DeOldify layout can be staged here")
            return official_artistic_state(0)
        model = registry.create(name, weights=False, device="cpu")
        if architecture == "fomm":  # the parts of the official training container the loader reads
            return {"generator": model.generator.state_dict(), "kp_detector": model.kp_detector.state_dict()}
        if architecture == "pggan":  # huggan's plain genforce state_dict
            return model.state_dict()
        raise ValueError(f"{name}: no staging format for architecture {architecture!r}")


# ---------------------------------------------------------------------------------------------------- main
def select(patterns: Sequence[str] | None) -> tuple[list[Row], list[str]]:
    """The rows that ``--only``'s names or patterns match (all without it), in table order; and the patterns that
    match nothing."""
    if not patterns:
        return list(ROWS), []
    unknown = [p for p in patterns if not any(fnmatch.fnmatchcase(r.name, p) for r in ROWS)]
    return [r for r in ROWS if any(fnmatch.fnmatchcase(r.name, p) for p in patterns)], unknown


def table_row(row: Row, result: dict[str, Any] | None, skipped: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"row": row.name, "kind": row.kind, "unit": row.unit}
    if skipped:
        return {**out, "status": "skipped", "note": skipped}
    assert result is not None
    if "error" in result:
        return {**out, "status": "error", "note": "failed: " + result["error"]}
    times = result["times_s"]
    median = statistics.median(times)
    return {**out, "status": "ok", "work": result["work"], "items": result["items"], "median_s": median,
            "min_s": min(times), "max_s": max(times), "rate": result["items"] / median if median > 0 else None,
            "peak_mb": result["peak_cuda_mb"] if result["peak_cuda_mb"] is not None else result["peak_rss_mb"],
            "peak_rss_mb": result["peak_rss_mb"], "peak_cuda_mb": result["peak_cuda_mb"], "times_s": times,
            "note": result["note"], "detail": result["detail"]}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default=None, help="cpu or cuda (cuda:N); default: the project's choice")
    add_json_option(parser)
    parser.add_argument("--quick", action="store_true", help="one run of tiny inputs; skips PGGAN 1024 and DeOldify")
    parser.add_argument("--only", nargs="+", metavar="NAME", help="rows to run (names or patterns): " + ", ".join(BY_NAME))
    parser.add_argument("--repeat", type=int, default=None, help="timed runs per row (default 3, 1 with --quick)")
    parser.add_argument("--row", help=argparse.SUPPRESS)  # measure one row in this process and print its JSON
    args = parser.parse_args(argv)
    repeat = args.repeat or (1 if args.quick else 3)
    if repeat < 1:
        parser.error("--repeat must be at least 1")
    rows, unknown = select(args.only)
    if unknown:
        parser.error(f"no row called {', '.join(unknown)}; the rows are: {', '.join(BY_NAME)}")
    if args.row and args.row not in BY_NAME:
        parser.error(f"no row called {args.row}")
    import torch

    if args.device:
        try:
            device = torch.device(args.device)
        except RuntimeError:
            parser.error(f"--device {args.device!r} is not a device (use cpu or cuda)")
        if device.type == "cuda" and not torch.cuda.is_available():
            parser.error("--device cuda, but torch sees no CUDA GPU here")
        os.environ["GEN_MODELS_DEVICE"] = str(device)
    else:
        from gen_models.core.device import get_device

        device = get_device()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # random weights only: never download
    if args.row:  # debugging: one row in this process (its peak then includes this process's own start)
        row = BY_NAME[args.row]
        with tempfile.TemporaryDirectory(prefix="bench-row-") as tmp:
            if row.stage:
                staging = Staging(Path(tmp) / "staged")
                staging.ensure(row.stage)
                os.environ.update(staging.env())
            os.environ.setdefault("GEN_MODELS_OUTPUT_DIR", str(Path(tmp) / "outputs"))
            print(json.dumps(measure(row, args.quick, repeat, Path(tmp)), indent=2))
        return 0

    started = time.perf_counter()
    results = []
    with tempfile.TemporaryDirectory(prefix="bench-run-") as scratch:
        staging = Staging(Path(scratch) / "staged")
        for index, row in enumerate(rows, 1):
            if args.quick and row.quick_skip:
                results.append(table_row(row, None, row.quick_skip))
                print(f"[{index}/{len(rows)}] {row.name}: skipped", file=sys.stderr, flush=True)
                continue
            t0 = time.perf_counter()
            folder = Path(scratch) / row.name
            folder.mkdir()
            env = {"GEN_MODELS_DEVICE": str(device), "HF_HUB_OFFLINE": os.environ["HF_HUB_OFFLINE"],
                   "GEN_MODELS_OUTPUT_DIR": str(folder / "outputs")}
            try:
                if row.stage:
                    staging.ensure(row.stage)
                    env.update(staging.env())
                result = run_row(row, args.quick, repeat, env, folder)
            except Exception as exc:  # staging failed
                traceback.print_exc()
                result = {"error": f"{type(exc).__name__}: {exc}".splitlines()[0][:300]}
            shutil.rmtree(folder, ignore_errors=True)
            results.append(table_row(row, result))
            status = results[-1]["status"]
            print(f"[{index}/{len(rows)}] {row.name}: {status} ({time.perf_counter() - t0:.1f} s)", file=sys.stderr,
                  flush=True)
    cuda = device.type == "cuda"
    memory = ("peak MB: torch.cuda.max_memory_allocated of the row's process (its peak RSS in the next column)"
              if cuda else "peak MB: peak RSS (VmHWM) of the row's own process")
    meta = {**device_meta(device), "repeat": repeat, "quick": args.quick, "memory": memory,
            "wall_s": round(time.perf_counter() - started, 1)}
    columns = [("row", "row"), ("kind", "kind"), ("work", "one run"), ("median_s", "median s", ".3f"),
               ("min_s", "min s", ".3f"), ("max_s", "max s", ".3f"), ("rate", "throughput", ".3g"), ("unit", "unit"),
               ("peak_mb", "peak CUDA MB" if cuda else "peak RSS MB", ".0f")]
    if cuda:
        columns.append(("peak_rss_mb", "peak RSS MB", ".0f"))
    columns.append(("note", "note"))
    report("run", results, columns, meta, args.json)
    return 1 if any(r["status"] == "error" for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
