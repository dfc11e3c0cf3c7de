"""First Order Motion Model: the official vox-256 checkpoint layout (real size, legacy torch.save format, with genuine
Adam optimizer states), clear errors for files that do not fit, the forward pass against an independent functional
re-implementation of the official modules, and batched rendering."""

from __future__ import annotations

import argparse

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from random_weights import adam_state, randomize_fomm_
from torch import nn

from gen_models.core.errors import WeightsIntegrityError
from gen_models.models.fomm import FOMM, VOX_256, from_manifest, load_fomm, model_params

CPU = torch.device("cpu")
SIZE = 32
TINY = {
    "common_params": {"num_kp": 3, "num_channels": 3, "estimate_jacobian": True},
    "kp_detector_params": {
        "temperature": 0.1,
        "block_expansion": 4,
        "max_features": 16,
        "num_blocks": 2,
        "scale_factor": 0.5,
    },
    "generator_params": {
        "block_expansion": 4,
        "max_features": 16,
        "num_down_blocks": 2,
        "num_bottleneck_blocks": 2,
        "estimate_occlusion_map": True,
        "dense_motion_params": {"block_expansion": 4, "max_features": 16, "num_blocks": 2, "scale_factor": 0.5},
    },
}

# vox-256, from reading the official modules: (tensors, elements) and a sample of exact shapes
REAL_TOTALS = {"kp_detector": (75, 14_221_837), "generator": (196, 45_593_205)}
REAL_SHAPES = {
    "kp_detector": {
        "down.weight": (3, 1, 13, 13),
        "predictor.encoder.down_blocks.0.conv.weight": (64, 3, 3, 3),
        "predictor.encoder.down_blocks.4.conv.weight": (1024, 512, 3, 3),
        "predictor.encoder.down_blocks.4.norm.running_var": (1024,),
        "predictor.decoder.up_blocks.0.conv.weight": (512, 1024, 3, 3),
        "predictor.decoder.up_blocks.4.conv.weight": (32, 128, 3, 3),
        "predictor.decoder.up_blocks.4.norm.num_batches_tracked": (),
        "kp.weight": (10, 35, 7, 7),
        "kp.bias": (10,),
        "jacobian.weight": (40, 35, 7, 7),
        "jacobian.bias": (40,),
    },
    "generator": {
        "dense_motion_network.down.weight": (3, 1, 13, 13),
        "dense_motion_network.hourglass.encoder.down_blocks.0.conv.weight": (128, 44, 3, 3),
        "dense_motion_network.hourglass.encoder.down_blocks.4.conv.weight": (1024, 1024, 3, 3),
        "dense_motion_network.hourglass.decoder.up_blocks.1.conv.weight": (512, 2048, 3, 3),
        "dense_motion_network.hourglass.decoder.up_blocks.4.conv.weight": (64, 256, 3, 3),
        "dense_motion_network.mask.weight": (11, 108, 7, 7),
        "dense_motion_network.mask.bias": (11,),
        "dense_motion_network.occlusion.weight": (1, 108, 7, 7),
        "first.conv.weight": (64, 3, 7, 7),
        "first.norm.running_mean": (64,),
        "down_blocks.0.conv.weight": (128, 64, 3, 3),
        "down_blocks.1.conv.weight": (256, 128, 3, 3),
        "bottleneck.r0.conv1.weight": (256, 256, 3, 3),
        "bottleneck.r5.norm2.num_batches_tracked": (),
        "up_blocks.0.conv.weight": (128, 256, 3, 3),
        "up_blocks.1.conv.weight": (64, 128, 3, 3),
        "final.weight": (3, 64, 7, 7),
        "final.bias": (3,),
    },
}


# ----------------------------------------------------------------------------------------------- random weights


def tiny_model(seed: int = 0, config: dict = TINY) -> FOMM:
    model = FOMM(config)
    randomize_fomm_(model.kp_detector, seed)
    randomize_fomm_(model.generator, seed + 1)
    return model.eval()


def random_keypoints(batch: int, num_kp: int, seed: int) -> dict[str, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    return {
        "value": torch.rand(batch, num_kp, 2, generator=gen) * 1.6 - 0.8,
        "jacobian": torch.eye(2) + 0.3 * torch.randn(batch, num_kp, 2, 2, generator=gen),
    }


def images(batch: int, seed: int) -> torch.Tensor:
    return torch.rand(batch, 3, SIZE, SIZE, generator=torch.Generator().manual_seed(seed))


# --------------------------------------------------------- independent re-implementation of the official modules


def ref_grid(h: int, w: int) -> torch.Tensor:
    """(h, w, 2) of (x, y) from -1 to 1 corner to corner."""
    yy, xx = torch.meshgrid(torch.linspace(-1, 1, h), torch.linspace(-1, 1, w), indexing="ij")
    return torch.stack([xx, yy], dim=-1)


def ref_aa_kernel(channels: int, scale: float) -> torch.Tensor:
    sigma = (1 / scale - 1) / 2
    size = 2 * round(4 * sigma) + 1
    taps = np.arange(size) - (size - 1) / 2
    g = np.exp(-(taps**2) / (2 * sigma**2))
    kernel = np.outer(g, g) / np.outer(g, g).sum()
    return torch.tensor(kernel, dtype=torch.float32).expand(channels, 1, size, size).clone()


def ref_aa_down(x: torch.Tensor, scale: float) -> torch.Tensor:
    kernel = ref_aa_kernel(x.shape[1], scale)
    pad = kernel.shape[-1] // 2
    step = round(1 / scale)
    return F.conv2d(F.pad(x, [pad] * 4), kernel, groups=x.shape[1])[:, :, ::step, ::step]


def ref_conv(x, s, name, padding):
    return F.conv2d(x, s[f"{name}.weight"], s[f"{name}.bias"], padding=padding)


def ref_bn(x, s, name):
    return F.batch_norm(
        x, s[f"{name}.running_mean"], s[f"{name}.running_var"], s[f"{name}.weight"], s[f"{name}.bias"], False, 0.0, 1e-5
    )


def ref_hourglass(x, s, name, num_blocks):
    levels = [x]
    for i in range(num_blocks):
        block = f"{name}.encoder.down_blocks.{i}"
        levels.append(F.avg_pool2d(F.relu(ref_bn(ref_conv(levels[-1], s, f"{block}.conv", 1), s, f"{block}.norm")), 2))
    out = levels.pop()
    for i in range(num_blocks):
        block = f"{name}.decoder.up_blocks.{i}"
        out = F.interpolate(out, scale_factor=2, mode="nearest")
        out = F.relu(ref_bn(ref_conv(out, s, f"{block}.conv", 1), s, f"{block}.norm"))
        out = torch.cat([out, levels.pop()], dim=1)
    return out


def ref_kp_detector(s, x, cfg):
    p = cfg["kp_detector_params"]
    features = ref_hourglass(ref_aa_down(x, p["scale_factor"]), s, "predictor", p["num_blocks"])
    logits = F.conv2d(features, s["kp.weight"], s["kp.bias"])
    b, k, h, w = logits.shape
    heat = torch.softmax(logits.reshape(b, k, h * w) / p["temperature"], dim=-1).reshape(b, k, h, w)
    value = torch.einsum("bkhw,hwc->bkc", heat, ref_grid(h, w))
    maps = F.conv2d(features, s["jacobian.weight"], s["jacobian.bias"]).reshape(b, k, 4, h, w)
    jacobian = torch.einsum("bkhw,bkchw->bkc", heat, maps).reshape(b, k, 2, 2)
    return {"value": value, "jacobian": jacobian}


def ref_generator(s, source, kp_d, kp_s, cfg):
    gp = cfg["generator_params"]
    dp = gp["dense_motion_params"]
    num_kp = cfg["common_params"]["num_kp"]
    small = ref_aa_down(source, dp["scale_factor"])
    b, _, h, w = small.shape
    grid = ref_grid(h, w)

    def gaussian(v):
        return torch.exp(-0.5 * ((grid[None, None] - v[:, :, None, None, :]) ** 2).sum(-1) / 0.01)

    heat = torch.cat([torch.zeros(b, 1, h, w), gaussian(kp_d["value"]) - gaussian(kp_s["value"])], dim=1)
    motions = [grid.expand(b, h, w, 2)]
    for k in range(num_kp):
        jac = kp_s["jacobian"][:, k] @ torch.linalg.inv(kp_d["jacobian"][:, k])
        rel = grid[None] - kp_d["value"][:, k, None, None, :]
        motions.append(torch.einsum("bij,bhwj->bhwi", jac, rel) + kp_s["value"][:, k, None, None, :])
    warped = [F.grid_sample(small, m, mode="bilinear", padding_mode="zeros", align_corners=False) for m in motions]
    stacked = torch.cat([torch.cat([heat[:, i : i + 1], warped[i]], dim=1) for i in range(num_kp + 1)], dim=1)
    features = ref_hourglass(stacked, s, "dense_motion_network.hourglass", dp["num_blocks"])
    mask = torch.softmax(ref_conv(features, s, "dense_motion_network.mask", 3), dim=1)
    deformation = sum(mask[:, i, :, :, None] * motions[i] for i in range(num_kp + 1))
    occlusion = torch.sigmoid(ref_conv(features, s, "dense_motion_network.occlusion", 3))

    def resized(grid_bhw2, size):
        if tuple(grid_bhw2.shape[1:3]) == tuple(size):
            return grid_bhw2
        out = F.interpolate(grid_bhw2.permute(0, 3, 1, 2), size=size, mode="bilinear", align_corners=False)
        return out.permute(0, 2, 3, 1)

    x = F.relu(ref_bn(ref_conv(source, s, "first.conv", 3), s, "first.norm"))
    for i in range(gp["num_down_blocks"]):
        x = F.avg_pool2d(F.relu(ref_bn(ref_conv(x, s, f"down_blocks.{i}.conv", 1), s, f"down_blocks.{i}.norm")), 2)
    size = x.shape[2:]
    x = F.grid_sample(x, resized(deformation, size), align_corners=False)
    x = x * F.interpolate(occlusion, size=size, mode="bilinear", align_corners=False)
    for i in range(gp["num_bottleneck_blocks"]):
        r = f"bottleneck.r{i}"
        y = ref_conv(F.relu(ref_bn(x, s, f"{r}.norm1")), s, f"{r}.conv1", 1)
        x = x + ref_conv(F.relu(ref_bn(y, s, f"{r}.norm2")), s, f"{r}.conv2", 1)
    for i in range(gp["num_down_blocks"]):
        x = F.interpolate(x, scale_factor=2, mode="nearest")
        x = F.relu(ref_bn(ref_conv(x, s, f"up_blocks.{i}.conv", 1), s, f"up_blocks.{i}.norm"))
    return {
        "prediction": torch.sigmoid(ref_conv(x, s, "final", 3)),
        "mask": mask,
        "deformation": deformation,
        "occlusion_map": occlusion,
        "sparse_deformed": torch.stack(warped, dim=1),
        "deformed": F.grid_sample(source, resized(deformation, source.shape[2:]), align_corners=False),
    }


# ------------------------------------------------------------------------------------------------------- tests


def discriminator_like() -> nn.Module:
    """A small stand-in with the official MultiScaleDiscriminator's key pattern (spectral-norm convs)."""
    disc = nn.Module()
    disc.down_blocks = nn.ModuleList()
    for i, (c_in, c_out) in enumerate([(3, 8), (8, 16)]):
        block = nn.Module()
        block.conv = nn.utils.spectral_norm(nn.Conv2d(c_in, c_out, 4))
        if i:
            block.norm = nn.InstanceNorm2d(c_out, affine=True)
        disc.down_blocks.append(block)
    disc.conv = nn.utils.spectral_norm(nn.Conv2d(16, 1, 1))
    root = nn.Module()
    root.discs = nn.ModuleDict({"1": disc})
    return root


def test_real_size_official_container_loads_strictly(tmp_path):
    trained = FOMM()
    assert trained.config == VOX_256
    saved = {}
    for name, seed in (("kp_detector", 1), ("generator", 2)):
        randomize_fomm_(getattr(trained, name), seed, parameters=False)  # a second fresh FOMM draws other weights
        saved[name] = getattr(trained, name).state_dict()
        tensors, elements = REAL_TOTALS[name]
        assert len(saved[name]) == tensors and sum(v.numel() for v in saved[name].values()) == elements
        for key, shape in REAL_SHAPES[name].items():
            assert tuple(saved[name][key].shape) == shape, key
    assert sum(k.endswith("num_batches_tracked") for part in saved.values() for k in part) == 37
    discriminator = discriminator_like()
    checkpoint = {
        "generator": saved["generator"],
        "discriminator": discriminator.state_dict(),
        "kp_detector": saved["kp_detector"],
        "optimizer_generator": adam_state(trained.generator, step=True, torch10=True),
        "optimizer_discriminator": adam_state(discriminator, step=False),  # vox: generator_gan 0, never stepped
        "optimizer_kp_detector": adam_state(trained.kp_detector, step=True),
        "epoch": 99,
    }
    assert checkpoint["optimizer_generator"]["param_groups"][0]["betas"] == (0.5, 0.999)
    assert len(checkpoint["optimizer_generator"]["state"]) == 114  # every parameter: step, exp_avg, exp_avg_sq
    assert checkpoint["optimizer_generator"]["state"][0]["step"] == 1
    assert checkpoint["optimizer_kp_detector"]["state"][0]["step"].dtype == torch.float32  # today's layout
    path = tmp_path / "vox-cpk.pth.tar"
    torch.save(checkpoint, path, _use_new_zipfile_serialization=False)  # the files were written by torch 1.0
    del checkpoint
    assert path.stat().st_size > 3 * 4 * 59_000_000

    model = from_manifest(path, {}, CPU)
    assert isinstance(model, FOMM) and model.kind == "fomm" and model.config == VOX_256
    assert not any(m.training for m in model.modules())
    for name, state in saved.items():
        loaded = getattr(model, name).state_dict()
        assert loaded.keys() == state.keys()
        for key, tensor in state.items():
            assert loaded[key].dtype == tensor.dtype and torch.equal(loaded[key], tensor), f"{name}.{key}"


def test_stripped_file_and_config_sections(tmp_path):
    source = tiny_model(seed=3)
    path = tmp_path / "fomm-tiny.pth"
    torch.save({"kp_detector": source.kp_detector.state_dict(), "generator": source.generator.state_dict()}, path)
    model = load_fomm(path, TINY)
    assert not model.training and model.kind == "fomm"
    for name in ("kp_detector", "generator"):
        expected = getattr(source, name).state_dict()
        assert all(torch.equal(v, expected[k]) for k, v in getattr(model, name).state_dict().items())

    params = model_params({"generator_params": {"dense_motion_params": {"num_blocks": 3}}})
    assert params["generator_params"]["dense_motion_params"] == {**VOX_256["generator_params"]["dense_motion_params"],
                                                                 "num_blocks": 3}
    assert params["kp_detector_params"] == VOX_256["kp_detector_params"]
    assert model_params({"model_params": {**TINY, "discriminator_params": {"scales": [1]}}}) == TINY
    with pytest.raises(ValueError, match="generator_param"):
        model_params({"generator_param": {}})


def _tiny_checkpoint() -> dict:
    model = tiny_model(seed=5)
    return {"generator": model.generator.state_dict(), "kp_detector": model.kp_detector.state_dict(), "epoch": 3}


@pytest.mark.parametrize(
    "damage, message",
    [
        (lambda c: c.pop("kp_detector"), r"no 'kp_detector' entry .*'epoch', 'generator'"),
        (lambda c: c["generator"].__setitem__("final_conv.weight", c["generator"].pop("final.weight")),
         r"\(generator\) does not fit OcclusionAwareGenerator: missing keys: final\.weight; "
         + r"unexpected keys: final_conv\.weight"),
        (lambda c: c["kp_detector"].__setitem__("kp.weight", torch.zeros(4, 7, 7, 7)),
         r"\(kp_detector\) .*wrong shapes: kp\.weight: file \(4, 7, 7, 7\) vs model \(3, 7, 7, 7\)"),
        (lambda c: c.__setitem__("generator", [1, 2]), "'generator' is not a state_dict of tensors"),
        (lambda c: c.__setitem__("config", argparse.Namespace(a=1)), "refused"),
    ],
    ids=["missing-kp_detector", "renamed-key", "wrong-shape", "not-a-state-dict", "pickled-object"],
)
def test_files_that_do_not_fit_are_named(tmp_path, damage, message):
    checkpoint = _tiny_checkpoint()
    damage(checkpoint)
    path = tmp_path / "vox-cpk.pth.tar"
    torch.save(checkpoint, path)
    with pytest.raises(WeightsIntegrityError, match=message):
        load_fomm(path, TINY)


def test_not_a_dict_is_refused(tmp_path):
    path = tmp_path / "weights.pth"
    torch.save([torch.zeros(1)], path)
    with pytest.raises(WeightsIntegrityError, match="not a FOMM checkpoint.*found list"):
        load_fomm(path, TINY)


@pytest.mark.parametrize("layout", [torch.contiguous_format, torch.channels_last], ids=["nchw", "channels-last"])
@pytest.mark.parametrize("dense_scale", [0.5, 0.25], ids=["motion-16px-resized", "motion-8px-same-size"])
def test_forward_matches_an_independent_functional_implementation(dense_scale, layout):
    cfg = model_params(TINY)
    cfg["generator_params"]["dense_motion_params"]["scale_factor"] = dense_scale
    model = tiny_model(seed=7, config=cfg).to(memory_format=layout)  # channels-last: how the catalog runs it on a CPU
    kp_state, gen_state = model.kp_detector.state_dict(), model.generator.state_dict()
    assert torch.allclose(kp_state["down.weight"], ref_aa_kernel(3, 0.5), atol=1e-7)
    assert torch.allclose(gen_state["dense_motion_network.down.weight"], ref_aa_kernel(3, dense_scale), atol=1e-7)

    frames = images(2, seed=11).contiguous(memory_format=layout)
    kp_d, kp_s = random_keypoints(2, 3, seed=12), random_keypoints(2, 3, seed=13)
    with torch.no_grad():
        ours_kp = model.keypoints(frames)
        ref_kp = ref_kp_detector(kp_state, frames, cfg)
        ours = model.generator(frames, kp_driving=kp_d, kp_source=kp_s)
        ref = ref_generator(gen_state, frames, kp_d, kp_s, cfg)
    assert ours_kp["value"].shape == (2, 3, 2) and ours_kp["jacobian"].shape == (2, 3, 2, 2)
    for key in ("value", "jacobian"):
        assert (ours_kp[key] - ref_kp[key]).abs().max().item() <= 1e-5, key
    assert ours_kp["value"].std() > 0.05  # a spread-out heatmap would hide coordinate mistakes
    motion = SIZE // round(1 / dense_scale)
    assert ours["deformation"].shape == (2, motion, motion, 2) and ours["mask"].shape == (2, 4, motion, motion)
    assert ours["prediction"].shape == (2, 3, SIZE, SIZE) and ours["occlusion_map"].shape == (2, 1, motion, motion)
    # warping the noise image turns ~1e-7 rounding of grid coordinates into up to ~6e-6 (16 px per unit, steep pixels)
    tolerance = {"deformed": 3e-5, "sparse_deformed": 3e-5}
    for key, expected in ref.items():
        assert ours[key].shape == expected.shape, key
        assert (ours[key] - expected).abs().max().item() <= tolerance.get(key, 1e-5), key
    assert 0 <= ours["prediction"].min() and ours["prediction"].max() <= 1
    identity = ref_grid(motion, motion).expand(2, motion, motion, 2)
    assert (ours["deformation"] - identity).abs().max() > 0.1  # the keypoints really move the image


def test_render_batches_driving_frames_like_single_calls():
    model = tiny_model(seed=21)
    source = images(1, seed=22)
    driving = images(3, seed=23)
    kp_source = model.keypoints(source)
    kp_driving = model.keypoints(driving)
    wobble = torch.randn(3, 3, 2, 2, generator=torch.Generator().manual_seed(4))
    kp_driving["jacobian"] = kp_driving["jacobian"] + 0.2 * wobble
    batch = model.render(source, kp_source, kp_driving)
    assert batch.shape == (3, 3, SIZE, SIZE) and not batch.requires_grad
    for i in range(3):
        single = model.render(source, kp_source, {k: v[i : i + 1] for k, v in kp_driving.items()})
        assert (batch[i : i + 1] - single).abs().max().item() <= 1e-5
    assert (batch[0] - batch[1]).abs().max() > 1e-3  # different driving keypoints, different frames
    repeated = model.render(source.expand(3, -1, -1, -1), {k: v.repeat_interleave(3, 0) for k, v in kp_source.items()},
                            kp_driving)
    assert (repeated - batch).abs().max().item() <= 1e-5
    with pytest.raises(ValueError, match="source has batch 2"):
        model.render(images(2, seed=1), kp_source, kp_driving)
