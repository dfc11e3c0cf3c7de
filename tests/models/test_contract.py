"""One contract for every catalog entry: it builds without weights, random weights written in its official layout
load strictly through the registry into the same shapes, and the loaded model does its task's job with an output
of the right shape and range.

Large architectures are staged in the small configurations their loaders accept (tests/fixtures/staging.py);
bundled files are the real ones; package models (dlib) come from the installed package.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from staging import stage_weights

import gen_models
from gen_models.core import registry
from gen_models.core.manifest import DEFAULT_MANIFEST, load_manifest

CATALOG = [e.name for e in load_manifest(DEFAULT_MANIFEST) if e.task != "dataset"]
RNG = np.random.default_rng(0)


@pytest.fixture(scope="module")
def staged(tmp_path_factory):
    return stage_weights(tmp_path_factory.mktemp("contract"))


@pytest.fixture
def catalog(staged, monkeypatch):
    for key, value in staged.env().items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("GEN_MODELS_DEVICE", "cpu")
    registry.clear()
    yield load_manifest()
    registry.clear()


def _photo(size: int = 64) -> np.ndarray:
    return RNG.integers(0, 256, (size, size, 3), dtype=np.uint8)


def _check_task(task: str, model) -> None:
    """What a user of the task would notice: output shape and range."""
    with torch.inference_mode():
        if task == "age":
            from gen_models.media.face import face_finder

            rgb = _photo(96)
            faces = model.predict_faces(rgb, [face_finder().whole_image(rgb)], True)
            assert len(faces) == 1 and 0 <= faces[0]["age"] <= 100
        elif task in ("face-generation", "digits-generation"):
            out = model(torch.randn(2, model.z_dim))
            assert out.shape[0] == 2 and out.shape[1] in (1, 3) and torch.isfinite(out).all()
            if task == "digits-generation":  # a tanh output
                assert -1 <= out.min() and out.max() <= 1
        elif task == "talking-head":
            frames = torch.rand(2, 3, 256, 256)
            kp = model.keypoints(frames[:1])
            assert model.keypoints_key in kp
            out = model.render(frames[:1], kp, model.keypoints(frames[1:]))
            assert out.shape == (1, 3, 256, 256) and 0 <= out.min() and out.max() <= 1
        elif task == "colorization":
            gray = np.repeat(RNG.integers(0, 256, (40, 56, 1), dtype=np.uint8), 3, axis=2)
            out = model.colorize(gray, 7, True)
            assert out.shape == gray.shape and out.dtype == np.uint8
        elif task == "translation":
            from gen_models.models.cyclegan import translate

            out = translate(model, _photo(), 64)
            assert out.shape == (64, 64, 3) and out.dtype == np.uint8
        elif task == "face-swap":
            size = model.size
            for side in ("a", "b"):
                out = model(torch.rand(2, 3, size, size), side)
                assert out.shape == (2, 3, size, size) and 0 <= out.min() and out.max() <= 1
        elif task == "autoencoder":
            out = model(torch.rand(3, 28, 28))
            assert out.shape == (3, 1, 28, 28) and 0 <= out.min() and out.max() <= 1
        else:
            pytest.fail(f"no contract check for task {task!r}: add one here")


@pytest.mark.parametrize("name", CATALOG)
def test_every_catalog_entry_builds_loads_strictly_and_does_its_task(name, catalog):
    entry = catalog[name]
    fresh = gen_models.create(name, weights=False)
    loaded = gen_models.create(name)
    if isinstance(fresh, torch.nn.Module):
        fresh_shapes = {k: tuple(v.shape) for k, v in fresh.state_dict().items()}
        loaded_shapes = {k: tuple(v.shape) for k, v in loaded.state_dict().items()}
        assert fresh_shapes == loaded_shapes, f"{name}: build() and load() disagree on the layout"
        assert not loaded.training
    _check_task(entry.task, loaded)
    assert gen_models.load(name) is gen_models.load(name)  # the registry's cache


def test_every_task_has_one_default_and_require_names_the_choices(catalog):
    for task in {e.task for e in catalog if e.task != "dataset"}:
        names = gen_models.list_models(task)
        assert names and sum(catalog[n].default for n in names) == 1, task
        assert catalog[names[0]].default and gen_models.default_model(task) == names[0]
    with pytest.raises(gen_models.InputError, match=r"Unknown colorization model 'fomm-vox'; choose one of: deoldify"):
        gen_models.require("fomm-vox", "colorization")


def test_list_models_names_every_bundled_and_package_model():
    names = gen_models.list_models()
    assert {"dlib-age", "tutorial-all", "lab-all", "tutorial-7", "dense", "conv", "dense-denoise"} <= set(names)
    assert len(names) == len(set(names))


@pytest.mark.parametrize("name", ["dlib-age", "tutorial-all", "lab-all", "tutorial-7", "dense", "conv",
                                  "dense-denoise"])
def test_bundled_models_load_offline_from_the_repo_catalog(name, monkeypatch):
    monkeypatch.delenv("GEN_MODELS_MANIFEST", raising=False)
    monkeypatch.delenv("GEN_MODELS_WEIGHTS_DIR", raising=False)
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # a closed port: nothing may be downloaded
    registry.clear()
    try:
        model = gen_models.load(name)
        _check_task(load_manifest()[name].task, model)
    finally:
        registry.clear()
