"""Colorization pipeline: DeOldify's steps keep the photo's size and brightness (Y), odd render sizes work, colour
photos are made gray first, outputs are labelled; bad inputs get clear messages. Weights are random, written in
the official layouts, and reach the pipeline through the manifest and registry (local weights folder)."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from PIL import Image
from random_weights import official_artistic_state

from gen_models.core import registry
from gen_models.core.errors import InputError
from gen_models.media.image import read_png_metadata
from gen_models.models.zhang import Config as ZhangConfig
from gen_models.models.zhang import build
from gen_models.pipelines.colorize import colorize, deoldify_colorize, render_factor_sweep, to_gray

EXAMPLES = Path(__file__).resolve().parents[2] / "spaces" / "colorize" / "examples"


def y_channel(rgb: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(rgb, cv2.COLOR_RGB2YUV)[..., 0].astype(np.int16)


def luma_kept(out: np.ndarray, gray: np.ndarray) -> bool:
    """Y of the output equals the input's up to rounding, wherever the colour fits in RGB (no channel clipped)."""
    fits = ((out > 0) & (out < 255)).all(axis=2)
    assert fits.mean() > 0.5
    return int(np.abs(y_channel(out) - y_channel(gray))[fits].max()) <= 2


@pytest.fixture(scope="module")
def colorizers(tmp_path_factory):
    """A manifest with an Artistic DeOldify and an ECCV16 colorizer, random weights in a local weights folder."""
    folder = tmp_path_factory.mktemp("colorize")
    (folder / "deoldify-artistic").mkdir()
    torch.save(official_artistic_state(), folder / "deoldify-artistic" / "ColorizeArtistic_gen.pth")
    (folder / "zhang-eccv16").mkdir()
    torch.manual_seed(0)
    torch.save(build(ZhangConfig("eccv16")).state_dict(), folder / "zhang-eccv16" / "eccv16.pth")
    common = {"license": "mit", "source": "https://example.org", "revision": "main"}
    manifest = {"version": 1, "weights": {
        "deoldify-artistic": {"repo_id": "t/deoldify", "filename": "ColorizeArtistic_gen.pth",
            "task": "colorization", "architecture": "deoldify",
                              "config": {"variant": "artistic"}, **common},
        "zhang-eccv16": {"repo_id": "t/zhang", "filename": "eccv16.pth", "task": "colorization", "architecture": "zhang",
                         "config": {"variant": "eccv16"}, **common},
    }}
    (folder / "manifest.json").write_text(json.dumps(manifest))
    mp = pytest.MonkeyPatch()
    mp.setenv("GEN_MODELS_MANIFEST", str(folder / "manifest.json"))
    mp.setenv("GEN_MODELS_WEIGHTS_DIR", str(folder))
    registry.clear()
    yield folder
    registry.clear()
    mp.undo()


def test_deoldify_keeps_size_and_brightness_and_labels_the_png(colorizers):
    result = colorize(EXAMPLES / "cameraman.png", "deoldify-artistic", render_factor=7)
    gray = np.asarray(Image.open(EXAMPLES / "cameraman.png").convert("RGB"))
    out = np.asarray(Image.open(result.path).convert("RGB"))
    assert out.shape == gray.shape == (512, 512, 3) and result.render_factor == 7
    assert luma_kept(out, gray)
    assert np.abs(out[..., 0].astype(int) - out[..., 2]).mean() > 1  # the chroma comes from the model
    meta = read_png_metadata(result.path)
    assert "AI" in json.dumps(meta) and "render factor 7" in json.dumps(meta)


def test_colour_photos_are_made_gray_first(colorizers):
    result = colorize(EXAMPLES / "chelsea_cat.jpg", "deoldify-artistic", render_factor=7)
    photo = np.asarray(Image.open(EXAMPLES / "chelsea_cat.jpg").convert("RGB"))
    out = np.asarray(Image.open(result.path).convert("RGB"))
    assert out.shape == photo.shape
    assert luma_kept(out, to_gray(photo))
    assert any("colours" in note for note in result.notes)
    assert np.array_equal(np.asarray(Image.open(result.gray_path).convert("RGB")), to_gray(photo))


def test_odd_render_sizes_and_the_raw_output(colorizers):
    model = registry.load("deoldify-artistic")
    gray = to_gray(np.asarray(Image.open(EXAMPLES / "chelsea_cat.jpg").convert("RGB"))[:200, :300])
    for factor in (9,):  # 144 px: not a multiple of 32, so the U-Net's skips need resizing
        out = deoldify_colorize(model, gray, factor)
        assert out.shape == gray.shape
    raw = deoldify_colorize(model, gray, 9, post_process=False)
    assert raw.shape == gray.shape and np.abs(y_channel(raw) - y_channel(gray)).max() > 2


def test_deoldify_steps_equal_a_reference_computation(colorizers):
    """Stretch to render size with PIL bilinear, LA→RGB, ImageNet normalise, model, de-normalise, clamp, truncate."""
    model = registry.load("deoldify-artistic")
    gray = to_gray(np.asarray(Image.open(EXAMPLES / "cameraman.png").convert("RGB"))[:100, :140])
    mean, std = torch.tensor([0.485, 0.456, 0.406])[:, None, None], torch.tensor([0.229, 0.224, 0.225])[:, None, None]
    square = Image.fromarray(gray).resize((112, 112), Image.BILINEAR).convert("LA").convert("RGB")
    x = (torch.from_numpy(np.array(square)).permute(2, 0, 1).float() / 255 - mean) / std
    with torch.no_grad():
        y = (model(x[None])[0] * std + mean).clamp(0, 1)
    expected = np.asarray(Image.fromarray((y.permute(1, 2, 0).numpy() * 255).astype(np.uint8))
                          .resize((140, 100), Image.BILINEAR))
    got = deoldify_colorize(model, gray, 7, post_process=False)
    assert np.abs(got.astype(int) - expected).max() <= 1


def test_zhang_keeps_lightness(colorizers):
    result = colorize(EXAMPLES / "cameraman.png", "zhang-eccv16")
    out = np.asarray(Image.open(result.path).convert("RGB"))
    assert out.shape == (512, 512, 3) and result.render_factor is None
    assert np.abs(y_channel(out) - y_channel(np.asarray(Image.open(EXAMPLES / "cameraman.png").convert("RGB")))).mean() < 2


def test_sweep_and_bad_inputs(colorizers, tmp_path):
    sweep = render_factor_sweep(EXAMPLES / "cameraman.png", "deoldify-artistic", factors=(7, 8))
    assert [f for f, _ in sweep] == [7, 8] and all(Path(p).is_file() for _, p in sweep)
    with pytest.raises(InputError, match="render factor must be a whole number from 7 to 45"):
        colorize(EXAMPLES / "cameraman.png", "deoldify-artistic", render_factor=60)
    with pytest.raises(InputError, match="Unknown colorization model"):
        colorize(EXAMPLES / "cameraman.png", "nope")
    with pytest.raises(InputError, match="sweep is for models with a render factor"):
        render_factor_sweep(EXAMPLES / "cameraman.png", "zhang-eccv16")
    fake = tmp_path / "photo.jpg"
    fake.write_text("not an image")
    with pytest.raises(InputError, match="photo.jpg"):
        colorize(fake, "deoldify-artistic", render_factor=7)
