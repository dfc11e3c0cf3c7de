"""Helpers of the batch tests: a folder of photos (faces, faceless ones, one corrupt file) and a catalog with tiny
random weights in the official formats (CycleGAN, DCGAN) beside the shipped entries (dlib age, the face-swap pair)."""

from __future__ import annotations

import json
import re
from pathlib import Path

from PIL import Image, ImageOps

ROOT = Path(__file__).resolve().parents[2]
SPACES = ROOT / "spaces"
FACES = [SPACES / "age" / "examples" / "astronaut.jpg", SPACES / "face_swap" / "examples" / "grace_hopper.jpg",
         SPACES / "face_swap" / "examples" / "astronaut.jpg"]
FACELESS = [SPACES / "age" / "examples" / "coffee.jpg", SPACES / "colorize" / "examples" / "chelsea_cat.jpg"]
SWAP_CLIP = SPACES / "face_swap" / "examples" / "astronaut_clip.mp4"
TRANSLATOR, GENERATOR, MISSING = "cyclegan-batch-test", "dcgan-batch-test", "cyclegan-batch-missing"


def write_photos(folder: Path, count: int = 20, corrupt: bool = True) -> Path:
    """``count`` photos (the examples, mirrored, cropped, shrunk; JPEG and PNG; some in a subfolder) and, with
    ``corrupt``, a text file named broken.jpg."""
    sources = [Image.open(path).convert("RGB") for path in FACES + FACELESS]
    variants = ("orig", "flip", "crop", "small")
    made = 0
    for variant in variants:
        for index, image in enumerate(sources):
            if made == count:
                break
            w, h = image.size
            picture = {"orig": image, "flip": ImageOps.mirror(image),
                       "crop": image.crop((w // 10, h // 10, w - w // 10, h - h // 10)),
                       "small": image.resize((w * 3 // 4, h * 3 // 4))}[variant]
            target = folder / ("nested" if made % 4 == 3 else "") / f"photo{index}_{variant}.{'png' if made % 2 else 'jpg'}"
            target.parent.mkdir(parents=True, exist_ok=True)
            picture.save(target)
            made += 1
    if corrupt:
        (folder / "broken.jpg").write_text("this is a text file, not a JPEG\n")
    return folder


def batch(capsys, *args: object) -> tuple[int, str, str]:
    """``python -m gen_models batch ARGS`` in this process: (exit code, stdout, stderr)."""
    from gen_models.__main__ import main

    capsys.readouterr()
    code = main(["batch", *map(str, args)])
    out, err = capsys.readouterr()
    return code, out, err


def counts(out: str) -> tuple[int, int, int]:
    """(done, skipped, failed) from the summary line."""
    found = re.search(r"(\d+) done, (\d+) skipped, (\d+) failed of \d+", out)
    assert found, out
    return int(found.group(1)), int(found.group(2)), int(found.group(3))


def failures(folder: Path) -> list[dict]:
    path = folder / "failures.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def age_lines(folder: Path) -> list[dict]:
    return sorted((json.loads(line) for line in (folder / "age.jsonl").read_text().splitlines()),
                  key=lambda face: (face["file"], face["face"]))
