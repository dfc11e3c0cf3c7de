"""DeOldify generators: the official key layout (Artistic and Stable), strict loading with spectral/weight norm
folded, and equality with an independent reference built the way fastai v1 builds ``DynamicUnetDeep``/``Wide``:
torch's own hook-based ``spectral_norm``/``weight_norm`` (which write the ``weight_orig/_u/_v`` and ``weight_g/_v``
keys of the 2019 files), forward hooks on the encoder children found by fastai's ``_get_sfs_idxs``, and
``SequentialEx``'s ``x.orig``. Exactly one real-size load succeeds (Artistic, from the fastai container)."""

from __future__ import annotations

import math
import warnings
from collections import OrderedDict

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils import spectral_norm, weight_norm
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


class Hook:
    """fastai ``Hook`` (forward, detach=False): keeps the module's last output in ``stored``."""

    def __init__(self, module: nn.Module) -> None:
        self.stored = None
        self.handle = module.register_forward_hook(self._store)

    def _store(self, module, inputs, output):
        self.stored = output


class SequentialEx(nn.Module):
    def __init__(self, *layers):
        super().__init__()
        self.layers = nn.ModuleList(layers)

    def forward(self, x):
        res = x
        for layer in self.layers:
            res.orig = x
            nres = layer(res)
            res.orig = None
            res = nres
        return res


class MergeLayer(nn.Module):
    def __init__(self, dense: bool):
        super().__init__()
        self.dense = dense

    def forward(self, x):
        return torch.cat([x, x.orig], dim=1) if self.dense else x + x.orig


class SelfAttention(nn.Module):
    def __init__(self, n):
        super().__init__()
        self.query = spectral_norm(nn.Conv1d(n, n // 8, 1, bias=False))
        self.key = spectral_norm(nn.Conv1d(n, n // 8, 1, bias=False))
        self.value = spectral_norm(nn.Conv1d(n, n, 1, bias=False))
        self.gamma = nn.Parameter(torch.tensor([0.0]))

    def forward(self, x):
        size = x.size()
        x = x.view(*size[:2], -1)
        f, g, h = self.query(x), self.key(x), self.value(x)
        beta = F.softmax(torch.bmm(f.permute(0, 2, 1).contiguous(), g), dim=1)
        o = self.gamma * torch.bmm(h, beta) + x
        return o.view(*size).contiguous()


def custom_conv_layer(ni, nf, ks=3, use_activ=True, norm="spectral", bn=True, self_attention=False):
    """deoldify ``custom_conv_layer`` / fastai ``conv_layer``: conv → ReLU → BN → SA; bias only without BN."""
    conv = nn.Conv2d(ni, nf, ks, padding=(ks - 1) // 2, bias=not bn)
    if norm == "spectral":
        conv = spectral_norm(conv)
    else:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            conv = weight_norm(conv)
    layers = [conv]
    if use_activ:
        layers.append(nn.ReLU(True))
    if bn:
        layers.append(nn.BatchNorm2d(nf))
    if self_attention:
        layers.append(SelfAttention(nf))
    return nn.Sequential(*layers)


class PixelShuffleICNR(nn.Module):
    def __init__(self, conv):
        super().__init__()
        self.conv = conv
        self.shuf = nn.PixelShuffle(2)
        self.pad = nn.ReplicationPad2d((1, 0, 1, 0))
        self.blur = nn.AvgPool2d(2, stride=1)
        self.relu = nn.ReLU(True)

    def forward(self, x):
        x = self.shuf(self.relu(self.conv(x)))
        return self.blur(self.pad(x)) if self.blur else x


class UnetBlock(nn.Module):
    def __init__(self, up_in_c, x_in_c, hook, final_div, self_attention, deep, nf_factor, n_out):
        super().__init__()
        self.hook = hook
        self.deep = deep
        up_out = up_in_c // 2 if deep else n_out // 2
        self.shuf = PixelShuffleICNR(custom_conv_layer(up_in_c, up_out * 4, ks=1, use_activ=False))
        self.bn = nn.BatchNorm2d(x_in_c)
        ni = up_out + x_in_c
        if deep:
            nf = int((ni if final_div else ni // 2) * nf_factor)
            self.conv1 = custom_conv_layer(ni, nf)
            self.conv2 = custom_conv_layer(nf, nf, self_attention=self_attention)
        else:
            self.conv = custom_conv_layer(ni, n_out // 2, self_attention=self_attention)
        self.relu = nn.ReLU()

    def forward(self, up_in):
        s = self.hook.stored
        up_out = self.shuf(up_in)
        if s.shape[-2:] != up_out.shape[-2:]:
            up_out = F.interpolate(up_out, s.shape[-2:], mode="nearest")
        cat_x = self.relu(torch.cat([up_out, self.bn(s)], dim=1))
        return self.conv2(self.conv1(cat_x)) if self.deep else self.conv(cat_x)


def get_sfs_idxs(sizes):
    feature_szs = [size[-1] for size in sizes]
    idxs = [i for i in range(len(feature_szs) - 1) if feature_szs[i] != feature_szs[i + 1]]
    return ([0] if feature_szs[0] != feature_szs[1] else []) + idxs


def reference_unet(arch, deep: bool, nf_factor) -> SequentialEx:
    """``DynamicUnetDeep``/``Wide(create_body(arch), n_classes=3, blur=True, self_attention=True, y_range=(-3, 3),
    norm_type=Spectral)``; channels found by dummy passes as fastai does (32 px instead of 256: same indices)."""
    encoder = nn.Sequential(*list(arch(weights=None).children())[:-2]).eval()
    imsize = (32, 32)
    probes = [Hook(child) for child in encoder]
    dummy = torch.empty(1, 3, *imsize).uniform_(-1, 1)
    encoder(dummy)
    sizes = [p.stored.shape for p in probes]
    for p in probes:
        p.handle.remove()
    sfs_idxs = list(reversed(get_sfs_idxs(sizes)))
    assert sfs_idxs == [6, 5, 4, 2]
    hooks = [Hook(encoder[i]) for i in sfs_idxs]
    x = encoder(dummy).detach()
    ni = sizes[-1][1]
    middle = nn.Sequential(custom_conv_layer(ni, ni * 2), custom_conv_layer(ni * 2, ni)).eval()
    x = middle(x)
    layers = [encoder, nn.BatchNorm2d(ni), nn.ReLU(), middle]
    nf = 512 * nf_factor
    for i, idx in enumerate(sfs_idxs):
        not_final = i != len(sfs_idxs) - 1
        block = UnetBlock(
            int(x.shape[1]),
            int(sizes[idx][1]),
            hooks[i],
            final_div=not_final,
            self_attention=i == len(sfs_idxs) - 3,
            deep=deep,
            nf_factor=nf_factor,
            n_out=nf if not_final else nf // 2,
        ).eval()
        layers.append(block)
        x = block(x)
    ni = x.shape[1]
    layers.append(PixelShuffleICNR(custom_conv_layer(ni, ni * 4, ks=1, use_activ=False, norm="weight", bn=False)))
    layers.append(MergeLayer(dense=True))
    ni += 3
    layers.append(
        SequentialEx(custom_conv_layer(ni, ni, bn=False), custom_conv_layer(ni, ni, bn=False), MergeLayer(dense=False))
    )
    layers.append(custom_conv_layer(ni, 3, ks=1, use_activ=False, bn=False))

    class SigmoidRange(nn.Module):
        def forward(self, t):
            return torch.sigmoid(t) * 6.0 - 3.0

    layers.append(SigmoidRange())
    return SequentialEx(*layers)


@torch.no_grad()
def randomise(net: nn.Module, seed: int, batch: torch.Tensor) -> None:
    """Fill every tensor of ``net`` (built on the meta device, then ``to_empty``): He-normal conv weights, small biases;
    spectral-norm u, v from a few power iterations (as a trained file holds: close to, not exactly, the top singular
    vectors); a non-zero attention gain; BatchNorm statistics measured layer by layer on ``batch``, then jittered, so
    that, as in a trained model, activations stay near unit scale and deep features reach the output (statistics
    measured on a few tiny images do not carry over to other images, hence the test runs on ``batch`` itself)."""
    gen = torch.Generator().manual_seed(seed)
    filled: set[str] = set()
    names = {module: name for name, module in net.named_modules()}

    def fill(module: nn.Module, attr: str, value=None, std=None, low=None, high=None) -> None:
        tensor = getattr(module, attr)
        if isinstance(value, torch.Tensor):
            tensor.copy_(value)
        elif value is not None:
            tensor.fill_(value)
        elif std is not None:
            tensor.normal_(0.0, std, generator=gen)
        else:
            tensor.uniform_(low, high, generator=gen)
        filled.add(f"{names[module]}.{attr}")

    batchnorms = []
    for module in net.modules():
        if isinstance(module, SelfAttention):
            fill(module, "gamma", 0.5)
        elif isinstance(module, nn.BatchNorm2d):
            batchnorms.append(module)
            fill(module, "weight", low=0.8, high=1.2)
            fill(module, "bias", std=0.1)
            fill(module, "num_batches_tracked", int(torch.randint(1, 10**6, (1,), generator=gen)))
        elif isinstance(module, (nn.Conv1d, nn.Conv2d)):
            if module.bias is not None:
                fill(module, "bias", std=0.05)
            if hasattr(module, "weight_orig"):
                fill(module, "weight_orig", std=1.0)
                mat = module.weight_orig.reshape(module.weight_orig.shape[0], -1)
                v = F.normalize(torch.randn(mat.shape[1], generator=gen), dim=0)
                for _ in range(3):
                    u = F.normalize(mat @ v, dim=0)
                    v = F.normalize(mat.t() @ u, dim=0)
                fill(module, "weight_u", u)
                fill(module, "weight_v", v)
            elif hasattr(module, "weight_g"):
                fill(module, "weight_v", std=1.0)
                fill(module, "weight_g", low=0.5, high=1.5)
            else:
                fill(module, "weight", std=math.sqrt(2.0 / module.weight[0].numel()))

    def calibrate(bn, inputs):
        x = inputs[0]
        var = x.var(dim=(0, 2, 3))
        n = bn.num_features
        fill(bn, "running_mean", x.mean(dim=(0, 2, 3)) + torch.randn(n, generator=gen) * 0.1 * var.sqrt())
        fill(bn, "running_var", var * torch.empty(n).uniform_(0.8, 1.25, generator=gen) + 0.1 * var.mean() + 1e-3)

    net.eval()
    handles = [bn.register_forward_pre_hook(calibrate) for bn in batchnorms]
    net(batch)  # each BatchNorm sees inputs of already calibrated layers
    for handle in handles:
        handle.remove()
    assert filled == set(net.state_dict())


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
