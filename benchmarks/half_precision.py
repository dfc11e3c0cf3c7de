"""How far each model's outputs move in half precision: ``python -m benchmarks.half_precision [--device cuda]``.

Every row runs one model at its real size twice on the same inputs, in float32 and under ``torch.autocast`` in
float16 and bfloat16, and compares what a user gets: the uint8 pixels of a face, an animated frame, a translation or
a colorization (max and mean absolute difference in levels of 255, and the share of pixels more than 2 levels
off), or an age model's probabilities. A row is "safe" when no pixel moves more than ``--max-levels`` (default 8)
and the mean stays under ``--mean-levels`` (default 0.5): then the catalog entry may say ``"half": true``.

The weights are the real ones where they are on this machine (``python -m gen_models fetch NAME``), else random
ones in the official layout (the column says which: random weights give a first idea, the real ones decide).
On a CPU only bfloat16 is measured (float16 convolutions are not implemented there); ``--quick`` uses small
inputs (a smoke test).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from benchmarks.timing import add_json_option, report


@dataclass(frozen=True)
class Case:
    name: str
    what: str
    run: Callable[[torch.nn.Module, torch.device, bool], np.ndarray]  # model, device, quick → uint8 or probabilities


def _frames(count: int, side: int = 256) -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    return [rng.integers(0, 256, (side, side, 3), dtype=np.uint8) for _ in range(count)]


def _talking(net, device, quick) -> np.ndarray:
    from gen_models.pipelines.animate import animate_frames, to_uint8

    frames = _frames(2 if quick else 8)
    return np.stack([to_uint8(f) for f in animate_frames(net, frames[0], iter(frames), batch=2)])


def _faces(net, device, quick) -> np.ndarray:
    from gen_models.core.latent import z_from_seeds
    from gen_models.pipelines.faces import to_uint8

    z = z_from_seeds(range(2 if quick else 4), net.z_dim).to(device)
    with torch.no_grad():
        return to_uint8(net(z))


def _translate(net, device, quick) -> np.ndarray:
    from gen_models.models.cyclegan import translate

    return translate(net, _frames(1, 128 if quick else 256)[0], 512)


def _colorize(net, device, quick) -> np.ndarray:
    gray = _frames(1, 256 if quick else 512)[0].mean(axis=2, keepdims=True).repeat(3, axis=2).astype(np.uint8)
    return net.colorize(gray)


CASES = (
    Case("fomm-vox", "8 animated 256² frames", _talking),
    Case("tpsmm-vox", "8 animated 256² frames", _talking),
    Case("pggan-celebahq-1024", "4 faces of 1024²", _faces),
    Case("cyclegan-horse2zebra", "a 256² translation", _translate),
    Case("deoldify-artistic", "a 512² colorization at render factor 35", _colorize),
    Case("deoldify-stable", "a 512² colorization at render factor 35", _colorize),
    Case("zhang-eccv16", "a 512² colorization", _colorize),
)


def _model(name: str, device: torch.device) -> tuple[torch.nn.Module, str]:
    from gen_models.core import hub, registry
    from gen_models.core.manifest import load_manifest

    entry = load_manifest()[name]
    real = hub.is_cached(entry) or hub.local_override(entry) is not None
    return registry.create(name, weights=real, device=device).eval(), "released" if real else "random"


def measure(case: Case, device: torch.device, dtypes: tuple[torch.dtype, ...], quick: bool) -> list[dict[str, Any]]:
    net, weights = _model(case.name, device)
    with torch.no_grad():
        reference = case.run(net, device, quick).astype(np.float64)
        rows = []
        for dtype in dtypes:
            with torch.autocast(device.type, dtype=dtype):
                half = case.run(net, device, quick).astype(np.float64)
            diff = np.abs(half - reference)
            rows.append({"model": case.name, "weights": weights, "dtype": str(dtype).replace("torch.", ""),
                         "output": case.what, "max": float(diff.max()), "mean": float(diff.mean()),
                         "over_2": float((diff > 2).mean())})
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--only", nargs="+", help="models to measure (default: all rows)")
    parser.add_argument("--quick", action="store_true", help="small inputs: a smoke test")
    parser.add_argument("--max-levels", type=float, default=8.0)
    parser.add_argument("--mean-levels", type=float, default=0.5)
    add_json_option(parser)
    args = parser.parse_args(argv)
    device = torch.device(args.device)
    dtypes = (torch.float16, torch.bfloat16) if device.type == "cuda" else (torch.bfloat16,)
    cases = [c for c in CASES if not args.only or c.name in args.only]
    rows = []
    for case in cases:
        try:
            rows += measure(case, device, dtypes, args.quick)
        except Exception as exc:  # one model's failure must not lose the others' figures
            rows.append({"model": case.name, "weights": "-", "dtype": "-", "output": f"failed: {exc}"})
    for row in rows:
        if "max" in row:
            row["safe"] = "yes" if row["max"] <= args.max_levels and row["mean"] <= args.mean_levels else "no"
    report("half_precision", rows, ["model", "weights", "dtype", "output", ("max", "max Δ", ".1f"),
                                    ("mean", "mean Δ", ".3f"), ("over_2", "share > 2", ".2%"), "safe"],
           meta={"device": str(device), "autocast": ", ".join(str(d) for d in dtypes), "quick": args.quick,
                 "limits": f"max ≤ {args.max_levels:g}, mean ≤ {args.mean_levels:g} levels"}, json_path=args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
