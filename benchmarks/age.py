"""Age prediction speed: faces/s for each model, end to end (decode, detect, align, predict) and the network alone.

AgeNet runs with random weights in the released layout (speed does not depend on the values), so no download is
needed. Usage: python -m benchmarks.age [--repeat N] [--json PATH]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

from benchmarks.timing import add_json_option, device_meta, median_seconds, report, torch_sync
from gen_models.core.device import get_device
from gen_models.media.face import face_finder
from gen_models.media.image import load_image
from gen_models.models.agenet import AgeNet, preprocess_batch
from gen_models.models.dlib_age import DlibAgeGender

ROOT = Path(__file__).resolve().parent.parent
PHOTO = ROOT / "spaces" / "age" / "examples" / "astronaut.jpg"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=20)
    add_json_option(parser)
    args = parser.parse_args()
    device = get_device()
    sync = torch_sync(device)
    image = load_image(PHOTO)
    finder = face_finder()
    faces = finder.detect(image.rgb)
    dlib_model = DlibAgeGender()
    agenet = AgeNet().eval().to(device)
    crops = [image.rgb[80:180, 170:270]] * 16

    def agenet_batch():
        agenet.probabilities(preprocess_batch(crops).to(device)).cpu()

    def rate(fn, items: int = 1, repeat: int = args.repeat) -> float:
        return items / median_seconds(fn, repeat, sync=sync)

    rows = [
        {"step": "load + detect + align (512×512 photo)", "unit": "images/s",
         "rate": rate(lambda: finder.detect(load_image(PHOTO).rgb))},
        {"step": "dlib age+gender, 1 face (chips + ONNX)", "unit": "faces/s",
         "rate": rate(lambda: dlib_model.predict(image.rgb, faces))},
        {"step": "AgeNet, batch 1 (227×227)", "unit": "faces/s",
         "rate": rate(lambda: agenet.probabilities(preprocess_batch(crops[:1]).to(device)))},
        {"step": "AgeNet, batch 16", "unit": "faces/s", "rate": rate(agenet_batch, 16, max(2, args.repeat // 4))},
    ]
    report("age", rows, [("step", "step"), ("rate", "rate", ".1f"), ("unit", "unit")],
           {**device_meta(device), "numpy": np.__version__, "repeat": args.repeat}, args.json)


if __name__ == "__main__":
    with torch.inference_mode():
        main()
