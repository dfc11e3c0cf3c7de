"""Manifest validation, device choice, the gpu decorator and the model cache."""

from __future__ import annotations

import json
import sys
import threading
import time
from pathlib import Path

import pytest
import torch

from gen_models.core import device as gm_device
from gen_models.core.errors import GenModelsError, ManifestError
from gen_models.core.manifest import load_manifest, parse_manifest
from gen_models.core.registry import ARCHITECTURES, NOT_MODELS, ModelCache
from gen_models.train.digits import MNIST_FILES

GOOD = {
    "task": "age",
    "repo_id": "owner/repo",
    "filename": "dir/file.bin",
    "revision": "main",
    "license": "mit",
    "source": "https://example.org",
    "architecture": "agenet",
}


def check(entry: dict) -> None:
    parse_manifest({"version": 1, "weights": {"my-entry": entry}})


def test_project_manifest_is_valid_and_every_architecture_has_a_loader():
    manifest = load_manifest()
    assert manifest.entries
    for entry in manifest:
        assert entry.architecture in ARCHITECTURES or entry.architecture in NOT_MODELS, entry.name
        assert entry.revision or entry.url or entry.bundled or entry.package, entry.name
    assert {e.name for e in manifest if e.architecture == "dataset"} == set(MNIST_FILES.values())


@pytest.mark.parametrize(
    "change, field, words",
    [
        ({"sha256": "abc"}, "sha256", "64 lower-case hex"),
        ({"repo_type": "bucket"}, "repo_type", "model, dataset, space"),
        ({"repo_id": "no-slash"}, "repo_id", "owner/name"),
        ({"size": -5}, "size", "positive integer"),
        ({"filename": "../up.bin"}, "filename", "relative path"),
        ({"licence": "typo"}, "licence", "not a known field"),
        ({"source": "somewhere"}, "source", "link"),
        ({"config": [1]}, "config", "JSON object"),
        ({"task": "painting"}, "task", "must be one of age, face-generation"),
        ({"url": "https://example.org/f.bin"}, "url", "exactly one of repo_id, url, bundled or package"),
        ({"bundled": "nowhere/f.bin", "repo_id": ""}, "bundled", "under gen_models/bundled"),
        ({"io": {"input": {"kind": "image"}}}, "io.output", "required"),
        ({"half": "maybe"}, "half", "boolean"),
    ],
)
def test_bad_fields_are_named(change, field, words):
    with pytest.raises(ManifestError) as info:
        check({**GOOD, **change})
    assert "entry 'my-entry'" in str(info.value) and f"field '{field}'" in str(info.value)
    assert words in str(info.value)


def test_a_task_has_at_most_one_default():
    entries = {"a": {**GOOD, "default": True}, "b": {**GOOD, "default": True}}
    with pytest.raises(ManifestError, match="task 'age' has 2 defaults"):
        parse_manifest({"version": 1, "weights": entries})


def test_missing_required_field_is_named():
    broken = dict(GOOD)
    del broken["revision"]
    with pytest.raises(ManifestError, match="entry 'my-entry': field 'revision' is required"):
        check(broken)


def test_manifest_env_override_and_bad_json(tmp_path, monkeypatch):
    path = tmp_path / "m.json"
    path.write_text(json.dumps({"version": 1, "weights": {"only-one": GOOD}}))
    monkeypatch.setenv("GEN_MODELS_MANIFEST", str(path))
    assert list(load_manifest().entries) == ["only-one"]
    with pytest.raises(ManifestError, match="no model named 'other'.*only-one"):
        load_manifest()["other"]
    path.write_text("{not json")
    with pytest.raises(ManifestError, match="not valid JSON"):
        load_manifest()
    path.write_text(json.dumps({"version": 2, "weights": {}}))
    with pytest.raises(ManifestError, match="'version' must be 1"):
        load_manifest()


def test_device_choice_and_override(monkeypatch):
    monkeypatch.delenv("GEN_MODELS_DEVICE", raising=False)
    expected = "cuda" if torch.cuda.is_available() else ("mps" if gm_device._mps_available() else "cpu")
    assert gm_device.get_device().type == expected
    monkeypatch.setenv("GEN_MODELS_DEVICE", "cpu")
    assert gm_device.get_device() == torch.device("cpu")
    monkeypatch.setenv("GEN_MODELS_DEVICE", "toaster")
    with pytest.raises(GenModelsError, match="GEN_MODELS_DEVICE must be one of .*, got 'toaster'"):
        gm_device.get_device()
    if not torch.cuda.is_available():
        monkeypatch.setenv("GEN_MODELS_DEVICE", "cuda")
        with pytest.raises(GenModelsError, match="no CUDA GPU"):
            gm_device.get_device()


def test_half_precision_only_on_cuda_for_models_that_allow_it(monkeypatch):
    cpu, cuda = torch.device("cpu"), torch.device("cuda")
    assert gm_device.compute_dtype(cpu, model_supports_half=True) == torch.float32
    assert gm_device.compute_dtype(cuda, model_supports_half=False) == torch.float32
    assert gm_device.compute_dtype(cuda, model_supports_half=True) == torch.float16
    monkeypatch.setenv("GEN_MODELS_HALF", "0")
    assert gm_device.compute_dtype(cuda, model_supports_half=True) == torch.float32


def test_repo_spaces_folder_does_not_shadow_the_zerogpu_package(tmp_path):
    """`import spaces` must give the installed ZeroGPU package even from the repo root (spaces/ has no __init__)."""
    import subprocess

    root = Path(__file__).resolve().parents[2]
    assert not (root / "spaces" / "__init__.py").exists()
    site = tmp_path / "site" / "spaces"
    site.mkdir(parents=True)
    (site / "__init__.py").write_text("ZERO = 'the real one'\n")
    code = "import spaces, app; print(spaces.ZERO)"
    env = {"PYTHONPATH": str(tmp_path / "site"), "PATH": "/usr/bin:/bin", "GRADIO_ANALYTICS_ENABLED": "False"}
    result = subprocess.run([sys.executable, "-c", code], cwd=root, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().endswith("the real one")


def test_model_cache_reuses_bounds_and_loads_once():
    cache = ModelCache(max_items=2)
    builds: list[str] = []

    def builder(name):
        def build():
            time.sleep(0.05)
            builds.append(name)
            return object()

        return build

    threads = [threading.Thread(target=cache.get, args=("a", builder("a"))) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert builds == ["a"]
    first = cache.get("a", builder("a"))
    assert cache.get("a", builder("a")) is first
    cache.get("b", builder("b"))
    cache.get("a", builder("a"))  # touch a: b is now least recently used
    cache.get("c", builder("c"))
    assert cache.keys() == ["a", "c"]
    assert builds == ["a", "b", "c"]


def test_cpu_models_are_laid_out_channels_last_where_their_architecture_says():
    """registry.create lays out a model channels-last on a CPU when its architecture measured faster so (oneDNN's
    NHWC convolutions); its output is the plain layout's, to float rounding; other models keep the plain layout."""
    import copy

    import numpy as np

    from gen_models.core import registry
    from gen_models.models import cyclegan

    flagged = {name for name in ARCHITECTURES if getattr(registry.architecture(name), "CPU_CHANNELS_LAST", False)}
    assert {"fomm", "tpsmm", "pggan", "deoldify", "agenet", "cyclegan", "zhang"} <= flagged
    torch.manual_seed(0)
    model = registry.create("cyclegan-horse2zebra", weights=False, device="cpu")
    convs = [m for m in model.modules() if isinstance(m, torch.nn.Conv2d)]
    assert convs and all(c.weight.is_contiguous(memory_format=torch.channels_last) for c in convs)
    plain = copy.deepcopy(model).to(memory_format=torch.contiguous_format)
    assert not plain.state_dict().keys() ^ model.state_dict().keys()  # the same official keys
    image = np.random.default_rng(1).integers(0, 256, (64, 96, 3), dtype=np.uint8)
    got, want = cyclegan.translate(model, image), cyclegan.translate(plain, image)
    assert got.shape == want.shape == image.shape
    assert np.abs(got.astype(int) - want.astype(int)).max() <= 1  # rounding can move a truncated level by one
    digits = registry.create("lab-all", weights=False, device="cpu")
    assert "dcgan-digits" not in flagged
    assert all(p.is_contiguous() for p in digits.parameters())
