"""Digits lab training speed: seconds per step and per epoch on the offline digits, per architecture and batch.

Runs a few real training steps of :class:`gen_models.train.digits_gan.DigitGANTrainer` and
:class:`gen_models.train.autoencoders.AETrainer` on the scikit-learn digits (1,500 training images), so the numbers
say how long the *Classic labs* tab takes per epoch on this machine. Usage:
python -m benchmarks.digits_training [--steps N] [--device cpu|cuda] [--json PATH]
"""

from __future__ import annotations

import argparse

from benchmarks.timing import add_json_option, device_meta, median_seconds, report, torch_sync
from gen_models.core.device import get_device
from gen_models.train.autoencoders import AEConfig, AETrainer, StepEvent
from gen_models.train.digits_gan import DigitGANConfig, DigitGANTrainer


def seconds_per_step(trainer, steps: int) -> float:
    """Median wall time of ``steps`` training steps after one warm-up step."""
    events = (e for e in trainer.run(10_000) if isinstance(e, StepEvent) or getattr(e, "kind", "") == "step")
    return median_seconds(lambda: next(events), steps, warmup=1, sync=torch_sync(trainer.device))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--device", default=None)
    add_json_option(parser)
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
    rows = []
    for name, make, batches in runs:
        for batch in batches:
            trainer = make(batch)
            step = seconds_per_step(trainer, args.steps)
            per_epoch = trainer.steps_per_epoch
            rows.append({"model": name, "batch": batch, "s_per_step": step, "steps_per_epoch": per_epoch,
                         "s_per_epoch": step * per_epoch})
    columns = [("model", "model"), ("batch", "batch"), ("s_per_step", "s/step", ".3f"),
               ("steps_per_epoch", "steps/epoch"), ("s_per_epoch", "s/epoch", ".1f")]
    report("digits_training", rows, columns,
           {**device_meta(device), "data": "scikit-learn digits", "steps": args.steps}, args.json)


if __name__ == "__main__":
    main()
