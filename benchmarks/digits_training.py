"""Digits lab training speed: seconds per step and per epoch on the offline digits, per architecture and batch.

Runs a few real training steps of :class:`gen_models.train.digits_gan.DigitGANTrainer` and
:class:`gen_models.train.autoencoders.AETrainer` on the scikit-learn digits (1,500 training images), so the numbers
say how long the *Classic labs* tab takes per epoch on this machine. Usage:
python benchmarks/digits_training.py [--steps N] [--device cpu|cuda]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch  # noqa: E402

from gen_models.core.device import get_device  # noqa: E402
from gen_models.train.autoencoders import AEConfig, AETrainer, StepEvent  # noqa: E402
from gen_models.train.digits_gan import DigitGANConfig, DigitGANTrainer  # noqa: E402


def seconds_per_step(trainer, steps: int) -> float:
    """Mean wall time of ``steps`` training steps after one warm-up step."""
    events = (e for e in trainer.run(10_000) if isinstance(e, StepEvent) or getattr(e, "kind", "") == "step")
    next(events)
    if trainer.device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(steps):
        next(events)
    if trainer.device.type == "cuda":
        torch.cuda.synchronize()
    return (time.perf_counter() - start) / steps


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--device", default=None)
    args = parser.parse_args()
    device = args.device or str(get_device())
    runs = [
        ("DCGAN tutorial", lambda b: DigitGANTrainer(DigitGANConfig("tutorial", source="sklearn", batch=b,
                                                                    device=device)), (64, 256)),
        ("DCGAN lab", lambda b: DigitGANTrainer(DigitGANConfig("lab", source="sklearn", batch=b, device=device)),
         (32, 128)),
        ("AE dense", lambda b: AETrainer(AEConfig("dense", source="sklearn", batch=b, device=device)), (64,)),
        ("AE conv", lambda b: AETrainer(AEConfig("conv", source="sklearn", batch=b, device=device)), (64,)),
    ]
    print(f"device: {device}; {torch.get_num_threads()} CPU threads; scikit-learn digits; {args.steps} steps each")
    print(f"{'model':<18}{'batch':>7}{'s/step':>10}{'steps/epoch':>13}{'s/epoch':>10}")
    for name, make, batches in runs:
        for batch in batches:
            trainer = make(batch)
            step = seconds_per_step(trainer, args.steps)
            per_epoch = trainer.steps_per_epoch
            print(f"{name:<18}{batch:>7}{step:>10.3f}{per_epoch:>13}{step * per_epoch:>10.1f}")


if __name__ == "__main__":
    main()
