"""The catalog, ``weights_manifest.json``: every model the demos can use, one entry each.

An entry says what the model is for (``task``, whether it is that task's ``default``, its ``io`` spec, ``labels``,
whether ``half`` precision is safe), how to build it (``architecture`` + ``config``) and where its file comes from,
one source kind of four:

- a file on the Hugging Face Hub: ``repo_id`` + ``filename`` + pinned ``revision`` (+ ``repo_type``);
- a plain download: ``url`` + ``filename``;
- a file that ships in this package: ``bundled`` (a path under ``gen_models/bundled/``), with its training
  ``recipe`` as metadata;
- files another installed package ships: ``package`` (its distribution name), e.g. dlib's CC0 models.

The schema is a pydantic model; every error names the file, the entry and the field. ``GEN_MODELS_MANIFEST`` points
at another catalog (tests, private mirrors).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from gen_models.core.errors import ManifestError

PACKAGE_DIR = Path(__file__).resolve().parents[1]
DEFAULT_MANIFEST = PACKAGE_DIR.parent / "weights_manifest.json"
BUNDLED_DIR = PACKAGE_DIR / "bundled"
MANIFEST_VERSION = 1
REPO_TYPES = ("model", "dataset", "space")
TASKS = (
    "age",
    "face-generation",
    "talking-head",
    "colorization",
    "translation",
    "digits-generation",
    "autoencoder",
    "face-swap",
    "dataset",
)
TASK_TITLES = {
    "age": "age model",
    "face-generation": "face model",
    "talking-head": "talking-head model",
    "colorization": "colorization model",
    "translation": "translation model",
    "digits-generation": "digits model",
    "autoencoder": "autoencoder",
    "face-swap": "face-swap model",
    "dataset": "data set",
}

_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]*$")
_REPO_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*$")
_SHA256_RE = re.compile(r"^[0-9a-f]{64}$")


class TensorSpec(BaseModel):
    """One side of a model: what it takes or gives, e.g. ``{"kind": "image", "size": 227, "colour": "BGR",
    "range": [0, 255], "mean": [78.4, 87.8, 114.9]}``. ``size`` null: any size."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["image", "face-crop", "video", "latent", "gray-image", "digits", "class-probabilities", "table"]
    size: int | list[int] | None = None
    colour: Literal["RGB", "BGR", "L", "Lab-L", "Lab-ab"] | None = None
    range: tuple[float, float] | None = None
    mean: tuple[float, ...] | None = None
    std: tuple[float, ...] | None = None
    note: str = ""


class IOSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    input: TensorSpec
    output: TensorSpec


class WeightsEntry(BaseModel):
    """One catalog entry: what the model is for, how to build it, where its weights come from."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    task: Literal[TASKS]  # type: ignore[valid-type]
    architecture: str
    license: str
    source: str  # the paper or the original code
    title: str = ""  # a short name for menus (the name if empty)
    description: str = ""
    default: bool = False
    half: bool = False  # outputs stay within the stated tolerance in fp16/bf16 on a GPU
    config: dict[str, Any] = Field(default_factory=dict)
    io: IOSpec | None = None
    labels: list[str] | None = None
    recipe: dict[str, Any] | None = None  # how a bundled model was trained, and what it scored
    # where the file comes from: exactly one of repo_id / url / bundled / package
    repo_id: str = ""
    repo_type: str = "model"
    revision: str = ""
    url: str = ""
    bundled: str = ""
    package: str = ""
    filename: str = ""
    sha256: str = ""
    size: int | None = None

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not _NAME_RE.match(value):
            raise ValueError("must be lower-case letters, digits, '.', '_' or '-'")
        return value

    @field_validator("license", "architecture")
    @classmethod
    def _required(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("is required and must be a non-empty string")
        return value

    @field_validator("source")
    @classmethod
    def _link(cls, value: str) -> str:
        if not value.startswith(("https://", "http://")):
            raise ValueError(f"must be a link to the paper or original code, got {value!r}")
        return value

    @field_validator("repo_type")
    @classmethod
    def _repo_type(cls, value: str) -> str:
        if value not in REPO_TYPES:
            raise ValueError(f"must be one of {', '.join(REPO_TYPES)}, got {value!r}")
        return value

    @field_validator("sha256")
    @classmethod
    def _sha(cls, value: str) -> str:
        if value and not _SHA256_RE.match(value):
            raise ValueError(f"must be 64 lower-case hex digits or empty, got {value!r}")
        return value

    @field_validator("size")
    @classmethod
    def _size(cls, value: int | None) -> int | None:
        if value is not None and value <= 0:
            raise ValueError(f"must be a positive integer (bytes) or null, got {value!r}")
        return value

    @field_validator("filename", "bundled")
    @classmethod
    def _relative(cls, value: str) -> str:
        if value.startswith("/") or ".." in value.split("/"):
            raise ValueError(f"must be a relative path inside the repo, got {value!r}")
        return value

    @model_validator(mode="after")
    def _one_source(self) -> WeightsEntry:
        kinds = [k for k in ("repo_id", "url", "bundled", "package") if getattr(self, k)]
        if len(kinds) != 1:
            field, problem = ("repo_id", "is required") if not kinds else (kinds[1], "conflicts")
            raise _FieldError(field, f"{problem}: give exactly one of repo_id, url, bundled or package "
                                     f"(this entry gives {', '.join(kinds) or 'none'})")
        kind = kinds[0]
        if kind == "repo_id":
            if not _REPO_RE.match(self.repo_id):
                raise _FieldError("repo_id", f"must look like 'owner/name', got {self.repo_id!r}")
            for key in ("filename", "revision"):
                if not getattr(self, key).strip():
                    raise _FieldError(key, "is required and must be a non-empty string")
        elif kind == "url":
            if not self.url.startswith(("https://", "http://")):
                raise _FieldError("url", f"must be an http(s) address, got {self.url!r}")
            if self.revision:
                raise _FieldError("url", "names the file's address; leave repo_id and revision out of such an entry")
            if not self.filename.strip():
                raise _FieldError("filename", "is required and must be a non-empty string")
        elif kind == "bundled" and not (BUNDLED_DIR / self.bundled).parent.is_dir():
            raise _FieldError("bundled", f"must be a path under gen_models/bundled/, got {self.bundled!r}")
        return self

    # ---- derived -------------------------------------------------------------------------------------------
    @property
    def kind(self) -> str:
        """Where the file comes from: ``hub``, ``url``, ``bundled`` or ``package``."""
        return "hub" if self.repo_id else "url" if self.url else "bundled" if self.bundled else "package"

    @property
    def basename(self) -> str:
        return (self.filename or self.bundled).rsplit("/", 1)[-1]

    @property
    def bundled_path(self) -> Path | None:
        return BUNDLED_DIR / self.bundled if self.bundled else None

    @property
    def label(self) -> str:
        """What menus show."""
        return self.title or self.name

    def to_json(self) -> dict[str, Any]:
        data = self.model_dump(exclude={"name"}, exclude_defaults=True)
        if self.kind == "hub":
            data.setdefault("repo_type", self.repo_type)
        for key in ("sha256", "size"):  # always written, so `lock` has a place to fill
            data.setdefault(key, getattr(self, key))
        return data


class _FieldError(ValueError):
    def __init__(self, field: str, problem: str) -> None:
        super().__init__(problem)
        self.field, self.problem = field, problem


_KNOWN = sorted(set(WeightsEntry.model_fields) - {"name"})


def _message(error: dict[str, Any]) -> tuple[str, str]:
    """pydantic's error → (field, problem in our words)."""
    loc = [str(p) for p in error.get("loc", ())]
    field = ".".join(loc) or "?"
    kind, ctx = error.get("type", ""), error.get("ctx") or {}
    if isinstance(ctx.get("error"), _FieldError):
        return ctx["error"].field, ctx["error"].problem
    if kind == "missing":
        return field, "is required and must be a non-empty string"
    if kind == "extra_forbidden":
        return field, f"is not a known field (known: {', '.join(_KNOWN)})"
    if kind in ("dict_type", "model_type", "model_attributes_type"):
        return field, "must be a JSON object"
    if kind == "literal_error" and loc[:1] == ["task"]:
        return field, f"must be one of {', '.join(TASKS)}, got {error.get('input')!r}"
    if kind == "value_error":
        return field, str(ctx.get("error", error.get("msg", "")))
    if kind.startswith("int") and loc[:1] == ["size"]:
        return field, f"must be a positive integer (bytes) or null, got {error.get('input')!r}"
    return field, f"{error.get('msg', 'is not valid')} (got {error.get('input')!r})"


def parse_entry(name: str, raw: Any, where: str = "weights_manifest.json") -> WeightsEntry:
    if not _NAME_RE.match(name):
        raise ManifestError(f"{where}: entry name '{name}' must be lower-case letters, digits, '.', '_' or '-'")
    if not isinstance(raw, dict):
        raise ManifestError(f"{where}: entry '{name}' must be a JSON object")
    try:
        return WeightsEntry(name=name, **raw)
    except ValidationError as exc:
        field, problem = _message(exc.errors()[0])
        raise ManifestError(f"{where}: entry '{name}': field '{field}' {problem}") from None
    except TypeError as exc:
        raise ManifestError(f"{where}: entry '{name}': {exc}") from None


class Manifest:
    """The validated catalog: entries by name (in file order), plus the file they came from."""

    def __init__(self, path: Path, entries: dict[str, WeightsEntry]) -> None:
        self.path, self.entries = path, entries

    def __getitem__(self, name: str) -> WeightsEntry:
        try:
            return self.entries[name]
        except KeyError:
            known = ", ".join(sorted(self.entries)) or "none"
            raise ManifestError(f"no model named '{name}' in {self.path.name} (known: {known})") from None

    def __contains__(self, name: object) -> bool:
        return name in self.entries

    def __iter__(self) -> Iterator[WeightsEntry]:
        return iter(self.entries.values())

    def for_task(self, task: str) -> list[WeightsEntry]:
        """The task's entries, its default first."""
        found = [e for e in self if e.task == task]
        return sorted(found, key=lambda e: not e.default)

    def with_entry(self, entry: WeightsEntry) -> Manifest:
        return Manifest(self.path, {**self.entries, entry.name: entry})

    def save(self, path: Path | None = None) -> Path:
        """Write the catalog back (``python -m gen_models lock``, retraining a bundled model)."""
        target = Path(path or self.path)
        data = {"version": MANIFEST_VERSION, "weights": {n: e.to_json() for n, e in self.entries.items()}}
        tmp = target.with_suffix(target.suffix + ".tmp")
        tmp.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        tmp.replace(target)
        _cache.clear()
        return target


def manifest_path() -> Path:
    from gen_models.core import settings

    return settings.manifest_path() or DEFAULT_MANIFEST


def parse_manifest(data: Any, where: str = "weights_manifest.json", path: Path | None = None) -> Manifest:
    """Validate already-decoded catalog JSON."""
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
    entries = {name: parse_entry(name, raw, where) for name, raw in weights.items()}
    for task in TASKS:
        defaults = [e.name for e in entries.values() if e.task == task and e.default]
        if len(defaults) > 1:
            raise ManifestError(f"{where}: task '{task}' has {len(defaults)} defaults ({', '.join(defaults)}); "
                                "mark one")
    return Manifest(Path(path or where), entries)


def record_bundled(name: str, file: Path, recipe: dict[str, Any], *, catalog: Path | None = None,
                   **fields: Any) -> WeightsEntry:
    """Pin a (re)trained bundled file in the catalog: its sha256, size and training recipe; ``fields`` (title,
    description, config…) are set too, everything else of an existing entry is kept. Returns the new entry."""
    from gen_models.core.hub import sha256_file

    manifest = load_manifest(catalog or DEFAULT_MANIFEST)
    file = Path(file)
    try:
        bundled = file.resolve().relative_to(BUNDLED_DIR).as_posix()
    except ValueError:
        raise ManifestError(f"{file} is not under gen_models/bundled/, so the catalog cannot point at it") from None
    base = manifest.entries[name].to_json() if name in manifest else {}
    raw = {**base, **fields, "bundled": bundled, "recipe": recipe, "sha256": sha256_file(file),
           "size": file.stat().st_size}
    entry = parse_entry(name, raw, manifest.path.name)
    manifest.with_entry(entry).save()
    return entry


_cache: dict[tuple[str, str], Manifest] = {}


def load_manifest(path: str | Path | None = None) -> Manifest:
    """Read and validate the catalog (``GEN_MODELS_MANIFEST`` or the repo's weights_manifest.json); the file is
    read on every call (it is small) and validated again only when its text changed."""
    target = Path(path) if path else manifest_path()
    try:
        text = target.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ManifestError(f"weights manifest not found at {target} (set GEN_MODELS_MANIFEST?)") from None
    key = (str(target), text)
    if key in _cache:
        return _cache[key]
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ManifestError(f"{target.name}: not valid JSON ({exc.msg} at line {exc.lineno})") from None
    manifest = parse_manifest(data, target.name, target)
    if len(_cache) > 8:
        _cache.clear()
    _cache[key] = manifest
    return manifest
