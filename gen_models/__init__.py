"""The model layer of the demos: weights manifest, Hub downloads, devices, architectures and pipelines.

``gen_models.load(name)`` returns a ready model by its manifest or bundled name. This package never imports
gradio, and importing it does not import torch (the CLI stays fast).
"""

from gen_models.core.errors import (
    GenModelsError,
    InputError,
    ManifestError,
    WeightsIntegrityError,
    WeightsUnavailableError,
)

__all__ = [
    "GenModelsError",
    "InputError",
    "ManifestError",
    "WeightsIntegrityError",
    "WeightsUnavailableError",
    "load",
]


def load(name: str):
    """The ready-to-use model called ``name`` (see :func:`gen_models.core.registry.load`)."""
    from gen_models.core.registry import load as _load

    return _load(name)
