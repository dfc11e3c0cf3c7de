"""What every step-by-step trainer of the labs offers (the digits DCGAN and the autoencoder), so the labs pipeline,
the tab and the tests drive them all the same way.

A :class:`Trainer` is one run. ``run(until_epoch, stop)`` trains until ``until_epoch`` epochs are done in all (by
default the config's ``epochs``; a run already there trains nothing), yielding a :class:`StepEvent` after every
optimiser step and an :class:`EpochEvent` (with the epoch's image) after every epoch; setting ``stop`` ends it before
the next step, and calling ``run`` again goes on from there. ``history`` holds one :class:`HistoryRow` per step
(the step that ends an epoch also carries the epoch's evaluation, if the trainer has one), so :func:`curve_rows`
turns any trainer's history into plot rows. ``save(path)`` writes a resumable checkpoint tagged with the class's
``checkpoint_format``; :func:`resume` reads any of them back with the class that wrote it.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal, Protocol, runtime_checkable

import numpy as np

from gen_models.core.errors import InputError, WeightsIntegrityError


@dataclass(frozen=True)
class HistoryRow:
    """One optimiser step: its number (1-based, counted over the whole run), its epoch (1-based) and its metrics."""

    step: int
    epoch: int
    metrics: dict[str, float]


class _Event:
    """Metrics also read as attributes (``event.d_loss`` is ``event.metrics["d_loss"]``)."""

    steps_total: int
    step: int

    def __getattr__(self, name: str) -> float:
        metrics = self.__dict__.get("metrics") or {}
        if name in metrics:
            return metrics[name]
        raise AttributeError(f"{type(self).__name__} has no attribute or metric {name!r}")

    @property
    def progress(self) -> float:
        """Fraction of the steps this ``run`` call heads for that are done, 0–1."""
        return min(1.0, self.step / self.steps_total) if self.steps_total else 1.0


@dataclass(frozen=True)
class StepEvent(_Event):
    """A finished step; ``steps_total`` is the step count at ``until_epoch`` of the ``run`` that yielded it."""

    step: int
    epoch: int
    steps_total: int
    metrics: dict[str, float]
    kind: Literal["step"] = "step"


@dataclass(frozen=True)
class EpochEvent(_Event):
    """A finished epoch: its summary metrics and ``image``, the uint8 (H, W) picture of the model after it."""

    step: int
    epoch: int
    steps_total: int
    metrics: dict[str, float]
    image: np.ndarray = field(repr=False, compare=False)
    kind: Literal["epoch"] = "epoch"


@dataclass(frozen=True)
class CurveGroup:
    """Metrics plotted together (one chart), with the chart's title and optional fixed y range."""

    title: str
    metrics: tuple[str, ...]
    y_lim: tuple[float, float] | None = None


class TrainerConfig(Protocol):
    @property
    def epochs(self) -> int: ...


@runtime_checkable
class Trainer(Protocol):
    """One training run (see the module docstring)."""

    checkpoint_format: ClassVar[str | int]  # the tag in its saved checkpoints: never change it
    checkpoint_prefix: ClassVar[str]  # file name prefix of saved checkpoints and exported files
    checkpoint_suffix: ClassVar[str]  # file name suffix of saved checkpoints (".pt", ".safetensors")
    synthetic: ClassVar[bool]  # whether its epoch images are AI-generated (labelled so when saved)
    epoch_image_caption: ClassVar[str]  # what an epoch image shows
    curves: ClassVar[tuple[CurveGroup, ...]]  # how its history is plotted
    history: list[HistoryRow]

    @property
    def config(self) -> TrainerConfig: ...

    @property
    def epoch(self) -> int:
        """Epochs finished."""

    @property
    def step(self) -> int:
        """Optimiser steps done."""

    @property
    def steps_per_epoch(self) -> int: ...

    @property
    def description(self) -> str:
        """What is trained on what, e.g. "lab DCGAN on MNIST (60000 images, 28×28)"."""

    def run(self, until_epoch: int | None = None,
            stop: threading.Event | None = None) -> Iterator[StepEvent | EpochEvent]: ...

    def epoch_images(self) -> dict[int, np.ndarray]:
        """Finished epoch → the uint8 image after it."""

    def epoch_metrics(self) -> dict[int, dict[str, float]]:
        """Finished epoch → its summary metrics (those of its EpochEvent)."""

    def latest_metrics(self) -> dict[str, float]:
        """The last finished epoch's summary metrics ({} before the first)."""

    def save(self, path: str | Path) -> Path: ...

    @classmethod
    def resume(cls, path: str | Path, device: str | None = None) -> Trainer: ...


@contextlib.contextmanager
def stop_on_interrupt() -> Iterator[threading.Event]:
    """For command-line runs: an event that Ctrl-C sets (so the run saves and stops after its step) instead of
    killing the process; outside the main thread signals cannot be caught, and the event is only a plain one."""
    stop = threading.Event()
    previous = None
    if threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGINT, lambda *_: stop.set())
    try:
        yield stop
    finally:
        if previous is not None:
            signal.signal(signal.SIGINT, previous)


def target_epoch(until_epoch: int | None, default: int) -> int:
    """``until_epoch`` checked (a whole number ≥ 0), or ``default`` when None."""
    if until_epoch is None:
        return int(default)
    if isinstance(until_epoch, bool) or not isinstance(until_epoch, (int, np.integer)) or until_epoch < 0:
        raise InputError(f"epochs must be a whole number ≥ 0, got {until_epoch!r}")
    return int(until_epoch)


def epoch_means(rows: Iterable[HistoryRow], epoch: int, names: Iterable[str]) -> dict[str, float]:
    """Mean of each named metric over the rows of one epoch."""
    picked = [r for r in rows if r.epoch == epoch]
    return {name: float(np.mean([r.metrics[name] for r in picked if name in r.metrics])) for name in names}


def curve_rows(history: Iterable[HistoryRow]) -> list[dict[str, Any]]:
    """Long-format plot rows (step, metric, value) from a history."""
    return [{"step": r.step, "metric": name, "value": value} for r in history for name, value in r.metrics.items()]


def latest(per_epoch: dict[int, dict[str, float]]) -> dict[str, float]:
    """The newest epoch's entry of an ``epoch_metrics()`` mapping, {} when empty."""
    return dict(per_epoch[max(per_epoch)]) if per_epoch else {}


def trainer_classes() -> dict[str | int, type[Trainer]]:
    """Every trainer by the format tag of its checkpoints."""
    from gen_models.train.autoencoders import AETrainer
    from gen_models.train.digits_gan import DigitGANTrainer
    from gen_models.train.face_swap import FaceSwapTrainer

    return {cls.checkpoint_format: cls for cls in (DigitGANTrainer, AETrainer, FaceSwapTrainer)}


def _is_safetensors(path: Path) -> bool:
    """safetensors files start with an 8-byte header length and then the JSON header."""
    with open(path, "rb") as handle:
        return handle.read(9)[8:9] == b"{"


def resume(path: str | Path, device: str | None = None) -> Trainer:
    """The run saved in ``path`` by any trainer, resumed by the class its format tag names (in a torch checkpoint's
    ``format`` field, or a safetensors file's card)."""
    from gen_models.core.checkpoint import load_checkpoint

    path = Path(path)
    if path.is_file() and _is_safetensors(path):
        from gen_models.models.faceswap import read_card

        tag = read_card(path).get("format")
    else:
        state = load_checkpoint(path)
        tag = state.get("format") if isinstance(state, dict) else None
    classes = trainer_classes()
    if isinstance(tag, bool) or not isinstance(tag, (str, int)) or tag not in classes:
        raise WeightsIntegrityError(f"{Path(path).name} is not a training checkpoint of this app")
    return classes[tag].resume(path, device)
