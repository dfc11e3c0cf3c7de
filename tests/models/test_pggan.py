"""genforce PGGAN generator: the huggan/pggan-celebahq-1024 key set, forward pass against an independent
functional re-implementation, level-of-detail semantics, and clear errors for files that do not fit."""

from __future__ import annotations

import hashlib
import io
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from random_weights import genforce_shapes, pggan_random_state

from gen_models.core import hub as gm_hub
from gen_models.core import registry
from gen_models.core.errors import WeightsIntegrityError
from gen_models.core.manifest import load_manifest
from gen_models.models.pggan import PGGANGenerator, from_manifest
from gen_models.pipelines.faces import to_uint8

TINY = {"resolution": 32, "z_dim": 24, "fmaps_base": 256, "fmaps_max": 32}  # channels 32, 32, 16, 8
CPU = torch.device("cpu")


def reference_features(state: dict[str, torch.Tensor], z: torch.Tensor, levels: int | None = None) -> list:
    """genforce's forward in plain torch.nn.functional: the features after each level's two convolutions."""

    def pn(x):
        return x / torch.sqrt(torch.mean(x**2, dim=1, keepdim=True) + 1e-8)

    def conv(x, name, padding, upsample=False):
        w, b = state[f"{name}.weight"], state[f"{name}.bias"]
        x = pn(x)
        if upsample:
            x = F.interpolate(x, scale_factor=2, mode="nearest")
        scale = math.sqrt(2.0) / math.sqrt(w.shape[1] * w.shape[2] * w.shape[3])
        return F.leaky_relu(F.conv2d(x, w * scale, padding=padding) + b.view(1, -1, 1, 1), 0.2)

    x = pn(z)[:, :, None, None]
    features = []
    if levels is None:
        levels = sum(1 for key in state if key.startswith("output") and key.endswith(".weight"))
    for k in range(levels):
        x = conv(x, f"layer{2 * k}", padding=3) if k == 0 else conv(x, f"layer{2 * k}", 1, upsample=True)
        x = conv(x, f"layer{2 * k + 1}", padding=1)
        features.append(x)
    return features


def reference_rgb(state: dict[str, torch.Tensor], feature: torch.Tensor, k: int) -> torch.Tensor:
    w, b = state[f"output{k}.weight"], state[f"output{k}.bias"]
    x = feature / torch.sqrt(torch.mean(feature**2, dim=1, keepdim=True) + 1e-8)
    return F.conv2d(x, w / math.sqrt(w.shape[1])) + b.view(1, -1, 1, 1)


def tiny_model(state: dict[str, torch.Tensor]) -> PGGANGenerator:
    model = PGGANGenerator(**TINY)
    model.load_state_dict(state, strict=True)
    return model.eval()


def test_real_size_checkpoint_loads_strictly_through_the_registry(hub, monkeypatch):
    shapes = genforce_shapes()
    assert len(shapes) == 55
    assert shapes["layer0.weight"] == (512, 512, 4, 4) and shapes["layer17.weight"] == (16, 16, 3, 3)
    assert shapes["output8.weight"] == (3, 16, 1, 1) and "layer18.weight" not in shapes
    state = pggan_random_state(seed=1)
    buffer = io.BytesIO()
    torch.save(state, buffer)
    data = buffer.getvalue()
    assert 92_250_000 < len(data) < 92_400_000  # the Hub lists pytorch_model.bin at 92.3 MB

    hub.hub.add("huggan/pggan-celebahq-1024", "pytorch_model.bin", data)
    hub.write_manifest(
        **{
            "pggan-celebahq-1024": {
                "repo_id": "huggan/pggan-celebahq-1024",
                "filename": "pytorch_model.bin",
                "task": "face-generation", "architecture": "pggan",
                "sha256": hashlib.sha256(data).hexdigest(),
                "size": len(data),
            }
        }
    )
    monkeypatch.setenv("GEN_MODELS_DEVICE", "cpu")
    registry.clear()
    try:
        model = registry.load("pggan-celebahq-1024")
        assert isinstance(model, PGGANGenerator) and not model.training
        assert model.resolution == 1024 and model.z_dim == 512 and model.num_levels == 9
        loaded = model.state_dict()
        assert {k: tuple(v.shape) for k, v in loaded.items()} == shapes
        for key in ("lod", "layer0.weight", "layer9.bias", "output8.weight"):
            assert torch.equal(loaded[key], state[key])
        path = gm_hub.weights_path(load_manifest()["pggan-celebahq-1024"])
        assert from_manifest(path, {}, CPU).state_dict()["layer17.weight"].equal(state["layer17.weight"])
        z = torch.randn(1, 512, generator=torch.Generator().manual_seed(3))
        with torch.no_grad():
            preview = model(z, out_level=model.level_for_resolution(16))
        ref = reference_rgb(state, reference_features(state, z, levels=3)[2], 2)
        assert preview.shape == (1, 3, 16, 16)
        assert torch.allclose(preview, ref, atol=1e-4, rtol=1e-4)
    finally:
        registry.clear()


def test_forward_matches_an_independent_functional_implementation():
    """Compared in float64 (≤1e-5: same maths); float32 differs only by rounding over 8 convolutions (≤1e-4)."""
    state = pggan_random_state(seed=2, **TINY)
    model = tiny_model(state)
    z = torch.randn(4, TINY["z_dim"], generator=torch.Generator().manual_seed(5)) * 3.0
    with torch.no_grad():
        image = model(z)
        state64 = {k: v.double() for k, v in state.items()}
        features = reference_features(state64, z.double())
        expected = reference_rgb(state64, features[-1], 3)
        assert image.shape == (4, 3, 32, 32) and image.dtype == torch.float32
        assert (model.double()(z.double()) - expected).abs().max().item() <= 1e-5
        assert (image.double() - expected).abs().max().item() <= 1e-4
        assert image.abs().max() > 1.0  # not clamped: random weights overshoot [-1, 1]
        for k, res in enumerate((4, 8, 16, 32)):
            assert model.level_for_resolution(res) == k
            low = model(z.double(), out_level=k)
            assert low.shape == (4, 3, res, res)
            assert (low - reference_rgb(state64, features[k], k)).abs().max().item() <= 1e-5
        model.float()
        assert torch.equal(model(z), image)  # same z, same image
        assert (model(z[:1]) - image[:1]).abs().max() <= 1e-4  # no batch statistics, only rounding


def test_lod_buffer_follows_genforce_progressive_blending():
    z = torch.randn(2, TINY["z_dim"], generator=torch.Generator().manual_seed(7))
    state = pggan_random_state(seed=3, **TINY)
    state64 = {k: v.double() for k, v in state.items()}
    features = reference_features(state64, z.double())
    rgb = [reference_rgb(state64, f, k) for k, f in enumerate(features)]
    with torch.no_grad():
        one = tiny_model({**state, "lod": torch.tensor(1.0)}).double()(z.double())
        assert one.shape == (2, 3, 32, 32)
        assert (one - F.interpolate(rgb[2], scale_factor=2, mode="nearest")).abs().max() <= 1e-5
        quarter = tiny_model({**state, "lod": torch.tensor(0.25)}).double()(z.double())
        blend = rgb[3] * 0.75 + F.interpolate(rgb[2], scale_factor=2, mode="nearest") * 0.25
        assert (quarter - blend).abs().max() <= 1e-5
        model = tiny_model({**state, "lod": torch.tensor(5.0)})
        with pytest.raises(ValueError, match="lod"):
            model(z)
    with pytest.raises(ValueError, match="out_level"):
        tiny_model(state)(z, out_level=4)
    with pytest.raises(ValueError, match="24"):
        tiny_model(state)(torch.zeros(1, 7))
    with pytest.raises(ValueError, match="4, 8, 16, 32"):
        tiny_model(state).level_for_resolution(64)


def test_to_uint8_clamps_scales_and_rounds():
    images = torch.tensor([-3.0, -1.0, 0.0, 0.5, 1.0, 7.0]).view(1, 3, 1, 2)
    out = to_uint8(images)
    assert out.dtype == np.uint8 and out.shape == (1, 1, 2, 3)
    assert out[0, 0].tolist() == [[0, 128, 255], [0, 191, 255]]  # pixel = (R, G, B) across the three channels
    random = to_uint8(tiny_model(pggan_random_state(**TINY))(torch.randn(3, TINY["z_dim"])))
    assert random.shape == (3, 32, 32, 3) and random.dtype == np.uint8


def test_to_uint8_gives_the_bytes_of_sefas_postprocess():
    """SeFa's utils.postprocess written out in numpy (scale, + 0.5, clip, astype = truncation), on values that sit on
    and next to every rounding boundary; rounding instead of truncating would differ on the exact halves."""
    steps = (np.arange(256, dtype=np.float32) - 0.5) / 127.5 - 1  # (x + 1) · 127.5 = k - 0.5: exact halves
    near = np.concatenate([steps, np.nextafter(steps, np.float32(2)), np.nextafter(steps, np.float32(-2)),
                           np.random.default_rng(0).uniform(-1.2, 1.2, 4096).astype(np.float32)])
    images = torch.from_numpy(near[: len(near) // 3 * 3].reshape(1, 3, 1, -1))
    official = images.numpy()
    official = (official - -1.0) * 255 / (1.0 - -1.0)
    official = np.clip(official + 0.5, 0, 255).astype(np.uint8).transpose(0, 2, 3, 1)
    assert np.array_equal(to_uint8(images), official)


def test_from_manifest_accepts_genforce_wrappers_and_safetensors(tmp_path):
    from safetensors.torch import save_file

    state = pggan_random_state(seed=4, **TINY)
    z = torch.randn(2, TINY["z_dim"], generator=torch.Generator().manual_seed(9))
    expected = tiny_model(state)(z).detach()
    torch.save({"generator": pggan_random_state(seed=8, **TINY), "generator_smooth": state}, tmp_path / "genforce.pth")
    save_file({k: v.contiguous() for k, v in state.items()}, str(tmp_path / "g.safetensors"))
    for name in ("genforce.pth", "g.safetensors"):
        model = from_manifest(tmp_path / name, TINY, CPU)
        assert not model.training
        with torch.no_grad():
            assert torch.equal(model(z), expected)


@pytest.mark.parametrize(
    "change, words",
    [
        (lambda s: s.pop("output1.bias"), ["missing keys", "output1.bias"]),
        (lambda s: s.pop("lod"), ["missing keys", "lod"]),
        (lambda s: s.update({"layer2.weight": torch.zeros(32, 16, 3, 3)}), ["wrong shapes", "layer2.weight"]),
        (lambda s: s.update({"layer8.weight": torch.zeros(8, 8, 3, 3)}), ["unexpected keys", "layer8.weight"]),
    ],
)
def test_checkpoints_that_do_not_fit_name_the_key(tmp_path, change, words):
    state = pggan_random_state(**TINY)
    change(state)
    torch.save(state, tmp_path / "bad.bin")
    with pytest.raises(WeightsIntegrityError) as info:
        from_manifest(tmp_path / "bad.bin", TINY, CPU)
    assert "bad.bin" in str(info.value)
    for word in words:
        assert word in str(info.value)


def test_files_that_are_not_a_generator_are_refused(tmp_path):
    torch.save({"lod": torch.tensor(0.0), "note": "text"}, tmp_path / "mixed.bin")
    with pytest.raises(WeightsIntegrityError, match="not a PGGAN generator state_dict"):
        from_manifest(tmp_path / "mixed.bin", TINY, CPU)
    torch.save({**pggan_random_state(**TINY), "lod": torch.tensor(9.0)}, tmp_path / "lod.bin")
    with pytest.raises(WeightsIntegrityError, match="lod is 9.0"):
        from_manifest(tmp_path / "lod.bin", TINY, CPU)
