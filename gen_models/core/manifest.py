"""weights_manifest.json: the one list of every pretrained file the demos use.

Each entry names a file on the Hugging Face Hub (repo, file, pinned revision, sha256), or for files the Hub
does not have, their ``url`` and sha256; its licence and source; and which architecture and config it feeds. The manifest is validated on load; errors name the entry and field.
``GEN_MODELS_MANIFEST`` points at another manifest file (tests, private mirrors).
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from gen_models.core.errors import ManifestError

DEFAULT_MANIFEST = Path(__file__).resolve().parents[2] / "weights_manifest.json"
MANIFEST_VERSION = 1
REPO_TYPES = ("model", "dataset", "space")

_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]*$")
_REPO_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*$")
_SHA256_RE = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True)
class WeightsEntry:
    """One pretrained file: where it lives on the Hub and what it feeds."""

    name: str
    repo_id: str
    filename: str
    revision: str
    license: str
    source: str
    architecture: str
    repo_type: str = "model"
    sha256: str = ""
    size: int | None = None
    config: dict[str, Any] = field(default_factory=dict)
    description: str = ""
    url: str = ""  # a plain download address, for files that are not on the Hub (repo_id and revision stay empty)

    @property
    def basename(self) -> str:
        return self.filename.rsplit("/", 1)[-1]

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        del data["name"]
        if not data["url"]:
            del data["url"]
        else:
            del data["repo_id"], data["revision"], data["repo_type"]
        return data


_REQUIRED = ("repo_id", "filename", "revision", "license", "source", "architecture")
_FIELDS = {f for f in WeightsEntry.__dataclass_fields__} - {"name"}


def _check_entry(name: str, raw: Any, where: str) -> WeightsEntry:
    def fail(fieldname: str, problem: str) -> ManifestError:
        return ManifestError(f"{where}: entry '{name}': field '{fieldname}' {problem}")

    if not _NAME_RE.match(name):
        raise ManifestError(f"{where}: entry name '{name}' must be lower-case letters, digits, '.', '_' or '-'")
    if not isinstance(raw, dict):
        raise ManifestError(f"{where}: entry '{name}' must be a JSON object")
    unknown = sorted(set(raw) - _FIELDS)
    if unknown:
        raise fail(unknown[0], f"is not a known field (known: {', '.join(sorted(_FIELDS))})")
    url = raw.get("url", "")
    if url:
        if not isinstance(url, str) or not url.startswith(("https://", "http://")):
            raise fail("url", f"must be an http(s) address, got {url!r}")
        if "repo_id" in raw or "revision" in raw:
            raise fail("url", "names the file's address; leave repo_id and revision out of such an entry")
        raw = {**raw, "repo_id": "", "revision": ""}
    for key in _REQUIRED:
        if url and key in ("repo_id", "revision"):
            continue
        value = raw.get(key)
        if not isinstance(value, str) or not value.strip():
            raise fail(key, "is required and must be a non-empty string")
    if not url and not _REPO_RE.match(raw["repo_id"]):
        raise fail("repo_id", f"must look like 'owner/name', got {raw['repo_id']!r}")
    repo_type = raw.get("repo_type", "model")
    if repo_type not in REPO_TYPES:
        raise fail("repo_type", f"must be one of {', '.join(REPO_TYPES)}, got {repo_type!r}")
    filename = raw["filename"]
    if filename.startswith("/") or ".." in filename.split("/"):
        raise fail("filename", f"must be a relative path inside the repo, got {filename!r}")
    sha = raw.get("sha256", "")
    if not isinstance(sha, str) or (sha and not _SHA256_RE.match(sha)):
        raise fail("sha256", f"must be 64 lower-case hex digits or empty, got {sha!r}")
    size = raw.get("size")
    if size is not None and (not isinstance(size, int) or isinstance(size, bool) or size <= 0):
        raise fail("size", f"must be a positive integer (bytes) or null, got {size!r}")
    if not isinstance(raw.get("config", {}), dict):
        raise fail("config", "must be a JSON object")
    if not isinstance(raw.get("description", ""), str):
        raise fail("description", "must be a string")
    if not raw["source"].startswith(("https://", "http://")):
        raise fail("source", f"must be a link to the paper or original code, got {raw['source']!r}")
    return WeightsEntry(name=name, **raw)


@dataclass(frozen=True)
class Manifest:
    """The validated manifest: entries by name, plus the file they came from."""

    path: Path
    entries: dict[str, WeightsEntry]

    def __getitem__(self, name: str) -> WeightsEntry:
        try:
            return self.entries[name]
        except KeyError:
            known = ", ".join(sorted(self.entries)) or "none"
            raise ManifestError(f"no weights named '{name}' in {self.path.name} (known: {known})") from None

    def __contains__(self, name: object) -> bool:
        return name in self.entries

    def __iter__(self):
        return iter(self.entries.values())

    def with_entry(self, entry: WeightsEntry) -> Manifest:
        return Manifest(self.path, {**self.entries, entry.name: entry})

    def save(self, path: Path | None = None) -> Path:
        """Write the manifest back (used by ``python -m gen_models lock``)."""
        target = Path(path or self.path)
        data = {"version": MANIFEST_VERSION, "weights": {n: e.to_json() for n, e in self.entries.items()}}
        tmp = target.with_suffix(target.suffix + ".tmp")
        tmp.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
        tmp.replace(target)
        return target


def manifest_path() -> Path:
    return Path(os.environ.get("GEN_MODELS_MANIFEST") or DEFAULT_MANIFEST)


def parse_manifest(data: Any, where: str = "weights_manifest.json", path: Path | None = None) -> Manifest:
    """Validate already-decoded manifest JSON."""
    if not isinstance(data, dict):
        raise ManifestError(f"{where}: the top level must be a JSON object with 'version' and 'weights'")
    if data.get("version") != MANIFEST_VERSION:
        raise ManifestError(f"{where}: field 'version' must be {MANIFEST_VERSION}, got {data.get('version')!r}")
    weights = data.get("weights")
    if not isinstance(weights, dict):
        raise ManifestError(f"{where}: field 'weights' must be an object of entries by name")
    extra = sorted(set(data) - {"version", "weights"})
    if extra:
        raise ManifestError(f"{where}: unknown top-level field '{extra[0]}'")
    entries = {name: _check_entry(name, raw, where) for name, raw in weights.items()}
    return Manifest(Path(path or where), entries)


def load_manifest(path: str | Path | None = None) -> Manifest:
    """Read and validate the manifest (``GEN_MODELS_MANIFEST`` or the repo's weights_manifest.json)."""
    target = Path(path) if path else manifest_path()
    try:
        text = target.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ManifestError(f"weights manifest not found at {target} (set GEN_MODELS_MANIFEST?)") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ManifestError(f"{target.name}: not valid JSON ({exc.msg} at line {exc.lineno})") from None
    return parse_manifest(data, target.name, target)
