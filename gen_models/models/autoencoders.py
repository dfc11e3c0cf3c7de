"""Autoencoders for the digit labs: a dense and a convolutional AE, and the computations behind their views.

The dense AE is the one from the slides, 784 → 128 → 64 → 32 with ReLU and the mirror image back to a sigmoid
784; the convolutional AE squeezes 28×28 through two strided convolutions (16 and 32 channels, 7×7) to the same
32-number code and back with transposed convolutions. Both map images (N, 28, 28) or (N, 1, 28, 28) in [0, 1]
to codes (N, 32) and codes back to (N, 1, 28, 28).

The views are plain functions over NumPy arrays and dataclasses, so the Gradio UI, the API and the tests run the
same code: reconstruction, noise (Gaussian or salt-and-pepper, deterministic by seed) and denoising, anomaly
scores by reconstruction error against non-digit probes made offline (noise images and letters drawn with PIL's
built-in font), and a 2-D PCA map of the codes whose points decode back to images.

Bundled models (trained with :mod:`gen_models.train.autoencoders` on the offline scikit-learn digits) live in
``bundled/autoencoders``; their catalog entries pin each file's sha256 and record the recipe.
"""

from __future__ import annotations

import json
import math
import string
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFilter, ImageFont
from torch import nn

from gen_models.core.checkpoint import load_checkpoint, load_strict
from gen_models.core.device import get_device
from gen_models.core.errors import InputError, WeightsIntegrityError, WeightsUnavailableError
from gen_models.models._config import config_from_dict

SIZE = 28
LATENT = 32
NOISE_KINDS = ("gaussian", "salt_pepper")
PROBE_KINDS = ("uniform", "gaussian", "letters")
LETTERS = string.ascii_uppercase + string.ascii_lowercase
BUNDLE_DIR = Path(__file__).resolve().parent.parent / "bundled" / "autoencoders"
METADATA_KEY = "autoencoder"
_BATCH = 1024


class _AutoEncoder(nn.Module):
    """What both autoencoders share: an ``encoder`` and a ``decoder`` set by the subclass, and the calls on them."""

    encoder: nn.Module
    decoder: nn.Module

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Images (N, 28, 28) or (N, 1, 28, 28) → codes (N, latent)."""
        return self.encoder(_as_batch(x))

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Codes (N, latent) → images (N, 1, 28, 28) in [0, 1]."""
        return self.decoder(z)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decode(self.encode(x))


class DenseAE(_AutoEncoder):
    """784 → 128 → 64 → 32 (ReLU at every layer, the code included) and back, sigmoid pixels out."""

    arch = "dense"

    def __init__(self, latent_dim: int = LATENT) -> None:
        super().__init__()
        self.latent_dim = latent_dim
        self.encoder = nn.Sequential(
            nn.Flatten(), nn.Linear(SIZE * SIZE, 128), nn.ReLU(), nn.Linear(128, 64), nn.ReLU(),
            nn.Linear(64, latent_dim), nn.ReLU(),
        )
        self.decoder = nn.Sequential(
            nn.Linear(latent_dim, 64), nn.ReLU(), nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, SIZE * SIZE),
            nn.Sigmoid(), nn.Unflatten(1, (1, SIZE, SIZE)),
        )


class ConvAE(_AutoEncoder):
    """Conv 1→16→32 (3×3, stride 2: 28 → 14 → 7), a linear 32-number code, and transposed convs back."""

    arch = "conv"

    def __init__(self, latent_dim: int = LATENT) -> None:
        super().__init__()
        self.latent_dim = latent_dim
        self.encoder = nn.Sequential(
            nn.Conv2d(1, 16, 3, 2, 1), nn.ReLU(), nn.Conv2d(16, 32, 3, 2, 1), nn.ReLU(), nn.Flatten(),
            nn.Linear(32 * 7 * 7, latent_dim),
        )
        self.decoder = nn.Sequential(
            nn.Linear(latent_dim, 32 * 7 * 7), nn.ReLU(), nn.Unflatten(1, (32, 7, 7)),
            nn.ConvTranspose2d(32, 16, 3, 2, 1, output_padding=1), nn.ReLU(),
            nn.ConvTranspose2d(16, 1, 3, 2, 1, output_padding=1), nn.Sigmoid(),
        )


AutoEncoder = DenseAE | ConvAE
ARCHS: dict[str, type[nn.Module]] = {"dense": DenseAE, "conv": ConvAE}


@dataclass(frozen=True)
class Config:
    """Digit autoencoder settings.

    * ``arch``: ``"dense"`` or ``"conv"`` (default ``"dense"``);
    * ``latent_dim``: code size (32).
    """

    arch: str = "dense"
    latent_dim: int = LATENT

    def __post_init__(self) -> None:
        if self.arch not in ARCHS:
            raise ValueError(f"arch must be one of {', '.join(ARCHS)}, got {self.arch!r}")
        if self.latent_dim < 1:
            raise ValueError(f"latent_dim must be positive, got {self.latent_dim}")

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any] | None) -> Config:
        """The catalog's ``config`` object (e.g. ``{"arch": "conv"}``); unknown keys are errors."""
        return config_from_dict(cls, raw, "autoencoder")


def build(config: Config) -> AutoEncoder:
    """An autoencoder with fresh (random) weights."""
    return ARCHS[config.arch](config.latent_dim)


def load(path: str | Path, config: Config) -> AutoEncoder:
    """A safetensors file written by the trainer's ``export``, loaded strictly into ``build(config)``; an architecture
    named in its metadata must be ``config.arch``. Eval mode, no gradients, CPU."""
    path = Path(path)
    if not path.is_file():
        raise WeightsUnavailableError(f"{path} does not exist")
    state = load_checkpoint(path)
    arch = read_metadata(path).get("arch")
    if arch is not None and arch != config.arch:
        raise WeightsIntegrityError(f"{path.name} holds a {arch!r} autoencoder, but its config says {config.arch!r}")
    return load_strict(build(config), state, path.name).eval().requires_grad_(False)


def from_manifest(path: Path, config: dict, device: torch.device) -> AutoEncoder:
    """Registry loader: :func:`load` with ``Config.from_dict(config)``, moved to ``device``."""
    return load(path, Config.from_dict(config)).to(device)


def build_model(arch: str) -> AutoEncoder:
    """A freshly initialised autoencoder of the named architecture (dense | conv)."""
    if arch not in ARCHS:
        raise InputError(f"architecture must be one of {', '.join(ARCHS)}, got {arch!r}")
    return ARCHS[arch]()


def _as_batch(x: torch.Tensor) -> torch.Tensor:
    return x[:, None] if x.dim() == 3 else x


# ---- arrays in, arrays out ------------------------------------------------------------------------------------


def as_images(images: Any, name: str = "images") -> np.ndarray:
    """(N, 28, 28) float32 in [0, 1] from float arrays in [0, 1] or uint8 0–255; one (28, 28) image is N = 1."""
    array = np.asarray(images)
    if array.dtype == np.uint8:
        array = array.astype(np.float32) / 255.0
    if array.ndim == 4 and array.shape[1] == 1:
        array = array[:, 0]
    if array.ndim == 2:
        array = array[None]
    if array.ndim != 3 or array.shape[1:] != (SIZE, SIZE):
        raise InputError(f"{name} must be 28×28 images shaped (N, 28, 28), got shape {tuple(array.shape)}")
    if not np.issubdtype(array.dtype, np.number) or np.issubdtype(array.dtype, np.complexfloating):
        raise InputError(f"{name} must hold real numbers, got {array.dtype}")
    array = array.astype(np.float32, copy=False)
    if not np.isfinite(array).all():
        raise InputError(f"{name} contain NaN or infinite pixels")
    return array


def _device_of(model: nn.Module) -> torch.device:
    return next(model.parameters()).device


def _chunks(model: nn.Module, array: np.ndarray, fn) -> np.ndarray:
    device = _device_of(model)
    parts = []
    with torch.inference_mode():
        for start in range(0, len(array), _BATCH):
            batch = torch.from_numpy(np.ascontiguousarray(array[start:start + _BATCH])).to(device)
            parts.append(fn(batch).float().cpu().numpy())
    return np.concatenate(parts) if parts else np.zeros((0,), np.float32)


def encode(model: AutoEncoder, images: Any) -> np.ndarray:
    """Codes (N, latent) of images (N, 28, 28)."""
    images = as_images(images)
    if not len(images):
        return np.zeros((0, model.latent_dim), np.float32)
    return _chunks(model, images, model.encode)


def decode(model: AutoEncoder, codes: Any) -> np.ndarray:
    """Images (N, 28, 28) in [0, 1] from codes (N, latent)."""
    codes = np.asarray(codes, np.float32)
    if codes.ndim != 2 or codes.shape[1] != model.latent_dim:
        raise InputError(f"codes must be shaped (N, {model.latent_dim}), got {tuple(codes.shape)}")
    if not len(codes):
        return np.zeros((0, SIZE, SIZE), np.float32)
    return _chunks(model, codes, model.decode)[:, 0]


def reconstruct(model: AutoEncoder, images: Any) -> np.ndarray:
    """The model's reconstructions (N, 28, 28) of images (N, 28, 28)."""
    images = as_images(images)
    if not len(images):
        return np.zeros((0, SIZE, SIZE), np.float32)
    return _chunks(model, images, model)[:, 0]


def mse_per_image(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Mean squared pixel difference of each pair of images, (N,) float64."""
    diff = np.asarray(a, np.float64) - np.asarray(b, np.float64)
    return (diff.reshape(len(diff), -1) ** 2).mean(axis=1)


def reconstruction_error(model: AutoEncoder, images: Any) -> np.ndarray:
    """Per-image MSE between images and their reconstructions, (N,) float64: the anomaly score."""
    images = as_images(images)
    return mse_per_image(images, reconstruct(model, images))


def mean_image_mse(train_images: Any, test_images: Any) -> float:
    """The baseline a reconstruction must beat: MSE of predicting every test image by the training mean image."""
    mean = as_images(train_images, "training images").mean(axis=0)
    test = as_images(test_images, "test images")
    return float(((test - mean[None]) ** 2).mean())


# ---- noise and denoising --------------------------------------------------------------------------------------


def check_noise(kind: str, strength: float) -> tuple[str, float]:
    """A valid (kind, strength) pair, or an InputError that says what is allowed."""
    if kind not in NOISE_KINDS:
        raise InputError(f"noise kind must be one of {', '.join(NOISE_KINDS)}, got {kind!r}")
    if isinstance(strength, bool) or not isinstance(strength, (int, float, np.integer, np.floating)):
        raise InputError(f"noise strength must be a number from 0 to 1, got {strength!r}")
    if not (math.isfinite(float(strength)) and 0.0 <= float(strength) <= 1.0):
        raise InputError(f"noise strength must be from 0 to 1, got {strength!r}")
    return kind, float(strength)


def corrupt(x: torch.Tensor, kind: str, strength: float, generator: torch.Generator) -> torch.Tensor:
    """Noisy copies of images in [0, 1], clipped to [0, 1]; the noise is drawn on the CPU from ``generator``.

    ``gaussian``: add σ = strength Gaussian noise. ``salt_pepper``: a fraction ``strength`` of the pixels turn
    white or black (half each).
    """
    kind, strength = check_noise(kind, strength)
    if kind == "gaussian":
        noise = torch.randn(x.shape, generator=generator).to(x.device, x.dtype)
        return (x + strength * noise).clamp(0.0, 1.0)
    u = torch.rand(x.shape, generator=generator).to(x.device)
    out = torch.where(u < strength / 2, torch.ones_like(x), x)
    return torch.where((u >= strength / 2) & (u < strength), torch.zeros_like(x), out)


def _check_seed(seed: int) -> int:
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= int(seed) < 2**63:
        raise InputError(f"seed must be a whole number from 0 to 2**63 - 1, got {seed!r}")
    return int(seed)


def add_noise(images: Any, kind: str = "gaussian", strength: float = 0.3, seed: int = 0) -> np.ndarray:
    """Images (N, 28, 28) with Gaussian or salt-and-pepper noise of strength 0–1; the same seed, the same noise."""
    kind, strength = check_noise(kind, strength)
    images = as_images(images)
    generator = torch.Generator().manual_seed(_check_seed(seed))
    return corrupt(torch.from_numpy(images.copy()), kind, strength, generator).numpy()


@dataclass(frozen=True)
class Denoised:
    """Clean inputs, their noisy copies, the model's outputs, and each image's MSE against the clean one."""

    clean: np.ndarray
    noisy: np.ndarray
    denoised: np.ndarray
    noisy_mse: np.ndarray
    denoised_mse: np.ndarray


def denoise(model: AutoEncoder, images: Any, kind: str = "gaussian", strength: float = 0.3,
            seed: int = 0) -> Denoised:
    """Add noise to clean images, run the model on the noisy copies, and score both against the clean images."""
    clean = as_images(images)
    noisy = add_noise(clean, kind, strength, seed)
    out = reconstruct(model, noisy)
    return Denoised(clean, noisy, out, mse_per_image(noisy, clean), mse_per_image(out, clean))


# ---- anomaly detection ----------------------------------------------------------------------------------------


def _centre(glyph: np.ndarray, box: int = 20) -> np.ndarray:
    """A white-on-black glyph cropped, scaled so its longer side is ``box`` and centred by mass in 28×28 (as MNIST)."""
    rows, cols = np.nonzero(glyph > 0.05)
    crop = glyph[rows.min():rows.max() + 1, cols.min():cols.max() + 1]
    scale = box / max(crop.shape)
    h, w = max(1, round(crop.shape[0] * scale)), max(1, round(crop.shape[1] * scale))
    small = np.clip(np.asarray(Image.fromarray(crop, "F").resize((w, h), Image.Resampling.LANCZOS)), 0.0, 1.0)
    ys, xs = np.indices(small.shape)
    total = small.sum()
    cy, cx = (ys * small).sum() / total, (xs * small).sum() / total
    top = int(np.clip(round(SIZE / 2 - cy - 0.5), 0, SIZE - h))
    left = int(np.clip(round(SIZE / 2 - cx - 0.5), 0, SIZE - w))
    out = np.zeros((SIZE, SIZE), np.float32)
    out[top:top + h, left:left + w] = small
    return out


def letter_images(letters: str = LETTERS) -> np.ndarray:
    """Letters drawn with PIL's built-in font, thickened and framed like MNIST digits: (len(letters), 28, 28)."""
    font = ImageFont.load_default(size=48)  # Pillow's bundled Aileron (its small bitmap font without FreeType)
    out = []
    for letter in letters:
        if not letter.strip():
            raise InputError("letters must not contain spaces")
        canvas = Image.new("L", (96, 96), 0)
        ImageDraw.Draw(canvas).text((20, 10), letter, fill=255, font=font)
        canvas = canvas.filter(ImageFilter.MaxFilter(3)).filter(ImageFilter.GaussianBlur(1.5))
        out.append(_centre(np.asarray(canvas, np.float32) / 255.0))
    return np.stack(out) if out else np.zeros((0, SIZE, SIZE), np.float32)


def non_digits(kind: str, n: int = 64, seed: int = 0) -> np.ndarray:
    """Non-digit probes (N, 28, 28) made without any download.

    ``uniform``: every pixel uniform in [0, 1]; ``gaussian``: pixels N(0.5, 0.25²) clipped; ``letters``: the
    first ``n`` of A–Z, a–z (cycled), drawn like MNIST digits.
    """
    if kind not in PROBE_KINDS:
        raise InputError(f"non-digit kind must be one of {', '.join(PROBE_KINDS)}, got {kind!r}")
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or not 1 <= n <= 10_000:
        raise InputError(f"the number of non-digit images must be from 1 to 10000, got {n!r}")
    if kind == "letters":
        return letter_images("".join(LETTERS[i % len(LETTERS)] for i in range(n)))
    rng = np.random.default_rng(_check_seed(seed))
    if kind == "uniform":
        return rng.random((n, SIZE, SIZE), dtype=np.float32)
    return np.clip(0.5 + 0.25 * rng.standard_normal((n, SIZE, SIZE)), 0.0, 1.0).astype(np.float32)


def auroc(negatives: np.ndarray, positives: np.ndarray) -> float:
    """The probability that a random positive scores above a random negative (ties count half)."""
    negatives = np.sort(np.asarray(negatives, np.float64))
    positives = np.asarray(positives, np.float64)
    if not len(negatives) or not len(positives):
        return float("nan")
    below = np.searchsorted(negatives, positives, side="left")
    ties = np.searchsorted(negatives, positives, side="right") - below
    return float((below + 0.5 * ties).sum() / (len(negatives) * len(positives)))


@dataclass(frozen=True)
class AnomalyReport:
    """Reconstruction errors of digits then others, a threshold, what it flags, and the worst images.

    ``errors``/``is_other`` run over the digits followed by the others; ``top`` indexes that order, worst first,
    with ``top_images`` the matching inputs.
    """

    digit_errors: np.ndarray
    other_errors: np.ndarray
    threshold: float
    threshold_rule: str
    flagged_digits: int
    flagged_others: int
    auroc: float
    top: np.ndarray
    top_images: np.ndarray

    @property
    def errors(self) -> np.ndarray:
        return np.concatenate([self.digit_errors, self.other_errors])

    @property
    def is_other(self) -> np.ndarray:
        return np.r_[np.zeros(len(self.digit_errors), bool), np.ones(len(self.other_errors), bool)]

    def histogram(self, bins: int = 40) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Shared bin edges (bins + 1) and the digit and non-digit counts (bins each)."""
        edges = np.histogram_bin_edges(self.errors, bins=bins)
        return edges, np.histogram(self.digit_errors, edges)[0], np.histogram(self.other_errors, edges)[0]


def anomaly_report(model: AutoEncoder, digits: Any, others: Any, threshold: float | None = None,
                   top: int = 12) -> AnomalyReport:
    """Score digits and non-digits by reconstruction error; flag those above ``threshold``.

    Without a threshold, the 99th percentile of the digits' errors is used (so about 1% of digits are flagged).
    """
    digits, others = as_images(digits, "digits"), as_images(others, "non-digit images")
    if not len(digits):
        raise InputError("anomaly detection needs at least one digit image")
    digit_errors, other_errors = reconstruction_error(model, digits), reconstruction_error(model, others)
    if threshold is None:
        threshold, rule = float(np.percentile(digit_errors, 99)), "99th percentile of the digits' errors"
    else:
        if isinstance(threshold, bool) or not isinstance(threshold, (int, float, np.integer, np.floating)) \
                or not math.isfinite(float(threshold)) or threshold < 0:
            raise InputError(f"the threshold must be a non-negative number, got {threshold!r}")
        threshold, rule = float(threshold), "given"
    errors = np.concatenate([digit_errors, other_errors])
    order = np.argsort(-errors, kind="stable")[:max(0, int(top))]
    images = np.concatenate([digits, others])[order]
    return AnomalyReport(digit_errors, other_errors, threshold, rule, int((digit_errors > threshold).sum()),
                         int((other_errors > threshold).sum()), auroc(digit_errors, other_errors), order, images)


# ---- the latent map -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LatentMap:
    """Codes projected on their first two principal components, with what is needed to go back.

    A point (x, y) is the code ``mean + x·components[0] + y·components[1]``, clipped to the range the encoder
    produced in each dimension (``low``…``high``).
    """

    coords: np.ndarray  # (N, 2)
    labels: np.ndarray  # (N,)
    mean: np.ndarray  # (latent,)
    components: np.ndarray  # (2, latent)
    explained: np.ndarray  # (2,) share of the codes' variance
    low: np.ndarray
    high: np.ndarray

    def to_code(self, x: float, y: float) -> np.ndarray:
        """The code (latent,) a map point stands for."""
        code = self.mean + x * self.components[0] + y * self.components[1]
        return np.clip(code, self.low, self.high)


def latent_map(model: AutoEncoder, images: Any, labels: Any) -> LatentMap:
    """The 2-D PCA map (NumPy SVD) of the codes of labelled images."""
    images = as_images(images)
    labels = np.asarray(labels).reshape(-1)
    if len(labels) != len(images):
        raise InputError(f"{len(images)} images but {len(labels)} labels")
    if len(images) < 3:
        raise InputError("a latent map needs at least 3 images")
    codes = encode(model, images).astype(np.float64)
    mean = codes.mean(axis=0)
    _, singular, vt = np.linalg.svd(codes - mean, full_matrices=False)
    components = vt[:2].copy()
    for row in components:  # a fixed sign: the largest entry positive
        if row[np.argmax(np.abs(row))] < 0:
            row *= -1
    variance = singular**2
    explained = variance[:2] / variance.sum() if variance.sum() > 0 else np.zeros(2)
    coords = (codes - mean) @ components.T
    return LatentMap(coords, labels, mean, components, explained, codes.min(axis=0), codes.max(axis=0))


def decode_point(model: AutoEncoder, latent: LatentMap, x: float, y: float) -> np.ndarray:
    """The 28×28 image at a point of the latent map (inverse PCA to a code, then the decoder)."""
    for name, value in (("x", x), ("y", y)):
        if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) \
                or not math.isfinite(float(value)):
            raise InputError(f"map coordinate {name} must be a finite number, got {value!r}")
    return decode(model, latent.to_code(float(x), float(y))[None])[0]


# ---- files ----------------------------------------------------------------------------------------------------


def read_metadata(path: str | Path) -> dict[str, Any]:
    """What an exported autoencoder says about itself: arch, the training config, epochs, test MSE, data.

    It is one JSON string under the ``autoencoder`` metadata key (one key keeps the file byte-for-byte
    reproducible); an empty dict for files without it.
    """
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(str(path), "pt") as handle:
            raw = (handle.metadata() or {}).get(METADATA_KEY)
    except (SafetensorError, OSError) as exc:
        raise WeightsIntegrityError(f"{Path(path).name} is not a valid safetensors file ({exc})") from None
    try:
        return json.loads(raw) if raw else {}
    except json.JSONDecodeError:
        raise WeightsIntegrityError(f"{Path(path).name} has unreadable autoencoder metadata") from None


def load_model(path: str | Path, device: torch.device | str | None = None) -> AutoEncoder:
    """An autoencoder from a safetensors file written by the trainer's ``export`` (its metadata names the arch)."""
    path = Path(path)
    if not path.is_file():
        raise WeightsUnavailableError(f"{path} does not exist")
    state = load_checkpoint(path)
    arch = read_metadata(path).get("arch") or ("conv" if any(v.dim() == 4 for v in state.values()) else "dense")
    if arch not in ARCHS:
        raise WeightsIntegrityError(f"{path.name} names an unknown autoencoder architecture {arch!r}")
    model = load_strict(ARCHS[arch](), state, path.name)
    device = torch.device(device) if device is not None else get_device()
    return model.eval().requires_grad_(False).to(device)


@dataclass(frozen=True)
class BundledAE:
    """One bundled autoencoder as its catalog entry (and training recipe) describes it."""

    name: str
    arch: str
    denoise: tuple[str, float] | None
    data: str
    epochs: int
    seed: int
    file: str
    sha256: str
    test_mse: float
    mean_image_mse: float
    description: str

    @property
    def path(self) -> Path:
        return BUNDLE_DIR / self.file


def bundled_models() -> dict[str, BundledAE]:
    """The catalog's autoencoders by name (``task: autoencoder`` entries; their recipes say how each was trained)."""
    from gen_models.core.manifest import load_manifest

    out = {}
    for e in load_manifest().for_task("autoencoder"):
        r = e.recipe or {}
        denoise = (str(r["denoise"]["kind"]), float(r["denoise"]["strength"])) if r.get("denoise") else None
        out[e.name] = BundledAE(e.name, str(e.config.get("arch", "dense")), denoise, str(r.get("data", "")),
                                int(r.get("epochs", 0)), int(r.get("seed", 0)), e.basename, e.sha256,
                                float(r.get("test_mse", "nan")), float(r.get("mean_image_mse", "nan")), e.description)
    return out


def load_bundled(name: str, device: torch.device | str | None = None) -> AutoEncoder:
    """A catalog autoencoder, checked against its sha256, ready for inference (the registry's one cache when
    ``device`` is the default)."""
    from gen_models.core import registry

    registry.require(name, "autoencoder")
    if device is None or torch.device(device) == get_device():
        return registry.load(name)
    return registry.create(name, device=torch.device(device))
