"""Seeds, interpolation and walks; the DCGAN generator in both community key layouts."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from random_weights import tutorial_state_dict
from torch import nn

from gen_models.core.errors import InputError, WeightsIntegrityError
from gen_models.core.latent import lerp, slerp, walk, z_from_seeds
from gen_models.models import dcgan


def test_seeds_are_fixed_vectors():
    z = z_from_seeds([0, 1, 0], 512)
    assert z.shape == (3, 512) and z.dtype == torch.float32
    assert torch.equal(z[0], z[2]) and not torch.equal(z[0], z[1])
    assert np.allclose(z[1].numpy(), np.random.RandomState(1).randn(512), atol=1e-6)
    with pytest.raises(InputError, match="out of range"):
        z_from_seeds([-1], 8)


def test_slerp_ends_and_norm():
    a, b = z_from_seeds([3, 4], 512)
    t = torch.linspace(0, 1, 11)
    path = slerp(a, b, t)
    assert torch.allclose(path[0], a, atol=1e-5) and torch.allclose(path[-1], b, atol=1e-4)
    norms = path.norm(dim=1)
    low, high = min(a.norm(), b.norm()), max(a.norm(), b.norm())
    assert (norms >= low - 1e-3).all() and (norms <= high + 1e-3).all()
    assert lerp(a, b, t)[5].norm() < 0.8 * low  # why slerp: the straight midpoint falls inside the shell


def test_walk_loops_back_and_moves_in_small_steps():
    keys = z_from_seeds([1, 2, 3], 64)
    frames = walk(keys, 8)
    assert frames.shape == (3 * 8 + 1, 64)
    assert torch.equal(frames[0], frames[-1])
    assert torch.equal(frames[8], keys[1]) and torch.equal(frames[16], keys[2])
    steps = (frames[1:] - frames[:-1]).norm(dim=1)
    assert steps.max() < (keys[0] - keys[1]).norm()
    open_walk = walk(keys, 4, loop=False, mode="lerp")
    assert open_walk.shape == (2 * 4 + 1, 64) and torch.equal(open_walk[-1], keys[2])
    with pytest.raises(InputError):
        walk(keys[:1], 4)


def tutorial_reference(state: dict, z: torch.Tensor) -> torch.Tensor:
    """The PyTorch DCGAN tutorial's forward pass written out with functional ops."""
    x = z[:, :, None, None]
    for i, conv in enumerate([0, 3, 6, 9]):
        x = torch.nn.functional.conv_transpose2d(x, state[f"main.{conv}.weight"], stride=1 if i == 0 else 2,
                                                 padding=0 if i == 0 else 1)
        bn = f"main.{conv + 1}"
        x = torch.nn.functional.batch_norm(x, state[f"{bn}.running_mean"], state[f"{bn}.running_var"],
                                           state[f"{bn}.weight"], state[f"{bn}.bias"], False, 0.0, 1e-5)
        x = torch.relu(x)
    return torch.tanh(torch.nn.functional.conv_transpose2d(x, state["main.12.weight"], stride=2, padding=1))


def test_dcgan_loads_tutorial_and_huggan_layouts(tmp_path):
    state = tutorial_state_dict()
    assert len(state) == 25
    torch.save(state, tmp_path / "netG.pth")
    torch.save({k.replace("main.", "model.", 1): v for k, v in state.items()}, tmp_path / "pytorch_model.bin")
    z = torch.randn(2, 100)
    expected = tutorial_reference(state, z)
    for name in ("netG.pth", "pytorch_model.bin"):
        model = dcgan.from_manifest(tmp_path / name, {}, torch.device("cpu"))
        with torch.inference_mode():
            out = model(z)
        assert out.shape == (2, 3, 64, 64)
        assert torch.allclose(out, expected, atol=1e-5)


def test_dcgan_wrong_file_is_reported(tmp_path):
    state = tutorial_state_dict(hidden=8)
    del state["main.4.running_var"]
    torch.save(state, tmp_path / "broken.pth")
    with pytest.raises(WeightsIntegrityError, match="missing keys: model.4.running_var"):
        dcgan.from_manifest(tmp_path / "broken.pth", {}, torch.device("cpu"))
    torch.save(nn.Linear(2, 2), tmp_path / "module.pth")
    with pytest.raises(WeightsIntegrityError, match="module.pth"):
        dcgan.from_manifest(tmp_path / "module.pth", {}, torch.device("cpu"))
