"""Train a face-swap pair: one shared encoder, decoder A rebuilding A's faces and decoder B B's.

The recipe follows the published defaults of the desktop tools (re-implemented, no code taken): each step draws a
batch of each person's aligned faces, augments them (rotation ±10°, zoom and shift ±5 %, horizontal flip half the
time, a colour shift in L*a*b*), and **warps** the network's input with a random 5×5 control grid (noise of 5/256 of
the side) while the target stays unwarped: the encoder has to find the face behind the distortion, which is what lets
decoder B draw B from A's code. The loss is SSIM + MSE weighted by the face mask: errors outside the face count for
nothing, the eyes ×3 and the mouth ×2 (:func:`gen_models.media.align.loss_weights`).

A :class:`FaceSwapTrainer` is a :class:`gen_models.train.protocol.Trainer`. Face swapping has no natural epoch (batches
are random draws), so its "epoch" is a preview period of ``preview_every`` steps, after which it yields the preview
grid: rows of A, A→A, A→B, B, B→B, B→A. ``save`` writes one safetensors file (weights, optimiser state, both face sets
and the loss history under ``train.``; the card in the metadata) that both resumes training and swaps faces.

``python -m gen_models.train face-swap --a DIR_OR_VIDEO --b DIR_OR_VIDEO --out DIR`` drives the same trainer, and
running this module retrains the bundled astronaut ↔ Grace Hopper pair.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from gen_models.core.device import get_device
from gen_models.core.errors import GenModelsError, InputError, WeightsIntegrityError
from gen_models.media.align import loss_weights
from gen_models.media.face_sets import MIN_FACES, FaceSet, extract
from gen_models.media.image import save_png
from gen_models.models import faceswap
from gen_models.train.protocol import CurveGroup, EpochEvent, HistoryRow, StepEvent, stop_on_interrupt, target_epoch

PREVIEW_ROWS = 4
WARP_NOISE = 5 / 256  # control-point noise, as a fraction of the side
ROTATION, ZOOM, SHIFT, FLIP = 10.0, 0.05, 0.05, 0.5
LAB_SHIFT = (12.0, 6.0, 6.0)  # largest L*, a*, b* shifts of the colour augmentation (OpenCV's 8-bit Lab units)


@dataclass(frozen=True)
class FaceSwapConfig:
    """One run: the model's layout, size and width, and the optimiser's steps, batch and learning rate."""

    layout: str = "original"
    size: int = 64
    width: int = 8
    steps: int = 500
    batch: int = 16
    lr: float = 5e-4
    preview_every: int = 0  # 0: about 40 previews per run (at least every 20 steps); steps round up to whole ones
    warp: bool = True
    seed: int = 0
    device: str | None = None

    def checked(self) -> FaceSwapConfig:
        try:
            faceswap.Config(self.layout, self.size, self.width)
        except ValueError as exc:
            raise InputError(str(exc)) from None
        for name, value, low in (("steps", self.steps, 1), ("batch", self.batch, 1), ("seed", self.seed, 0),
                                 ("preview_every", self.preview_every, 0)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
                raise InputError(f"{name} must be a whole number ≥ {low}, got {value!r}")
        if isinstance(self.lr, bool) or not isinstance(self.lr, (int, float)) or not 0 < self.lr < 1:
            raise InputError(f"learning rate must be between 0 and 1, got {self.lr!r}")
        every = int(self.preview_every) or _auto_preview_every(int(self.steps))
        steps = math.ceil(int(self.steps) / every) * every  # whole preview periods
        return replace(self, steps=steps, batch=int(self.batch), seed=int(self.seed), lr=float(self.lr),
                       preview_every=every)

    @property
    def model_config(self) -> faceswap.Config:
        return faceswap.Config(self.layout, self.size, self.width)

    @property
    def epochs(self) -> int:
        """Preview periods in the run (the trainer protocol's epochs)."""
        return math.ceil(self.steps / (self.preview_every or _auto_preview_every(self.steps)))


def _auto_preview_every(steps: int) -> int:
    """About 40 previews per run, at least 20 steps apart."""
    return max(20, math.ceil(steps / 40))


# ----------------------------------------------------------------------------------------------- augmentation
def random_affine(rng: np.random.Generator, size: int) -> np.ndarray:
    """A 2×3 matrix: rotation ±10°, zoom ±5 %, shift ±5 % of the side about the centre, mirrored half the time."""
    matrix = cv2.getRotationMatrix2D((size / 2, size / 2), rng.uniform(-ROTATION, ROTATION),
                                     1 + rng.uniform(-ZOOM, ZOOM))
    matrix[:, 2] += rng.uniform(-SHIFT, SHIFT, 2) * size
    if rng.random() < FLIP:
        matrix[0] = -matrix[0]
        matrix[0, 2] += size
    return matrix


def random_warp(rng: np.random.Generator, image: np.ndarray) -> np.ndarray:
    """``image`` bent by a random 5×5 control grid (each point moved by N(0, 5/256 of the side)), smoothly between."""
    size = image.shape[0]
    noise = rng.normal(0, WARP_NOISE * size, (2, 5, 5)).astype(np.float32)
    noise[:, [0, -1], :] = 0  # the border stays put, so the warp bends the face instead of sliding it
    noise[:, :, [0, -1]] = 0
    dx, dy = (cv2.resize(n, (size, size), interpolation=cv2.INTER_CUBIC) for n in noise)
    grid = np.arange(size, dtype=np.float32)
    map_x, map_y = np.meshgrid(grid, grid)
    return cv2.remap(image, map_x + dx, map_y + dy, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def colour_shift(rng: np.random.Generator, image: np.ndarray) -> np.ndarray:
    lab = cv2.cvtColor(image, cv2.COLOR_RGB2LAB).astype(np.float32)
    lab += rng.uniform(-1, 1, 3).astype(np.float32) * np.array(LAB_SHIFT, np.float32)
    return cv2.cvtColor(np.clip(lab, 0, 255).astype(np.uint8), cv2.COLOR_LAB2RGB)


def augmented_batch(rng: np.random.Generator, faces: np.ndarray, batch: int, warp: bool
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(warped inputs, unwarped targets, loss weights), uint8/uint8/float32, for ``batch`` random faces."""
    size = faces.shape[1]
    weights = loss_weights(size)
    inputs, targets, masks = [], [], []
    for index in rng.integers(0, len(faces), batch):
        matrix = random_affine(rng, size)
        target = cv2.warpAffine(faces[index], matrix, (size, size), borderMode=cv2.BORDER_REPLICATE)
        target = colour_shift(rng, target)
        inputs.append(random_warp(rng, target) if warp else target)
        targets.append(target)
        masks.append(cv2.warpAffine(weights, matrix, (size, size), flags=cv2.INTER_NEAREST))
    return np.stack(inputs), np.stack(targets), np.stack(masks)


def to_tensor(images: np.ndarray, device: torch.device) -> torch.Tensor:
    """uint8 (N, H, W, 3) → float (N, 3, H, W) in [0, 1]."""
    return torch.from_numpy(np.ascontiguousarray(images)).to(device).permute(0, 3, 1, 2).float().div_(255)


def to_images(batch: torch.Tensor) -> np.ndarray:
    """float (N, 3, H, W) in [0, 1] → uint8 (N, H, W, 3)."""
    return (batch.detach().clamp(0, 1).mul(255).add(0.5).permute(0, 2, 3, 1).to(torch.uint8).cpu().numpy())


# ----------------------------------------------------------------------------------------------- loss
def _gaussian_window(channels: int, device: torch.device, size: int = 11, sigma: float = 1.5) -> torch.Tensor:
    x = torch.arange(size, dtype=torch.float32, device=device) - size // 2
    g = torch.exp(-x ** 2 / (2 * sigma ** 2))
    g = (g / g.sum())[:, None] * (g / g.sum())[None, :]
    return g.expand(channels, 1, size, size).contiguous()


def ssim_map(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Per-pixel SSIM (Wang et al. 2004: 11×11 Gaussian window, σ 1.5, K1 0.01, K2 0.03) of images in [0, 1]."""
    channels = x.shape[1]
    window = _gaussian_window(channels, x.device)

    def blur(t: torch.Tensor) -> torch.Tensor:
        return F.conv2d(F.pad(t, (5, 5, 5, 5), mode="reflect"), window, groups=channels)

    mu_x, mu_y = blur(x), blur(y)
    var_x, var_y = blur(x * x) - mu_x ** 2, blur(y * y) - mu_y ** 2
    cov = blur(x * y) - mu_x * mu_y
    c1, c2 = 0.01 ** 2, 0.03 ** 2
    return ((2 * mu_x * mu_y + c1) * (2 * cov + c2)) / ((mu_x ** 2 + mu_y ** 2 + c1) * (var_x + var_y + c2))


def masked_loss(output: torch.Tensor, target: torch.Tensor, weights: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(SSIM + MSE loss, MSE alone), both weighted per pixel by ``weights`` (N, H, W); 0 weight is ignored."""
    w = weights[:, None]
    total = w.sum().clamp_min(1e-6) * output.shape[1]
    mse = (w * (output - target) ** 2).sum() / total
    dssim = (w * (1 - ssim_map(output, target)) / 2).sum() / total
    return dssim + mse, mse


# ----------------------------------------------------------------------------------------------- the trainer
def preview_grid(columns: Sequence[np.ndarray], gap: int = 2) -> np.ndarray:
    """uint8 RGB: one column per image batch (each (rows, S, S, 3)), gaps in grey."""
    rows, size = len(columns[0]), columns[0].shape[1]
    out = np.full((rows * (size + gap) + gap, len(columns) * (size + gap) + gap, 3), 96, np.uint8)
    for c, images in enumerate(columns):
        for r, image in enumerate(images):
            top, left = gap + r * (size + gap), gap + c * (size + gap)
            out[top:top + size, left:left + size] = image
    return out


PREVIEW_COLUMNS = ("A", "A→A", "A→B", "B", "B→B", "B→A")


class FaceSwapTrainer:
    """One face-swap training run over two :class:`~gen_models.media.face_sets.FaceSet`\\ s (see the module
    docstring). Steps carry ``loss_a``/``loss_b`` (SSIM + MSE) and ``mse_a``/``mse_b``."""

    checkpoint_format = faceswap.FORMAT
    checkpoint_prefix = "face-swap"
    checkpoint_suffix = ".safetensors"
    synthetic = True
    epoch_image_caption = "rows of " + ", ".join(PREVIEW_COLUMNS)
    curves = (CurveGroup("Reconstruction loss per person (SSIM + MSE, face mask)", ("loss_a", "loss_b")),)

    def __init__(self, config: FaceSwapConfig, faces_a: FaceSet | np.ndarray, faces_b: FaceSet | np.ndarray,
                 counts: dict[str, Any] | None = None) -> None:
        self.config = config = config.checked()
        self.device = torch.device(config.device) if config.device else get_device()
        self.faces = {"a": self._faces(faces_a, "A"), "b": self._faces(faces_b, "B")}
        self.counts = counts or {side: asdict(f.counts) if isinstance(f, FaceSet) else {"kept": len(f)}
                                 for side, f in (("a", faces_a), ("b", faces_b))}
        torch_gen = torch.Generator().manual_seed(config.seed)
        self.model = faceswap.build(config.model_config)
        _init_weights(self.model, torch_gen)
        self.model.to(self.device)
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=config.lr, betas=(0.5, 0.999))
        self._rng = np.random.default_rng(config.seed)
        self._weights_device: dict[int, torch.Tensor] = {}
        picks = {s: np.linspace(0, len(f) - 1, min(PREVIEW_ROWS, len(f))).round().astype(int) for s, f in self.faces.items()}
        rows = min(len(p) for p in picks.values())
        self._preview = {s: to_tensor(self.faces[s][picks[s][:rows]], self.device) for s in self.faces}
        self.history: list[HistoryRow] = []
        self.previews: dict[int, np.ndarray] = {}
        self.preview_metrics: dict[int, dict[str, float]] = {}
        self._step = 0
        self.seconds = 0.0
        self._running = threading.Lock()

    def _faces(self, faces: FaceSet | np.ndarray, name: str) -> np.ndarray:
        array = faces.faces if isinstance(faces, FaceSet) else np.asarray(faces)
        size = self.config.size
        if array.ndim != 4 or array.shape[1:] != (size, size, 3) or array.dtype != np.uint8:
            raise InputError(f"person {name}: faces must be uint8 ({size}, {size}, 3) images, got "
                             f"{array.dtype} {array.shape[1:]}")
        if len(array) < MIN_FACES:
            raise InputError(f"person {name}: {len(array)} face(s); at least {MIN_FACES} are needed")
        return np.ascontiguousarray(array)

    # ---- the protocol ----------------------------------------------------------------------------------------
    @property
    def steps_per_epoch(self) -> int:
        return self.config.preview_every

    @property
    def step(self) -> int:
        return self._step

    @property
    def epoch(self) -> int:
        return self._step // self.config.preview_every

    @property
    def description(self) -> str:
        c = self.config
        return (f"{c.layout} face swap {c.size} px ÷{c.width} on {len(self.faces['a'])} faces of A and "
                f"{len(self.faces['b'])} of B")

    def epoch_images(self) -> dict[int, np.ndarray]:
        return dict(self.previews)

    def epoch_metrics(self) -> dict[int, dict[str, float]]:
        return dict(self.preview_metrics)

    def latest_metrics(self) -> dict[str, float]:
        return dict(self.preview_metrics[max(self.preview_metrics)]) if self.preview_metrics else {}

    def run(self, until_epoch: int | None = None,
            stop: threading.Event | None = None) -> Iterator[StepEvent | EpochEvent]:
        """Train until ``until_epoch`` preview periods are done in all (default: the config's steps)."""
        target = target_epoch(until_epoch, self.config.epochs)
        yield from self._locked(target * self.config.preview_every, stop)

    def run_steps(self, steps: int, stop: threading.Event | None = None) -> Iterator[StepEvent | EpochEvent]:
        """Train ``steps`` more steps."""
        yield from self._locked(self._step + int(steps), stop)

    def _locked(self, until_step: int, stop: threading.Event | None) -> Iterator[StepEvent | EpochEvent]:
        if not self._running.acquire(blocking=False):
            raise InputError("This training run is already in progress.")
        try:
            yield from self._run(until_step, stop)
        finally:
            self._running.release()

    def _weights(self, masks: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(masks).to(self.device)

    def _run(self, until_step: int, stop: threading.Event | None) -> Iterator[StepEvent | EpochEvent]:
        steps_total = until_step
        every = self.config.preview_every
        while self._step < until_step:
            if stop is not None and stop.is_set():
                return
            started = time.perf_counter()
            self.model.train()
            metrics: dict[str, float] = {}
            self.optimizer.zero_grad(set_to_none=True)
            losses = []
            for side in ("a", "b"):
                inputs, targets, masks = augmented_batch(self._rng, self.faces[side], self.config.batch, self.config.warp)
                x, y = to_tensor(inputs, self.device), to_tensor(targets, self.device)
                loss, mse = masked_loss(self.model(x, side), y, self._weights(masks))
                losses.append(loss)
                metrics[f"loss_{side}"], metrics[f"mse_{side}"] = float(loss.item()), float(mse.item())
            (losses[0] + losses[1]).backward()
            self.optimizer.step()
            self._step += 1
            self.seconds += time.perf_counter() - started
            period = (self._step - 1) // every + 1
            self.history.append(HistoryRow(self._step, period, metrics))
            yield StepEvent(self._step, period, steps_total, dict(metrics))
            if self._step % every == 0:
                summary = {name: float(np.mean([r.metrics[name] for r in self.history[-every:]]))
                           for name in ("loss_a", "loss_b", "mse_a", "mse_b")}
                image = self.preview()
                self.previews[period] = image
                self.preview_metrics[period] = summary
                yield EpochEvent(self._step, period, steps_total, summary, image)

    def preview(self) -> np.ndarray:
        """The grid of fixed faces: columns A, A→A, A→B, B, B→B, B→A."""
        self.model.eval()
        with torch.inference_mode():
            a, b = self._preview["a"], self._preview["b"]
            code_a, code_b = self.model.encoder(a), self.model.encoder(b)
            columns = [a, self.model.decoder_a(code_a), self.model.decoder_b(code_a),
                       b, self.model.decoder_b(code_b), self.model.decoder_a(code_b)]
        return preview_grid([to_images(c) for c in columns])

    # ---- files -----------------------------------------------------------------------------------------------
    def card(self) -> dict[str, Any]:
        last = self.latest_metrics()
        return {"steps": self._step, "batch": self.config.batch, "lr": self.config.lr, "seed": self.config.seed,
                "warp": self.config.warp, "preview_every": self.config.preview_every, "data": self.counts,
                "train_seconds": round(self.seconds, 1), "device": str(self.device),
                "loss": {k: round(v, 5) for k, v in last.items()}}

    def export(self, path: str | Path) -> Path:
        """The model alone (what swapping needs), its card in the metadata and beside it as ``.json``."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        faceswap.save(self.model, path, **self.card())
        path.with_suffix(".json").write_text(json.dumps(faceswap.read_card(path), indent=2) + "\n")
        return path

    def save(self, path: str | Path) -> Path:
        """A resumable checkpoint: the model, Adam's state, both face sets, the loss history (all under ``train.``)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        extra = {"faces_a": torch.from_numpy(self.faces["a"]), "faces_b": torch.from_numpy(self.faces["b"])}
        names = ("loss_a", "loss_b", "mse_a", "mse_b")
        extra["history"] = torch.tensor([[r.metrics[n] for n in names] for r in self.history], dtype=torch.float32
                                        ).reshape(-1, len(names))
        state = self.optimizer.state_dict()
        for index, values in state["state"].items():
            for key, value in values.items():
                extra[f"adam.{index}.{key}"] = value if torch.is_tensor(value) else torch.tensor(value)
        partial = path.with_name(f".{path.name}.partial")
        faceswap.save(self.model, partial, extra=extra, resumable=True, config=asdict(self.config), **self.card())
        partial.replace(path)
        return path

    @classmethod
    def resume(cls, path: str | Path, device: str | None = None) -> FaceSwapTrainer:
        """The run saved by :meth:`save`, ready to go on."""
        card = faceswap.read_card(path)
        if not card.get("resumable"):
            raise WeightsIntegrityError(f"{Path(path).name} holds a face-swap model but not its training state; "
                                        "it can swap faces, not resume training")
        weights, extra = faceswap.read_tensors(path)
        try:
            config = FaceSwapConfig(**{**card["config"], "device": device})
            trainer = cls(config, extra["faces_a"].numpy(), extra["faces_b"].numpy(), card.get("data"))
            from gen_models.core.checkpoint import load_strict

            load_strict(trainer.model, weights, Path(path).name)
            trainer.model.to(trainer.device)
            state = trainer.optimizer.state_dict()
            for index in range(len(state["param_groups"][0]["params"])):
                if f"adam.{index}.exp_avg" in extra:
                    state["state"][index] = {k: extra[f"adam.{index}.{k}"].to(trainer.device)
                                             for k in ("step", "exp_avg", "exp_avg_sq")}
                    state["state"][index]["step"] = state["state"][index]["step"].cpu()
            trainer.optimizer.load_state_dict(state)
            names = ("loss_a", "loss_b", "mse_a", "mse_b")
            every = trainer.config.preview_every
            trainer.history = [HistoryRow(i + 1, i // every + 1, dict(zip(names, map(float, row))))
                               for i, row in enumerate(extra["history"].tolist())]
            trainer._step = int(card["steps"])
            trainer.seconds = float(card.get("train_seconds", 0.0))
            trainer._rng = np.random.default_rng([trainer.config.seed, trainer._step])
        except (KeyError, TypeError, ValueError) as exc:
            raise WeightsIntegrityError(f"{Path(path).name} is not a complete face-swap training checkpoint ({exc})"
                                        ) from None
        return trainer


def _init_weights(model: torch.nn.Module, generator: torch.Generator) -> None:
    """PyTorch's default initialisation drawn from the run's own generator (the global RNG is never touched)."""
    for module in model.modules():
        if isinstance(module, (torch.nn.Linear, torch.nn.Conv2d)):
            torch.nn.init.kaiming_uniform_(module.weight, a=math.sqrt(5), generator=generator)
            fan_in, _ = torch.nn.init._calculate_fan_in_and_fan_out(module.weight)
            bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0.0
            torch.nn.init.uniform_(module.bias, -bound, bound, generator=generator)


# ---- command line ---------------------------------------------------------------------------------------------
def input_files(path: str | Path) -> list[Path]:
    """A clip, a photo, or every clip and photo in a folder (sorted, recursively)."""
    from gen_models.media.face_sets import IMAGE_SUFFIXES, VIDEO_SUFFIXES

    path = Path(path)
    if path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES + VIDEO_SUFFIXES)
        if not files:
            raise InputError(f"{path} holds no photos or clips")
        return files
    if not path.is_file():
        raise InputError(f"{path} does not exist")
    return [path]


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add the ``face-swap`` subcommand to ``python -m gen_models.train``."""
    p = subparsers.add_parser("face-swap", help="face-swap autoencoder pair from two people's clips or photos")
    p.add_argument("--a", required=True, help="person A: a clip, a photo, or a folder of them")
    p.add_argument("--b", required=True, help="person B: a clip, a photo, or a folder of them")
    p.add_argument("--out", default="runs/face-swap", help="model.safetensors + .json card, checkpoint, previews")
    p.add_argument("--layout", choices=faceswap.LAYOUTS, default="original")
    p.add_argument("--size", type=int, choices=faceswap.SIZES, default=64)
    p.add_argument("--width", type=int, choices=faceswap.WIDTHS, default=8, help="divide every channel count by this")
    p.add_argument("--steps", type=int, default=2000, help="total steps (a resumed run goes on to this many)")
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--lr", type=float, default=FaceSwapConfig.lr)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--resume", action="store_true", help="continue from OUT/checkpoint.safetensors")
    p.set_defaults(run=run_cli)
    return p


def run_cli(args: argparse.Namespace, log: Callable[[str], None] = print) -> int:
    """Run ``face-swap``: 0 on success, 1 on a user error, 130 when interrupted (then resumable)."""
    out = Path(args.out)
    checkpoint = out / "checkpoint.safetensors"
    with stop_on_interrupt() as stop:
        return _run_cli(args, out, checkpoint, stop, log)


def _run_cli(args: argparse.Namespace, out: Path, checkpoint: Path, stop: threading.Event,
             log: Callable[[str], None]) -> int:
    try:
        if args.resume and checkpoint.exists():
            trainer = FaceSwapTrainer.resume(checkpoint)
            log(f"resumed {checkpoint} at step {trainer.step}")
        else:
            size = args.size
            sets = [extract(input_files(p), size, name=n, progress=None) for n, p in (("A", args.a), ("B", args.b))]
            for face_set in sets:
                log(f"person {face_set.name}: {face_set.counts.text()}")
            trainer = FaceSwapTrainer(FaceSwapConfig(args.layout, size, args.width, args.steps, args.batch, args.lr,
                                                     seed=args.seed), *sets)
        out.mkdir(parents=True, exist_ok=True)
        log(f"{trainer.description}, device {trainer.device}")
        for event in trainer.run_steps(args.steps - trainer.step, stop):
            if event.kind == "epoch":
                save_png(event.image, out / "preview.png", synthetic=True, model="face-swap (training)",
                         description=f"step {event.step}; columns " + ", ".join(PREVIEW_COLUMNS))
                m = event.metrics
                log(f"step {event.step}: loss A {m['loss_a']:.4f}, loss B {m['loss_b']:.4f}")
        write_losses(trainer, out / "losses.csv")
        trainer.save(checkpoint)
        if stop.is_set():
            log(f"stopped at step {trainer.step}; continue with --resume")
            return 130
        model = trainer.export(out / "model.safetensors")
        log(f"model: {model} ({model.stat().st_size} bytes) after {trainer.seconds:.0f} s of training")
        return 0
    except GenModelsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


def write_losses(trainer: FaceSwapTrainer, path: Path) -> None:
    with open(path, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["step", "loss_a", "loss_b", "mse_a", "mse_b"])
        writer.writerows([r.step, *(f"{r.metrics[k]:.6f}" for k in ("loss_a", "loss_b", "mse_a", "mse_b"))]
                         for r in trainer.history)


# ---- the bundled pair -----------------------------------------------------------------------------------------
BUNDLED_NAME = "faceswap-astronaut-hopper"
BUNDLED_FILE = "face_swap/astronaut-hopper.safetensors"
BUNDLED_RECIPE = FaceSwapConfig(layout="original", size=64, width=8, steps=6000, batch=16, lr=5e-4, seed=0,
                                device="cpu")


def write_bundle(examples: str | Path, steps: int | None = None, log: Callable[[str], None] = print) -> Path:
    """Train the astronaut ↔ Grace Hopper pair on the tab's example clips, write it under gen_models/bundled/ and pin
    it in the catalog with its recipe (steps, time, device, final losses, data counts)."""
    from gen_models.core.manifest import BUNDLED_DIR, record_bundled

    examples = Path(examples)
    config = replace(BUNDLED_RECIPE, steps=steps or BUNDLED_RECIPE.steps)
    sets = [extract([examples / f"{n}_clip.mp4"], config.size, name=side)
            for side, n in (("A", "astronaut"), ("B", "grace_hopper"))]
    trainer = FaceSwapTrainer(config, *sets)
    threads = torch.get_num_threads()
    for event in trainer.run():
        if event.kind == "epoch" and event.epoch % 5 == 0:
            log(f"step {event.step}: loss A {event.metrics['loss_a']:.4f}, B {event.metrics['loss_b']:.4f}")
    path = trainer.export(BUNDLED_DIR / BUNDLED_FILE)
    path.chmod(0o644)
    card = faceswap.read_card(path)
    clips = {"a": "astronaut_clip.mp4 (60 frames of head motion made from the NASA portrait)",
             "b": "grace_hopper_clip.mp4 (60 frames made from the US Navy portrait)"}
    recipe = {"data": {side: {"clip": clips[side], **trainer.counts[side]} for side in clips},
              "steps": trainer.step, "batch": config.batch, "lr": config.lr, "optimizer": "Adam β (0.5, 0.999)",
              "loss": "SSIM + MSE on the face mask (eyes ×3, mouth ×2), warped inputs", "seed": config.seed,
              "final_loss": card["loss"], "train_seconds": round(trainer.seconds, 1),
              "trained_on": f"CPU, {threads} threads (no GPU was available)"}
    record_bundled(BUNDLED_NAME, path, recipe, task="face-swap", architecture="faceswap", default=True,
                   config={"layout": config.layout, "size": config.size, "width": config.width},
                   title="Astronaut ↔ Grace Hopper (bundled)", license="MIT",
                   source="https://github.com/deepfakes/faceswap",
                   description=f"{config.layout} layout, {config.size} px, width ÷{config.width}, trained "
                               f"{trainer.step} steps on the two example clips",
                   labels=["Eileen Collins (NASA portrait)", "Grace Hopper (US Navy portrait)"],
                   io={"input": {"kind": "face-crop", "size": config.size, "colour": "RGB", "range": [0, 1],
                                 "note": "5-point similarity alignment (gen_models.media.align)"},
                       "output": {"kind": "face-crop", "size": config.size, "colour": "RGB", "range": [0, 1]}})
    log(f"{path}: {path.stat().st_size} bytes after {trainer.seconds:.0f} s")
    return path


if __name__ == "__main__":  # python -m gen_models.train.face_swap spaces/face_swap/examples [STEPS]
    write_bundle(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else None)
