"""Getting a manifest entry's file onto disk: local folder, Hub cache, or a pinned Hub download.

Order: ``$GEN_MODELS_WEIGHTS_DIR/<name>/<file>`` (for offline machines), then the huggingface_hub cache, then
``hf_hub_download`` at the pinned revision (``HF_ENDPOINT`` mirrors work). Entries with a plain ``url`` (files the
Hub does not have) are downloaded with httpx into ``$GEN_MODELS_CACHE`` (default ``~/.cache/gen_models``) and obey
``HF_HUB_OFFLINE`` too. A set ``sha256`` is checked on every
first use in a process; a mismatching cached download is deleted. Settings are read from the environment on each
call, so a running app sees a changed ``HF_HUB_OFFLINE`` or ``HF_ENDPOINT``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import threading
from pathlib import Path

import filelock
import httpx
import huggingface_hub
from huggingface_hub import constants as hf_constants
from huggingface_hub import errors as hf_errors

from .errors import WeightsIntegrityError, WeightsUnavailableError
from .manifest import WeightsEntry

_CHUNK = 1 << 20
_verified: set[tuple[str, int, int, str, int | None]] = set()
_locks: dict[str, threading.Lock] = {}
_locks_guard = threading.Lock()


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in {"1", "true", "yes", "on"}


def offline() -> bool:
    """True when the Hub must not be contacted (``HF_HUB_OFFLINE``)."""
    env = os.environ.get("HF_HUB_OFFLINE")
    return _truthy(env) if env is not None else bool(hf_constants.HF_HUB_OFFLINE)


def _endpoint() -> str | None:
    return os.environ.get("HF_ENDPOINT") or None


def _cache_dir() -> str | None:
    return os.environ.get("HF_HUB_CACHE") or (
        os.path.join(os.environ["HF_HOME"], "hub") if os.environ.get("HF_HOME") else None
    )


def prefetch_hint(entry: WeightsEntry) -> str:
    return (
        f"Prefetch it where the Hub is reachable with `python -m gen_models fetch {entry.name}`, "
        f"or put the file at $GEN_MODELS_WEIGHTS_DIR/{entry.name}/{entry.basename}."
    )


def describe(entry: WeightsEntry) -> str:
    if entry.url:
        return f"'{entry.name}' ({entry.url})"
    return f"'{entry.name}' ({entry.repo_id}/{entry.filename} @ {entry.revision})"


def _url_cache_file(entry: WeightsEntry) -> Path:
    root = Path(os.environ.get("GEN_MODELS_CACHE") or Path.home() / ".cache" / "gen_models")
    return root / "urls" / hashlib.sha1(entry.url.encode()).hexdigest()[:16] / entry.basename


def _entry_key(entry: WeightsEntry) -> str:
    return entry.url or f"{entry.repo_type}:{entry.repo_id}:{entry.revision}:{entry.filename}"


def sha256_file(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def local_override(entry: WeightsEntry) -> Path | None:
    """The file in ``$GEN_MODELS_WEIGHTS_DIR/<name>/``, if that folder is set and has it."""
    root = os.environ.get("GEN_MODELS_WEIGHTS_DIR")
    if not root:
        return None
    candidate = Path(root) / entry.name / entry.basename
    return candidate if candidate.is_file() else None


def cached_path(entry: WeightsEntry) -> Path | None:
    """The file in the local folder or the Hub cache, without any network access or hashing."""
    local = local_override(entry)
    if local:
        return local
    if entry.url:
        path = _url_cache_file(entry)
        return path if path.is_file() else None
    found = huggingface_hub.try_to_load_from_cache(
        entry.repo_id, entry.filename, cache_dir=_cache_dir(), revision=entry.revision, repo_type=entry.repo_type
    )
    return Path(found) if isinstance(found, str) else None


def _verify(entry: WeightsEntry, path: Path, *, from_cache: bool) -> Path:
    """Check size and sha256 (once per process per file state); delete a bad cached download."""
    stat = path.stat()
    key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns, entry.sha256, entry.size)
    if key in _verified:
        return path
    problem = None
    if entry.size is not None and stat.st_size != entry.size:
        problem = f"expected {entry.size} bytes, got {stat.st_size} bytes (truncated or wrong file?)"
    elif entry.sha256:
        actual = sha256_file(path)
        if actual != entry.sha256:
            problem = f"expected sha256 {entry.sha256}, got {actual}"
    if problem:
        if from_cache:
            blob = path.resolve()
            path.unlink(missing_ok=True)
            blob.unlink(missing_ok=True)
            action = f"The bad download was deleted; run `python -m gen_models fetch {entry.name}` to try again."
        else:
            action = f"Replace or remove {path}."
        raise WeightsIntegrityError(f"Weights {describe(entry)} failed the integrity check: {problem}. {action}")
    _verified.add(key)
    return path


def _lock_for(entry: WeightsEntry) -> threading.Lock:
    key = _entry_key(entry)
    with _locks_guard:
        return _locks.setdefault(key, threading.Lock())


def _file_lock(entry: WeightsEntry) -> filelock.FileLock:
    root = Path(_cache_dir() or hf_constants.HF_HUB_CACHE) / ".gen_models_locks"
    root.mkdir(parents=True, exist_ok=True)
    key = hashlib.sha1(_entry_key(entry).encode()).hexdigest()
    return filelock.FileLock(str(root / f"{key}.lock"))


def _unavailable(entry: WeightsEntry, why: str) -> WeightsUnavailableError:
    return WeightsUnavailableError(f"Weights {describe(entry)} are not available: {why}. {prefetch_hint(entry)}")


def _download_url(entry: WeightsEntry) -> Path:
    """Stream ``entry.url`` into the cache (a partial file never takes the final name)."""
    if offline():
        raise _unavailable(entry, "not in the local cache and offline mode is on (HF_HUB_OFFLINE)")
    target = _url_cache_file(entry)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".part")
    try:
        with httpx.stream("GET", entry.url, follow_redirects=True, timeout=30.0) as response:
            if response.status_code != 200:
                raise _unavailable(entry, f"the server answered HTTP {response.status_code}")
            with open(partial, "wb") as out:
                for chunk in response.iter_bytes(_CHUNK):
                    out.write(chunk)
    except httpx.HTTPError as exc:
        partial.unlink(missing_ok=True)
        raise _unavailable(entry, f"the download failed ({exc.__class__.__name__}: {exc})") from None
    partial.replace(target)
    return target


def _download(entry: WeightsEntry, *, force: bool) -> Path:
    if entry.url:
        return _download_url(entry)
    try:
        path = huggingface_hub.hf_hub_download(
            entry.repo_id,
            entry.filename,
            repo_type=entry.repo_type,
            revision=entry.revision,
            cache_dir=_cache_dir(),
            endpoint=_endpoint(),
            force_download=force,
            local_files_only=offline(),
        )
    except hf_errors.RevisionNotFoundError:
        raise _unavailable(entry, f"revision '{entry.revision}' does not exist in {entry.repo_id}") from None
    except hf_errors.RepositoryNotFoundError:
        raise _unavailable(entry, f"repository {entry.repo_id} was not found (or is private or gated)") from None
    except hf_errors.RemoteEntryNotFoundError:
        raise _unavailable(entry, f"{entry.filename} does not exist in {entry.repo_id}@{entry.revision}") from None
    except (hf_errors.LocalEntryNotFoundError, hf_errors.OfflineModeIsEnabled):
        why = "offline mode is on (HF_HUB_OFFLINE)" if offline() else "the Hugging Face Hub could not be reached"
        raise _unavailable(entry, f"not in the local cache and {why}") from None
    except hf_errors.HfHubHTTPError as exc:
        status = exc.response.status_code if exc.response is not None else "?"
        raise _unavailable(entry, f"the Hub answered HTTP {status}") from None
    except Exception as exc:  # network stacks raise their own types (httpx, ssl, ...): all mean "not downloaded"
        raise _unavailable(entry, f"the download failed ({exc.__class__.__name__}: {exc})") from None
    return Path(path)


def weights_path(entry: WeightsEntry, *, force: bool = False) -> Path:
    """Path to the verified file for ``entry``, downloading it (once, even under concurrency) if needed."""
    local = local_override(entry)
    if local and not force:
        return _verify(entry, local, from_cache=False)
    with _lock_for(entry), _file_lock(entry):
        cached = None if force else cached_path(entry)
        path = cached or _download(entry, force=force)
        return _verify(entry, path, from_cache=True)


def is_cached(entry: WeightsEntry) -> bool:
    return cached_path(entry) is not None


def resolve_commit(entry: WeightsEntry) -> str:
    """The commit the entry's revision points at now (asks the Hub); plain-url entries have none."""
    if entry.url:
        return ""
    if offline():
        raise _unavailable(entry, "locking needs the Hub, but offline mode is on (HF_HUB_OFFLINE)")
    url = huggingface_hub.hf_hub_url(
        entry.repo_id, entry.filename, repo_type=entry.repo_type, revision=entry.revision, endpoint=_endpoint()
    )
    try:
        meta = huggingface_hub.get_hf_file_metadata(url)
    except (hf_errors.HfHubHTTPError, OSError) as exc:
        raise _unavailable(entry, f"could not read its metadata from the Hub ({exc.__class__.__name__})") from None
    if not meta.commit_hash:
        raise _unavailable(entry, "the Hub did not report a commit for it")
    return meta.commit_hash


def lock_entry(entry: WeightsEntry) -> WeightsEntry:
    """Download the entry and return it pinned: resolved commit, sha256 and size of the file."""
    commit = resolve_commit(entry)
    path = weights_path(entry)
    return dataclasses.replace(entry, revision=commit, sha256=sha256_file(path), size=path.stat().st_size)
