"""Face generator speed: faces/s at batch 1 and batched, and the time of a short latent walk, per model.

Models are built at full size with random weights (speed does not depend on the values), so nothing is
downloaded. Usage: python -m benchmarks.generators [--faces N] [--batch B] [--walk-frames F] [--repeat R] [--json PATH]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import torch

from benchmarks.timing import add_json_option, device_meta, median_seconds, report, torch_sync
from gen_models.core.device import get_device
from gen_models.core.latent import walk, z_from_seeds
from gen_models.media.video import write_gif, write_mp4
from gen_models.models.dcgan import Generator as DCGAN
from gen_models.models.pggan import PGGANGenerator
from gen_models.pipelines.faces import synthesize


def faces_per_second(model, count: int, batch: int, size: int, repeat: int, sync) -> float:
    z = z_from_seeds(range(count), model.z_dim)
    list(synthesize(model, z[:batch], size, batch))  # warm-up on one batch
    return count / median_seconds(lambda: list(synthesize(model, z, size, batch)), repeat, warmup=0, sync=sync)


def walk_seconds(model, frames_per_segment: int, size: int, batch: int, repeat: int) -> float:
    """A 3-keyframe loop rendered and written as GIF and MP4 (no warm-up: the models are warm by then)."""

    def render() -> None:
        z = walk(z_from_seeds([1, 2, 3], model.z_dim), frames_per_segment)
        frames = list(synthesize(model, z, size, batch))
        folder = Path(tempfile.mkdtemp())
        write_gif(frames, folder / "w.gif", 12)
        write_mp4(frames, folder / "w.mp4", 12)

    return median_seconds(render, repeat, warmup=0)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--faces", type=int, default=8)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--walk-frames", type=int, default=4, help="frames per segment of a 3-keyframe loop")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--models", nargs="+", default=None, help="a subset of the model labels")
    add_json_option(parser)
    args = parser.parse_args()
    device = get_device()
    sync = torch_sync(device)
    models = {
        "pggan-1024 (out 1024)": (PGGANGenerator, 1024),
        "pggan-1024 (out 256, resized)": (PGGANGenerator, 256),
        "dcgan-64": (DCGAN, 64),
    }
    rows = []
    with torch.inference_mode():
        for name, (make, size) in models.items():
            if args.models and not any(name.startswith(m) for m in args.models):
                continue
            model = make().eval().to(device)
            rows.append({
                "model": name,
                "batch_1": faces_per_second(model, max(2, args.faces // 4), 1, size, args.repeat, sync),
                "batched": faces_per_second(model, args.faces, args.batch, size, args.repeat, sync),
                "walk_s": walk_seconds(model, args.walk_frames, min(size, 512), args.batch, args.repeat),
            })
    columns = [("model", "model"), ("batch_1", "batch 1 faces/s", ".2f"),
               ("batched", f"batch {args.batch} faces/s", ".2f"),
               ("walk_s", f"walk s ({3 * args.walk_frames + 1} frames)", ".1f")]
    report("generators", rows, columns, {**device_meta(device), "faces": args.faces, "repeat": args.repeat}, args.json)


if __name__ == "__main__":
    main()
