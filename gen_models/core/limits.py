"""What one request may ask of a shared server, and how many training runs it holds at once.

The app sits behind share links and on public Spaces, so every request that trains has bounds. Each refusal names
the limit and the environment variable that raises it; values are read (by :mod:`gen_models.core.settings`) on each
check, so a running test or admin can change them. The command-line trainers (``python -m gen_models.train``) are
not bounded: they run on the user's own machine.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator

from gen_models.core import settings
from gen_models.core.errors import InputError


def max_epochs() -> int:
    return settings.max_epochs()


def max_steps() -> int:
    return settings.max_steps()


def max_training_runs() -> int:
    return settings.max_training_runs()


def check_training(epochs: int, steps: int) -> None:
    """Refuse a run of ``epochs`` epochs and ``steps`` optimiser steps in all when either is over its limit."""
    if epochs > max_epochs():
        raise InputError(f"{epochs} epochs is more than this server trains in one run: the limit is {max_epochs()} "
                         "(GEN_MODELS_MAX_EPOCHS raises it).")
    if steps > max_steps():
        raise InputError(f"That run is {steps:,} training steps; the limit is {max_steps():,} per run "
                         "(GEN_MODELS_MAX_STEPS raises it). Use fewer epochs or a larger batch.")


_running = 0
_guard = threading.Lock()


@contextlib.contextmanager
def training_slot() -> Iterator[None]:
    """Hold one of the server's training slots for the duration of a run, or refuse when all are taken."""
    global _running
    with _guard:
        if _running >= max_training_runs():
            raise InputError(f"{_running} training run(s) are going on, the most this server runs at once "
                             "(GEN_MODELS_MAX_TRAINING_RUNS raises it). Try again when one has finished.")
        _running += 1
    try:
        yield
    finally:
        with _guard:
            _running -= 1


def max_video_megapixels() -> int:
    return settings.max_video_megapixels()


def check_video_pixels(pixels: float, pasted_back: bool = False) -> None:
    """Refuse a rendered video of more than GEN_MODELS_MAX_VIDEO_MEGAPIXELS output pixels (frames × width × height)."""
    if pixels > max_video_megapixels() * 1e6:
        hint = " or the 256×256 face layout instead of pasting back into the whole photo" if pasted_back else ""
        raise InputError(f"That video would be {pixels / 1e6:,.0f} megapixels of output (frames × width × height); "
                         f"the limit is {max_video_megapixels():,} (GEN_MODELS_MAX_VIDEO_MEGAPIXELS raises it). "
                         f"Use a shorter clip{hint}.")
