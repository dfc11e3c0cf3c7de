"""Adding a model of an existing task is one catalog entry: no pipeline, tab or list changes (README, "Adding a
model"). A test catalog gains a second Zhang colorizer; the colorize pipeline, the API's choices and the tab's
menu all offer it, and it colorizes."""

from __future__ import annotations

import json

import numpy as np
from PIL import Image
from staging import RECIPES

import gen_models
from gen_models.core import registry
from gen_models.core.manifest import DEFAULT_MANIFEST, load_manifest
from gen_models.pipelines.colorize import colorize, colorizer_models

NEW = "zhang-eccv16-retrained"


def test_a_new_colorizer_is_one_catalog_entry(tmp_path, monkeypatch):
    base = json.loads(DEFAULT_MANIFEST.read_text())
    entry = {
        "task": "colorization", "title": "Zhang ECCV16, retrained", "architecture": "zhang",
        "config": {"variant": "eccv16"}, "url": "https://example.org/zhang-retrained.pth",
        "filename": "zhang-retrained.pth", "license": "bsd-2-clause", "source": "https://github.com/richzhang/colorization",
        "description": "the same network with other weights",
    }
    base["weights"][NEW] = entry
    catalog = tmp_path / "catalog.json"
    catalog.write_text(json.dumps(base))
    weights = tmp_path / "weights"
    RECIPES["zhang"].write(load_manifest(catalog)[NEW], entry["config"], 3, _target(weights))
    monkeypatch.setenv("GEN_MODELS_MANIFEST", str(catalog))
    monkeypatch.setenv("GEN_MODELS_WEIGHTS_DIR", str(weights))
    monkeypatch.setenv("GEN_MODELS_DEVICE", "cpu")
    registry.clear()
    try:
        assert NEW in gen_models.list_models("colorization") and NEW in colorizer_models()
        photo = tmp_path / "gray.png"
        Image.fromarray(np.tile(np.linspace(0, 255, 48, dtype=np.uint8), (32, 1))).save(photo)
        result = colorize(photo, model=NEW)
        out = np.asarray(Image.open(result.path))
        assert out.shape == (32, 48, 3) and result.render_factor is None and result.model == NEW

        from webui.components import model_dropdown

        menu = model_dropdown("colorization")
        assert (NEW, NEW) in [tuple(c) for c in menu.choices] and menu.value == "deoldify-artistic"
    finally:
        registry.clear()


def _target(weights):
    folder = weights / NEW
    folder.mkdir(parents=True)
    return folder / "zhang-retrained.pth"
