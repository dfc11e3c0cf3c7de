"""Name → model, like timm's ``create_model``: callers never build paths, URLs or classes.

Every name is a catalog entry (:mod:`gen_models.core.manifest`). Its ``architecture`` names the module of
``gen_models.models`` that builds it; each such module has ``Config.from_dict``, ``build(config)`` (fresh weights)
and ``load(path, config)`` (the official checkpoint, strictly). :func:`create` builds or loads without caching;
:func:`load` keeps ready models for the next request, at most ``GEN_MODELS_MAX_LOADED`` (default 4), least recently
used dropped first. :func:`require` is the one check that a name exists and serves a task.
"""

from __future__ import annotations

import importlib
import threading
from collections import OrderedDict
from collections.abc import Callable
from types import ModuleType
from typing import Any

from gen_models.core.errors import InputError, ManifestError
from gen_models.core.manifest import TASK_TITLES, TASKS, WeightsEntry, load_manifest

# architecture → module of gen_models.models (imported only when used)
ARCHITECTURES: dict[str, str] = {
    "agenet": "gen_models.models.agenet",
    "autoencoder": "gen_models.models.autoencoders",
    "cyclegan": "gen_models.models.cyclegan",
    "dcgan": "gen_models.models.dcgan",
    "dcgan-digits": "gen_models.models.dcgan_digits",
    "deoldify": "gen_models.models.deoldify",
    "dlib-age": "gen_models.models.dlib_age",
    "faceswap": "gen_models.models.faceswap",
    "fomm": "gen_models.models.fomm",
    "pggan": "gen_models.models.pggan",
    "tpsmm": "gen_models.models.tpsmm",
    "zhang": "gen_models.models.zhang",
}
NOT_MODELS = ("dataset",)  # catalog entries that are files, not networks


def architecture(name: str) -> ModuleType:
    """The module that builds architecture ``name``."""
    if name not in ARCHITECTURES:
        raise ManifestError(f"architecture '{name}' has no module in gen_models.models "
                            f"(known: {', '.join(sorted(ARCHITECTURES))})")
    return importlib.import_module(ARCHITECTURES[name])


def entry(name: str) -> WeightsEntry:
    return load_manifest()[name]


def list_models(task: str | None = None) -> list[str]:
    """Catalog names, all or one task's (its default first), in catalog order."""
    manifest = load_manifest()
    if task is None:
        return [e.name for e in manifest]
    if task not in TASKS:
        raise ValueError(f"unknown task {task!r} (known: {', '.join(TASKS)})")
    return [e.name for e in manifest.for_task(task)]


def default_model(task: str) -> str | None:
    """The task's default entry (the first of the task when none is marked)."""
    names = list_models(task)
    return names[0] if names else None


def require(name: str, task: str) -> WeightsEntry:
    """The entry ``name`` if it serves ``task``; otherwise an :class:`InputError` that lists the choices."""
    manifest = load_manifest()
    found = manifest.entries.get(name) if isinstance(name, str) else None
    if found is not None and found.task == task:
        return found
    choices = ", ".join(e.name for e in manifest.for_task(task)) or "none in this catalog"
    what = TASK_TITLES.get(task, task)
    raise InputError(f"Unknown {what} {name!r}; choose one of: {choices}")


def config_of(item: WeightsEntry) -> Any:
    """The entry's typed config (its architecture's ``Config``)."""
    try:
        return architecture(item.architecture).Config.from_dict(item.config)
    except ManifestError as exc:
        raise ManifestError(f"entry '{item.name}': {exc}") from None


def weights_file(item: WeightsEntry):
    """The verified file of an entry (downloaded if needed); None for weights another package ships."""
    if item.kind == "package":
        return None
    from gen_models.core.hub import weights_path

    return weights_path(item)


def create(name: str, *, weights: bool = True, device: Any = None) -> Any:
    """Build the model ``name``: with its released weights (``weights=True``, strict load, downloaded if needed)
    or freshly initialised. Not cached; on ``device`` (default: :func:`gen_models.core.device.get_device`)."""
    from gen_models.core.device import get_device, half_allowed

    item = entry(name)
    if item.architecture in NOT_MODELS:
        raise ManifestError(f"'{name}' is a {item.architecture}, not a model: read its file with "
                            "gen_models.core.hub.weights_path")
    module, config = architecture(item.architecture), config_of(item)
    model = module.load(weights_file(item), config) if weights else module.build(config)
    target = get_device() if device is None else device
    if hasattr(model, "to"):
        model = model.to(target)
        if hasattr(model, "eval"):
            model.eval()
        if item.half and half_allowed(target, model_supports_half=True):
            model = model.half()
        if getattr(module, "CPU_CHANNELS_LAST", False) and getattr(target, "type", target) == "cpu":
            import torch  # the architecture measured faster channels-last on a CPU (oneDNN's NHWC convolutions)

            model = model.to(memory_format=torch.channels_last)
    return model


class ModelCache:
    """A bounded LRU of loaded models; concurrent requests for one model load it once."""

    def __init__(self, max_items: int | Callable[[], int]) -> None:
        self._max = max_items
        self._items: OrderedDict[str, Any] = OrderedDict()
        self._guard = threading.Lock()
        self._loading: dict[str, threading.Lock] = {}

    @property
    def max_items(self) -> int:
        return max(1, self._max() if callable(self._max) else self._max)

    def get(self, key: str, build: Callable[[], Any]) -> Any:
        with self._guard:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
            lock = self._loading.setdefault(key, threading.Lock())
        with lock:
            with self._guard:
                if key in self._items:
                    self._items.move_to_end(key)
                    return self._items[key]
            model = build()
            with self._guard:
                self._items[key] = model
                while len(self._items) > self.max_items:
                    self._items.popitem(last=False)
            return model

    def keys(self) -> list[str]:
        with self._guard:
            return list(self._items)

    def clear(self) -> None:
        with self._guard:
            self._items.clear()


def _max_loaded() -> int:
    from gen_models.core import settings

    return settings.max_loaded()


_cache = ModelCache(_max_loaded)


def load(name: str) -> Any:
    """The ready-to-use model called ``name`` (cached; downloads its weights on first use)."""
    from gen_models.core.device import get_device

    device = get_device()
    return _cache.get(f"{name}@{device}", lambda: create(name, device=device))


def loaded() -> list[str]:
    """Names of the models now held in memory, least recently used first."""
    return [key.rsplit("@", 1)[0] for key in _cache.keys()]


def clear() -> None:
    _cache.clear()


def model_names() -> list[str]:
    return list_models()
