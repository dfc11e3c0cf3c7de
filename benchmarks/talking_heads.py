"""Talking heads: frames/s for FOMM and TPSMM at batch 1 and batched, and peak memory for a 5 s vs a 60 s driver.

Speed uses the real vox-256 networks with random weights (speed does not depend on the values). The memory part
runs the whole pipeline (decode, face box, crop, animate, H.264 encode with audio) in a fresh process per video
length, with a small FOMM so that a 60 s video finishes in minutes on a CPU; the model's own memory is the same
for both lengths, so the difference shows what the video's length costs.

Usage: python -m benchmarks.talking_heads [--frames N] [--batch B] [--repeat R] [--skip-memory] [--json PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from benchmarks.timing import add_json_option, device_meta, median_seconds, peak_rss_mb, report, torch_sync
from gen_models.core.device import get_device
from gen_models.pipelines.animate import animate_frames

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "spaces" / "talking_heads" / "examples"
SMALL_FOMM = {
    "kp_detector_params": {"block_expansion": 8, "max_features": 64, "num_blocks": 4},
    "generator_params": {"block_expansion": 8, "max_features": 64, "num_bottleneck_blocks": 2,
                         "dense_motion_params": {"block_expansion": 8, "max_features": 64, "num_blocks": 4}},
}


def models(device: torch.device) -> dict[str, torch.nn.Module]:
    from gen_models.models.fomm import FOMM

    found = {"fomm vox-256": FOMM().eval().to(device)}
    try:
        from gen_models.models.tpsmm import TPSMM
    except ImportError:
        return found
    found["tpsmm vox-256"] = TPSMM().eval().to(device)
    return found


def frames_per_second(model: torch.nn.Module, frames: list[np.ndarray], batch: int, repeat: int = 1) -> float:
    list(animate_frames(model, frames[0], iter(frames[:batch]), batch=batch))  # warm-up on one batch
    sync = torch_sync(next(model.parameters()).device)
    run = lambda: list(animate_frames(model, frames[0], iter(frames), batch=batch))  # noqa: E731
    return len(frames) / median_seconds(run, repeat, warmup=0, sync=sync)


def memory_run(seconds: float, folder: Path) -> None:
    """(Child process) the full pipeline on a driver of ``seconds``; prints peak RSS in MB as JSON."""
    from PIL import Image

    from gen_models.core import registry
    from gen_models.models.fomm import FOMM
    from gen_models.pipelines.animate import animate
    from tests.fixtures.media_fixtures import driving_clip

    weights = folder / "weights" / "fomm-vox"
    weights.mkdir(parents=True, exist_ok=True)
    model = FOMM(SMALL_FOMM)
    torch.save({"generator": model.generator.state_dict(), "kp_detector": model.kp_detector.state_dict()},
               weights / "vox-cpk.pth.tar")
    manifest = {"version": 1, "weights": {"fomm-vox": {
        "repo_id": "bench/fomm", "filename": "vox-cpk.pth.tar", "revision": "main", "license": "mit",
        "source": "https://example.org", "task": "talking-head", "architecture": "fomm", "config": SMALL_FOMM}}}
    (folder / "manifest.json").write_text(json.dumps(manifest))
    os.environ.update(GEN_MODELS_MANIFEST=str(folder / "manifest.json"), GEN_MODELS_WEIGHTS_DIR=str(folder / "weights"),
                      GEN_MODELS_OUTPUT_DIR=str(folder / "out"), GEN_MODELS_MAX_VIDEO_SECONDS="600")
    registry.clear()
    photo = np.asarray(Image.open(EXAMPLES / "astronaut.jpg").convert("RGB"))[20:286, 73:373]
    clip = driving_clip(photo, folder / f"driver-{seconds:g}s.mp4", frames=int(seconds * 25), fps=25)
    start = time.perf_counter()
    result = animate(EXAMPLES / "astronaut.jpg", clip, model="fomm-vox")
    took = time.perf_counter() - start
    peak = peak_rss_mb()
    print(json.dumps({"seconds": seconds, "frames": result.frames, "peak_mb": peak, "took_s": took}))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--frames", type=int, default=None, help="driving frames per measurement")
    parser.add_argument("--batch", type=int, default=None, help="the batched size (default 8 CPU, 32 GPU)")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--skip-memory", action="store_true")
    parser.add_argument("--memory-seconds", type=float, nargs="+", default=[5, 60], help="driver lengths to measure")
    add_json_option(parser)
    parser.add_argument("--memory-run", type=float, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory_run is not None:
        memory_run(args.memory_run, Path(tempfile.mkdtemp()))
        return
    device = get_device()
    gpu = device.type == "cuda"
    batch = args.batch or (32 if gpu else 8)
    count = args.frames or (4 * batch if gpu else batch)
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    frames = [rng.integers(0, 256, (256, 256, 3), dtype=np.uint8) for _ in range(count)]
    rows = [{"model": label, "batch_1": frames_per_second(model, frames, 1, args.repeat),
             "batched": frames_per_second(model, frames, batch, args.repeat)} for label, model in models(device).items()]
    meta = {**device_meta(device), "frames": count, "repeat": args.repeat}
    report("talking_heads", rows, [("model", "model"), ("batch_1", "batch 1 fps", ".2f"),
                                   ("batched", f"batch {batch} fps", ".2f")], meta, args.json)
    if args.skip_memory:
        return
    memory = []
    for seconds in args.memory_seconds:
        out = subprocess.run([sys.executable, "-m", "benchmarks.talking_heads", "--memory-run", str(seconds)],
                             cwd=ROOT, capture_output=True, text=True)
        if out.returncode:
            print(out.stderr[-2000:])
            continue
        memory.append(json.loads(out.stdout.strip().splitlines()[-1]))
    json_path = args.json.with_name(args.json.stem + "_memory" + args.json.suffix) if args.json else None
    print()
    report("talking_heads_memory", memory, [("seconds", "driver s", "g"), ("frames", "frames"),
                                            ("peak_mb", "peak RSS MB", ".0f"), ("took_s", "time s", ".1f")],
           {"pipeline": "whole pipeline, small FOMM, 25 fps driver with sound"}, json_path)


if __name__ == "__main__":
    main()
