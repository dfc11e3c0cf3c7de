"""Fixtures of the batch tests: a folder of photos and a catalog with tiny random weights (see batch_helpers)."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
import torch
from batch_helpers import GENERATOR, MISSING, TRANSLATOR, write_photos
from catalogs import shipped_entries


@pytest.fixture(scope="module")
def photos(tmp_path_factory) -> Path:
    return write_photos(tmp_path_factory.mktemp("photos"))


@pytest.fixture(scope="module")
def catalog(tmp_path_factory):
    """GEN_MODELS_MANIFEST / GEN_MODELS_WEIGHTS_DIR for the module: the shipped entries, a tiny CycleGAN
    (``<direction>.pth`` as released) and a tiny DCGAN (HugGAN ``model.*`` keys)."""
    from random_weights import tutorial_state_dict
    from staging import CYCLEGAN_TINY, RECIPES

    from gen_models.core import registry

    root = tmp_path_factory.mktemp("catalog")
    (root / TRANSLATOR).mkdir()  # the released file's layout (with the old InstanceNorm buffers), random values
    RECIPES["cyclegan"].write(None, CYCLEGAN_TINY, 0, root / TRANSLATOR / "horse2zebra.pth")
    torch.manual_seed(0)
    state = {k.replace("main.", "model.", 1): v for k, v in tutorial_state_dict(hidden=8).items()}
    buffer = io.BytesIO()
    torch.save(state, buffer)
    (root / GENERATOR).mkdir()
    (root / GENERATOR / "pytorch_model.bin").write_bytes(buffer.getvalue())
    common = {"license": "MIT", "source": "https://example.org"}
    weights = {**shipped_entries(),
               TRANSLATOR: {**common, "url": "https://example.org/horse2zebra.pth", "filename": "horse2zebra.pth",
                            "task": "translation", "architecture": "cyclegan", "config": CYCLEGAN_TINY,
                            "description": "tiny random horse to zebra"},
               GENERATOR: {**common, "url": "https://example.org/dcgan.bin", "filename": "pytorch_model.bin",
                           "task": "face-generation", "architecture": "dcgan", "description": "tiny random DCGAN"},
               MISSING: {**common, "url": "https://example.org/missing.pth", "filename": "missing.pth",
                         "task": "translation", "architecture": "cyclegan", "config": CYCLEGAN_TINY,
                         "description": "weights that are not on this machine"}}
    (root / "manifest.json").write_text(json.dumps({"version": 1, "weights": weights}))
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("GEN_MODELS_MANIFEST", str(root / "manifest.json"))
        patch.setenv("GEN_MODELS_WEIGHTS_DIR", str(root))
        registry.clear()
        yield root
    registry.clear()

