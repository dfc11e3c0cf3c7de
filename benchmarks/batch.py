"""Batch jobs: items/s of ``python -m gen_models batch`` on this machine, in one process and on a local Ray with 1
and 2 workers (actors), for tasks that run offline: age (the bundled dlib model) and CycleGAN translation (random
weights at the released size: speed does not depend on the values).

Each run is the whole command in a fresh process (``--quiet``, a fresh output folder): wall time from start to exit
(Ray's start-up included), and the job's own rate (items ÷ the time from the start of processing, the model's
loading or the actors' start-up included). A last row per task reruns the local job into the same folder, where
every item is skipped (the cost of resuming). Usage:

    python -m benchmarks.batch [--images 40] [--translate-images 16] [--max-side 256] [--repeat 1] [--json PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.timing import add_json_option, report

ROOT = Path(__file__).resolve().parent.parent
SPACES = ROOT / "spaces"
PHOTOS = [SPACES / "age" / "examples" / "astronaut.jpg", SPACES / "face_swap" / "examples" / "grace_hopper.jpg",
          SPACES / "face_swap" / "examples" / "astronaut.jpg", SPACES / "age" / "examples" / "coffee.jpg",
          SPACES / "colorize" / "examples" / "chelsea_cat.jpg"]
TRANSLATOR = "cyclegan-horse2zebra"
SUMMARY = re.compile(r"(\d+) done, (\d+) skipped, (\d+) failed of (\d+) in [\d.]+ s \(([\d.]+) items/s\)")


def write_photos(folder: Path, count: int) -> Path:
    """``count`` photos: the examples mirrored, cropped and shrunk (3 of 5 have a face)."""
    from PIL import Image, ImageOps

    folder.mkdir(parents=True, exist_ok=True)
    sources = [Image.open(p).convert("RGB") for p in PHOTOS]
    for index in range(count):
        image = sources[index % len(sources)]
        w, h = image.size
        variant = index // len(sources) % 4
        picture = [image, ImageOps.mirror(image), image.crop((w // 10, h // 10, w - w // 10, h - h // 10)),
                   image.resize((w * 3 // 4, h * 3 // 4))][variant]
        picture.save(folder / f"photo{index:03d}.jpg", quality=92)
    return folder


def stage_catalog(root: Path) -> dict[str, str]:
    """A catalog with the shipped entries and the released CycleGAN at full size with random weights."""
    import torch

    from gen_models.core import registry
    from gen_models.core.manifest import DEFAULT_MANIFEST, load_manifest

    manifest = load_manifest(DEFAULT_MANIFEST)
    entries = {e.name: e.to_json() for e in manifest if e.kind in ("bundled", "package")}
    entries[TRANSLATOR] = manifest[TRANSLATOR].to_json()
    entries[TRANSLATOR].pop("sha256", None)
    entries[TRANSLATOR].pop("size", None)
    (root / "manifest.json").write_text(json.dumps({"version": 1, "weights": entries}))
    env = {"GEN_MODELS_MANIFEST": str(root / "manifest.json"), "GEN_MODELS_WEIGHTS_DIR": str(root / "weights"),
           "GEN_MODELS_CACHE": str(root / "cache"), "HF_HUB_OFFLINE": "1", "RAY_USAGE_STATS_ENABLED": "0"}
    os.environ.update(env)
    target = root / "weights" / TRANSLATOR / manifest[TRANSLATOR].basename
    target.parent.mkdir(parents=True)
    torch.manual_seed(0)
    torch.save(registry.create(TRANSLATOR, weights=False, device="cpu").state_dict(), target)
    from gen_models.media.provenance import local_credentials

    local_credentials()  # the C2PA test signer, made once here rather than inside the first timed run
    return env


def run_batch(args: list[str], env: dict[str, str], settle_s: float = 3.0) -> tuple[float, dict]:
    """(wall seconds, the summary's counts and rate) of one ``python -m gen_models batch`` process, after
    ``settle_s`` of quiet (a Ray that the previous run shut down takes a moment to leave the CPUs)."""
    time.sleep(settle_s)
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "gen_models", "batch", *args, "--quiet"], capture_output=True,
                          text=True, cwd=ROOT, env={**os.environ, **env, "PYTHONPATH": str(ROOT)})
    wall = time.perf_counter() - started
    found = SUMMARY.search(done.stdout)
    if done.returncode != 0 or not found:
        raise RuntimeError(f"batch {' '.join(args)} exited {done.returncode}:\n{done.stdout}\n{done.stderr[-2000:]}")
    keys = ("done", "skipped", "failed", "items")
    return wall, {**dict(zip(keys, map(int, found.groups()[:4]))), "rate": float(found.group(5))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=40, help="photos for the age rows")
    parser.add_argument("--translate-images", type=int, default=16, help="photos for the translation rows (0: none)")
    parser.add_argument("--max-side", type=int, default=256, help="translation working size")
    parser.add_argument("--repeat", type=int, default=1, help="runs per row (the median is reported)")
    add_json_option(parser)
    args = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="bench-batch-"))
    try:
        env = stage_catalog(scratch)
        tasks = [("age", ["age"], write_photos(scratch / "age-in", args.images))]
        if args.translate_images:
            tasks.append(("translate", ["translate", "--model", TRANSLATOR, "--max-side", str(args.max_side)],
                          write_photos(scratch / "translate-in", args.translate_images)))
        ways = [("local, 1 process", []), ("Ray local, 1 worker", ["--ray", "local", "--workers", "1"]),
                ("Ray local, 2 workers", ["--ray", "local", "--workers", "2"])]
        rows = []
        for task, command, photos in tasks:
            first = None
            for how, extra in ways:
                walls, rates = [], []
                for attempt in range(args.repeat):
                    out = scratch / f"out-{task}-{len(rows)}-{attempt}"
                    first = first or out
                    wall, summary = run_batch([*command, "--input", str(photos), "--output", str(out), *extra], env)
                    walls.append(wall)
                    rates.append(summary["rate"])
                wall = statistics.median(walls)
                rows.append({"run": f"{task}, {how}", "items": summary["items"], "wall_s": wall,
                             "wall_rate": summary["items"] / wall, "job_rate": statistics.median(rates)})
                print(f"  {task}, {how}: {wall:.1f} s", file=sys.stderr, flush=True)
            wall, summary = run_batch([*command, "--input", str(photos), "--output", str(first)], env)
            rows.append({"run": f"{task}, local rerun, all skipped", "items": summary["skipped"], "wall_s": wall,
                         "wall_rate": summary["items"] / wall, "job_rate": None})
        import torch

        meta = {"cpus": os.cpu_count(), "torch": torch.__version__, "repeat": args.repeat,
                "translate_max_side": args.max_side,
                "note": "local: one process, torch's default threads; Ray: actors of 1 CPU each (1 torch thread)"}
        report("batch", rows, [("run", "run"), ("items", "items"), ("wall_s", "wall s", ".1f"),
                               ("wall_rate", "items/s (wall)", ".2f"), ("job_rate", "items/s (job)", ".2f")],
               meta, args.json)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
