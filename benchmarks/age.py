"""Age prediction speed: faces/s for each model, end to end (decode, detect, align, predict) and the network alone.

AgeNet runs with random weights in the released layout (speed does not depend on the values), so no download is
needed. Usage: python benchmarks/age.py [--repeat N]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from gen_models.core.device import get_device  # noqa: E402
from gen_models.media.face import face_finder  # noqa: E402
from gen_models.media.image import load_image  # noqa: E402
from gen_models.models.agenet import AgeNet, preprocess_batch  # noqa: E402
from gen_models.models.dlib_age import DlibAgeGender  # noqa: E402

PHOTO = ROOT / "spaces" / "age" / "examples" / "astronaut.jpg"


def rate(fn, repeat: int) -> float:
    fn()
    start = time.perf_counter()
    for _ in range(repeat):
        fn()
    return repeat / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    device = get_device()
    image = load_image(PHOTO)
    finder = face_finder()
    faces = finder.detect(image.rgb)
    dlib_model = DlibAgeGender()
    agenet = AgeNet().eval().to(device)
    crops = [image.rgb[80:180, 170:270]] * 16

    def agenet_batch():
        agenet.probabilities(preprocess_batch(crops).to(device)).cpu()

    rows = [
        ("load + detect + align (512×512 photo)", rate(lambda: finder.detect(load_image(PHOTO).rgb), args.repeat), "images/s"),
        ("dlib age+gender, 1 face (chips + ONNX)", rate(lambda: dlib_model.predict(image.rgb, faces), args.repeat), "faces/s"),
        ("AgeNet, batch 1 (227×227)",
         rate(lambda: agenet.probabilities(preprocess_batch(crops[:1]).to(device)), args.repeat), "faces/s"),
        ("AgeNet, batch 16", 16 * rate(agenet_batch, max(2, args.repeat // 4)), "faces/s"),
    ]
    print(f"device: {device} ({torch.get_num_threads()} CPU threads); numpy {np.__version__}")
    print(f"{'step':<44}{'rate':>10}  unit")
    for name, value, unit in rows:
        print(f"{name:<44}{value:>10.1f}  {unit}")


if __name__ == "__main__":
    with torch.inference_mode():
        main()
