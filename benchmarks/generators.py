"""Face generator speed: faces/s at batch 1 and batched, and the time of a short latent walk, per model.

Models are built at full size with random weights (speed does not depend on the values), so nothing is
downloaded. Usage: python benchmarks/generators.py [--faces N] [--batch B]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch  # noqa: E402

from gen_models.core.device import get_device  # noqa: E402
from gen_models.core.latent import walk, z_from_seeds  # noqa: E402
from gen_models.media.video import write_gif, write_mp4  # noqa: E402
from gen_models.models.dcgan import Generator as DCGAN  # noqa: E402
from gen_models.models.pggan import PGGANGenerator  # noqa: E402
from gen_models.pipelines.faces import synthesize  # noqa: E402


def faces_per_second(model, count: int, batch: int, size: int) -> float:
    z = z_from_seeds(range(count), model.z_dim)
    list(synthesize(model, z[:batch], size, batch))  # warm-up
    start = time.perf_counter()
    list(synthesize(model, z, size, batch))
    return count / (time.perf_counter() - start)


def walk_seconds(model, frames_per_segment: int, size: int, batch: int) -> float:
    start = time.perf_counter()
    z = walk(z_from_seeds([1, 2, 3], model.z_dim), frames_per_segment)
    frames = list(synthesize(model, z, size, batch))
    folder = Path(tempfile.mkdtemp())
    write_gif(frames, folder / "w.gif", 12)
    write_mp4(frames, folder / "w.mp4", 12)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--faces", type=int, default=8)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--walk-frames", type=int, default=4, help="frames per segment of a 3-keyframe loop")
    args = parser.parse_args()
    device = get_device()
    models = {
        "pggan-1024 (out 1024)": (PGGANGenerator(), 1024),
        "pggan-1024 (out 256, resized)": (PGGANGenerator(), 256),
        "dcgan-64": (DCGAN(), 64),
    }
    print(f"device: {device}; {torch.get_num_threads()} CPU threads; {args.faces} faces per measurement")
    print(f"{'model':<32}{'batch 1':>10}{f'batch {args.batch}':>10}  faces/s   walk ({3 * args.walk_frames + 1} frames)")
    with torch.inference_mode():
        for name, (model, size) in models.items():
            model = model.eval().to(device)
            one = faces_per_second(model, max(2, args.faces // 4), 1, size)
            many = faces_per_second(model, args.faces, args.batch, size)
            seconds = walk_seconds(model, args.walk_frames, min(size, 512), args.batch)
            print(f"{name:<32}{one:>10.2f}{many:>10.2f}            {seconds:>6.1f} s")


if __name__ == "__main__":
    main()
