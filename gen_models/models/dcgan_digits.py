"""Two DCGANs for 28×28 handwritten digits, as the classic labs build them, and the small generators bundled here.

* ``tutorial`` — TensorFlow's DCGAN tutorial: z (100) → Dense 7·7·256 → BN → LeakyReLU → ConvT 128 5×5 s1 (7×7)
  → ConvT 64 5×5 s2 (14×14) → ConvT 1 5×5 s2 → tanh (28×28), BN + LeakyReLU(0.3, Keras' default) between, no
  biases. Discriminator: Conv 64 5×5 s2 → LeakyReLU → Dropout 0.3 → Conv 128 5×5 s2 → LeakyReLU → Dropout 0.3 →
  Dense 1. Images in [-1, 1].
* ``lab`` — the course lab's deeper model: z (128) → Dense 512 → 1×1×512 → ConvT 512 k4 s1 p0 (4×4) → ConvT 256 k4
  s1 p0 (7×7) → ConvT 128 k4 s2 p1 (14×14) → ConvT 64 k4 s1 p1 (15×15) → ConvT 1 k4 s2 p2 → sigmoid (28×28), BN +
  LeakyReLU(0.2) between. PyTorch's transposed convolutions pad symmetrically, so Keras' "same" 14→14 step with a
  4×4 kernel has no exact twin; 14→15→28 keeps every kernel 4×4 and gives each output pixel of the last layer the
  same number of contributions (no thin border); the last layer has a bias (no BatchNorm follows it) so the sigmoid
  can reach black. Discriminator: five 5×5 stride-2 convs 64, 128, 256, 512, 512 (padding 2: 28→14→7→4→2→1),
  BatchNorm on all but the first (as in DCGAN), LeakyReLU(0.2), Dense 1. Images in [0, 1].

Both discriminators return logits (the sigmoid lives in the loss, ``BCEWithLogitsLoss``, for numerical safety).
Generator files are safetensors whose metadata names the architecture, so :func:`load_generator` rebuilds the
right network; the bundled ones and their training record are catalog entries (``task: digits-generation``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from gen_models.core.checkpoint import load_checkpoint, load_strict
from gen_models.core.device import get_device
from gen_models.core.errors import InputError, WeightsIntegrityError
from gen_models.core.latent import z_from_seeds
from gen_models.models._config import config_from_dict

SIZE = 28
ARCHS = ("tutorial", "lab")
LATENT_DIM = {"tutorial": 100, "lab": 128}
BUNDLED_DIR = Path(__file__).resolve().parent.parent / "bundled" / "digits"
FILE_FORMAT = "gen_models.dcgan_digits"  # written into saved files: keep


class SeededDropout(nn.Module):
    """Dropout whose masks come from ``generator`` when one is set (a training run's own RNG), else plain dropout."""

    def __init__(self, p: float) -> None:
        super().__init__()
        self.p = p
        self.generator: torch.Generator | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0:
            return x
        if self.generator is None:
            return F.dropout(x, self.p, True)
        keep = torch.rand(x.shape, generator=self.generator, device=self.generator.device) >= self.p
        return x * keep.to(x.device, x.dtype) / (1 - self.p)


class _DigitGenerator(nn.Module):
    """What both digit generators share: a Dense ``project`` from z first, then their own ``model``."""

    latent_dim: int
    project: nn.Sequential

    @property
    def z_dim(self) -> int:
        return self.latent_dim

    def first_layer_weight(self) -> np.ndarray:
        """The first (Dense) layer's weight as a (z_dim, features) float32 matrix on the CPU."""
        return self.project[0].weight.detach().t().float().cpu().numpy()


class TutorialGenerator(_DigitGenerator):
    """TensorFlow tutorial generator: (N, 100) → (N, 1, 28, 28) in [-1, 1]."""

    arch = "tutorial"

    def __init__(self) -> None:
        super().__init__()
        self.latent_dim = LATENT_DIM["tutorial"]
        self.project = nn.Sequential(nn.Linear(self.latent_dim, 7 * 7 * 256, bias=False), nn.BatchNorm1d(7 * 7 * 256),
                                     nn.LeakyReLU(0.3))
        self.model = nn.Sequential(
            nn.ConvTranspose2d(256, 128, 5, 1, 2, bias=False), nn.BatchNorm2d(128), nn.LeakyReLU(0.3),
            nn.ConvTranspose2d(128, 64, 5, 2, 2, output_padding=1, bias=False), nn.BatchNorm2d(64), nn.LeakyReLU(0.3),
            nn.ConvTranspose2d(64, 1, 5, 2, 2, output_padding=1, bias=False), nn.Tanh(),
        )

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.model(self.project(z).view(-1, 256, 7, 7))


class TutorialDiscriminator(nn.Module):
    """TensorFlow tutorial discriminator: (N, 1, 28, 28) in [-1, 1] → (N,) logits."""

    def __init__(self) -> None:
        super().__init__()
        self.model = nn.Sequential(
            nn.Conv2d(1, 64, 5, 2, 2), nn.LeakyReLU(0.3), SeededDropout(0.3),
            nn.Conv2d(64, 128, 5, 2, 2), nn.LeakyReLU(0.3), SeededDropout(0.3),
            nn.Flatten(), nn.Linear(128 * 7 * 7, 1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x).flatten()


class LabGenerator(_DigitGenerator):
    """The lab's generator: (N, 128) → (N, 1, 28, 28) in [0, 1] via 1→4→7→14→15→28."""

    arch = "lab"

    def __init__(self) -> None:
        super().__init__()
        self.latent_dim = LATENT_DIM["lab"]
        self.project = nn.Sequential(nn.Linear(self.latent_dim, 512, bias=False), nn.BatchNorm1d(512),
                                     nn.LeakyReLU(0.2))
        layers: list[nn.Module] = []
        # (out channels, stride, padding): 1→4 (s1 p0), 4→7 (s1 p0), 7→14 (s2 p1), 14→15 (s1 p1)
        c_in = 512
        for c_out, stride, pad in ((512, 1, 0), (256, 1, 0), (128, 2, 1), (64, 1, 1)):
            layers += [nn.ConvTranspose2d(c_in, c_out, 4, stride, pad, bias=False), nn.BatchNorm2d(c_out),
                       nn.LeakyReLU(0.2)]
            c_in = c_out
        layers += [nn.ConvTranspose2d(64, 1, 4, 2, 2), nn.Sigmoid()]  # 15→28; its bias lets sigmoid reach black
        self.model = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.model(self.project(z)[:, :, None, None])


class LabDiscriminator(nn.Module):
    """The lab's discriminator: (N, 1, 28, 28) in [0, 1] → (N,) logits."""

    def __init__(self) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        c_in = 1
        for i, c_out in enumerate((64, 128, 256, 512, 512)):
            layers.append(nn.Conv2d(c_in, c_out, 5, 2, 2, bias=i == 0))
            if i:
                layers.append(nn.BatchNorm2d(c_out))
            layers.append(nn.LeakyReLU(0.2))
            c_in = c_out
        layers += [nn.Flatten(), nn.Linear(512, 1)]
        self.model = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x).flatten()


@dataclass(frozen=True)
class Config:
    """Digits DCGAN generator settings.

    * ``arch``: ``"tutorial"`` (TensorFlow's tutorial, z 100, output in [-1, 1]) or ``"lab"`` (the course lab's,
      z 128, output in [0, 1]); default ``"tutorial"``.
    """

    arch: str = "tutorial"

    def __post_init__(self) -> None:
        if self.arch not in ARCHS:
            raise ValueError(f"arch must be one of {', '.join(ARCHS)}, got {self.arch!r}")

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any] | None) -> Config:
        """The catalog's ``config`` object (e.g. ``{"arch": "lab"}``); unknown keys are errors."""
        return config_from_dict(cls, raw, "dcgan-digits")


def check_arch(arch: str) -> str:
    """``tutorial`` or ``lab``; anything else is an input error."""
    if arch not in ARCHS:
        raise InputError(f"architecture must be one of {', '.join(ARCHS)}, got {arch!r}")
    return arch


def build_generator(arch: str) -> TutorialGenerator | LabGenerator:
    """A fresh (untrained) generator of the named architecture."""
    return {"tutorial": TutorialGenerator, "lab": LabGenerator}[check_arch(arch)]()


def build_discriminator(arch: str) -> TutorialDiscriminator | LabDiscriminator:
    """A fresh (untrained) discriminator of the named architecture."""
    return {"tutorial": TutorialDiscriminator, "lab": LabDiscriminator}[check_arch(arch)]()


def to_model_range(images: torch.Tensor, arch: str) -> torch.Tensor:
    """Images in [0, 1] → the range the architecture trains in ([-1, 1] for tutorial, [0, 1] for lab)."""
    return images * 2 - 1 if check_arch(arch) == "tutorial" else images


def to_unit_range(images: torch.Tensor, arch: str) -> torch.Tensor:
    """Generator output → [0, 1] whatever the architecture."""
    out = (images + 1) / 2 if check_arch(arch) == "tutorial" else images
    return out.clamp(0, 1)


def to_uint8(images: torch.Tensor, arch: str) -> np.ndarray:
    """Generator output (N, 1, 28, 28) → (N, 28, 28) uint8, white digit on black."""
    return (to_unit_range(images.detach().float(), arch)[:, 0] * 255).round().to(torch.uint8).cpu().numpy()


def digit_grid(images: np.ndarray, cols: int = 8, pad: int = 2, border: int = 80) -> np.ndarray:
    """(N, H, W) uint8 (or floats in [0, 1]) → one uint8 gray image, ``cols`` per row, ``pad``-pixel gray lines."""
    images = np.asarray(images)
    if images.ndim != 3 or len(images) == 0:
        raise InputError(f"digit_grid needs a non-empty (N, H, W) stack of images, got shape {images.shape}")
    if images.dtype != np.uint8:
        images = (np.clip(images.astype(np.float32), 0, 1) * 255).round().astype(np.uint8)
    cols = max(1, min(int(cols), len(images)))
    rows = -(-len(images) // cols)
    _, h, w = images.shape
    grid = np.full((rows * (h + pad) + pad, cols * (w + pad) + pad), border, np.uint8)
    for i, image in enumerate(images):
        r, c = divmod(i, cols)
        top, left = pad + r * (h + pad), pad + c * (w + pad)
        grid[top:top + h, left:left + w] = image
    return grid


def generator_metadata(arch: str, **extra: object) -> dict[str, str]:
    """The safetensors metadata :func:`load_generator` needs (plus anything else worth keeping, as strings)."""
    meta = {"format": FILE_FORMAT, "arch": check_arch(arch), "latent_dim": str(LATENT_DIM[arch])}
    meta.update({k: json.dumps(v) if not isinstance(v, str) else v for k, v in extra.items()})
    return meta


def read_metadata(path: str | Path) -> dict[str, str]:
    """The metadata block of a generator file written by the trainer."""
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(str(path), framework="pt") as handle:
            meta = handle.metadata() or {}
    except (SafetensorError, OSError) as exc:
        raise WeightsIntegrityError(f"{Path(path).name} is not a valid safetensors file ({exc})") from None
    if meta.get("format") != FILE_FORMAT or meta.get("arch") not in ARCHS:
        raise WeightsIntegrityError(f"{Path(path).name} is not a digits DCGAN generator (its metadata names no "
                                    "tutorial/lab architecture)")
    return meta


def load_generator(path: str | Path, device: torch.device | str | None = None) -> nn.Module:
    """A generator file (safetensors from the trainer, fp16 or fp32) → the network in eval mode, float32."""
    meta = read_metadata(path)
    model = build_generator(meta["arch"])
    state = {k: v.float() if v.is_floating_point() else v for k, v in load_checkpoint(Path(path)).items()}
    load_strict(model, state, Path(path).name)
    return model.eval().to(torch.device(device) if device is not None else get_device())


def build(config: Config) -> TutorialGenerator | LabGenerator:
    """A generator with fresh (random) weights."""
    return build_generator(config.arch)


def load(path: str | Path, config: Config) -> TutorialGenerator | LabGenerator:
    """A generator file from the trainer (safetensors, fp16 or fp32) loaded strictly into ``build(config)`` as float32;
    its metadata must name ``config.arch``. Eval mode, CPU."""
    arch = read_metadata(path)["arch"]
    if arch != config.arch:
        raise WeightsIntegrityError(f"{Path(path).name} holds a {arch!r} generator, but its config says {config.arch!r}")
    model = build(config)
    state = {k: v.float() if v.is_floating_point() else v for k, v in load_checkpoint(Path(path)).items()}
    load_strict(model, state, Path(path).name)
    return model.eval()


def from_manifest(path: Path, config: dict, device: torch.device) -> TutorialGenerator | LabGenerator:
    """Registry loader: :func:`load` with ``Config.from_dict(config)``, moved to ``device``."""
    return load(path, Config.from_dict(config)).to(device)


@dataclass(frozen=True)
class DigitModelInfo:
    """One bundled generator as its catalog entry records it; ``data`` says what it was trained on."""

    name: str
    title: str
    arch: str
    digit: int | None
    data: str
    epochs: int
    steps: int
    batch: int
    seed: int
    file: str
    sha256: str
    size: int
    train_seconds: float

    @property
    def path(self) -> Path:
        return BUNDLED_DIR / self.file

    @property
    def latent_dim(self) -> int:
        return LATENT_DIM[self.arch]

    @property
    def summary(self) -> str:
        """One line for the UI: what it draws and what it learnt from."""
        what = f"digit {self.digit} only" if self.digit is not None else "all ten digits"
        return (f"{self.title}: {what}; trained {self.epochs} epochs ({self.steps} steps, batch {self.batch}, "
                f"seed {self.seed}) on {self.data}")


def bundled_models() -> dict[str, DigitModelInfo]:
    """The catalog's digit generators by name (``task: digits-generation``; the recipe is how each was trained)."""
    from gen_models.core.manifest import load_manifest

    out = {}
    for e in load_manifest().for_task("digits-generation"):
        r = e.recipe or {}
        out[e.name] = DigitModelInfo(e.name, e.label, str(e.config.get("arch", "tutorial")), r.get("digit"),
                                     str(r.get("data", "")), int(r.get("epochs", 0)), int(r.get("steps", 0)),
                                     int(r.get("batch", 0)), int(r.get("seed", 0)), e.basename, e.sha256,
                                     int(e.size or 0), float(r.get("train_seconds", 0.0)))
    return out


def bundled_info(name: str) -> DigitModelInfo:
    """The card of one catalog generator; an unknown name is an input error that lists the known ones."""
    from gen_models.core import registry

    registry.require(name, "digits-generation")
    return bundled_models()[name]


def load_bundled(name: str, device: torch.device | str | None = None) -> nn.Module:
    """A catalog generator in eval mode, checked against its sha256 (the registry's one cache by default)."""
    from gen_models.core import registry

    registry.require(name, "digits-generation")
    if device is None or torch.device(device) == get_device():
        return registry.load(name)
    return registry.create(name, device=torch.device(device))


def generate_digits(name: str, seeds: Sequence[int], device: torch.device | str | None = None) -> np.ndarray:
    """(len(seeds), 28, 28) uint8 digits from a bundled generator; a seed gives the same digit on any machine."""
    model = load_bundled(name, device)
    arch = bundled_info(name).arch
    z = z_from_seeds(list(seeds), LATENT_DIM[arch])
    if len(z) == 0:
        return np.zeros((0, SIZE, SIZE), np.uint8)
    with torch.inference_mode():
        images = model(z.to(next(model.parameters()).device))
    return to_uint8(images, arch)
