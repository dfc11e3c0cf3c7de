"""The model layer of the demos: one catalog, Hub downloads, devices, architectures, pipelines and trainers.

``gen_models.load(name)`` returns a ready model by its catalog name, ``create(name, weights=False)`` a freshly built
one, ``list_models(task)`` the names (``python -m gen_models list`` prints them). This package never imports
gradio, and importing it does not import torch (the CLI stays fast).
"""

from typing import Any

from gen_models.core.errors import (
    GenModelsError,
    InputError,
    ManifestError,
    WeightsIntegrityError,
    WeightsUnavailableError,
)
from gen_models.core.manifest import TASKS

__version__ = "0.3.0"
"""The project's version (pyproject.toml's; the Content Credentials name it as the generating software's)."""

__all__ = [
    "TASKS",
    "__version__",
    "GenModelsError",
    "InputError",
    "ManifestError",
    "WeightsIntegrityError",
    "WeightsUnavailableError",
    "create",
    "default_model",
    "list_models",
    "load",
    "require",
]


def load(name: str) -> Any:
    """The ready-to-use model called ``name`` (cached; see :func:`gen_models.core.registry.load`)."""
    from gen_models.core import registry

    return registry.load(name)


def create(name: str, *, weights: bool = True, device: Any = None) -> Any:
    """The model ``name``, with its released weights or (``weights=False``) freshly initialised; not cached."""
    from gen_models.core import registry

    return registry.create(name, weights=weights, device=device)


def list_models(task: str | None = None) -> list[str]:
    """Every catalog name, or one task's (its default first)."""
    from gen_models.core import registry

    return registry.list_models(task)


def default_model(task: str) -> str | None:
    from gen_models.core import registry

    return registry.default_model(task)


def require(name: str, task: str):
    """The catalog entry ``name`` if it serves ``task``, else an InputError listing the task's models."""
    from gen_models.core import registry

    return registry.require(name, task)
