"""Getting a manifest entry's file onto disk: local folder, Hub cache, or a pinned Hub download.

Order: ``$GEN_MODELS_WEIGHTS_DIR/<name>/<file>`` (for offline machines), then the huggingface_hub cache, then
``hf_hub_download`` at the pinned revision (``HF_ENDPOINT`` mirrors work). Entries with a plain ``url`` (files the
Hub does not have) are downloaded with httpx into ``$GEN_MODELS_CACHE`` (default ``~/.cache/gen_models``) and obey
``HF_HUB_OFFLINE`` too. A set ``sha256`` is checked on every
first use in a process; a mismatching cached download is deleted. Settings are read from the environment on each
call, so a running app sees a changed ``HF_HUB_OFFLINE``, ``HF_ENDPOINT`` or ``GEN_MODELS_HUB_RETRY_SECONDS``.

Before any download the host (``HF_ENDPOINT`` or https://huggingface.co, or the ``url``'s scheme://host:port) is
probed with one HTTP request bounded to ~3 s, and the answer is remembered for ``GEN_MODELS_HUB_RETRY_SECONDS``
(default 300; 0 probes every time): an offline machine says "could not be reached" in ~3 s once, then at once,
instead of huggingface_hub's ~25 s of retries. huggingface_hub 2.4 retries a failed metadata request (5 times,
backoff up to 8 s, timeout 60 s) whatever ``etag_timeout`` says, so a Hub download that has not started sending the
file within ``_START_SECONDS`` is given up on (the host is then remembered as unreachable).
"""

from __future__ import annotations

import contextvars
import hashlib
import os
import threading
import time
import urllib.parse
from collections.abc import Callable
from pathlib import Path

import filelock
import httpx
import huggingface_hub
from huggingface_hub import constants as hf_constants
from huggingface_hub import errors as hf_errors
from huggingface_hub.utils import tqdm as hf_tqdm

from gen_models.core import settings
from gen_models.core.errors import WeightsIntegrityError, WeightsUnavailableError
from gen_models.core.manifest import WeightsEntry

_CHUNK = 1 << 20
_verified: set[tuple[str, int, int, str, int | None]] = set()
_locks: dict[str, threading.Lock] = {}
_locks_guard = threading.Lock()

DEFAULT_ENDPOINT = "https://huggingface.co"
_PROBE_SECONDS = 3.0  # the whole reachability probe, DNS included
_ETAG_SECONDS = 5.0  # huggingface_hub's metadata (HEAD) timeout
_START_SECONDS = 10.0  # a Hub download must start sending the file by then
_reach: dict[str, tuple[float, str | None]] = {}  # host -> (when probed, why unreachable or None)
_reach_guard = threading.Lock()

Progress = Callable[[int, int | None], None]  # (bytes done, total bytes or None)


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


def _retry_seconds() -> float:
    return settings.hub_retry_seconds()


def _host(url: str) -> str:
    """``scheme://host:port`` of ``url``: the unit whose reachability is remembered."""
    parts = urllib.parse.urlsplit(url)
    host = f"[{parts.hostname}]" if ":" in (parts.hostname or "") else parts.hostname
    return f"{parts.scheme}://{host}:{parts.port or (443 if parts.scheme == 'https' else 80)}"


def _entry_host(entry: WeightsEntry) -> str:
    return _host(entry.url or _endpoint() or DEFAULT_ENDPOINT)


def _probe(host: str) -> str | None:
    """None when ``host`` answers HTTP within _PROBE_SECONDS, else why not. A thread bounds the DNS lookup too;
    a gateway error (502-504, e.g. from a proxy) counts as unreachable."""
    result: list[str | None] = []

    def attempt() -> None:
        try:
            status = httpx.head(host + "/", timeout=_PROBE_SECONDS).status_code
            result.append(f"it answered HTTP {status}" if status in (502, 503, 504) else None)
        except Exception as exc:  # noqa: BLE001 - any failure means "not reachable"
            result.append(f"{exc.__class__.__name__}: {exc}")

    thread = threading.Thread(target=attempt, daemon=True, name=f"probe {host}")
    thread.start()
    thread.join(_PROBE_SECONDS)
    return result[0] if result else f"no answer within {_PROBE_SECONDS:.0f} s"


def _remember(host: str, why: str | None) -> None:
    with _reach_guard:
        _reach[host] = (time.monotonic(), why)


def unreachable_reason(entry: WeightsEntry) -> str | None:
    """Why the entry's host cannot be reached now, or None if it can; an answer younger than
    ``GEN_MODELS_HUB_RETRY_SECONDS`` is reused instead of probing again."""
    host = _entry_host(entry)
    with _reach_guard:
        seen = _reach.get(host)
    if seen and time.monotonic() - seen[0] < _retry_seconds():
        return seen[1]
    why = _probe(host)
    _remember(host, why)
    return why


def _unreachable(entry: WeightsEntry, why: str) -> WeightsUnavailableError:
    what = f"the host {_entry_host(entry)}" if entry.url else f"the Hugging Face Hub ({_entry_host(entry)})"
    retry = _retry_seconds()
    again = f"; it is tried again after {retry:.0f} s (GEN_MODELS_HUB_RETRY_SECONDS)" if retry else ""
    return _unavailable(entry, f"not on this machine, and {what} could not be reached ({why}){again}")


def _require_reachable(entry: WeightsEntry) -> None:
    why = unreachable_reason(entry)
    if why:
        raise _unreachable(entry, why)


def prefetch_hint(entry: WeightsEntry) -> str:
    return (
        f"Prefetch it where the Hub is reachable with `python -m gen_models fetch {entry.name}`, "
        f"or put the file at $GEN_MODELS_WEIGHTS_DIR/{entry.name}/{entry.basename}."
    )


def describe(entry: WeightsEntry) -> str:
    if entry.kind in ("bundled", "package"):
        return f"'{entry.name}' (gen_models/bundled/{entry.bundled})" if entry.bundled else f"'{entry.name}' ({entry.package})"
    if entry.url:
        return f"'{entry.name}' ({entry.url})"
    return f"'{entry.name}' ({entry.repo_id}/{entry.filename} @ {entry.revision})"


def _url_cache_file(entry: WeightsEntry) -> Path:
    root = settings.cache_dir()
    return root / "urls" / hashlib.sha1(entry.url.encode()).hexdigest()[:16] / entry.basename


def _entry_key(entry: WeightsEntry) -> str:
    if entry.kind == "bundled":
        return f"bundled:{entry.bundled}"
    return entry.url or f"{entry.repo_type}:{entry.repo_id}:{entry.revision}:{entry.filename}"


def sha256_file(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def local_override(entry: WeightsEntry) -> Path | None:
    """The file in ``$GEN_MODELS_WEIGHTS_DIR/<name>/``, if that folder is set and has it."""
    root = settings.weights_dir()
    if root is None:
        return None
    candidate = root / entry.name / entry.basename
    return candidate if candidate.is_file() else None


def cached_path(entry: WeightsEntry) -> Path | None:
    """The file in the local folder or the Hub cache, without any network access or hashing."""
    local = local_override(entry)
    if local:
        return local
    if entry.kind == "package":
        return None
    if entry.kind == "bundled":
        return entry.bundled_path if entry.bundled_path.is_file() else None
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


def _download_url(entry: WeightsEntry, progress: Progress | None = None) -> Path:
    """Stream ``entry.url`` into the cache (a partial file never takes the final name), reporting each chunk."""
    if offline():
        raise _unavailable(entry, "not in the local cache and offline mode is on (HF_HUB_OFFLINE)")
    _require_reachable(entry)
    target = _url_cache_file(entry)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".part")
    try:
        timeout = httpx.Timeout(30.0, connect=10.0)
        with httpx.stream("GET", entry.url, follow_redirects=True, timeout=timeout) as response:
            if response.status_code != 200:
                raise _unavailable(entry, f"the server answered HTTP {response.status_code}")
            length = response.headers.get("Content-Length")
            total = int(length) if length and length.isdigit() else entry.size
            done = 0
            with open(partial, "wb") as out:
                for chunk in response.iter_bytes(_CHUNK):
                    out.write(chunk)
                    done += len(chunk)
                    if progress:
                        progress(done, total)
    except httpx.HTTPError as exc:
        partial.unlink(missing_ok=True)
        if isinstance(exc, (httpx.ConnectError, httpx.ConnectTimeout)):
            _remember(_entry_host(entry), f"{exc.__class__.__name__}: {exc}")
            raise _unreachable(entry, f"{exc.__class__.__name__}: {exc}") from None
        raise _unavailable(entry, f"the download failed ({exc.__class__.__name__}: {exc})") from None
    partial.replace(target)
    return target


def _progress_tqdm(progress: Progress | None, size: int | None, started: threading.Event) -> type:
    """A tqdm class for ``hf_hub_download(tqdm_class=...)``: sets ``started`` when the file starts arriving and
    forwards bytes done/total to ``progress``. The console bar still obeys HF_HUB_DISABLE_PROGRESS_BARS."""

    class Forward(hf_tqdm):
        def __init__(self, *args, **kwargs) -> None:
            super().__init__(*args, **kwargs)
            self.done, self.expected = kwargs.get("initial") or 0, kwargs.get("total") or size
            started.set()
            if progress:
                progress(self.done, self.expected)

        def update(self, n: float | None = 1) -> bool | None:
            shown = super().update(n)
            self.done += int(n or 0)
            if progress:
                progress(self.done, self.expected)
            return shown

        def update_transfer(self, n: int) -> None:
            """Xet's network bytes: one bar is enough, the bytes written (``update``) are what we report."""

    return Forward


def _hub_download(entry: WeightsEntry, *, force: bool, progress: Progress | None) -> Path:
    """``hf_hub_download`` in a worker thread, given up on if the file has not started arriving within
    _START_SECONDS (huggingface_hub 2.4 would otherwise retry a failed HEAD for ~25 s). A worker given up on runs
    on in the background; if it succeeds later, the file is simply in the cache."""
    started, outcome = threading.Event(), {}

    def work() -> None:
        try:
            outcome["path"] = huggingface_hub.hf_hub_download(
                entry.repo_id,
                entry.filename,
                repo_type=entry.repo_type,
                revision=entry.revision,
                cache_dir=_cache_dir(),
                endpoint=_endpoint(),
                force_download=force,
                local_files_only=offline(),
                etag_timeout=_ETAG_SECONDS,
                tqdm_class=_progress_tqdm(progress, entry.size, started),
            )
        except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread
            outcome["error"] = exc
        finally:
            started.set()

    context = contextvars.copy_context()  # callbacks that read contextvars (a UI's progress) work in the thread
    worker = threading.Thread(target=context.run, args=(work,), daemon=True, name=f"hub download {entry.name}")
    worker.start()
    if not started.wait(_START_SECONDS):
        why = f"it did not start sending the file within {_START_SECONDS:.0f} s"
        _remember(_entry_host(entry), why)
        raise _unreachable(entry, why)
    worker.join()
    if "error" in outcome:
        raise outcome["error"]
    return Path(outcome["path"])


def _download(entry: WeightsEntry, *, force: bool, progress: Progress | None = None) -> Path:
    if entry.url:
        return _download_url(entry, progress)
    if not offline():
        _require_reachable(entry)
    try:
        return _hub_download(entry, force=force, progress=progress)
    except WeightsUnavailableError:
        raise
    except hf_errors.RevisionNotFoundError:
        raise _unavailable(entry, f"revision '{entry.revision}' does not exist in {entry.repo_id}") from None
    except hf_errors.RepositoryNotFoundError:
        raise _unavailable(entry, f"repository {entry.repo_id} was not found (or is private or gated)") from None
    except hf_errors.RemoteEntryNotFoundError:
        raise _unavailable(entry, f"{entry.filename} does not exist in {entry.repo_id}@{entry.revision}") from None
    except (hf_errors.LocalEntryNotFoundError, hf_errors.OfflineModeIsEnabled) as exc:
        if offline():
            raise _unavailable(entry, "not in the local cache and offline mode is on (HF_HUB_OFFLINE)") from None
        cause = exc.__cause__
        if isinstance(cause, hf_errors.FileMetadataError):  # it answered, but not as a Hub does
            raise _unavailable(entry, f"{_entry_host(entry)} is not a Hub endpoint ({cause})") from None
        why = f"{cause.__class__.__name__}: {cause}" if cause else "it stopped answering"
        _remember(_entry_host(entry), why)
        raise _unreachable(entry, why) from None
    except hf_errors.HfHubHTTPError as exc:
        status = exc.response.status_code if exc.response is not None else "?"
        raise _unavailable(entry, f"the Hub answered HTTP {status}") from None
    except Exception as exc:  # network stacks raise their own types (httpx, ssl, ...): all mean "not downloaded"
        raise _unavailable(entry, f"the download failed ({exc.__class__.__name__}: {exc})") from None


def weights_path(entry: WeightsEntry, *, force: bool = False, progress: Progress | None = None) -> Path:
    """Path to the verified file for ``entry``, downloading it (once, even under concurrency) if needed.
    ``progress(done, total)`` hears the bytes of a download (total may be None); it is not called for a file
    already on this machine."""
    local = local_override(entry)
    if local and not force:
        return _verify(entry, local, from_cache=False)
    if entry.kind in ("bundled", "package"):
        return _shipped(entry)
    with _lock_for(entry), _file_lock(entry):
        cached = None if force else cached_path(entry)
        path = cached or _download(entry, force=force, progress=progress)
        return _verify(entry, path, from_cache=True)


def _shipped(entry: WeightsEntry) -> Path:
    """A file that comes with an installed package: never downloaded, always verified."""
    if entry.kind == "package":
        raise WeightsUnavailableError(f"'{entry.name}' is made of files the {entry.package} package ships; "
                                      "it has no weights file of its own")
    path = entry.bundled_path
    if not path.is_file():
        raise WeightsUnavailableError(f"{entry.bundled} is missing from gen_models/bundled; reinstall the package")
    return _verify(entry, path, from_cache=False)


def is_cached(entry: WeightsEntry) -> bool:
    return cached_path(entry) is not None


def resolve_commit(entry: WeightsEntry) -> str:
    """The commit the entry's revision points at now (asks the Hub); other source kinds have none."""
    if entry.kind != "hub":
        return ""
    if offline():
        raise _unavailable(entry, "locking needs the Hub, but offline mode is on (HF_HUB_OFFLINE)")
    _require_reachable(entry)
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
    if entry.kind == "package":
        return entry
    commit = resolve_commit(entry)
    path = weights_path(entry)
    return entry.model_copy(update={"revision": commit, "sha256": sha256_file(path), "size": path.stat().st_size})
