"""Talking heads: frames/s for FOMM and TPSMM at batch 1 and batched, and peak memory for a 5 s vs a 60 s driver.

Speed uses the real vox-256 networks with random weights (speed does not depend on the values). The memory part
runs the whole pipeline (decode, face box, crop, animate, H.264 encode with audio) in a fresh process per video
length, with a small FOMM so that a 60 s video finishes in minutes on a CPU; the model's own memory is the same
for both lengths, so the difference shows what the video's length costs.

Usage: python benchmarks/talking_heads.py [--frames N] [--batch B] [--skip-memory]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from gen_models.core.device import get_device  # noqa: E402
from gen_models.pipelines.animate import animate_frames  # noqa: E402

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


def frames_per_second(model: torch.nn.Module, frames: list[np.ndarray], batch: int) -> float:
    list(animate_frames(model, frames[0], iter(frames[:batch]), batch=batch))  # warm-up
    if model.parameters().__next__().is_cuda:
        torch.cuda.synchronize()
    start = time.perf_counter()
    list(animate_frames(model, frames[0], iter(frames), batch=batch))
    if model.parameters().__next__().is_cuda:
        torch.cuda.synchronize()
    return len(frames) / (time.perf_counter() - start)


def peak_rss_mb() -> float:
    """This process's peak resident memory. (``ru_maxrss`` would include the parent's peak from before the fork.)"""
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def memory_run(seconds: float, folder: Path) -> None:
    """(Child process) the full pipeline on a driver of ``seconds``; prints peak RSS in MB as JSON."""
    from media_fixtures import driving_clip
    from PIL import Image

    from gen_models.core import registry
    from gen_models.models.fomm import FOMM
    from gen_models.pipelines.animate import animate

    weights = folder / "weights" / "fomm-vox"
    weights.mkdir(parents=True, exist_ok=True)
    model = FOMM(SMALL_FOMM)
    torch.save({"generator": model.generator.state_dict(), "kp_detector": model.kp_detector.state_dict()},
               weights / "vox-cpk.pth.tar")
    manifest = {"version": 1, "weights": {"fomm-vox": {
        "repo_id": "bench/fomm", "filename": "vox-cpk.pth.tar", "revision": "main", "license": "mit",
        "source": "https://example.org", "architecture": "fomm", "config": SMALL_FOMM}}}
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
    parser.add_argument("--skip-memory", action="store_true")
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
    name = torch.cuda.get_device_name() if gpu else f"CPU ({torch.get_num_threads()} threads)"
    print(f"device: {name}, {count} frames per measurement")
    print(f"{'model':<16}{'batch 1 fps':>14}{f'batch {batch} fps':>16}")
    for label, model in models(device).items():
        print(f"{label:<16}{frames_per_second(model, frames, 1):>14.2f}{frames_per_second(model, frames, batch):>16.2f}")
    if args.skip_memory:
        return
    print("\nwhole pipeline, small FOMM, 25 fps driver with sound")
    print(f"{'driver':>8}{'frames':>8}{'peak RSS MB':>14}{'time s':>9}")
    for seconds in (5, 60):
        out = subprocess.run([sys.executable, __file__, "--memory-run", str(seconds)], capture_output=True, text=True)
        if out.returncode:
            print(out.stderr[-2000:])
            continue
        row = json.loads(out.stdout.strip().splitlines()[-1])
        print(f"{seconds:>7}s{row['frames']:>8}{row['peak_mb']:>14.0f}{row['took_s']:>9.1f}")


if __name__ == "__main__":
    main()
