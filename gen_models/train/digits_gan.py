"""Train the digits DCGANs (TensorFlow tutorial or course lab, see :mod:`gen_models.models.dcgan_digits`) step by step.

A :class:`DigitGANTrainer` is one training run (a :class:`gen_models.train.protocol.Trainer`): it owns its
networks, optimizers, data and a private ``torch.Generator`` that draws the weight init, the shuffles, the noise and
the tutorial's dropout masks, so runs in different threads (several users of one app) share nothing and each gives
the same numbers it would give alone.
:meth:`DigitGANTrainer.run` trains until a total epoch count and yields an event per step (losses, discriminator
accuracy on real and on fake) and one per finished epoch (its means and a sample grid from the fixed seeds 0–63); it
can be stopped between steps with an event, saved, and resumed from the file exactly where it stopped, mid-epoch
included.

The TensorFlow tutorial updates both networks from one forward pass (its ``train_step`` takes both gradients from
the same tape). The lab alternates, as PyTorch's DCGAN example does: the discriminator sees a batch of real and a
batch of fake images (BatchNorm statistics per batch), then the generator is scored through the updated
discriminator on the same fakes. The lab generator's last bias starts at the logit of the training images'
mean pixel, so its sigmoid output starts as dark as the digits' background: started at mid-gray, the generator never
darkened it (per-batch BatchNorm hides a uniform brightness offset from the discriminator) and drew only gray noise
in trials; run real and fake through as one batch instead and the discriminator wins on brightness alone within a
few dozen steps and the generator collapses.

``python -m gen_models.train dcgan-digits`` drives the same trainer from the shell; :func:`build_bundled` retrains
the generators that ship in ``gen_models/bundled/digits``. Those are short CPU runs on the 1,500 scikit-learn
digits (see ``BUNDLED_RECIPES`` for their settings and the catalog's ``recipe`` for each run's record).
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import save_file
from torch import nn

from gen_models.core.checkpoint import load_checkpoint, load_strict
from gen_models.core.device import get_device
from gen_models.core.errors import GenModelsError, InputError, WeightsIntegrityError
from gen_models.core.files import replacing
from gen_models.core.latent import MAX_SEED, z_from_seeds
from gen_models.media.image import save_png
from gen_models.models.dcgan_digits import (
    ARCHS,
    BUNDLED_DIR,
    LATENT_DIM,
    SeededDropout,
    build_discriminator,
    build_generator,
    check_arch,
    digit_grid,
    generator_metadata,
    to_model_range,
    to_uint8,
)
from gen_models.train.digits import SOURCES, DigitSet, check_digit, load_digits
from gen_models.train.protocol import (
    CurveGroup,
    EpochEvent,
    HistoryRow,
    StepEvent,
    epoch_means,
    latest,
    target_epoch,
)

CHECKPOINT_FORMAT = "gen_models.digits_gan.trainer"
GRID_SEEDS = range(64)
GRID_COLS = 8
# arch → (batch, learning rate, Adam β1) as the tutorial and the lab use them
DEFAULTS = {"tutorial": (256, 1e-4, 0.9), "lab": (128, 2e-4, 0.5)}
ARCH_TITLES = {"tutorial": "Tutorial DCGAN", "lab": "Lab DCGAN"}
# optimizer recipes offered beside the architecture's own: name → (Adam learning rate, β1); None: the arch's own
OPTIMIZERS: dict[str, tuple[float | None, float | None]] = {"course": (None, None), "quick": (2e-4, 0.5)}


def adam_text(lr: float, beta1: float = 0.9) -> str:
    """"Adam 2e-4, β1 0.5" (β1 left out when it is Adam's default 0.9)."""
    mantissa, exponent = f"{float(lr):e}".split("e")
    text = f"Adam {float(mantissa):g}e{int(exponent)}"
    return text if beta1 == 0.9 else f"{text}, β1 {beta1:g}"


def arch_text(arch: str) -> str:
    """The architecture with its latent size and default optimizer, e.g. "Lab DCGAN (z 128, Adam 2e-4, β1 0.5)"."""
    _, lr, beta1 = DEFAULTS[arch]
    return f"{ARCH_TITLES[arch]} (z {LATENT_DIM[arch]}, {adam_text(lr, beta1)})"


def optimizer_text(name: str) -> str:
    """What an entry of :data:`OPTIMIZERS` trains with."""
    lr, beta1 = OPTIMIZERS[name]
    if lr is None:
        return "as in the course (" + "; ".join(f"{arch} {adam_text(*DEFAULTS[arch][1:])}" for arch in ARCHS) + ")"
    return f"quick CPU recipe of the bundled models ({adam_text(lr, 0.9 if beta1 is None else beta1)})"


@dataclass(frozen=True)
class DigitGANConfig:
    """One run's settings; ``batch``, ``lr`` and ``beta1`` default to the architecture's (tutorial 256, 1e-4, 0.9;
    lab 128, 2e-4, 0.5). ``lr_g`` gives the generator its own rate (two time-scale updates; default: ``lr``).
    ``limit`` keeps only the first N training images (quick demos and tests)."""

    arch: str = "tutorial"
    digit: int | None = None
    source: str = "auto"
    epochs: int = 50
    batch: int | None = None
    lr: float | None = None
    lr_g: float | None = None
    beta1: float | None = None
    seed: int = 0
    device: str | None = None
    limit: int | None = None

    def __post_init__(self) -> None:
        check_arch(self.arch)
        check_digit(self.digit)
        if self.source not in SOURCES:
            raise InputError(f"data source must be one of {', '.join(SOURCES)}, got {self.source!r}")
        if int(self.epochs) < 1:
            raise InputError(f"epochs must be at least 1, got {self.epochs}")
        if self.batch is not None and int(self.batch) < 2:
            raise InputError(f"batch must be at least 2 (BatchNorm needs two images), got {self.batch}")
        for name in ("lr", "lr_g"):
            value = getattr(self, name)
            if value is not None and not 0 < float(value) < 1:
                raise InputError(f"learning rate must be between 0 and 1, got {value}")
        if self.beta1 is not None and not 0 <= float(self.beta1) < 1:
            raise InputError(f"Adam beta1 must be in [0, 1), got {self.beta1}")
        if not 0 <= int(self.seed) <= MAX_SEED:
            raise InputError(f"seed must be a whole number from 0 to {MAX_SEED}, got {self.seed}")
        if self.limit is not None and int(self.limit) < 2:
            raise InputError(f"limit must be at least 2 images, got {self.limit}")

    def resolved(self) -> DigitGANConfig:
        """The same settings with the architecture's defaults filled in."""
        batch, lr, beta1 = DEFAULTS[self.arch]
        return replace(self, batch=self.batch or batch, lr=self.lr or lr, lr_g=self.lr_g or self.lr or lr,
                       beta1=beta1 if self.beta1 is None else self.beta1)


# every step's metrics (and each epoch's means of them): losses, discriminator accuracy on real and on fake
METRICS = ("d_loss", "g_loss", "d_acc_real", "d_acc_fake")


def _init_weights(module: nn.Module, rng: torch.Generator) -> None:
    """Keras' defaults, which the tutorial and the lab train with, drawn from the run's own RNG: Glorot-uniform
    weights, zero biases, BatchNorm scale 1 and shift 0. (With DCGAN's N(0, 0.02) the lab's sigmoid output stayed
    mid-gray for hundreds of steps in trials.)"""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            nn.init.xavier_uniform_(m.weight, generator=rng)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)


class DigitGANTrainer:
    """One training run; nothing in it is shared with other runs (see the module docstring). Step events carry
    :data:`METRICS`, epoch events their means over the epoch and the sample grid as ``image``."""

    checkpoint_format = CHECKPOINT_FORMAT
    checkpoint_prefix = "dcgan-digits"
    checkpoint_suffix = ".pt"
    synthetic = True
    epoch_image_caption = f"fixed noise: seeds {GRID_SEEDS[0]}–{GRID_SEEDS[-1]}"
    curves = (CurveGroup("Discriminator and generator loss", ("d_loss", "g_loss")),
              CurveGroup("Discriminator accuracy on real and on fake digits", ("d_acc_real", "d_acc_fake"), (0, 1)))

    def __init__(self, config: DigitGANConfig) -> None:
        config = config.resolved()
        data = load_digits("train", config.digit, config.source)
        if config.limit is not None:
            data = DigitSet(data.images[:config.limit], data.labels[:config.limit], data.source)
        if len(data) < 2:
            raise InputError(f"Only {len(data)} training image(s) for this choice; a GAN needs at least 2.")
        self.config = replace(config, source=data.source)  # "auto" → the source actually used, for resuming
        self.data_description = data.description
        self.device = torch.device(config.device) if config.device else get_device()
        arch = config.arch
        self._real = to_model_range(torch.from_numpy(data.images).unsqueeze(1), arch).to(self.device)
        self._rng = torch.Generator().manual_seed(int(config.seed))
        self.generator = build_generator(arch)
        self.discriminator = build_discriminator(arch)
        _init_weights(self.generator, self._rng)
        _init_weights(self.discriminator, self._rng)
        if arch == "lab":  # sigmoid output starts at the data's mean brightness (see the module docstring)
            mean = self._real.mean().clamp(1e-3, 1 - 1e-3)
            nn.init.constant_(self.generator.model[-2].bias, float(torch.logit(mean)))
        for m in self.discriminator.modules():
            if isinstance(m, SeededDropout):
                m.generator = self._rng
        self.generator.to(self.device).train()
        self.discriminator.to(self.device).train()
        betas = (float(config.beta1), 0.999)
        self.opt_g = torch.optim.Adam(self.generator.parameters(), lr=float(config.lr_g), betas=betas)
        self.opt_d = torch.optim.Adam(self.discriminator.parameters(), lr=float(config.lr), betas=betas)
        self._loss = nn.BCEWithLogitsLoss()
        self.history: list[HistoryRow] = []
        self.grids: dict[int, np.ndarray] = {}
        self._epoch_metrics: dict[int, dict[str, float]] = {}
        self.step = 0
        self.epoch = 0
        self._order: torch.Tensor | None = None
        self._pos = 0
        self._running = threading.Lock()
        self._state = threading.RLock()

    @property
    def description(self) -> str:
        return f"{self.config.arch} DCGAN on {self.data_description}"

    def epoch_images(self) -> dict[int, np.ndarray]:
        return dict(self.grids)

    def epoch_metrics(self) -> dict[int, dict[str, float]]:
        return {e: dict(m) for e, m in self._epoch_metrics.items()}

    def latest_metrics(self) -> dict[str, float]:
        return latest(self._epoch_metrics)

    @property
    def images(self) -> int:
        """How many training images the run uses."""
        return len(self._real)

    @property
    def steps_per_epoch(self) -> int:
        """Full batches per epoch (the remainder of each shuffle is left out; one batch if data < batch)."""
        return max(1, self.images // int(self.config.batch))

    def _noise(self, n: int) -> torch.Tensor:
        return torch.randn(n, LATENT_DIM[self.config.arch], generator=self._rng).to(self.device)

    def _train_step(self, real: torch.Tensor) -> dict[str, float]:
        g, d, loss = self.generator, self.discriminator, self._loss
        fake = g(self._noise(real.shape[0]))
        if self.config.arch == "tutorial":  # both gradients from one forward pass, as the TF tutorial's train_step
            d_real, d_fake = d(real), d(fake)
            g_loss = loss(d_fake, torch.ones_like(d_fake))
            d_loss = loss(d_real, torch.ones_like(d_real)) + loss(d_fake, torch.zeros_like(d_fake))
            g_params, d_params = list(g.parameters()), list(d.parameters())
            g_grads = torch.autograd.grad(g_loss, g_params, retain_graph=True)
            d_grads = torch.autograd.grad(d_loss, d_params)
            for params, grads in ((g_params, g_grads), (d_params, d_grads)):
                for p, grad in zip(params, grads):
                    p.grad = grad
            self.opt_d.step()
            self.opt_g.step()
        else:  # the lab: discriminator on a real and a fake batch, then the generator through the updated one
            d_real, d_fake = d(real), d(fake.detach())
            d_loss = loss(d_real, torch.ones_like(d_real)) + loss(d_fake, torch.zeros_like(d_fake))
            self.opt_d.zero_grad()
            d_loss.backward()
            self.opt_d.step()
            d_on_fake = d(fake)
            g_loss = loss(d_on_fake, torch.ones_like(d_on_fake))
            self.opt_g.zero_grad()
            g_loss.backward()
            self.opt_g.step()
        return {"d_loss": d_loss.item(), "g_loss": g_loss.item(),
                "d_acc_real": (d_real > 0).float().mean().item(), "d_acc_fake": (d_fake < 0).float().mean().item()}

    def samples(self, seeds: list[int] | range) -> np.ndarray:
        """(N, 28, 28) uint8 digits from the current generator (eval mode; training state is not touched)."""
        z = z_from_seeds(list(seeds), LATENT_DIM[self.config.arch])
        with self._state:
            self.generator.eval()
            try:
                with torch.inference_mode():
                    images = self.generator(z.to(self.device))
            finally:
                self.generator.train()
        return to_uint8(images, self.config.arch)

    def sample_grid(self) -> np.ndarray:
        """The 8×8 grid of seeds 0–63 from the current generator, as a uint8 gray image."""
        return digit_grid(self.samples(GRID_SEEDS), GRID_COLS)

    def run(self, until_epoch: int | None = None,
            stop: threading.Event | None = None) -> Iterator[StepEvent | EpochEvent]:
        """Train until ``until_epoch`` epochs are done in all (default: the config's), yielding after every step and
        every epoch. Setting ``stop`` ends the run before the next step; calling ``run`` again continues."""
        target = target_epoch(until_epoch, self.config.epochs)
        if not self._running.acquire(blocking=False):
            raise InputError("This training run is already in progress.")
        try:
            per_epoch = self.steps_per_epoch
            total = target * per_epoch
            batch = int(self.config.batch)
            while self.epoch < target:
                if stop is not None and stop.is_set():
                    return
                with self._state:
                    if self._order is None:
                        self._order = torch.randperm(self.images, generator=self._rng)
                        self._pos = 0
                    index = self._order[self._pos * batch:(self._pos + 1) * batch].to(self.device)
                    metrics = self._train_step(self._real[index])
                    self._pos += 1
                    self.step += 1
                    epoch = self.epoch + 1
                    self.history.append(HistoryRow(self.step, epoch, metrics))
                    epoch_done = self._pos == per_epoch
                    if epoch_done:
                        self.epoch, self._order, self._pos = epoch, None, 0
                        self.grids[epoch] = self.sample_grid()
                        self._epoch_metrics[epoch] = epoch_means(self.history, epoch, METRICS)
                yield StepEvent(self.step, epoch, total, dict(metrics))
                if epoch_done:
                    yield EpochEvent(self.step, epoch, total, self.latest_metrics(), self.grids[epoch])
        finally:
            self._running.release()

    def state_dict(self) -> dict:
        """Everything a resumed run needs to continue exactly (CPU tensors and plain values only)."""
        def cpu(state: dict) -> dict:
            return {k: v.detach().cpu() if isinstance(v, torch.Tensor) else v for k, v in state.items()}

        def optimizer(opt: torch.optim.Optimizer) -> dict:
            state = opt.state_dict()
            return {"state": {k: cpu(v) for k, v in state["state"].items()}, "param_groups": state["param_groups"]}

        with self._state:
            return {
                "format": CHECKPOINT_FORMAT, "version": 1, "config": asdict(self.config),
                "data": self.data_description, "generator": cpu(self.generator.state_dict()),
                "discriminator": cpu(self.discriminator.state_dict()), "opt_g": optimizer(self.opt_g),
                "opt_d": optimizer(self.opt_d), "rng": self._rng.get_state(), "step": self.step, "epoch": self.epoch,
                "order": self._order, "pos": self._pos,
                "history": [{"step": r.step, "epoch": r.epoch, **r.metrics} for r in self.history],
                "grids": {int(e): torch.from_numpy(g.copy()) for e, g in self.grids.items()},
            }

    def save(self, path: str | Path) -> Path:
        """Write a resumable checkpoint (written beside the target and renamed, so it is never half there)."""
        path = Path(path)
        state = self.state_dict()
        with replacing(path) as partial:
            torch.save(state, partial)
        return path

    @classmethod
    def resume(cls, path: str | Path, device: str | None = None) -> DigitGANTrainer:
        """The run saved in ``path``, ready to continue where it stopped (optionally on another device)."""
        state = load_checkpoint(path)
        if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
            raise WeightsIntegrityError(f"{Path(path).name} is not a digits DCGAN training checkpoint")
        config = DigitGANConfig(**state["config"])
        if device is not None:
            config = replace(config, device=device)
        trainer = cls(config)
        with trainer._state:
            load_strict(trainer.generator, state["generator"], Path(path).name)
            load_strict(trainer.discriminator, state["discriminator"], Path(path).name)
            trainer.opt_g.load_state_dict(state["opt_g"])
            trainer.opt_d.load_state_dict(state["opt_d"])
            trainer._rng.set_state(state["rng"])
            trainer.step, trainer.epoch, trainer._pos = int(state["step"]), int(state["epoch"]), int(state["pos"])
            trainer._order = state["order"]
            trainer.history = [HistoryRow(int(r["step"]), int(r["epoch"]), {k: float(r[k]) for k in METRICS})
                               for r in state["history"]]
            trainer.grids = {int(e): g.numpy() for e, g in state["grids"].items()}
            trainer._epoch_metrics = {e: epoch_means(trainer.history, e, METRICS) for e in sorted(trainer.grids)}
        return trainer

    def export_generator(self, path: str | Path, half: bool = False) -> Path:
        """The generator as safetensors (fp16 when ``half``) whose metadata rebuilds it, for
        :func:`gen_models.models.dcgan_digits.load_generator`."""
        with self._state:
            tensors = {k: (v.half() if half and v.is_floating_point() else v).detach().cpu().contiguous()
                       for k, v in self.generator.state_dict().items()}
            meta = generator_metadata(self.config.arch, digit=self.config.digit, data=self.data_description,
                                      epochs=self.epoch, steps=self.step, seed=self.config.seed,
                                      batch=self.config.batch, lr=self.config.lr)
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        save_file(tensors, str(path), metadata=meta)
        return path

    def write_losses(self, path: str | Path) -> Path:
        """The per-step history as CSV (step, epoch, losses, accuracies)."""
        path = Path(path)
        with open(path, "w", newline="") as fh:
            writer = csv.DictWriter(fh, ["step", "epoch", *METRICS])
            writer.writeheader()
            for row in self.history:
                writer.writerow({"step": row.step, "epoch": row.epoch, **{k: f"{v:.6f}" for k, v in row.metrics.items()}})
        return path


# Bundled generators: fp16 copies of short CPU runs on the offline (scikit-learn) digits, with Adam 2e-4, β1 0.5
# (the tutorial's 1e-4, β1 0.9 is slower to get anywhere in so few steps). ``build_bundled`` retrains them and
# pins each run's record in the catalog (weights_manifest.json).
BUNDLED_RECIPES: dict[str, dict] = {
    "tutorial-all": {"title": "TensorFlow-tutorial DCGAN", "arch": "tutorial", "digit": None, "epochs": 20,
                     "batch": 64, "lr": 2e-4, "beta1": 0.5},
    "lab-all": {"title": "Lab DCGAN", "arch": "lab", "digit": None, "epochs": 15, "batch": 32},
    "tutorial-7": {"title": "TensorFlow-tutorial DCGAN, one digit", "arch": "tutorial", "digit": 7, "epochs": 60,
                   "batch": 32, "lr": 2e-4, "beta1": 0.5},
}


def build_bundled(names: list[str] | None = None, folder: str | Path = BUNDLED_DIR, seed: int = 0,
                  log: Callable[[str], None] = print) -> dict[str, dict]:
    """Retrain the bundled generators on the scikit-learn digits (CPU) and pin each in the catalog (sha256, size,
    recipe); returns the recipes by name. Entries not retrained are kept as they were."""
    from gen_models.core.manifest import record_bundled

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    recipes = {}
    for name in names or list(BUNDLED_RECIPES):
        recipe = dict(BUNDLED_RECIPES[name])
        title = recipe.pop("title")
        trainer = DigitGANTrainer(DigitGANConfig(source="sklearn", seed=seed, device="cpu", **recipe))
        started = time.perf_counter()
        for event in trainer.run():
            if event.kind == "epoch":
                log(f"{name}: epoch {event.epoch}/{trainer.config.epochs} d_loss {event.d_loss:.3f} "
                    f"g_loss {event.g_loss:.3f} acc real {event.d_acc_real:.2f} fake {event.d_acc_fake:.2f}")
        seconds = time.perf_counter() - started
        threads = torch.get_num_threads()
        weights = trainer.export_generator(folder / f"{name}.safetensors", half=True)
        recipes[name] = {
            "digit": trainer.config.digit, "data": trainer.data_description, "epochs": trainer.epoch,
            "steps": trainer.step, "batch": trainer.config.batch, "lr": trainer.config.lr,
            "lr_g": trainer.config.lr_g, "beta1": trainer.config.beta1, "seed": trainer.config.seed,
            "dtype": "float16", "train_seconds": round(seconds, 1),
            "trained_on": f"CPU, {threads} thread{'' if threads == 1 else 's'}",
        }
        record_bundled(name, weights, recipes[name], task="digits-generation", architecture="dcgan-digits",
                       config={"arch": trainer.config.arch}, title=title)
        log(f"{name}: {trainer.step} steps in {seconds:.0f} s → {weights.name} ({weights.stat().st_size / 1e6:.1f} MB)")
    return recipes


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add the ``dcgan-digits`` subcommand to the training CLI."""
    parser = subparsers.add_parser("dcgan-digits", help="DCGAN on 28×28 digits (TensorFlow tutorial or lab)")
    parser.add_argument("--arch", choices=ARCHS, default=None, help="tutorial (default) or lab")
    parser.add_argument("--digit", type=int, default=None, help="train on one digit 0–9 (default: all ten)")
    parser.add_argument("--data", choices=SOURCES, default=None,
                        help="auto (default: MNIST if already downloaded, else scikit-learn's digits), mnist, sklearn")
    parser.add_argument("--epochs", type=int, default=50, help="total epochs (a resumed run trains up to this)")
    parser.add_argument("--batch", type=int, default=None, help="batch size (tutorial 256, lab 128)")
    parser.add_argument("--lr", type=float, default=None, help="Adam learning rate (tutorial 1e-4, lab 2e-4)")
    parser.add_argument("--beta1", type=float, default=None, help="Adam β1 (tutorial 0.9, lab 0.5)")
    parser.add_argument("--seed", type=int, default=None, help="seed of the run's own RNG (default 0)")
    parser.add_argument("--out", default="runs/dcgan-digits",
                        help="folder for checkpoint.pt, losses.csv, one grid PNG per epoch, generator.safetensors")
    parser.add_argument("--resume", action="store_true", help="continue from OUT/checkpoint.pt")
    return parser


def _conflicts(args: argparse.Namespace, config: DigitGANConfig) -> list[str]:
    given = {"arch": args.arch, "digit": args.digit, "source": args.data, "batch": args.batch, "lr": args.lr,
             "beta1": args.beta1, "seed": args.seed}
    return [f"--{'data' if k == 'source' else k} {v} (checkpoint: {getattr(config, k)})"
            for k, v in given.items() if v is not None and v != getattr(config, k)]


def run_cli(args: argparse.Namespace) -> int:
    """Run ``dcgan-digits`` from parsed arguments; returns the exit status."""
    out = Path(args.out)
    checkpoint = out / "checkpoint.pt"
    try:
        if args.resume and checkpoint.exists():
            trainer = DigitGANTrainer.resume(checkpoint)
            conflicts = _conflicts(args, trainer.config)
            if conflicts:
                raise InputError("--resume continues the saved run; these options differ from it: "
                                 + ", ".join(conflicts))
            print(f"resumed after epoch {trainer.epoch} (step {trainer.step})")
        else:
            trainer = DigitGANTrainer(DigitGANConfig(
                arch=args.arch or "tutorial", digit=args.digit, source=args.data or "auto", epochs=args.epochs,
                batch=args.batch, lr=args.lr, beta1=args.beta1, seed=0 if args.seed is None else args.seed))
        print(f"{trainer.description}, {trainer.steps_per_epoch} steps/epoch on {trainer.device}")
        out.mkdir(parents=True, exist_ok=True)
        for event in trainer.run(args.epochs):
            if event.kind != "epoch":
                continue
            save_png(event.image, out / f"samples_epoch{event.epoch:03d}.png", synthetic=True,
                     model=f"dcgan-digits {trainer.config.arch} (training)",
                     description=f"epoch {event.epoch}, seeds 0-63")
            trainer.write_losses(out / "losses.csv")
            trainer.save(checkpoint)
            m = event.metrics
            print(f"epoch {event.epoch}/{args.epochs}: d_loss {m['d_loss']:.3f}, g_loss {m['g_loss']:.3f}, "
                  f"D accuracy real {m['d_acc_real']:.2f} fake {m['d_acc_fake']:.2f}")
        weights = trainer.export_generator(out / "generator.safetensors")
    except GenModelsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"interrupted; {checkpoint} holds the last finished epoch (continue with --resume)", file=sys.stderr)
        return 130
    digest = hashlib.sha256(weights.read_bytes()).hexdigest()
    print(f"weights: {weights} (sha256 {digest})")
    return 0
