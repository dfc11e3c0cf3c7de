"""Zhang colorizers: the official ECCV16 / SIGGRAPH17 key sets, strict loading of files in that layout, forward passes
against independent functional re-implementations of the official code, the Lab pipeline, and clear errors."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image
from random_weights import ECCV16_CONVS, ECCV16_NORMS, SIGGRAPH17_CONVS, zhang_random_state, zhang_shapes
from skimage import color

from gen_models.core.errors import WeightsIntegrityError
from gen_models.models.zhang import ECCV16, SIGGRAPH17, colorize_lab, from_manifest, infer_variant, load_zhang

CPU = torch.device("cpu")

# (name, in, out, kernel, stride, dilation) per convolution, from colorizers/eccv16.py and siggraph17.py; "T" marks
# a ConvTranspose2d (weight stored as in × out × k × k). BatchNorm layers are listed as (name, channels).



@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """Both files from random weights; the ECCV16 one without BatchNorm counters, as files saved before torch 0.4.1."""
    folder = tmp_path_factory.mktemp("zhang")
    states = {"eccv16": zhang_random_state("eccv16", seed=0, counters=False), "siggraph17": zhang_random_state("siggraph17", 1)}
    paths = {"eccv16": folder / "colorization_release_v2-9b330a0b.pth"}
    paths["siggraph17"] = folder / "siggraph17-df00044c.pth"
    for variant, path in paths.items():
        torch.save(states[variant], path)
    return states, paths


def on(cls, state, dtype=torch.float64, **replace):
    """``cls`` holding ``state`` (cast to ``dtype``) without random initialisation or extra copies."""
    with torch.device("meta"):
        model = cls()
    state = {**state, **replace}
    state = {k: v.to(dtype) if v.is_floating_point() else v for k, v in state.items()}
    state.update({k: torch.tensor(0) for k in zhang_shapes(model.variant) if k not in state})
    model.load_state_dict(state, assign=True)
    return model.eval()


# ---------------------------------------------------------------- functional references of the official forward


def _convs(state, x, spec, relu_last=True):
    """Run the (conv → ReLU) steps of ``spec`` then nothing else; ConvTranspose2d where the spec says "T"."""
    for i, (name, _, _, k, stride, dil) in enumerate(spec):
        w, b = state[f"{name}.weight"], state[f"{name}.bias"]
        if dil == "T":
            x = F.conv_transpose2d(x, w, b, stride=2, padding=1)
        else:
            x = F.conv2d(x, w, b, stride=stride, padding=dil * (k // 2), dilation=dil)
        if relu_last or i < len(spec) - 1:
            x = F.relu(x)
    return x


def _bn(state, x, name):
    return F.batch_norm(
        x, state[f"{name}.running_mean"], state[f"{name}.running_var"], state[f"{name}.weight"],
        state[f"{name}.bias"], training=False, eps=1e-5,
    )


def _group(spec, block):
    return [c for c in spec if c[0].split(".")[0] == block]


def reference_eccv16(state, l):
    """ECCVGenerator.forward: normalise, model1..7, model8, softmax(dim=1), model_out, ×4 bilinear, × 110."""
    x = (l - 50.0) / 100.0
    for block, norm in zip([f"model{b}" for b in range(1, 8)], [n for n, _ in ECCV16_NORMS]):
        x = _bn(state, _convs(state, x, _group(ECCV16_CONVS, block)), norm)
    x = _convs(state, x, _group(ECCV16_CONVS, "model8"), relu_last=False)
    ab = F.conv2d(torch.softmax(x, dim=1), state["model_out.weight"])
    return F.interpolate(ab, scale_factor=4, mode="bilinear", align_corners=False) * 110.0


def reference_siggraph17(state, l, ab=None, mask=None):
    """SIGGRAPHGenerator.forward with zero hints by default."""
    ab = torch.zeros_like(torch.cat([l, l], 1)) if ab is None else ab
    mask = torch.zeros_like(l) if mask is None else mask
    x = torch.cat([(l - 50.0) / 100.0, ab / 110.0, mask], 1)
    feats = []
    for b in range(1, 8):
        if b in (2, 3, 4):
            x = x[:, :, ::2, ::2]
        x = _bn(state, _convs(state, x, _group(SIGGRAPH17_CONVS, f"model{b}")), f"model{b}.{6 if b > 2 else 4}")
        feats.append(x)
    conv1, conv2, conv3 = feats[:3]

    def one(name, t):
        return _convs(state, t, [c for c in SIGGRAPH17_CONVS if c[0] == name], relu_last=False)

    x = one("model8up.0", x) + one("model3short8.0", conv3)
    x = _bn(state, _convs(state, F.relu(x), _group(SIGGRAPH17_CONVS, "model8")), "model8.5")
    x = one("model9up.0", x) + one("model2short9.0", conv2)
    x = _bn(state, _convs(state, F.relu(x), _group(SIGGRAPH17_CONVS, "model9")), "model9.3")
    x = one("model10up.0", x) + one("model1short10.0", conv1)
    x = F.leaky_relu(one("model10.1", F.relu(x)), 0.2)
    return torch.tanh(one("model_out.0", x)) * 110.0


# ----------------------------------------------------------------------------------------------------- tests


def test_official_key_sets():
    eccv, sig = zhang_shapes("eccv16"), zhang_shapes("siggraph17")
    assert (len(eccv), len(zhang_shapes("eccv16", counters=False))) == (82, 75)
    assert (len(sig), len(zhang_shapes("siggraph17", counters=False))) == (107, 98)
    assert eccv["model1.0.weight"] == (64, 1, 3, 3) and eccv["model1.4.running_var"] == (64,)
    assert eccv["model8.0.weight"] == (512, 256, 4, 4) and eccv["model8.6.weight"] == (313, 256, 1, 1)
    assert eccv["model_out.weight"] == (2, 313, 1, 1) and "model_out.bias" not in eccv
    assert sig["model1.0.weight"] == (64, 4, 3, 3) and sig["model8.1.weight"] == (256, 256, 3, 3)
    assert sig["model8.5.running_mean"] == (256,) and sig["model10.1.weight"] == (128, 128, 3, 3)
    assert sig["model_class.0.weight"] == (529, 256, 1, 1) and sig["model_out.0.weight"] == (2, 128, 1, 1)
    # OpenVINO's model cards: 32.236 M parameters (ECCV16), 34.05 M (SIGGRAPH17, without the unused model_class)
    def params(shapes):
        return sum(math.prod(s) for k, s in shapes.items() if "running" not in k and "num_batches" not in k)

    assert params(eccv) == 32_236_011
    assert params(sig) - 529 * 256 - 529 == 34_051_074
    for cls, variant in ((ECCV16, "eccv16"), (SIGGRAPH17, "siggraph17")):
        with torch.device("meta"):
            model = cls()
        assert {k: tuple(v.shape) for k, v in model.state_dict().items()} == zhang_shapes(variant)
        assert model.kind == "zhang" and model.variant == variant


def test_files_in_the_official_layout_load_strictly(files):
    states, paths = files
    loaded_models = {}
    for variant, cls in (("eccv16", ECCV16), ("siggraph17", SIGGRAPH17)):
        model = loaded_models[variant] = load_zhang(paths[variant], variant)
        assert isinstance(model, cls) and not model.training
        loaded = model.state_dict()
        assert all(torch.equal(loaded[k], v) for k, v in states[variant].items())
        assert infer_variant(states[variant]) == variant
    eccv16 = loaded_models["eccv16"].state_dict()  # the file has no BatchNorm counters: filled in, as torch does
    assert (len(states["eccv16"]), len(eccv16), int(eccv16["model7.6.num_batches_tracked"])) == (75, 82, 0)
    via_manifest = from_manifest(paths["eccv16"], {"variant": "eccv16"}, CPU)
    assert isinstance(via_manifest, ECCV16) and via_manifest.model8[6].weight.device == CPU
    inferred = from_manifest(paths["siggraph17"], {}, CPU)  # variant inferred from the keys
    assert isinstance(inferred, SIGGRAPH17)
    assert torch.equal(inferred.model_class[0].weight, states["siggraph17"]["model_class.0.weight"])


def test_eccv16_matches_the_official_forward(files):
    model = on(ECCV16, files[0]["eccv16"])
    state64 = dict(model.state_dict())
    l = torch.rand(2, 1, 16, 24, generator=torch.Generator().manual_seed(2), dtype=torch.float64) * 100
    with torch.no_grad():
        ab = model(l)
        expected = reference_eccv16(state64, l)
        assert ab.shape == (2, 2, 16, 24)
        assert (ab - expected).abs().max().item() <= 1e-5
        # softmax weights sum to one: constant bin centres c give ab = 110·c everywhere
        centres = torch.tensor([0.25, -0.5], dtype=torch.float64).view(2, 1, 1, 1).expand(2, 313, 1, 1)
        flat = on(ECCV16, files[0]["eccv16"], torch.float32, **{"model_out.weight": centres})(l.float())
        assert torch.allclose(flat[:, 0], torch.full_like(flat[:, 0], 27.5), atol=1e-4)
        assert torch.allclose(flat[:, 1], torch.full_like(flat[:, 1], -55.0), atol=1e-4)


def test_siggraph17_matches_the_official_forward(files):
    model = on(SIGGRAPH17, files[0]["siggraph17"])
    state64 = dict(model.state_dict())
    l = torch.rand(1, 1, 16, 24, generator=torch.Generator().manual_seed(4), dtype=torch.float64).expand(2, -1, -1, -1)
    hint = torch.zeros(2, 2, 16, 24, dtype=torch.float64)  # the second image gets one user hint
    mask = torch.zeros_like(l)
    hint[1, :, 10, 12], mask[1, :, 10, 12] = torch.tensor([60.0, -40.0], dtype=torch.float64), 1.0
    with torch.no_grad():
        expected = reference_siggraph17(state64, l, hint, mask)
        hinted = model(l, hint, mask)
        assert hinted.shape == (2, 2, 16, 24) and hinted.abs().max() <= 110
        assert (hinted - expected).abs().max().item() <= 1e-5
        assert not torch.allclose(hinted[0], hinted[1])
        assert (model(l[:1]) - expected[:1]).abs().max().item() <= 1e-5  # no hints = zero hints and mask
    with pytest.raises(ValueError, match="multiples of 8"):
        model(torch.zeros(1, 1, 20, 24, dtype=torch.float64))
    with pytest.raises(ValueError, match="batch, 1"):
        model(torch.zeros(1, 3, 16, 24, dtype=torch.float64))


class _FixedAB(torch.nn.Module):
    """A stand-in colorizer that records its input and answers a fixed ab map."""

    def __init__(self, ab: torch.Tensor) -> None:
        super().__init__()
        self.ab = torch.nn.Parameter(ab, requires_grad=False)
        self.seen: torch.Tensor | None = None

    def forward(self, l):
        self.seen = l.clone()
        return self.ab.expand(l.shape[0], -1, -1, -1)


def _texture(height: int, width: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width]
    base = 110 + 70 * np.sin(x / 5.0) * np.cos(y / 7.0)
    rgb = np.stack([base + 30 * np.sin(y / 3.0), base, base - 40 * np.cos(x / 4.0)], axis=2)
    return np.clip(rgb + rng.normal(0, 12, rgb.shape), 0, 255).astype(np.uint8)


def test_colorize_lab_follows_the_official_pipeline():
    rgb = _texture(70, 90)
    ab_small = torch.zeros(1, 2, 64, 64)
    ab_small[0, 0] = torch.linspace(-20, 20, 64).view(1, 64)
    ab_small[0, 1] = torch.linspace(15, -15, 64).view(64, 1)
    stub = _FixedAB(ab_small)
    out = colorize_lab(stub, rgb, size=64)
    assert out.shape == (70, 90, 3) and out.dtype == np.uint8
    resized = np.asarray(Image.fromarray(rgb).resize((64, 64), Image.BICUBIC))
    assert stub.seen.shape == (1, 1, 64, 64)
    assert np.allclose(stub.seen[0, 0].numpy(), color.rgb2lab(resized)[:, :, 0], atol=1e-4)
    ab_full = F.interpolate(ab_small, size=(70, 90), mode="bilinear", align_corners=False)[0].permute(1, 2, 0)
    lab = np.concatenate([color.rgb2lab(rgb)[:, :, :1], ab_full.numpy().astype(np.float64)], axis=2)
    expected = np.round(color.lab2rgb(lab) * 255)
    assert np.abs(out.astype(float) - expected).max() <= 1
    # the input's own chroma is not used: zero ab gives the gray version of a colour photo
    gray = colorize_lab(_FixedAB(torch.zeros(1, 2, 64, 64)), rgb, size=64).astype(int)
    assert np.abs(gray[:, :, 0] - gray[:, :, 1]).max() <= 1 and np.abs(gray[:, :, 1] - gray[:, :, 2]).max() <= 1
    assert colorize_lab(_FixedAB(torch.zeros(1, 2, 64, 64)), rgb[:, :, 1], size=64).shape == (70, 90, 3)
    with pytest.raises(ValueError, match="multiple of 8"):
        colorize_lab(stub, rgb, size=60)
    with pytest.raises(ValueError, match="H×W×3"):
        colorize_lab(stub, np.zeros((4, 4, 4), np.uint8))


def test_colorize_lab_keeps_size_and_lightness_with_a_real_network(files):
    # bins in 0..22 give ab ≈ +11: mild colours inside the sRGB gamut, so lab2rgb does not clip
    centres = torch.rand(2, 313, 1, 1, generator=torch.Generator().manual_seed(8)) * 0.2
    model = on(ECCV16, files[0]["eccv16"], torch.float32, **{"model_out.weight": centres})
    rgb = _texture(75, 101, seed=1)
    out = colorize_lab(model, rgb, size=64)
    assert out.shape == rgb.shape and out.dtype == np.uint8
    lab_out, lab_in = color.rgb2lab(out), color.rgb2lab(rgb)
    assert np.abs(lab_out[:, :, 0] - lab_in[:, :, 0]).mean() < 1.0
    assert lab_out[:, :, 1:].mean() > 5.0  # and it did add colour


def test_wrong_files_are_refused(files, tmp_path):
    paths = files[1]
    with pytest.raises(WeightsIntegrityError, match="missing keys: .*model10.1.bias"):
        load_zhang(paths["eccv16"], "siggraph17")
    mismatch = r"unexpected keys: .*model10.1.bias.*wrong shapes: model1.0.weight"
    with pytest.raises(WeightsIntegrityError, match=mismatch):
        load_zhang(paths["siggraph17"], "eccv16")
    torch.save({"model_out.weight": torch.zeros(2, 312, 1, 1)}, tmp_path / "shape.pth")
    with pytest.raises(WeightsIntegrityError, match=r"model_out.weight: file \(2, 312, 1, 1\)"):
        load_zhang(tmp_path / "shape.pth", "eccv16")
    torch.save([torch.zeros(3)], tmp_path / "list.pth")
    with pytest.raises(WeightsIntegrityError, match="not a colorizer state_dict"):
        load_zhang(tmp_path / "list.pth", "eccv16")
    (tmp_path / "junk.pth").write_bytes(b"not a checkpoint at all")
    with pytest.raises(WeightsIntegrityError, match="junk.pth"):
        from_manifest(tmp_path / "junk.pth", {"variant": "eccv16"}, CPU)
    with pytest.raises(ValueError, match="eccv16, siggraph17"):
        load_zhang(paths["eccv16"], "eccv17")
