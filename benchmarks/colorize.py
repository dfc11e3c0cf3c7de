"""Colorization speed: seconds per photo for each model, DeOldify at render factors 21 / 35 / 45.

The networks are built at full size with random weights (speed does not depend on the values), so nothing is
downloaded. The photo is 1024×768; DeOldify's cost depends on the render factor, the Zhang models always work at
256 px. Usage: python benchmarks/colorize.py [--factors 21 35 45] [--repeat N] [--models artistic stable eccv16 siggraph17]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from gen_models.core.device import get_device  # noqa: E402
from gen_models.models.deoldify import ARTISTIC, STABLE, DeOldify  # noqa: E402
from gen_models.models.zhang import build, colorize_lab  # noqa: E402
from gen_models.pipelines.colorize import deoldify_colorize, to_gray  # noqa: E402


def seconds(run, repeat: int, device: torch.device) -> float:
    run()  # warm-up
    if device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(repeat):
        run()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return (time.perf_counter() - start) / repeat


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--factors", type=int, nargs="+", default=[21, 35, 45])
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--models", nargs="+", default=["artistic", "stable", "eccv16", "siggraph17"])
    args = parser.parse_args()
    device = get_device()
    torch.manual_seed(0)
    photo = to_gray(np.random.default_rng(0).integers(0, 256, (768, 1024, 3), dtype=np.uint8))
    name = torch.cuda.get_device_name() if device.type == "cuda" else f"CPU ({torch.get_num_threads()} threads)"
    print(f"device: {name}; photo 1024×768; seconds per photo (mean of {args.repeat})")
    print(f"{'model':<20}" + "".join(f"{f'rf {f}':>10}" for f in args.factors))
    for label in args.models:
        if label in ("artistic", "stable"):
            model = DeOldify(ARTISTIC if label == "artistic" else STABLE).eval().to(device)
            cells = []
            for factor in args.factors:
                try:
                    took = seconds(lambda m=model, f=factor: deoldify_colorize(m, photo, f), args.repeat, device)
                    cells.append(f"{took:>10.2f}")
                except Exception as exc:  # a factor too large for the GPU is reported, not fatal
                    cells.append(f"{type(exc).__name__[:9]:>10}")
            print(f"{'deoldify-' + label:<20}" + "".join(cells))
        else:
            model = build(label).eval().to(device)
            took = seconds(lambda m=model: colorize_lab(m, photo), args.repeat, device)
            print(f"{'zhang-' + label:<20}{took:>10.2f}  (fixed 256 px network input)")
        del model
        if device.type == "cuda":
            torch.cuda.empty_cache()


if __name__ == "__main__":
    main()
