"""Which weights a model needs, whether they are on this machine, and downloading them with byte progress.

The UI asks :func:`weights_status` on every page load (no network, no hashing: cheap), shows it, and offers
:func:`download_weights` for what is missing. Downloads go through :func:`gen_models.core.hub.weights_path`, so they
get the same size and sha256 checks, locks and fast "Hub unreachable" answers as a model load.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from gen_models.core import hub
from gen_models.core.errors import ManifestError
from gen_models.core.manifest import WeightsEntry, load_manifest


@dataclass(frozen=True)
class WeightsStatus:
    """One weights file as the page shows it. ``origin`` is ``repo@revision`` (``datasets/``/``spaces/`` prefixed
    for those repo types), the url, or ``"bundled"``; ``size`` is the manifest's (bytes, None when unknown)."""

    name: str
    description: str
    size: int | None
    license: str
    origin: str
    present: bool
    bundled: bool = False
    path: Path | None = None


def origin(entry: WeightsEntry) -> str:
    """Where the entry's file comes from, in one short string."""
    if entry.kind in ("bundled", "package"):
        return "bundled"
    if entry.url:
        return entry.url
    prefix = "" if entry.repo_type == "model" else f"{entry.repo_type}s/"
    return f"{prefix}{entry.repo_id}@{entry.revision}"


def weights_status(names: Iterable[str]) -> list[WeightsStatus]:
    """The status of each named weights entry (manifest or bundled), in order, without network access.
    Unknown names raise ManifestError."""
    manifest, statuses = load_manifest(), []
    for name in names:
        entry = manifest[name]
        if entry.kind in ("bundled", "package"):
            statuses.append(WeightsStatus(name, entry.description, entry.size, entry.license, "bundled", True, True,
                                          entry.bundled_path))
            continue
        path = hub.cached_path(entry)
        statuses.append(WeightsStatus(name, entry.description, entry.size, entry.license, origin(entry),
                                      path is not None, False, path))
    return statuses


def download_weights(name: str, progress: hub.Progress | None = None) -> Path:
    """Download (if needed) and verify the manifest entry ``name``; ``progress(done, total)`` hears the bytes as
    they arrive (total may be None). Raises WeightsUnavailableError / WeightsIntegrityError with their usual
    messages, and ManifestError for a bundled or unknown name."""
    entry = load_manifest()[name]
    if entry.kind in ("bundled", "package"):
        raise ManifestError(f"'{name}' is bundled with an installed package: there is nothing to download")
    return hub.weights_path(entry, progress=progress)
