"""DeOldify generators: the official key layout (Artistic and Stable), strict loading with spectral/weight norm
folded, and equality with an independent reference built the way fastai v1 builds ``DynamicUnetDeep``/``Wide``:
torch's own hook-based ``spectral_norm``/``weight_norm`` (which write the ``weight_orig/_u/_v`` and ``weight_g/_v``
keys of the 2019 files), forward hooks on the encoder children found by fastai's ``_get_sfs_idxs``, and
``SequentialEx``'s ``x.orig``. Exactly one real-size load succeeds (Artistic, from the fastai container)."""

from __future__ import annotations

import math
from collections import OrderedDict

import pytest
import torch
from deoldify_reference import randomise, reference_unet
from torchvision import models

from gen_models.core.errors import ManifestError, WeightsIntegrityError
from gen_models.models.deoldify import ARTISTIC, STABLE, DeOldify, checkpoint_shapes, from_manifest, load_deoldify

CPU = torch.device("cpu")

# Written from deoldify/unet.py, layers.py and fastai/layers.py (jantic/DeOldify @ 5f86c28), not from our model.
ARTISTIC_KEYS = 378
ARTISTIC_FLOATS = 63_767_523  # plus one int64 num_batches_tracked per BatchNorm (55); × 4 B ≈ the 255 MB file
ARTISTIC_BATCHNORMS = 55
ARTISTIC_SHAPES = {
    "layers.0.0.weight": (64, 3, 7, 7),
    "layers.0.7.2.bn2.num_batches_tracked": (),
    "layers.1.running_var": (512,),
    "layers.3.0.0.weight_orig": (1024, 512, 3, 3),
    "layers.3.0.0.weight_u": (1024,),
    "layers.3.0.0.weight_v": (4608,),
    "layers.3.1.2.running_mean": (512,),
    "layers.4.shuf.conv.0.weight_orig": (1024, 512, 1, 1),
    "layers.4.shuf.conv.1.num_batches_tracked": (),
    "layers.4.bn.weight": (256,),
    "layers.4.conv1.0.weight_orig": (768, 512, 3, 3),
    "layers.4.conv1.2.running_mean": (768,),
    "layers.5.conv2.3.query.weight_orig": (96, 768, 1),
    "layers.5.conv2.3.value.weight_v": (768,),
    "layers.5.conv2.3.gamma": (1,),
    "layers.6.conv1.0.weight_orig": (672, 448, 3, 3),
    "layers.7.shuf.conv.0.weight_orig": (1344, 672, 1, 1),
    "layers.7.conv2.0.weight_orig": (300, 300, 3, 3),
    "layers.8.conv.0.weight_g": (1200, 1, 1, 1),
    "layers.8.conv.0.weight_v": (1200, 300, 1, 1),
    "layers.8.conv.0.bias": (1200,),
    "layers.10.layers.0.0.weight_orig": (303, 303, 3, 3),
    "layers.10.layers.1.0.bias": (303,),
    "layers.11.0.weight_orig": (3, 303, 1, 1),
    "layers.11.0.weight_v": (303,),
    "layers.11.0.bias": (3,),
}
STABLE_KEYS = 754
STABLE_FLOATS = 218_479_991
STABLE_BATCHNORMS = 119
STABLE_SHAPES = {
    "layers.0.4.0.conv3.weight": (256, 64, 1, 1),
    "layers.0.4.0.downsample.0.weight": (256, 64, 1, 1),
    "layers.0.6.22.bn3.running_var": (1024,),
    "layers.1.weight": (2048,),
    "layers.3.0.0.weight_orig": (4096, 2048, 3, 3),
    "layers.4.shuf.conv.0.weight_orig": (2048, 2048, 1, 1),
    "layers.4.conv.0.weight_orig": (512, 1536, 3, 3),
    "layers.5.conv.0.weight_orig": (512, 1024, 3, 3),
    "layers.5.conv.3.key.weight_orig": (64, 512, 1),
    "layers.6.conv.0.weight_orig": (512, 768, 3, 3),
    "layers.7.shuf.conv.0.weight_orig": (1024, 512, 1, 1),
    "layers.7.conv.0.weight_orig": (256, 320, 3, 3),
    "layers.8.conv.0.weight_v": (1024, 256, 1, 1),
    "layers.10.layers.0.0.weight_v": (2331,),
    "layers.11.0.weight_orig": (3, 259, 1, 1),
}


# ---------------------------------------------------------------------------------------------------------------
# Reference: fastai v1 DynamicUnetDeep / DynamicUnetWide, ported op for op with torch's hook-based norm utilities.
# ---------------------------------------------------------------------------------------------------------------


def count_floats(shapes) -> int:
    return sum(math.prod(s) for k, s in shapes.items() if not k.endswith("num_batches_tracked"))


@pytest.fixture(scope="module")
def artistic(tmp_path_factory):
    """The real-size Artistic reference in eval mode, its state_dict, a fastai container file of it, and a test batch.

    48 px = render factor 3: the encoder gives 2×2 at /32, the first block upsamples to 4×4 and resizes to the 3×3
    skip (fastai's size-mismatch path); the later blocks match."""
    with torch.device("meta"):  # no time spent on initialisations that randomise() overwrites
        net = reference_unet(models.resnet34, deep=True, nf_factor=1.5)
    net.to_empty(device="cpu")
    batch = torch.randn(2, 3, 48, 48, generator=torch.Generator().manual_seed(2))
    randomise(net, seed=1, batch=batch)
    net.eval()
    state = net.state_dict()
    path = tmp_path_factory.mktemp("deoldify") / "ColorizeArtistic_gen.pth"
    opt = {"state": {}, "param_groups": [{"lr": 1e-3, "params": [0, 1]}], "layer_groups": slice(0, 3)}
    torch.save({"model": state, "opt": opt}, path)
    return net, state, path, batch


def test_artistic_layout_strict_load_and_folded_forward(artistic):
    net, state, path, batch = artistic
    shapes = {k: tuple(v.shape) for k, v in state.items()}
    assert len(shapes) == ARTISTIC_KEYS
    assert count_floats(shapes) == ARTISTIC_FLOATS
    assert sum(k.endswith("num_batches_tracked") for k in shapes) == ARTISTIC_BATCHNORMS
    assert {k: shapes[k] for k in ARTISTIC_SHAPES} == ARTISTIC_SHAPES

    model = from_manifest(path, {"variant": "artistic"}, CPU)
    assert isinstance(model, DeOldify) and model.kind == "deoldify" and not model.training
    assert model.config["encoder"] == "resnet34" and model.config["nf_factor"] == 1.5
    for module in model.modules():
        assert not module._forward_pre_hooks and not module._forward_hooks
    folded_keys = set(model.state_dict())
    assert not any(k.endswith(("weight_orig", "weight_u", "weight_v", "weight_g")) for k in folded_keys)
    assert len(folded_keys) == ARTISTIC_KEYS - 2 * 20 - 1  # 20 spectral convs lose 2 keys, the weight-norm one 1

    with torch.no_grad():
        expected = net(batch)
        got = model(batch)
    assert got.shape == (2, 3, 48, 48)
    assert expected.abs().max() < 2.9 and expected.std() > 0.2  # not saturated by the sigmoid
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=0)


def test_bad_files_name_the_problem(artistic, tmp_path):
    state, path = artistic[1], artistic[2]
    broken = OrderedDict(state)
    del broken["layers.4.conv1.0.weight_v"]
    broken["layers.11.0.weight"] = broken.pop("layers.11.0.weight_orig")
    broken["layers.1.running_var"] = torch.ones(256)
    bad = tmp_path / "broken.pth"
    torch.save(broken, bad)  # a plain state_dict, like the official files
    with pytest.raises(WeightsIntegrityError) as err:
        load_deoldify(bad, ARTISTIC)
    message = str(err.value)
    assert "broken.pth" in message
    assert "missing keys: layers.11.0.weight_orig, layers.4.conv1.0.weight_v" in message
    assert "unexpected keys: layers.11.0.weight" in message
    assert "layers.1.running_var: file (256,) vs expected (512,)" in message

    flipped = OrderedDict(state)
    flipped["layers.3.0.0.weight_u"] = -state["layers.3.0.0.weight_u"]  # a spectral norm estimate below zero
    torch.save(flipped, bad)
    with pytest.raises(WeightsIntegrityError, match=r"spectral norm of layers\.3\.0\.0\.weight_orig is -"):
        load_deoldify(bad, ARTISTIC)

    with pytest.raises(WeightsIntegrityError, match=r"'stable'.*layers\.0\.4\.0\.conv3\.weight.*fits the 'artistic'"):
        load_deoldify(path, STABLE)  # the container file itself is accepted: the error is about the layout

    junk = tmp_path / "junk.pth"
    torch.save({"model": [1, 2, 3]}, junk)
    with pytest.raises(WeightsIntegrityError, match="not a DeOldify generator state_dict"):
        load_deoldify(junk, ARTISTIC)
    with pytest.raises(ManifestError, match="unknown DeOldify variant 'sepia'"):
        from_manifest(junk, {"variant": "sepia"}, CPU)


def test_stable_layout_matches_fastai_wide_unet():
    with torch.device("meta"):
        reference = reference_unet(models.resnet101, deep=False, nf_factor=2)
        model = DeOldify(STABLE)
    expected = {k: tuple(v.shape) for k, v in reference.state_dict().items()}
    assert len(expected) == STABLE_KEYS
    assert count_floats(expected) == STABLE_FLOATS
    assert sum(k.endswith("num_batches_tracked") for k in expected) == STABLE_BATCHNORMS
    assert {k: expected[k] for k in STABLE_SHAPES} == STABLE_SHAPES
    assert checkpoint_shapes(model) == expected
    assert model.config["unet"] == "wide" and model.config["encoder"] == "resnet101"
    with torch.device("meta"):  # shapes only: render factor 35 = 560 px, where 35 → 18 → 36 is resized back to 35
        assert model.eval()(torch.empty(1, 3, 560, 560)).shape == (1, 3, 560, 560)
        with pytest.raises(ValueError, match="even H and W"):
            model(torch.empty(1, 3, 47, 48))
