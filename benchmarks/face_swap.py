"""Face swap speed: training steps per second per layout, width and size, and swap frames per second end to end.

Training runs real steps of :class:`gen_models.train.face_swap.FaceSwapTrainer` (augmentation, warp, masked SSIM +
MSE, Adam) on the example clips' faces; the swap is :func:`gen_models.pipelines.face_swap.swap_video` on the
60-frame example clip with the bundled pair (decode, detect, align, both smoothing modes, merge, H.264 encode).
Usage: python -m benchmarks.face_swap [--steps N] [--device cpu|cuda] [--quick] [--json PATH]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from benchmarks.timing import add_json_option, device_meta, median_seconds, report, torch_sync
from gen_models.core.device import get_device
from gen_models.media.face_sets import extract
from gen_models.train.face_swap import FaceSwapConfig, FaceSwapTrainer

EXAMPLES = Path(__file__).resolve().parents[1] / "spaces" / "face_swap" / "examples"
GRID = [("original", 8), ("original", 4), ("original", 2), ("original", 1), ("lightweight", 8), ("lightweight", 2)]


def seconds_per_step(trainer: FaceSwapTrainer, steps: int) -> float:
    events = (e for e in trainer.run_steps(10 * steps + 10) if e.kind == "step")
    return median_seconds(lambda: next(events), steps, warmup=2, sync=torch_sync(trainer.device))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=10, help="timed steps per configuration")
    parser.add_argument("--device", default=None)
    parser.add_argument("--quick", action="store_true", help="only the ÷8 layouts at 64 px")
    add_json_option(parser)
    args = parser.parse_args()
    device = args.device or str(get_device())
    rows = []
    for size in (64, 128):
        people = [extract([EXAMPLES / f"{n}_clip.mp4"], size, name=s) for s, n in (("A", "astronaut"),
                                                                                   ("B", "grace_hopper"))]
        for layout, width in GRID:
            if args.quick and (size != 64 or width != 8):
                continue
            trainer = FaceSwapTrainer(FaceSwapConfig(layout, size, width, batch=16, device=device), *people)
            step = seconds_per_step(trainer, args.steps)
            rows.append({"work": f"train {layout} ÷{width}", "size": size, "batch": 16, "per_s": 1 / step,
                         "unit": "steps/s", "per_min": 60 / step})
    from gen_models.pipelines.face_swap import swap_video

    swap_video(EXAMPLES / "astronaut_clip.mp4")  # warm-up: model load, first detection
    for smoothing in ("per-frame", "smoothed"):
        started = time.perf_counter()
        result = swap_video(EXAMPLES / "astronaut_clip.mp4", smoothing=smoothing)
        seconds = time.perf_counter() - started
        rows.append({"work": f"swap 256² clip ({smoothing} shown)", "size": 64, "batch": None,
                     "per_s": result.frames / seconds, "unit": "frames/s", "per_min": 60 * result.frames / seconds,
                     "flicker": round(result.flicker[smoothing], 3)})
    columns = [("work", "work"), ("size", "px"), ("batch", "batch"), ("per_s", "per second", ".2f"),
               ("unit", "unit"), ("per_min", "per minute", ".0f"), ("flicker", "flicker")]
    report("face_swap", rows, columns, {**device_meta(device), "timed_steps": args.steps}, args.json)


if __name__ == "__main__":
    main()
