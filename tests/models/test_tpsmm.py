"""TPSMM (gen_models.models.tpsmm): the official vox-256 checkpoint layout loads strictly, bad files fail clearly, a tiny
model matches an independent functional computation, and batched rendering equals frame-by-frame rendering."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
import torchvision
from random_weights import TPSMM_TINY, randomize_tpsmm, tiny_tpsmm
from torch import nn

from gen_models.core.errors import InputError, WeightsIntegrityError
from gen_models.models.tpsmm import TPSMM, VOX_256, from_manifest, load_tpsmm

SIZE = 64

# Derived from the official code (yoyo-nb/Thin-Plate-Spline-Motion-Model c6168788, config/vox-256.yaml).
VOX_COUNTS = {  # module: (tensors, elements)
    "kp_detector": (122, 11_237_432),
    "dense_motion_network": (59, 37_941_904),
    "inpainting_network": (78, 24_737_283),
    "avd_network": (69, 2_594_413),
    "bg_predictor": (122, 11_198_618),
}
VOX_SHAPES = [
    ("kp_detector", "fg_encoder.conv1.weight", (64, 3, 7, 7)),
    ("kp_detector", "fg_encoder.layer2.0.downsample.0.weight", (128, 64, 1, 1)),
    ("kp_detector", "fg_encoder.layer4.1.bn2.num_batches_tracked", ()),
    ("kp_detector", "fg_encoder.fc.weight", (100, 512)),
    ("dense_motion_network", "hourglass.encoder.down_blocks.0.conv.weight", (128, 84, 3, 3)),
    ("dense_motion_network", "hourglass.decoder.up_blocks.1.conv.weight", (512, 2048, 3, 3)),
    ("dense_motion_network", "hourglass.decoder.up_blocks.4.norm.weight", (64,)),
    ("dense_motion_network", "maps.weight", (11, 148, 7, 7)),
    ("dense_motion_network", "up.1.conv.weight", (37, 74, 3, 3)),
    ("dense_motion_network", "occlusion.0.weight", (1, 256, 7, 7)),
    ("dense_motion_network", "occlusion.3.weight", (1, 37, 7, 7)),
    ("dense_motion_network", "down.weight", (3, 1, 13, 13)),
    ("inpainting_network", "first.conv.weight", (64, 3, 7, 7)),
    ("inpainting_network", "up_blocks.1.conv.weight", (128, 512, 3, 3)),
    ("inpainting_network", "resblock.4.conv1.weight", (256, 256, 3, 3)),
    ("inpainting_network", "final.weight", (3, 64, 7, 7)),
    ("avd_network", "id_encoder.9.weight", (128, 1024)),
    ("avd_network", "decoder.0.weight", (1024, 256)),
    ("avd_network", "decoder.7.running_var", (256,)),
    ("bg_predictor", "bg_encoder.conv1.weight", (64, 6, 7, 7)),
    ("bg_predictor", "bg_encoder.fc.weight", (6, 512)),
]
MODULES = ("kp_detector", "dense_motion_network", "inpainting_network", "avd_network")


pytestmark = pytest.mark.usefixtures("one_thread")


def official_checkpoint(model: TPSMM, bg_predictor: dict | None = None, avd: bool = True) -> dict:
    """The dict ``Logger.save_cpk`` writes: module state_dicts, optimizer states and the epoch."""
    ckpt: dict = {name: model.get_submodule(name).state_dict() for name in MODULES if avd or name != "avd_network"}
    if bg_predictor is not None:
        ckpt["bg_predictor"] = bg_predictor
    param = nn.Parameter(torch.zeros(3))
    opt = torch.optim.Adam([param], lr=2e-4, betas=(0.5, 0.999))
    param.sum().backward()
    opt.step()
    ckpt["optimizer"] = opt.state_dict()
    ckpt["optimizer_bg_predictor"] = opt.state_dict()
    ckpt["epoch"] = 99
    return ckpt


# 1. Real size --------------------------------------------------------------------------------------------------


def test_vox256_official_layout_loads_strictly(tmp_path):
    torch.manual_seed(0)
    model = randomize_tpsmm(TPSMM(), 0)
    bg = torchvision.models.resnet18(weights=None)
    bg.conv1 = nn.Conv2d(6, 64, kernel_size=7, stride=2, padding=3, bias=False)
    bg.fc = nn.Linear(512, 6)
    bg_state = {f"bg_encoder.{k}": v for k, v in bg.state_dict().items()}
    ckpt = official_checkpoint(model, bg_predictor=bg_state)

    for name, (tensors, elements) in VOX_COUNTS.items():
        assert (len(ckpt[name]), sum(v.numel() for v in ckpt[name].values())) == (tensors, elements), name
    for name, key, shape in VOX_SHAPES:
        assert tuple(ckpt[name][key].shape) == shape, (name, key)

    path = tmp_path / "vox.pth.tar"
    torch.save(ckpt, path)
    del model, bg
    loaded = from_manifest(path, {}, torch.device("cpu"))  # {} means vox-256

    assert loaded.kind == "tpsmm" and loaded.has_avd and not loaded.training
    assert loaded.config == VOX_256
    for name in MODULES:
        own = loaded.get_submodule(name).state_dict()
        assert set(own) == set(ckpt[name])
        for key, value in ckpt[name].items():
            assert own[key].dtype == value.dtype and torch.equal(own[key], value), (name, key)


# 2. Wrong files ------------------------------------------------------------------------------------------------


def test_wrong_files_raise_weights_integrity_error(tmp_path):
    model = tiny_tpsmm()
    good = official_checkpoint(model)

    def attempt(content, name="bad.pth.tar"):
        path = tmp_path / name
        torch.save(content, path)
        with pytest.raises(WeightsIntegrityError) as info:
            load_tpsmm(path, TPSMM_TINY)
        return str(info.value)

    no_inpainting = {k: v for k, v in good.items() if k != "inpainting_network"}
    message = attempt(no_inpainting)
    assert "missing inpainting_network" in message and "bad.pth.tar" in message

    renamed = dict(good)
    renamed["dense_motion_network"] = {
        ("map.weight" if k == "maps.weight" else k): v for k, v in good["dense_motion_network"].items()
    }
    message = attempt(renamed)
    assert "dense_motion_network" in message and "missing keys: maps.weight" in message
    assert "unexpected keys: map.weight" in message

    reshaped = dict(good)
    reshaped["avd_network"] = dict(good["avd_network"], **{"decoder.9.bias": torch.zeros(7)})
    assert "decoder.9.bias: file (7,) vs model (20,)" in attempt(reshaped)

    assert "expected a dict of state_dicts" in attempt(torch.zeros(3))
    assert "kp_detector is not a state_dict" in attempt(dict(good, kp_detector=[1, 2, 3]))
    # a plain kp_detector state_dict instead of the container
    assert "missing kp_detector, dense_motion_network, inpainting_network" in attempt(good["kp_detector"])

    junk = tmp_path / "junk.pth.tar"
    junk.write_bytes(b"not a checkpoint at all")
    with pytest.raises(WeightsIntegrityError):
        load_tpsmm(junk, TPSMM_TINY)


def test_checkpoint_without_avd_loads_but_avd_mode_is_unavailable(tmp_path):
    model = tiny_tpsmm()
    path = tmp_path / "no_avd.pth.tar"
    torch.save(official_checkpoint(model, avd=False), path)
    loaded = load_tpsmm(path, TPSMM_TINY)
    assert not loaded.has_avd
    kp = loaded.keypoints(torch.rand(1, 3, SIZE, SIZE))
    assert loaded.render(torch.rand(1, 3, SIZE, SIZE), kp, kp).shape == (1, 3, SIZE, SIZE)
    with pytest.raises(InputError, match="avd"):
        loaded.avd(kp, kp)


def test_config_is_validated():
    with pytest.raises(ValueError, match="num_tpss"):
        TPSMM({"common_params": {"num_tpss": 3}})
    with pytest.raises(ValueError, match="num_down_blocks == 3"):
        TPSMM(dict(TPSMM_TINY, generator_params={"block_expansion": 4, "max_features": 16, "num_down_blocks": 2}))


# 3. Tiny forward against an independent functional computation --------------------------------------------------


def ref_grid(h: int, w: int) -> torch.Tensor:
    ys, xs = torch.meshgrid(torch.linspace(-1, 1, h), torch.linspace(-1, 1, w), indexing="ij")
    return torch.stack([xs, ys], dim=-1)


def ref_tps_grids(kp_d: torch.Tensor, kp_s: torch.Tensor, h: int, w: int) -> torch.Tensor:
    """For every (batch, TPS): solve the 8x8 TPS system in float64 point by point and warp the grid: [B, K, h, w, 2]."""
    pts = ref_grid(h, w).reshape(-1, 2).double().numpy()
    b, n = kp_d.shape[:2]
    out = np.zeros((b, n // 5, h * w, 2))
    for i in range(b):
        for k in range(n // 5):
            p = kp_d[i, 5 * k : 5 * k + 5].double().numpy()
            q = kp_s[i, 5 * k : 5 * k + 5].double().numpy()
            system = np.zeros((8, 8))
            for a in range(5):
                for c in range(5):
                    r2 = float(((p[a] - p[c]) ** 2).sum())
                    system[a, c] = r2 * np.log(r2 + 1e-9)
            system[:5, 5:7], system[:5, 7] = p, 1.0
            system[5:7, :5], system[7, :5] = p.T, 1.0
            system += 0.01 * np.eye(8)
            rhs = np.zeros((8, 2))
            rhs[:5] = q
            params = np.linalg.solve(system, rhs)
            r2 = ((pts[:, None, :] - p[None, :, :]) ** 2).sum(-1)
            out[i, k] = (r2 * np.log(r2 + 1e-9)) @ params[:5] + pts @ params[5:7] + params[7]
    return torch.from_numpy(out).float().view(b, n // 5, h, w, 2)


def _conv(x, sd, prefix, padding):
    return F.conv2d(x, sd[prefix + ".weight"], sd[prefix + ".bias"], padding=padding)


def _norm(x, sd, prefix):
    return F.instance_norm(x, weight=sd[prefix + ".weight"], bias=sd[prefix + ".bias"], eps=1e-5)


def _down(x, sd, prefix):
    return F.avg_pool2d(F.relu(_norm(_conv(x, sd, prefix + ".conv", 1), sd, prefix + ".norm")), 2)


def _up(x, sd, prefix):
    x = F.interpolate(x, scale_factor=2, mode="nearest")
    return F.relu(_norm(_conv(x, sd, prefix + ".conv", 1), sd, prefix + ".norm"))


def _res(x, sd, prefix):
    h = _conv(F.relu(_norm(x, sd, prefix + ".norm1")), sd, prefix + ".conv1", 1)
    h = _conv(F.relu(_norm(h, sd, prefix + ".norm2")), sd, prefix + ".conv2", 1)
    return h + x


def _warp(x, flow):
    if tuple(flow.shape[1:3]) != tuple(x.shape[2:]):
        flow = F.interpolate(flow.permute(0, 3, 1, 2), size=x.shape[2:], mode="bilinear", align_corners=True)
        flow = flow.permute(0, 2, 3, 1)
    return F.grid_sample(x, flow, mode="bilinear", padding_mode="zeros", align_corners=True)


def reference_dense_motion(sd, source, kp_d, kp_s):
    """Dense motion of the TPSMM_TINY config (3-level hourglass, 2 up blocks) step by step."""
    sigma = 1.5
    bump = torch.exp(-((torch.arange(13.0) - 6) ** 2) / (2 * sigma**2))
    kernel = torch.outer(bump, bump)
    kernel = (kernel / kernel.sum()).expand(3, 1, 13, 13)
    torch.testing.assert_close(sd["down.weight"], kernel, rtol=0, atol=1e-7)
    small = F.conv2d(F.pad(source, (6, 6, 6, 6)), kernel, groups=3)[:, :, ::4, ::4]
    b, _, h, w = small.shape

    grid = ref_grid(h, w)
    gauss = [torch.exp(-0.5 * ((grid[None, None] - kp[:, :, None, None]) ** 2).sum(-1) / 0.01) for kp in (kp_d, kp_s)]
    heatmap = torch.cat([torch.zeros(b, 1, h, w), gauss[0] - gauss[1]], dim=1)
    grids = torch.cat([grid.expand(b, 1, h, w, 2), ref_tps_grids(kp_d, kp_s, h, w)], dim=1)
    deformed = torch.stack([_warp(small, grids[:, t]) for t in range(grids.shape[1])], dim=1)

    x = torch.cat([heatmap, deformed.reshape(b, -1, h, w)], dim=1)
    enc = [x]
    for i in range(3):
        enc.append(_down(enc[-1], sd, f"hourglass.encoder.down_blocks.{i}"))
    levels, out = [], enc[-1]
    for i in range(3):
        out = torch.cat([_up(out, sd, f"hourglass.decoder.up_blocks.{i}"), enc[-(i + 2)]], dim=1)
        levels.append(out)
    weights = F.softmax(_conv(levels[-1], sd, "maps", 3), dim=1)
    flow = (grids * weights[..., None]).sum(dim=1)
    occ = [torch.sigmoid(_conv(levels[-2], sd, "occlusion.0", 3))]
    occ.append(torch.sigmoid(_conv(levels[-1], sd, "occlusion.1", 3)))
    feat = _up(levels[-1], sd, "up.0")
    occ.append(torch.sigmoid(_conv(feat, sd, "occlusion.2", 3)))
    feat = _up(feat, sd, "up.1")
    occ.append(torch.sigmoid(_conv(feat, sd, "occlusion.3", 3)))
    return flow, occ, weights


def reference_inpainting(sd, source, flow, occ):
    e0 = F.relu(_norm(_conv(source, sd, "first.conv", 3), sd, "first.norm"))
    e1 = _down(e0, sd, "down_blocks.0")
    e2 = _down(e1, sd, "down_blocks.1")
    e3 = _down(e2, sd, "down_blocks.2")
    h = _warp(e3, flow) * occ[0]
    h = _up(_res(_res(h, sd, "resblock.0"), sd, "resblock.1"), sd, "up_blocks.0")
    h = torch.cat([h, _warp(e2, flow) * occ[1]], dim=1)
    h = _up(_res(_res(h, sd, "resblock.2"), sd, "resblock.3"), sd, "up_blocks.1")
    h = torch.cat([h, _warp(e1, flow) * occ[2]], dim=1)
    h = _up(_res(_res(h, sd, "resblock.4"), sd, "resblock.5"), sd, "up_blocks.2")
    h = h * (1 - occ[3]) + _warp(e0, flow) * occ[3]
    image = torch.sigmoid(_conv(h, sd, "final", 3))
    return image * (1 - occ[3]) + _warp(source, flow) * occ[3]


@pytest.mark.parametrize("layout", [torch.contiguous_format, torch.channels_last], ids=["nchw", "channels-last"])
def test_tiny_forward_matches_functional_reference(layout):
    model = tiny_tpsmm(1).to(memory_format=layout)  # channels-last: how the catalog runs it on a CPU
    gen = torch.Generator().manual_seed(2)
    source = torch.rand(2, 3, SIZE, SIZE, generator=gen).contiguous(memory_format=layout)
    kp_s = torch.rand(2, 10, 2, generator=gen) * 1.6 - 0.8
    kp_d = kp_s + 0.15 * torch.randn(2, 10, 2, generator=gen)

    # keypoint head: a plain torchvision ResNet-18 trunk with the file's weights, then fc → sigmoid·2-1
    kp_sd = model.kp_detector.state_dict()
    trunk = torchvision.models.resnet18(weights=None)
    trunk.fc = nn.Identity()
    trunk.load_state_dict({k[len("fg_encoder."):]: v for k, v in kp_sd.items() if ".fc." not in k})
    with torch.no_grad():
        features = trunk.eval()(source)
    logits = F.linear(features, kp_sd["fg_encoder.fc.weight"], kp_sd["fg_encoder.fc.bias"])
    expected_kp = torch.sigmoid(logits) * 2 - 1
    got_kp = model.keypoints(source)["fg_kp"]
    assert got_kp.shape == (2, 10, 2)
    torch.testing.assert_close(got_kp, expected_kp.view(2, 10, 2), rtol=0, atol=1e-5)

    with torch.no_grad():
        flow, occ, weights = reference_dense_motion(model.dense_motion_network.state_dict(), source, kp_d, kp_s)
        dense = model.dense_motion_network(source, {"fg_kp": kp_d}, {"fg_kp": kp_s})
    assert dense["deformation"].shape == (2, SIZE // 4, SIZE // 4, 2)
    assert (flow - ref_grid(SIZE // 4, SIZE // 4)).abs().mean() > 0.03  # the warp is far from the identity
    torch.testing.assert_close(dense["deformation"], flow, rtol=0, atol=1e-5)
    torch.testing.assert_close(dense["contribution_maps"], weights, rtol=0, atol=1e-5)
    assert [tuple(o.shape[2:]) for o in dense["occlusion_map"]] == [(8, 8), (16, 16), (32, 32), (64, 64)]
    for got, want in zip(dense["occlusion_map"], occ):
        torch.testing.assert_close(got, want, rtol=0, atol=1e-5)

    prediction = model.render(source, {"fg_kp": kp_s}, {"fg_kp": kp_d})
    assert prediction.shape == (2, 3, SIZE, SIZE)
    with torch.no_grad():
        # the inpainting stage on the flow/masks just checked, then the whole chain from the reference's own flow:
        # float32 TPS rounding (~1e-6 in the grid) is amplified by the random network, hence the looser bound there
        stage = reference_inpainting(model.inpainting_network.state_dict(), source, dense["deformation"],
                                     dense["occlusion_map"])
        chained = reference_inpainting(model.inpainting_network.state_dict(), source, flow, occ)
    torch.testing.assert_close(prediction, stage, rtol=0, atol=1e-5)
    torch.testing.assert_close(prediction, chained, rtol=0, atol=1e-4)


# 4. Batches ----------------------------------------------------------------------------------------------------


def test_batched_render_equals_single_frames_and_avd_shape(tmp_path):
    path = tmp_path / "tiny.pth.tar"
    torch.save(official_checkpoint(tiny_tpsmm(3)), path)
    model = from_manifest(path, TPSMM_TINY, torch.device("cpu"))
    assert model.kind == "tpsmm" and model.has_avd and not model.training

    gen = torch.Generator().manual_seed(4)
    source = torch.rand(1, 3, SIZE, SIZE, generator=gen)
    driving = torch.rand(3, 3, SIZE, SIZE, generator=gen)
    kp_source = model.keypoints(source)
    kp_driving = model.keypoints(driving)
    kp_driving = {"fg_kp": kp_driving["fg_kp"] + 0.2 * torch.randn(3, 10, 2, generator=gen)}

    batched = model.render(source, kp_source, kp_driving)
    assert batched.shape == (3, 3, SIZE, SIZE)
    assert 0 <= batched.min() and batched.max() <= 1
    for i in range(3):
        single = model.render(source, kp_source, {"fg_kp": kp_driving["fg_kp"][i : i + 1]})
        torch.testing.assert_close(batched[i : i + 1], single, rtol=0, atol=1e-5)
    expanded = model.render(source.expand(3, -1, -1, -1), {"fg_kp": kp_source["fg_kp"].expand(3, -1, -1)}, kp_driving)
    torch.testing.assert_close(expanded, batched, rtol=0, atol=1e-5)
    with pytest.raises(ValueError, match="driving batch"):
        model.render(torch.rand(2, 3, SIZE, SIZE), kp_source, kp_driving)

    retargeted = model.avd(kp_source, kp_driving)
    assert retargeted["fg_kp"].shape == (3, 10, 2)
    one = model.avd(kp_source, {"fg_kp": kp_driving["fg_kp"][1:2]})
    torch.testing.assert_close(retargeted["fg_kp"][1:2], one["fg_kp"], rtol=0, atol=1e-5)


def test_tps_fit_takes_the_official_steps_bit_for_bit():
    """The official ``TPS.__init__`` builds L from ``torch.norm(...)**2``, adds 0.01·I and multiplies by
    ``torch.inverse(L)``; the same steps written out here give the very same bits as ``tps_fit``."""
    from gen_models.models.tpsmm import tps_fit

    gen = torch.Generator().manual_seed(5)
    kp_1 = torch.rand(2, 10, 5, 2, generator=gen) * 2 - 1
    kp_2 = torch.rand(2, 10, 5, 2, generator=gen) * 2 - 1
    b, k, n, _ = kp_1.shape
    radial = torch.norm(kp_1[:, :, :, None] - kp_1[:, :, None, :], dim=4, p=2) ** 2
    radial = radial * torch.log(radial + 1e-9)
    with_one = torch.cat([kp_1, torch.ones(b, k, n, 1)], 3)
    left = torch.cat([radial, with_one.permute(0, 1, 3, 2)], 2)
    system = torch.cat([left, torch.cat([with_one, torch.zeros(b, k, 3, 3)], 2)], 3)
    system = system + torch.eye(n + 3).expand(system.shape) * 0.01
    params = torch.matmul(torch.inverse(system), torch.cat([kp_2, torch.zeros(b, k, 3, 2)], 2))
    radial_w, affine = tps_fit(kp_1, kp_2)
    assert torch.equal(radial_w, params[:, :, :n]) and torch.equal(affine, params[:, :, n:])
