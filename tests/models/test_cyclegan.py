"""CycleGAN ResnetGenerator: the official key set with and without the old InstanceNorm buffers, the official patch that
drops them (and nothing else), the forward pass against an independent functional re-implementation, and the
test-time image pipeline."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from gen_models.core.errors import WeightsIntegrityError
from gen_models.models.cyclegan import (
    ResnetGenerator,
    drop_instance_norm_stats,
    from_manifest,
    load_cyclegan,
    network_size,
    translate,
)

CPU = torch.device("cpu")

# From models/networks.py (ResnetGenerator, resnet_9blocks, ngf 64): index → (kind, in, out, kernel); "T" is a
# ConvTranspose2d (weight in × out × k × k). Each is followed by an InstanceNorm at index + 1, except model.26.
CONVS = {"model.1": ("C", 3, 64, 7), "model.4": ("C", 64, 128, 3), "model.7": ("C", 128, 256, 3)}
for _b in range(10, 19):
    CONVS[f"model.{_b}.conv_block.1"] = ("C", 256, 256, 3)
    CONVS[f"model.{_b}.conv_block.5"] = ("C", 256, 256, 3)
CONVS.update({"model.19": ("T", 256, 128, 3), "model.22": ("T", 128, 64, 3), "model.26": ("C", 64, 3, 7)})
NORMS = {"model.2": 64, "model.5": 128, "model.8": 256, "model.20": 128, "model.23": 64}
NORMS.update({f"model.{b}.conv_block.{i}": 256 for b in range(10, 19) for i in (2, 6)})


def official_shapes(old_buffers: bool = False) -> dict[str, tuple[int, ...]]:
    shapes: dict[str, tuple[int, ...]] = {}
    for name, (kind, c_in, c_out, k) in CONVS.items():
        shapes[f"{name}.weight"] = (c_in, c_out, k, k) if kind == "T" else (c_out, c_in, k, k)
        shapes[f"{name}.bias"] = (c_out,)
    if old_buffers:
        for name, c in NORMS.items():
            shapes.update({f"{name}.running_mean": (c,), f"{name}.running_var": (c,)})
            shapes[f"{name}.num_batches_tracked"] = ()
    return shapes


def random_state(seed: int = 0, old_buffers: bool = False) -> dict[str, torch.Tensor]:
    """Weights like the official init (N(0, 0.02)) but larger biases; old buffers get random values that must not
    matter, since the official generator normalises with each image's own statistics."""
    gen = torch.Generator().manual_seed(seed)
    state = {}
    for key, shape in official_shapes(old_buffers).items():
        if key.endswith("num_batches_tracked"):
            state[key] = torch.tensor(12345, dtype=torch.long)
        elif key.endswith("running_var"):
            state[key] = torch.rand(shape, generator=gen) + 0.5
        elif key.endswith("weight"):
            state[key] = torch.randn(shape, generator=gen) * 0.05
        else:
            state[key] = torch.randn(shape, generator=gen) * 0.2
    return state


def reference_forward(state: dict[str, torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    """ResnetGenerator.forward written with torch.nn.functional only."""

    def conv(t, name, stride=1, padding=0):
        return F.conv2d(t, state[f"{name}.weight"], state[f"{name}.bias"], stride=stride, padding=padding)

    def norm(t):
        return F.instance_norm(t, eps=1e-5)  # no running stats, no affine

    x = F.relu(norm(conv(F.pad(x, (3, 3, 3, 3), mode="reflect"), "model.1")))
    x = F.relu(norm(conv(x, "model.4", stride=2, padding=1)))
    x = F.relu(norm(conv(x, "model.7", stride=2, padding=1)))
    for b in range(10, 19):
        h = F.relu(norm(conv(F.pad(x, (1, 1, 1, 1), mode="reflect"), f"model.{b}.conv_block.1")))
        x = x + norm(conv(F.pad(h, (1, 1, 1, 1), mode="reflect"), f"model.{b}.conv_block.5"))
    for name in ("model.19", "model.22"):
        w, b = state[f"{name}.weight"], state[f"{name}.bias"]
        x = F.relu(norm(F.conv_transpose2d(x, w, b, stride=2, padding=1, output_padding=1)))
    return torch.tanh(conv(F.pad(x, (3, 3, 3, 3), mode="reflect"), "model.26"))


@pytest.fixture(scope="module")
def old_file(tmp_path_factory):
    """A generator in the layout of the released horse2zebra.pth: 48 tensors plus 69 old InstanceNorm buffers."""
    state = random_state(seed=1, old_buffers=True)
    path = tmp_path_factory.mktemp("cyclegan") / "horse2zebra.pth"
    torch.save(state, path)
    return state, path


def test_official_key_sets():
    current, old = official_shapes(), official_shapes(old_buffers=True)
    assert (len(current), len(old)) == (48, 117)
    assert current["model.1.weight"] == (64, 3, 7, 7) and current["model.7.weight"] == (256, 128, 3, 3)
    assert current["model.18.conv_block.5.weight"] == (256, 256, 3, 3)
    assert current["model.18.conv_block.5.bias"] == (256,)
    assert current["model.19.weight"] == (256, 128, 3, 3) and current["model.22.weight"] == (128, 64, 3, 3)
    assert current["model.26.weight"] == (3, 64, 7, 7) and current["model.26.bias"] == (3,)
    assert old["model.10.conv_block.6.running_var"] == (256,) and old["model.23.num_batches_tracked"] == ()
    assert sum(np.prod(s) for s in current.values()) == 11_378_179  # × 4 bytes ≈ 45.5 MB in float32
    model = ResnetGenerator()
    assert model.kind == "cyclegan"
    assert {k: tuple(v.shape) for k, v in model.state_dict().items()} == current
    assert [type(m).__name__ for m in model.model][:4] == ["ReflectionPad2d", "Conv2d", "InstanceNorm2d", "ReLU"]
    assert [type(m).__name__ for m in model.model][-3:] == ["ReflectionPad2d", "Conv2d", "Tanh"]


def test_old_and_current_files_load_strictly(old_file, tmp_path):
    state, path = old_file
    model = load_cyclegan(path)
    assert isinstance(model, ResnetGenerator) and not model.training
    loaded = model.state_dict()
    assert set(loaded) == set(official_shapes())
    assert all(torch.equal(loaded[k], state[k]) for k in loaded)
    current = {k: v for k, v in state.items() if k in loaded}
    torch.save(current, tmp_path / "latest_net_G.pth")
    again = from_manifest(tmp_path / "latest_net_G.pth", {}, CPU)
    assert torch.equal(again.state_dict()["model.26.bias"], state["model.26.bias"])
    # only running_mean / running_var / num_batches_tracked of InstanceNorm modules are dropped
    partial = {k: v for k, v in state.items() if not k.endswith("num_batches_tracked")}  # a torch 0.4.0 file
    assert drop_instance_norm_stats(model, partial) == current


def test_only_the_official_patch_is_applied(old_file, tmp_path):
    state, _ = old_file
    cases = {
        "conv_stat.pth": ({**state, "model.1.running_mean": torch.zeros(64)}, "unexpected keys: model.1.running_mean"),
        "affine.pth": ({**state, "model.2.weight": torch.ones(64)}, "unexpected keys: model.2.weight"),
        "extra.pth": ({**state, "model.28.running_mean": torch.zeros(3)}, "unexpected keys: model.28.running_mean"),
        "missing.pth": ({k: v for k, v in state.items() if k != "model.26.bias"}, "missing keys: model.26.bias"),
        "shape.pth": ({**state, "model.26.weight": torch.zeros(3, 64, 3, 3)}, r"model.26.weight: file \(3, 64, 3, 3\)"),
    }
    for name, (bad, message) in cases.items():
        torch.save(bad, tmp_path / name)
        with pytest.raises(WeightsIntegrityError, match=message):
            load_cyclegan(tmp_path / name)
    torch.save([state["model.1.weight"]], tmp_path / "list.pth")
    with pytest.raises(WeightsIntegrityError, match="not a CycleGAN generator state_dict"):
        load_cyclegan(tmp_path / "list.pth")
    (tmp_path / "junk.pth").write_bytes(b"\x00" * 64)
    with pytest.raises(WeightsIntegrityError, match="junk.pth"):
        from_manifest(tmp_path / "junk.pth", {}, CPU)


def test_forward_matches_an_independent_functional_implementation(old_file):
    state, path = old_file
    model = load_cyclegan(path)
    x = torch.rand(1, 3, 32, 48, generator=torch.Generator().manual_seed(2)) * 2 - 1
    with torch.no_grad():
        y = model(x)
        # the reference ignores the file's random running stats: the official generator uses each image's own
        expected = reference_forward(state, x)
        assert y.shape == (1, 3, 32, 48)
        assert (y - expected).abs().max().item() <= 1e-5
        assert 0.1 < y.std().item() and y.abs().max().item() < 1
    with pytest.raises(ValueError, match="multiples of 4"):
        model(torch.zeros(1, 3, 30, 48))
    with pytest.raises(ValueError, match="batch, 3"):
        model(torch.zeros(1, 1, 32, 48))


def test_translate_keeps_size_and_aspect_ratio(old_file):
    model = load_cyclegan(old_file[1])
    assert network_size(90, 130) == (88, 128)
    assert network_size(1300, 900) == (512, 356) and network_size(900, 1300, 256) == (176, 256)
    for h, w in ((90, 130), (1000, 3000), (3, 5)):
        nh, nw = network_size(h, w, 512)
        assert nh % 4 == 0 and nw % 4 == 0 and max(nh, nw) <= 512
        assert abs(nh / nw - h / w) < 0.05 * h / w or min(h, w) < 8
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (90, 130, 3), dtype=np.uint8)
    out = translate(model, rgb)
    assert out.shape == (90, 130, 3) and out.dtype == np.uint8
    small = translate(model, rgb, max_side=64)
    assert small.shape == (90, 130, 3)
    # the official test transform: bicubic to 44×64 (aspect kept, multiples of 4), ToTensor, Normalize(0.5, 0.5);
    # then the official tensor2im: (y + 1) / 2 * 255 truncated to uint8. Only the resize back is ours.
    assert network_size(90, 130, 64) == (44, 64)
    resized = np.asarray(Image.fromarray(rgb).resize((64, 44), Image.BICUBIC))
    x = (torch.from_numpy(resized.copy()).permute(2, 0, 1)[None].float() / 255.0 - 0.5) / 0.5
    with torch.no_grad():
        y = ((np.transpose(model(x)[0].numpy(), (1, 2, 0)) + 1) / 2.0 * 255.0).astype(np.uint8)
    expected = np.asarray(Image.fromarray(y).resize((130, 90), Image.BICUBIC))
    assert np.array_equal(small, expected)
    with pytest.raises(ValueError, match="H×W×3"):
        translate(model, rgb[:, :, 0])
