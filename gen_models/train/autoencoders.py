"""Train the digit autoencoders (dense or convolutional, optionally denoising) step by step, for the app and the CLI.

An :class:`AETrainer` holds one run (a :class:`gen_models.train.protocol.Trainer`): its model, optimiser, data and
its own random generator, so several users can train at once in threads and each run is reproducible from its seed
(the process-wide RNG and thread settings are never touched). ``run`` trains until a total epoch count and yields an
event per optimiser step (the live MSE loss) and one per epoch (test-set MSE and an image of eight test digits over
their reconstructions, with the noisy inputs in between for a denoising run); the finished epochs stay in
``snapshots`` for replay. ``save``/``resume`` capture everything down to the position inside an epoch, so a stopped
and resumed run ends with exactly the weights of an uninterrupted one; ``export`` writes the model as safetensors
with its config in the metadata, the file :func:`gen_models.models.autoencoders.load_model` reads.

``python -m gen_models.train autoencoder …`` drives the same trainer (see :func:`add_parser`), and running this
module retrains the bundled models in ``gen_models/bundled/autoencoders``.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import math
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import save_file
from torch import nn

from gen_models.core.checkpoint import load_checkpoint, load_strict
from gen_models.core.device import get_device
from gen_models.core.errors import GenModelsError, InputError, WeightsIntegrityError
from gen_models.media.image import save_png
from gen_models.models import autoencoders as ae
from gen_models.train.digits import SOURCES, check_digit, load_digits
from gen_models.train.protocol import (
    CurveGroup,
    EpochEvent,
    HistoryRow,
    StepEvent,
    latest,
    stop_on_interrupt,
    target_epoch,
)

__all__ = ["AEConfig", "AETrainer", "EpochEvent", "EpochSummary", "StepEvent", "add_parser", "run_cli"]

PREVIEW = 8
CHECKPOINT_FORMAT = 1


@dataclass(frozen=True)
class AEConfig:
    """One training run: architecture, optional denoising noise (kind, strength), digits, data and optimiser."""

    arch: str = "dense"
    denoise: tuple[str, float] | None = None
    digit: int | None = None
    source: str = "auto"
    epochs: int = 20
    batch: int = 64
    lr: float = 1e-3
    seed: int = 0
    device: str | None = None  # None: CUDA, then MPS, then CPU

    def checked(self) -> AEConfig:
        """The same config with values normalised, or an InputError naming the bad field."""
        if self.arch not in ae.ARCHS:
            raise InputError(f"architecture must be one of {', '.join(ae.ARCHS)}, got {self.arch!r}")
        denoise = None
        if self.denoise is not None:
            if not isinstance(self.denoise, (tuple, list)) or len(self.denoise) != 2:
                raise InputError(f"denoise must be None or (kind, strength), got {self.denoise!r}")
            denoise = ae.check_noise(*self.denoise)
        if self.source not in SOURCES:
            raise InputError(f"data source must be one of {', '.join(SOURCES)}, got {self.source!r}")
        for name, value, low in (("epochs", self.epochs, 0), ("batch", self.batch, 1), ("seed", self.seed, 0)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
                raise InputError(f"{name} must be a whole number ≥ {low}, got {value!r}")
        if isinstance(self.lr, bool) or not isinstance(self.lr, (int, float)) or not 0 < self.lr < 1:
            raise InputError(f"learning rate must be between 0 and 1, got {self.lr!r}")
        return replace(self, denoise=denoise, digit=check_digit(self.digit), epochs=int(self.epochs),
                       batch=int(self.batch), seed=int(self.seed), lr=float(self.lr))

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["denoise"] = list(self.denoise) if self.denoise else None
        return out

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> AEConfig:
        raw = dict(raw)
        raw["denoise"] = tuple(raw["denoise"]) if raw.get("denoise") else None
        return cls(**raw)


@dataclass(frozen=True)
class EpochSummary:
    """A finished epoch: mean training loss, test MSE (and the noisy inputs' MSE when denoising), the image.

    ``image`` is uint8 (H, W): a row of eight test digits above the model's reconstructions of them (with a row of
    the noisy inputs in between when denoising). Its epoch event's metrics are ``train_loss``, ``test_mse`` and, when denoising,
    ``noisy_input_mse``.
    """

    epoch: int
    step: int
    train_loss: float
    test_mse: float
    noisy_mse: float | None
    image: np.ndarray = field(repr=False)

    @property
    def metrics(self) -> dict[str, float]:
        out = {"train_loss": self.train_loss, "test_mse": self.test_mse}
        if self.noisy_mse is not None:
            out["noisy_input_mse"] = self.noisy_mse
        return out


@dataclass(frozen=True)
class ExportResult:
    path: Path
    sha256: str
    size: int


def _init_weights(model: nn.Module, generator: torch.Generator) -> None:
    """PyTorch's default layer initialisation, drawn from the run's own generator instead of the global one."""
    for module in model.modules():
        if isinstance(module, (nn.Linear, nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.kaiming_uniform_(module.weight, a=math.sqrt(5), generator=generator)
            fan_in, _ = nn.init._calculate_fan_in_and_fan_out(module.weight)
            bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0.0
            nn.init.uniform_(module.bias, -bound, bound, generator=generator)


def preview_image(rows: list[np.ndarray], gap: int = 2) -> np.ndarray:
    """Rows of (k, 28, 28) images in [0, 1] tiled into one uint8 image with gray gaps."""
    k = len(rows[0])
    height, width = len(rows) * (ae.SIZE + gap) + gap, k * (ae.SIZE + gap) + gap
    out = np.full((height, width), 96, np.uint8)
    for r, images in enumerate(rows):
        for c, image in enumerate(images):
            top, left = gap + r * (ae.SIZE + gap), gap + c * (ae.SIZE + gap)
            out[top:top + ae.SIZE, left:left + ae.SIZE] = np.round(np.clip(image, 0, 1) * 255).astype(np.uint8)
    return out


class AETrainer:
    """One autoencoder training run; see the module docstring. Step events and history rows carry ``loss`` (the
    batch's MSE); the row of an epoch's last step also its ``test_mse``."""

    checkpoint_format = CHECKPOINT_FORMAT
    checkpoint_prefix = "autoencoder"
    checkpoint_suffix = ".pt"
    synthetic = False
    epoch_image_caption = "test digits above their reconstructions"
    curves = (CurveGroup("Reconstruction loss (MSE)", ("loss",)), CurveGroup("Test MSE per epoch", ("test_mse",)))

    def __init__(self, config: AEConfig) -> None:
        self.config = config = config.checked()
        self.device = torch.device(config.device) if config.device else get_device()
        self.train_set = load_digits("train", config.digit, config.source)
        self.test_set = load_digits("test", config.digit, config.source)
        if not len(self.train_set) or not len(self.test_set):
            raise InputError("no training or test digits for this choice of digit and data source")
        self._train = torch.from_numpy(self.train_set.images).to(self.device)
        self._test = torch.from_numpy(self.test_set.images).to(self.device)
        self._generator = torch.Generator().manual_seed(config.seed)
        self.model = ae.build_model(config.arch)
        _init_weights(self.model, self._generator)
        self.model.to(self.device)
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=config.lr)
        if config.denoise:
            noisy = ae.add_noise(self.test_set.images, *config.denoise, seed=config.seed)
            self._test_input = torch.from_numpy(noisy).to(self.device)
        else:
            self._test_input = self._test
        picks = np.linspace(0, len(self.test_set) - 1, min(PREVIEW, len(self.test_set))).round().astype(np.int64)
        self._preview = torch.from_numpy(picks).to(self.device)
        self.epoch = 0  # completed epochs
        self._order: torch.Tensor | None = None  # the current epoch's shuffle, while it is under way
        self._position = 0  # batches of the current epoch already done
        self.history: list[HistoryRow] = []
        self.snapshots: list[EpochSummary] = []
        self._running = threading.Lock()

    @property
    def steps_per_epoch(self) -> int:
        return math.ceil(len(self.train_set) / self.config.batch)

    @property
    def step(self) -> int:
        return self.epoch * self.steps_per_epoch + self._position

    @property
    def description(self) -> str:
        return f"{self.config.arch} autoencoder on {self.train_set.description}"

    def epoch_images(self) -> dict[int, np.ndarray]:
        return {s.epoch: s.image for s in self.snapshots}

    def epoch_metrics(self) -> dict[int, dict[str, float]]:
        return {s.epoch: s.metrics for s in self.snapshots}

    def latest_metrics(self) -> dict[str, float]:
        return latest(self.epoch_metrics())

    def run(self, until_epoch: int | None = None,
            stop: threading.Event | None = None) -> Iterator[StepEvent | EpochEvent]:
        """Train until ``until_epoch`` epochs are done in all (default: ``config.epochs``), yielding step and epoch
        events.

        Setting ``stop`` ends the run before the next step; the trainer can then be saved or run again and goes on
        where it stopped.
        """
        target = target_epoch(until_epoch, self.config.epochs)
        if not self._running.acquire(blocking=False):
            raise InputError("This training run is already in progress.")
        try:
            yield from self._run(target, stop)
        finally:
            self._running.release()

    def _run(self, target: int, stop: threading.Event | None) -> Iterator[StepEvent | EpochEvent]:
        steps_total = target * self.steps_per_epoch
        loss_fn = nn.MSELoss()
        while self.epoch < target:
            if self._order is None:
                self._order = torch.randperm(len(self._train), generator=self._generator)
            self.model.train()
            while self._position < self.steps_per_epoch:
                if stop is not None and stop.is_set():
                    return
                start = self._position * self.config.batch
                index = self._order[start:start + self.config.batch].to(self.device)
                clean = self._train[index]
                inputs = ae.corrupt(clean, *self.config.denoise, self._generator) if self.config.denoise else clean
                loss = loss_fn(self.model(inputs)[:, 0], clean)
                self.optimizer.zero_grad(set_to_none=True)
                loss.backward()
                self.optimizer.step()
                self._position += 1
                metrics = {"loss": float(loss.item())}
                self.history.append(HistoryRow(self.step, self.epoch + 1, metrics))
                yield StepEvent(self.step, self.epoch + 1, steps_total, dict(metrics))
            self._order, self._position = None, 0
            self.epoch += 1
            summary = self._evaluate()
            self.snapshots.append(summary)
            last = self.history[-1]
            self.history[-1] = HistoryRow(last.step, last.epoch, {**last.metrics, "test_mse": summary.test_mse})
            yield EpochEvent(summary.step, summary.epoch, steps_total, summary.metrics, summary.image)

    def _evaluate(self) -> EpochSummary:
        self.model.eval()
        with torch.inference_mode():
            outputs = torch.cat([self.model(self._test_input[i:i + 512])[:, 0] for i in range(0, len(self._test), 512)])
            test_mse = float(((outputs - self._test) ** 2).mean().item())
            noisy_mse = float(((self._test_input - self._test) ** 2).mean().item()) if self.config.denoise else None
        rows = [self._test[self._preview].cpu().numpy(), outputs[self._preview].cpu().numpy()]
        if self.config.denoise:
            rows.insert(1, self._test_input[self._preview].cpu().numpy())
        losses = [r.metrics["loss"] for r in self.history if r.epoch == self.epoch]
        return EpochSummary(self.epoch, self.step, float(np.mean(losses)) if losses else float("nan"), test_mse,
                            noisy_mse, preview_image(rows))

    def save(self, path: str | Path) -> Path:
        """A checkpoint of the whole run (model, optimiser, RNG, position in the epoch, history, epoch images).

        The layout is the one the app has always written (``steps_total`` fields included, for older readers)."""
        planned = self.config.epochs * self.steps_per_epoch
        state = {
            "format": CHECKPOINT_FORMAT,
            "config": self.config.to_dict(),
            "model": {k: v.detach().cpu() for k, v in self.model.state_dict().items()},
            "optimizer": self.optimizer.state_dict(),
            "generator": self._generator.get_state(),
            "epoch": self.epoch,
            "position": self._position,
            "order": self._order,
            "history": [[r.step, r.epoch, r.metrics["loss"], planned] for r in self.history],
            "snapshots": [{"epoch": e.epoch, "step": e.step, "steps_total": planned, "train_loss": e.train_loss,
                           "test_mse": e.test_mse, "noisy_mse": e.noisy_mse, "image": torch.from_numpy(e.image)}
                          for e in self.snapshots],
        }
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f".{path.name}.partial")
        torch.save(state, partial)
        os.replace(partial, path)
        return path

    @classmethod
    def resume(cls, path: str | Path, device: str | None = None) -> AETrainer:
        """The run saved at ``path``, ready to go on (optionally on another device)."""
        state = load_checkpoint(path)
        try:
            if state.get("format") != CHECKPOINT_FORMAT:
                raise KeyError("format")
            config = AEConfig.from_dict(state["config"])
            if device is not None:
                config = replace(config, device=device)
            trainer = cls(config)
            load_strict(trainer.model, state["model"], Path(path).name)
            trainer.optimizer.load_state_dict(state["optimizer"])
            trainer._generator.set_state(state["generator"])
            trainer.epoch, trainer._position = int(state["epoch"]), int(state["position"])
            trainer._order = state["order"]
            trainer.snapshots = [
                EpochSummary(int(snap["epoch"]), int(snap["step"]), float(snap["train_loss"]), float(snap["test_mse"]),
                             None if snap["noisy_mse"] is None else float(snap["noisy_mse"]), snap["image"].numpy())
                for snap in state["snapshots"]]
            tested = {s.step: s.test_mse for s in trainer.snapshots}
            trainer.history = [HistoryRow(int(s), int(e), {"loss": float(loss)}
                                          | ({"test_mse": tested[int(s)]} if int(s) in tested else {}))
                               for s, e, loss, *_ in state["history"]]
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise WeightsIntegrityError(
                f"{Path(path).name} is not an autoencoder training checkpoint ({exc})") from None
        return trainer

    def export(self, path: str | Path) -> ExportResult:
        """The model as safetensors; its metadata holds the arch, the run's config, epochs, test MSE and data."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        last = self.snapshots[-1] if self.snapshots else None
        metadata = {
            "arch": self.config.arch,
            "config": self.config.to_dict(),
            "epochs": self.epoch,
            "test_mse": round(last.test_mse, 6) if last else None,
            "data": self.train_set.description,
        }
        tensors = {k: v.detach().cpu().contiguous() for k, v in self.model.state_dict().items()}
        save_file(tensors, str(path), metadata={ae.METADATA_KEY: json.dumps(metadata, ensure_ascii=False)})
        data = path.read_bytes()
        return ExportResult(path, hashlib.sha256(data).hexdigest(), len(data))


# ---- command line ---------------------------------------------------------------------------------------------


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add the ``autoencoder`` subcommand to ``python -m gen_models.train``."""
    p = subparsers.add_parser("autoencoder", help="dense or convolutional autoencoder on 28×28 digits")
    p.add_argument("--arch", choices=tuple(ae.ARCHS), default="dense")
    p.add_argument("--denoise", choices=ae.NOISE_KINDS, help="train to remove this noise (denoising AE)")
    p.add_argument("--strength", type=float, default=0.5, help="noise strength 0–1 for --denoise")
    p.add_argument("--digit", type=int, help="train on one digit 0–9 only (default: all)")
    p.add_argument("--data", choices=SOURCES, default="auto",
                   help="auto: MNIST when cached, else scikit-learn's digits; mnist downloads it")
    p.add_argument("--epochs", type=int, default=20, help="total epochs (a resumed run goes on to this many)")
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default="runs/autoencoder", help="checkpoint, losses.csv, epoch images, model file")
    p.add_argument("--resume", action="store_true", help="continue from OUT/checkpoint.pt")
    p.set_defaults(run=run_cli)
    return p


def write_logs(trainer: AETrainer, out: Path) -> None:
    """losses.csv (every step) and epochs.csv (train loss, test MSE per epoch), rewritten from the history."""
    with open(out / "losses.csv", "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["epoch", "step", "loss"])
        writer.writerows([r.epoch, r.step, f"{r.metrics['loss']:.6f}"] for r in trainer.history)
    with open(out / "epochs.csv", "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["epoch", "train_loss", "test_mse", "noisy_input_mse"])
        writer.writerows([e.epoch, f"{e.train_loss:.6f}", f"{e.test_mse:.6f}",
                          "" if e.noisy_mse is None else f"{e.noisy_mse:.6f}"] for e in trainer.snapshots)


def _save_epoch_image(trainer: AETrainer, event: EpochEvent, out: Path) -> None:
    rows = "digits, noisy inputs, outputs" if trainer.config.denoise else "digits, reconstructions"
    save_png(event.image, out / f"recon_epoch{event.epoch:03d}.png", synthetic=True,
             model=f"{trainer.config.arch} autoencoder (training)",
             description=f"epoch {event.epoch}, test MSE {event.metrics['test_mse']:.4f}; rows: {rows}")


def run_cli(args: argparse.Namespace, log: Callable[[str], None] = print) -> int:
    """Run the ``autoencoder`` subcommand; 0 on success, 1 on a user error, 130 when interrupted (resumable)."""
    out = Path(args.out)
    checkpoint = out / "checkpoint.pt"
    with stop_on_interrupt() as stop:
        return _run_cli(args, out, checkpoint, stop, log)


def _run_cli(args: argparse.Namespace, out: Path, checkpoint: Path, stop: threading.Event,
             log: Callable[[str], None]) -> int:
    try:
        if args.resume and checkpoint.exists():
            trainer = AETrainer.resume(checkpoint)
            log(f"resumed {checkpoint} after epoch {trainer.epoch} (its settings are kept)")
        else:
            denoise = (args.denoise, args.strength) if args.denoise else None
            trainer = AETrainer(AEConfig(args.arch, denoise, args.digit, args.data, args.epochs, args.batch, args.lr,
                                         args.seed))
        out.mkdir(parents=True, exist_ok=True)
        log(f"{trainer.description}, device {trainer.device}")
        started = time.perf_counter()
        for event in trainer.run(args.epochs, stop):
            if event.kind == "epoch":
                _save_epoch_image(trainer, event, out)
                write_logs(trainer, out)
                trainer.save(checkpoint)
                m = event.metrics
                noisy = f" (noisy inputs {m['noisy_input_mse']:.4f})" if "noisy_input_mse" in m else ""
                log(f"epoch {event.epoch}: train loss {m['train_loss']:.4f}, test MSE {m['test_mse']:.4f}{noisy}")
        if stop.is_set():
            write_logs(trainer, out)
            trainer.save(checkpoint)
            log(f"stopped at step {trainer.step}; continue with --resume")
            return 130
        result = trainer.export(out / "model.safetensors")
        (out / "config.json").write_text(json.dumps(trainer.config.to_dict(), indent=2) + "\n")
        log(f"weights: {result.path} (sha256 {result.sha256}, {result.size} bytes) "
            f"after {time.perf_counter() - started:.1f} s")
        return 0
    except GenModelsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


# ---- the bundled models ---------------------------------------------------------------------------------------

BUNDLE_RECIPES: dict[str, tuple[AEConfig, str]] = {
    "dense": (AEConfig("dense", None, None, "sklearn", 120, 32, 1e-3, 0, "cpu"),
              "dense AE 784-128-64-32 (ReLU), as in the slides"),
    "conv": (AEConfig("conv", None, None, "sklearn", 40, 32, 1e-3, 0, "cpu"),
             "convolutional AE, 16/32 channels to 7×7, code of 32"),
    "dense-denoise": (AEConfig("dense", ("gaussian", 0.5), None, "sklearn", 120, 32, 1e-3, 0, "cpu"),
                      "dense AE trained to remove Gaussian noise of strength 0.5"),
}


def write_bundle(folder: str | Path = ae.BUNDLE_DIR, log: Callable[[str], None] = print) -> list[dict[str, Any]]:
    """Train every bundle recipe, write its safetensors file and pin it in the catalog (sha256, size, recipe:
    test_mse is on the held-out split, for the denoising model outputs for noisy inputs vs the clean digits;
    mean_image_mse is the baseline of predicting the mean training image)."""
    from gen_models.core.manifest import record_bundled

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    recipes = []
    for name, (config, description) in BUNDLE_RECIPES.items():
        started = time.perf_counter()
        trainer = AETrainer(config)
        for _ in trainer.run():
            pass
        result = trainer.export(folder / f"{name}.safetensors")
        result.path.chmod(0o644)  # a package file: readable by whoever installs it
        last = trainer.snapshots[-1]
        seconds = time.perf_counter() - started
        recipe = {
            "denoise": {"kind": config.denoise[0], "strength": config.denoise[1]} if config.denoise else None,
            "data": trainer.train_set.description, "epochs": config.epochs, "batch": config.batch, "lr": config.lr,
            "seed": config.seed, "test_mse": round(last.test_mse, 6),
            "noisy_input_mse": None if last.noisy_mse is None else round(last.noisy_mse, 6),
            "mean_image_mse": round(ae.mean_image_mse(trainer.train_set.images, trainer.test_set.images), 6),
            "train_seconds": round(seconds, 1),
        }
        record_bundled(name, result.path, recipe, task="autoencoder", architecture="autoencoder",
                       config={"arch": config.arch}, description=description)
        recipes.append({"name": name, **recipe})
        log(f"{name}: test MSE {last.test_mse:.4f} in {seconds:.0f} s, {result.size} bytes")
    return recipes


if __name__ == "__main__":
    write_bundle()
