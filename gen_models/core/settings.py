"""Every ``GEN_MODELS_*`` environment variable, parsed in one place.

Each variable has one reader here (``settings.max_epochs()``, ``settings.weights_dir()``, ...) that reads
``os.environ`` on every call, so a test or an admin that changes a variable while the process runs is obeyed at
once. There is one reader per kind of value (whole number ≥ 1, number ≥ 0, number > 0, boolean, path, choice), one
rule for booleans (``1/true/yes/on`` and ``0/false/no/off``, any case) and one error, :class:`SettingsError`, whose
message names the variable and the value it did not accept::

    GEN_MODELS_MAX_EPOCHS must be a whole number ≥ 1, got 'abc'

An unset or empty (all-space) variable means its default. :data:`VARIABLES` documents each variable (its default and
what it does); README.md's environment table lists the same variables, and a test keeps the two in step.
``HF_*`` variables are huggingface_hub's and are read by its rules (see :mod:`gen_models.core.hub`).
"""

from __future__ import annotations

import math
import os
import re
from pathlib import Path
from typing import NamedTuple

from gen_models.core.errors import GenModelsError


class SettingsError(GenModelsError, ValueError):
    """A ``GEN_MODELS_*`` variable has a value that cannot be used; the message names the variable and the value."""


class Variable(NamedTuple):
    default: object
    """The value used when the variable is unset or empty (None: the feature is off, or chosen automatically)."""
    meaning: str


VARIABLES: dict[str, Variable] = {
    "GEN_MODELS_WEIGHTS_DIR": Variable(None, "folder checked first for weights, as <dir>/<name>/<file>"),
    "GEN_MODELS_MANIFEST": Variable(None, "another weights manifest instead of the repo's weights_manifest.json"),
    "GEN_MODELS_DEVICE": Variable(None, "cpu, cuda, cuda:N or mps instead of the automatic choice "
                                        "(CUDA, then MPS, then CPU); auto: the automatic choice"),
    "GEN_MODELS_HALF": Variable(True, "half precision on CUDA for models known to be accurate in it (0: never)"),
    "GEN_MODELS_MALLOC_TUNING": Variable(True, "keep large CPU buffers in the heap instead of mapping them afresh on "
                                               "every call (glibc; 0: the C library's defaults)"),
    "GEN_MODELS_MAX_LOADED": Variable(4, "models kept loaded between requests"),
    "GEN_MODELS_MAX_PIXELS": Variable(50_000_000, "largest image (width × height) decoded at full size"),
    "GEN_MODELS_MAX_SIDE": Variable(4096, "working size: longer side of decoded images, in pixels"),
    "GEN_MODELS_MAX_VIDEO_SECONDS": Variable(60.0, "longest video accepted by the talking heads and the face swap, "
                                                   "in seconds"),
    "GEN_MODELS_CACHE": Variable("~/.cache/gen_models", "where files that are not on the Hub (url entries) are cached"),
    "GEN_MODELS_OUTPUT_DIR": Variable(None, "where result files are written (unset: a folder of the process's own "
                                            "in the system temp dir, removed when it exits)"),
    "GEN_MODELS_OUTPUT_TTL_MINUTES": Variable(60, "results and Gradio's upload cache are removed this long after "
                                                  "they were written"),
    "GEN_MODELS_MAX_UPLOAD_MB": Variable(200, "largest upload the server accepts, in MB"),
    "GEN_MODELS_MAX_EPOCHS": Variable(100, "most epochs one training run in the app may ask for"),
    "GEN_MODELS_MAX_STEPS": Variable(20_000, "most optimiser steps one training run in the app may ask for"),
    "GEN_MODELS_MAX_TRAINING_RUNS": Variable(2, "training runs the server holds at once"),
    "GEN_MODELS_MAX_VIDEO_MEGAPIXELS": Variable(2000, "most output pixels (frames × width × height) of one "
                                                      "talking-head or face-swap video, in megapixels"),
    "GEN_MODELS_MAX_QUEUE": Variable(64, "requests that may wait in the queue; later ones are told it is full"),
    "GEN_MODELS_HUB_RETRY_SECONDS": Variable(300.0, "how long an unreachable Hub or download server is remembered "
                                                    "before it is tried again (0: every time)"),
    "GEN_MODELS_C2PA": Variable(True, "sign every generated file with C2PA Content Credentials (0: off; the text "
                                      "labels stay)"),
    "GEN_MODELS_C2PA_CERT": Variable(None, "PEM certificate chain (signer first) for the Content Credentials (unset: "
                                           "a local test certificate, created once, that no verifier trusts)"),
    "GEN_MODELS_C2PA_KEY": Variable(None, "PEM private key of GEN_MODELS_C2PA_CERT"),
    "GEN_MODELS_AI_MARK": Variable(False, "draw a visible \"AI-generated\" mark in a corner of generated images and "
                                          "videos"),
}

TRUE_WORDS = frozenset({"1", "true", "yes", "on"})
FALSE_WORDS = frozenset({"0", "false", "no", "off"})


# --- the one rule and the one error -------------------------------------------------------------------------------


def _raw(name: str) -> str | None:
    """The variable's text, stripped; None when unset or empty. Only documented variables may be read."""
    if name not in VARIABLES:
        raise KeyError(f"{name} is not a documented setting (add it to settings.VARIABLES and README.md)")
    raw = os.environ.get(name, "").strip()
    return raw or None


def _error(name: str, rule: str, raw: str, why: str = "") -> SettingsError:
    return SettingsError(f"{name} must be {rule}, got {raw!r}{why}")


def parse_bool(name: str, raw: str) -> bool:
    """The truthy rule: 1/true/yes/on are True, 0/false/no/off are False (any case); anything else is an error."""
    word = raw.strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise _error(name, "one of 1, true, yes, on or 0, false, no, off", raw)


# --- one reader per kind ------------------------------------------------------------------------------------------


def positive_int(name: str) -> int:
    """A whole number ≥ 1 (``20000``, ``20_000`` and ``1e6`` are whole numbers; ``2.5``, ``0`` and ``-1`` are not)."""
    raw = _raw(name)
    if raw is None:
        return VARIABLES[name].default
    try:
        value = int(raw)
    except ValueError:
        try:
            number = float(raw)
        except ValueError:
            number = math.nan
        value = int(number) if math.isfinite(number) and number.is_integer() else 0
    if value < 1:
        raise _error(name, "a whole number ≥ 1", raw)
    return value


def _float(name: str, rule: str, accept) -> float:
    raw = _raw(name)
    if raw is None:
        return float(VARIABLES[name].default)
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and accept(value)):
        raise _error(name, rule, raw)
    return value


def non_negative_float(name: str) -> float:
    """A number ≥ 0 (``0``, ``2.5``, ``1e3``)."""
    return _float(name, "a number ≥ 0", lambda v: v >= 0)


def positive_float(name: str) -> float:
    """A number > 0."""
    return _float(name, "a number > 0", lambda v: v > 0)


def boolean(name: str) -> bool:
    """A boolean by the truthy rule (:func:`parse_bool`)."""
    raw = _raw(name)
    return bool(VARIABLES[name].default) if raw is None else parse_bool(name, raw)


def path(name: str, *, folder: bool) -> Path | None:
    """A path (``~`` expanded), or the default. It need not exist yet, but if it does it must be a folder
    (``folder=True``) or a file (``folder=False``)."""
    raw = _raw(name)
    if raw is None:
        default = VARIABLES[name].default
        return None if default is None else Path(str(default)).expanduser()
    value = Path(raw).expanduser()
    if folder and value.exists() and not value.is_dir():
        raise _error(name, "a folder", raw, " (that is a file)")
    if not folder and value.is_dir():
        raise _error(name, "a file", raw, " (that is a folder)")
    return value


def choice(name: str, choices: tuple[str, ...], *, patterns: tuple[tuple[str, str], ...] = ()) -> str | None:
    """One of ``choices`` (any case; returned lower-case), or a match of one of ``patterns`` ((regex, how it is
    written in the message) pairs); None (or the default) when unset."""
    raw = _raw(name)
    if raw is None:
        return VARIABLES[name].default
    word = raw.lower()
    if word in choices or any(re.fullmatch(regex, word) for regex, _ in patterns):
        return word
    allowed = [*choices, *(shown for _, shown in patterns)]
    raise _error(name, "one of " + ", ".join(allowed), raw)


# --- the variables ------------------------------------------------------------------------------------------------


def weights_dir() -> Path | None:
    return path("GEN_MODELS_WEIGHTS_DIR", folder=True)


def manifest_path() -> Path | None:
    """Another weights manifest, or None (then the repo's weights_manifest.json is used)."""
    return path("GEN_MODELS_MANIFEST", folder=False)


def device() -> str | None:
    """The device asked for (``cpu``, ``cuda``, ``cuda:N``, ``mps``), or None for the automatic choice."""
    chosen = choice("GEN_MODELS_DEVICE", ("auto", "cpu", "cuda", "mps"), patterns=((r"cuda:\d+", "cuda:N"),))
    return None if chosen == "auto" else chosen


def half_enabled() -> bool:
    return boolean("GEN_MODELS_HALF")


def malloc_tuning() -> bool:
    return boolean("GEN_MODELS_MALLOC_TUNING")


def max_loaded() -> int:
    return positive_int("GEN_MODELS_MAX_LOADED")


def max_pixels() -> int:
    return positive_int("GEN_MODELS_MAX_PIXELS")


def max_side() -> int:
    return positive_int("GEN_MODELS_MAX_SIDE")


def max_video_seconds() -> float:
    return positive_float("GEN_MODELS_MAX_VIDEO_SECONDS")


def cache_dir() -> Path:
    return path("GEN_MODELS_CACHE", folder=True)


def output_dir() -> Path | None:
    """The folder named for results, or None (then each process makes its own)."""
    return path("GEN_MODELS_OUTPUT_DIR", folder=True)


def output_ttl_minutes() -> int:
    return positive_int("GEN_MODELS_OUTPUT_TTL_MINUTES")


def max_upload_mb() -> int:
    return positive_int("GEN_MODELS_MAX_UPLOAD_MB")


def max_epochs() -> int:
    return positive_int("GEN_MODELS_MAX_EPOCHS")


def max_steps() -> int:
    return positive_int("GEN_MODELS_MAX_STEPS")


def max_training_runs() -> int:
    return positive_int("GEN_MODELS_MAX_TRAINING_RUNS")


def max_video_megapixels() -> int:
    return positive_int("GEN_MODELS_MAX_VIDEO_MEGAPIXELS")


def max_queue() -> int:
    return positive_int("GEN_MODELS_MAX_QUEUE")


def hub_retry_seconds() -> float:
    return non_negative_float("GEN_MODELS_HUB_RETRY_SECONDS")


def c2pa_enabled() -> bool:
    return boolean("GEN_MODELS_C2PA")


def c2pa_cert() -> Path | None:
    return path("GEN_MODELS_C2PA_CERT", folder=False)


def c2pa_key() -> Path | None:
    return path("GEN_MODELS_C2PA_KEY", folder=False)


def ai_mark() -> bool:
    return boolean("GEN_MODELS_AI_MARK")


READERS = {
    "GEN_MODELS_WEIGHTS_DIR": weights_dir,
    "GEN_MODELS_MANIFEST": manifest_path,
    "GEN_MODELS_DEVICE": device,
    "GEN_MODELS_HALF": half_enabled,
    "GEN_MODELS_MALLOC_TUNING": malloc_tuning,
    "GEN_MODELS_MAX_LOADED": max_loaded,
    "GEN_MODELS_MAX_PIXELS": max_pixels,
    "GEN_MODELS_MAX_SIDE": max_side,
    "GEN_MODELS_MAX_VIDEO_SECONDS": max_video_seconds,
    "GEN_MODELS_CACHE": cache_dir,
    "GEN_MODELS_OUTPUT_DIR": output_dir,
    "GEN_MODELS_OUTPUT_TTL_MINUTES": output_ttl_minutes,
    "GEN_MODELS_MAX_UPLOAD_MB": max_upload_mb,
    "GEN_MODELS_MAX_EPOCHS": max_epochs,
    "GEN_MODELS_MAX_STEPS": max_steps,
    "GEN_MODELS_MAX_TRAINING_RUNS": max_training_runs,
    "GEN_MODELS_MAX_VIDEO_MEGAPIXELS": max_video_megapixels,
    "GEN_MODELS_MAX_QUEUE": max_queue,
    "GEN_MODELS_HUB_RETRY_SECONDS": hub_retry_seconds,
    "GEN_MODELS_C2PA": c2pa_enabled,
    "GEN_MODELS_C2PA_CERT": c2pa_cert,
    "GEN_MODELS_C2PA_KEY": c2pa_key,
    "GEN_MODELS_AI_MARK": ai_mark,
}
"""Each variable's reader (the same names as :data:`VARIABLES`)."""


def exported() -> dict[str, str]:
    """The documented variables that are set, as text: what worker processes elsewhere (Ray replicas, batch
    workers) need to behave as this one does."""
    return {name: os.environ[name] for name in VARIABLES if os.environ.get(name, "").strip()}


def check_all() -> list[str]:
    """Read every variable; the messages of those that are set wrongly (empty when all are fine). For a startup
    check: each reader still raises on its own when it is used."""
    problems = []
    for reader in READERS.values():
        try:
            reader()
        except SettingsError as exc:
            problems.append(str(exc))
    return problems
