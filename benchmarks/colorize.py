"""Colorization speed: seconds per photo for each model, DeOldify at render factors 21 / 35 / 45.

The networks are built at full size with random weights (speed does not depend on the values), so nothing is
downloaded. The photo is 1024×768; DeOldify's cost depends on the render factor, the Zhang models always work at
256 px. Usage: python -m benchmarks.colorize [--factors 21 35 45] [--repeat N]
[--models artistic stable eccv16 siggraph17] [--json PATH]
"""

from __future__ import annotations

import argparse

import numpy as np
import torch

from benchmarks.timing import add_json_option, device_meta, median_seconds, report, torch_sync
from gen_models.core.device import get_device
from gen_models.models.deoldify import ARTISTIC, STABLE, DeOldify
from gen_models.models.zhang import Config, build, colorize_lab
from gen_models.pipelines.colorize import deoldify_colorize, to_gray


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--factors", type=int, nargs="+", default=[21, 35, 45])
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--models", nargs="+", default=["artistic", "stable", "eccv16", "siggraph17"])
    add_json_option(parser)
    args = parser.parse_args()
    device = get_device()
    sync = torch_sync(device)
    torch.manual_seed(0)
    photo = to_gray(np.random.default_rng(0).integers(0, 256, (768, 1024, 3), dtype=np.uint8))
    rows = []
    for label in args.models:
        if label in ("artistic", "stable"):
            model = DeOldify(ARTISTIC if label == "artistic" else STABLE).eval().to(device)
            row = {"model": "deoldify-" + label}
            for factor in args.factors:
                try:
                    row[f"rf {factor}"] = median_seconds(lambda m=model, f=factor: deoldify_colorize(m, photo, f),
                                                         args.repeat, sync=sync)
                except Exception as exc:  # a factor too large for the GPU is reported, not fatal
                    row[f"rf {factor}"] = type(exc).__name__[:9]
        else:
            model = build(Config(label)).eval().to(device)
            row = {"model": "zhang-" + label, "note": "fixed 256 px network input",
                   "seconds": median_seconds(lambda m=model: colorize_lab(m, photo), args.repeat, sync=sync)}
        rows.append(row)
        del model
        if device.type == "cuda":
            torch.cuda.empty_cache()
    columns = [("model", "model"), *((f"rf {f}", f"rf {f}", ".2f") for f in args.factors),
               ("seconds", "any rf", ".2f"), ("note", "note")]
    report("colorize", rows, columns, {**device_meta(device), "photo": "1024×768", "repeat": args.repeat},
           args.json, title="seconds per photo (median)")


if __name__ == "__main__":
    main()
