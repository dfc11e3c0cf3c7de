"""Where results are written: one folder per process (or ``GEN_MODELS_OUTPUT_DIR``), unique names, expiry."""

from __future__ import annotations

import atexit
import os
import re
import shutil
import tempfile
import threading
import time
from pathlib import Path

from gen_models.core import settings

_private_outputs: Path | None = None
_private_guard = threading.Lock()


def output_dir() -> Path:
    """Where outputs go: ``GEN_MODELS_OUTPUT_DIR``, else a folder of this process's own in the system temp folder
    (created on first use, removed when the process exits), so two instances on one machine never share files."""
    global _private_outputs
    folder = settings.output_dir()
    if folder is not None:
        folder.mkdir(parents=True, exist_ok=True)
        return folder
    with _private_guard:
        if _private_outputs is None or not _private_outputs.is_dir():
            _private_outputs = Path(tempfile.mkdtemp(prefix=f"gen_models_outputs-{os.getpid()}-"))
            atexit.register(shutil.rmtree, _private_outputs, ignore_errors=True)
        return _private_outputs


def output_ttl_seconds() -> int:
    """How long results are kept: ``GEN_MODELS_OUTPUT_TTL_MINUTES`` (default 60) in seconds."""
    return 60 * settings.output_ttl_minutes()


def remove_expired(folder: str | os.PathLike, max_age_s: float, now: float | None = None) -> int:
    """Delete the files under ``folder`` last modified more than ``max_age_s`` ago (and folders left empty);
    returns how many files went. Files another thread deletes meanwhile are skipped."""
    root, cutoff, removed = Path(folder), (time.time() if now is None else now) - max_age_s, 0
    if not root.is_dir():
        return 0
    for path in sorted(root.rglob("*"), key=lambda p: len(p.parts), reverse=True):
        try:
            if path.is_dir():
                if path != root and not any(path.iterdir()):
                    path.rmdir()
            elif path.lstat().st_mtime < cutoff:
                path.unlink()
                removed += 1
        except OSError:
            continue
    return removed


def new_output_path(suffix: str, prefix: str = "gen") -> Path:
    """A new file with a unique name in :func:`output_dir`, e.g. ``gen-20250101-120000-k3j9x1y2.png``.

    The file is created (empty) here, so concurrent requests never get the same name.
    """
    suffix = suffix if not suffix or suffix.startswith(".") else f".{suffix}"
    if not re.fullmatch(r"(\.[A-Za-z0-9]+)*", suffix):
        raise ValueError(f"suffix must look like '.png', got {suffix!r}")
    prefix = re.sub(r"[^A-Za-z0-9_-]+", "-", prefix).strip("-") or "gen"
    stamp = time.strftime("%Y%m%d-%H%M%S")
    handle, name = tempfile.mkstemp(suffix=suffix, prefix=f"{prefix}-{stamp}-", dir=output_dir())
    os.close(handle)
    return Path(name)

