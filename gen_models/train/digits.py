"""Handwritten digits for the classic labs: real MNIST when it is cached, scikit-learn's digits otherwise.

MNIST comes from the ``ylecun/mnist`` dataset repo on the Hub (two parquet files in the manifest, fetched with
``python -m gen_models fetch mnist-train mnist-test``). Without them, scikit-learn's bundled 1,797 8×8 digits are
used: each is scaled to 20×20 and centred in a 28×28 frame, the way MNIST itself was made, so every model in the
labs sees 28×28 images in [0, 1] whichever source fed it. ``source="auto"`` never touches the network.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from PIL import Image

from gen_models.core import hub
from gen_models.core.errors import InputError
from gen_models.core.manifest import load_manifest

SIZE = 28
MNIST_FILES = {"train": "mnist-train", "test": "mnist-test"}
SKLEARN_TEST = 297  # the last 297 of 1,797 digits are held out (1,500 train)
SOURCES = ("auto", "mnist", "sklearn")


@dataclass(frozen=True)
class DigitSet:
    """Images (N, 28, 28) float32 in [0, 1], white digit on black, labels (N,) int64, and where they came from."""

    images: np.ndarray
    labels: np.ndarray
    source: str  # "mnist" | "sklearn"

    @property
    def description(self) -> str:
        """What the images are, for the UI and for model cards."""
        if self.source == "mnist":
            return f"MNIST ({len(self)} images, 28×28)"
        return f"scikit-learn digits ({len(self)} real 8×8 scans upscaled to 28×28; MNIST is not downloaded)"

    def __len__(self) -> int:
        return len(self.labels)

    def only(self, digit: int | None) -> DigitSet:
        """The subset showing one digit (all ten when ``digit`` is None)."""
        if digit is None:
            return self
        digit = check_digit(digit)
        keep = self.labels == digit
        return DigitSet(self.images[keep], self.labels[keep], self.source)


def check_digit(digit: int | None) -> int | None:
    """A digit class 0–9 or None; anything else is an input error."""
    if digit is None:
        return None
    if isinstance(digit, bool) or int(digit) != digit or not 0 <= int(digit) <= 9:
        raise InputError(f"digit must be a whole number from 0 to 9 (or all digits), got {digit!r}")
    return int(digit)


def upscale_8x8(images: np.ndarray) -> np.ndarray:
    """sklearn's (N, 8, 8) 0–16 digits → (N, 28, 28) float32 in [0, 1]: 20×20 bicubic in a 4-pixel black border."""
    out = np.zeros((len(images), SIZE, SIZE), np.float32)
    for i, digit in enumerate(np.asarray(images, np.float32) / 16.0):
        big = Image.fromarray(digit, mode="F").resize((20, 20), Image.Resampling.BICUBIC)
        out[i, 4:24, 4:24] = np.clip(np.asarray(big), 0.0, 1.0)
    return out


@lru_cache(maxsize=1)
def _sklearn_all() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits as sklearn_digits

    bunch = sklearn_digits()
    return upscale_8x8(bunch.images), bunch.target.astype(np.int64)


def _sklearn(split: str) -> DigitSet:
    images, labels = _sklearn_all()
    cut = len(labels) - SKLEARN_TEST
    part = {"train": slice(0, cut), "test": slice(cut, None), "all": slice(None)}[split]
    return DigitSet(images[part], labels[part], "sklearn")


@lru_cache(maxsize=2)
def _mnist_file(path: str) -> tuple[np.ndarray, np.ndarray]:
    import pandas as pd

    table = pd.read_parquet(path, columns=["image", "label"])
    images = np.stack([np.asarray(Image.open(io.BytesIO(cell["bytes"])).convert("L")) for cell in table["image"]])
    return images.astype(np.float32) / 255.0, table["label"].to_numpy(np.int64)


def _mnist(split: str, download: bool) -> DigitSet | None:
    manifest = load_manifest()
    parts = []
    for name in (("train", "test") if split == "all" else (split,)):
        if MNIST_FILES[name] not in manifest:
            if download:
                raise InputError(f"this manifest has no '{MNIST_FILES[name]}' entry, so MNIST cannot be fetched")
            return None
        entry = manifest[MNIST_FILES[name]]
        path = hub.weights_path(entry) if download else hub.cached_path(entry)
        if path is None:
            return None
        parts.append(_mnist_file(str(path)))
    return DigitSet(np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts]), "mnist")


def load_digits(split: str = "train", digit: int | None = None, source: str = "auto") -> DigitSet:
    """Digits for training or testing: ``split`` train | test | all; ``source`` auto | mnist | sklearn.

    ``auto`` uses MNIST when both its files are already on disk and scikit-learn's digits otherwise; ``mnist``
    downloads MNIST if needed (and fails with the usual weights error when it cannot).
    """
    if split not in ("train", "test", "all"):
        raise InputError(f"split must be train, test or all, got {split!r}")
    if source not in SOURCES:
        raise InputError(f"data source must be one of {', '.join(SOURCES)}, got {source!r}")
    data = None
    if source in ("auto", "mnist"):
        data = _mnist(split, download=source == "mnist")
    if data is None:
        data = _sklearn(split)
    return data.only(digit)
