"""CycleGAN translation as users call it: through the manifest and registry, at the photo's size, labelled."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from gen_models.core import registry
from gen_models.core.errors import InputError
from gen_models.media.image import read_png_metadata
from gen_models.models.cyclegan import ResnetGenerator, translate
from gen_models.pipelines.translation import translate_photo, translation_models

EXAMPLES = Path(__file__).resolve().parents[2] / "spaces" / "colorize" / "examples"


@pytest.fixture
def cyclegan(tmp_path, monkeypatch):
    torch.manual_seed(0)
    model = ResnetGenerator(ngf=8, n_blocks=2)
    (tmp_path / "cyclegan-horse2zebra").mkdir()
    torch.save(model.state_dict(), tmp_path / "cyclegan-horse2zebra" / "horse2zebra.pth")
    manifest = {"version": 1, "weights": {"cyclegan-horse2zebra": {
        "url": "https://example.org/horse2zebra.pth", "filename": "horse2zebra.pth", "license": "bsd",
        "source": "https://example.org", "task": "translation", "architecture": "cyclegan", "config": {"ngf": 8, "n_blocks": 2},
        "description": "tiny horse to zebra"}}}
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    monkeypatch.setenv("GEN_MODELS_MANIFEST", str(tmp_path / "manifest.json"))
    monkeypatch.setenv("GEN_MODELS_WEIGHTS_DIR", str(tmp_path))
    registry.clear()
    yield model.eval()
    registry.clear()


def test_translation_keeps_the_photo_size_and_equals_the_model(cyclegan):
    assert translation_models() == {"cyclegan-horse2zebra": "tiny horse to zebra"}
    result = translate_photo(EXAMPLES / "chelsea_cat.jpg", max_side=128)
    photo = np.asarray(Image.open(EXAMPLES / "chelsea_cat.jpg").convert("RGB"))
    out = np.asarray(Image.open(result.path))
    assert out.shape == photo.shape and result.size == (451, 300)
    assert np.abs(out.astype(int) - translate(cyclegan, photo, 128)).max() <= 1
    assert "AI-generated" in json.dumps(read_png_metadata(result.path))


def test_translation_bad_inputs(cyclegan, tmp_path):
    with pytest.raises(InputError, match="Unknown translation model"):
        translate_photo(EXAMPLES / "chelsea_cat.jpg", model="cyclegan-zebra2horse")
    with pytest.raises(InputError, match="working size"):
        translate_photo(EXAMPLES / "chelsea_cat.jpg", max_side=5000)
    broken = tmp_path / "horse.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(20))
    with pytest.raises(InputError, match="horse.png"):
        translate_photo(broken)
