"""Every architecture module's uniform interface: ``Config.from_dict``, ``build(config)`` (fresh weights) and
``load(path, config)`` (equal to the previous loader on the same official-format file)."""

from __future__ import annotations

import pytest
import torch

from gen_models.core.errors import ManifestError
from gen_models.models import agenet, autoencoders, cyclegan, dcgan, dcgan_digits, deoldify, fomm, pggan, tpsmm, zhang

CPU = torch.device("cpu")


def n_params(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize(("module", "expected"), [
    (agenet, agenet.PARAM_COUNT),
    (dcgan, 3_576_704),
    (cyclegan, 11_378_179),
    (zhang, None),
    (dcgan_digits, None),
    (autoencoders, None),
])
def test_build_default_config(module, expected):
    model = module.build(module.Config())
    assert isinstance(model, torch.nn.Module)
    if expected is not None:
        assert n_params(model) == expected


def test_generators_expose_z_dim_and_first_layer_weight():
    g = pggan.build(pggan.Config(resolution=32, z_dim=24, fmaps_base=256, fmaps_max=32))
    assert g.z_dim == 24 and g.first_layer_weight().shape == (24, 32 * 16)
    d = dcgan.build(dcgan.Config())
    assert d.z_dim == 100 and d.first_layer_weight().shape == (100, 512 * 16)
    for arch, z in (("tutorial", 100), ("lab", 128)):
        m = dcgan_digits.build(dcgan_digits.Config(arch))
        assert m.z_dim == z and m.first_layer_weight().shape[0] == z


def test_talking_heads_and_colorizers_attributes():
    assert fomm.FOMM.keypoints_key == "value" and fomm.FOMM.has_avd is False
    assert tpsmm.TPSMM.keypoints_key == "fg_kp"
    assert deoldify.DeOldify.uses_render_factor and not zhang.ECCV16.uses_render_factor
    assert fomm.Config().model_params() == fomm.VOX_256 and tpsmm.Config().model_params() == tpsmm.VOX_256


@pytest.mark.parametrize(("module", "raw", "match"), [
    (pggan, {"resolution": 1000}, "resolution"),
    (pggan, {"bogus": 1}, "bogus"),
    (deoldify, {"variant": "modern"}, "modern"),
    (zhang, {"variant": "x"}, "variant"),
    (fomm, {"generator_params": {"dense_motion_params": {"nope": 1}}}, "nope"),
    (tpsmm, {"common_params": {"num_tps": "ten"}}, "num_tps"),
    (cyclegan, {"ngf": "wide"}, "ngf"),
    (agenet, {"num_classes": 0}, "num_classes"),
])
def test_from_dict_rejects_unknown_keys_and_bad_values(module, raw, match):
    with pytest.raises(ManifestError, match=match):
        module.Config.from_dict(raw)


def test_manifest_configs_parse():
    assert deoldify.Config.from_dict({"variant": "stable"}).settings()["encoder"] == "resnet101"
    assert cyclegan.Config.from_dict({"direction": "horse2zebra"}).direction == "horse2zebra"
    assert fomm.Config.from_dict({}) == fomm.Config() and tpsmm.Config.from_dict({}) == tpsmm.Config()
    assert pggan.Config.from_dict({"resolution": 1024, "z_dim": 512}) == pggan.Config()


def _same(a: torch.nn.Module, b: torch.nn.Module) -> None:
    sa, sb = a.state_dict(), b.state_dict()
    assert sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)
    assert not a.training and not b.training


def test_load_equals_previous_loaders(tmp_path):
    torch.manual_seed(0)
    cfg = pggan.Config(resolution=32, z_dim=24, fmaps_base=256, fmaps_max=32)
    torch.save(pggan.build(cfg).state_dict(), tmp_path / "p.bin")
    _same(pggan.load(tmp_path / "p.bin", cfg), pggan.from_manifest(tmp_path / "p.bin", {"resolution": 32, "z_dim": 24,
                                                                                        "fmaps_base": 256,
                                                                                        "fmaps_max": 32}, CPU))
    torch.save(dcgan.Generator(100, 8).state_dict(), tmp_path / "d.pth")
    _same(dcgan.load(tmp_path / "d.pth", dcgan.Config()), dcgan.from_manifest(tmp_path / "d.pth", {}, CPU))
    assert dcgan.load(tmp_path / "d.pth", dcgan.Config()).model[0].weight.shape == (100, 64, 4, 4)
    c = cyclegan.Config(ngf=8, n_blocks=2)
    torch.save(cyclegan.build(c).state_dict(), tmp_path / "c.pth")
    _same(cyclegan.load(tmp_path / "c.pth", c), cyclegan.load_cyclegan(tmp_path / "c.pth", 8, 2))
    torch.save(zhang.build(zhang.Config("siggraph17")).state_dict(), tmp_path / "z.pth")
    inferred = zhang.load(tmp_path / "z.pth", zhang.Config())
    assert inferred.variant == "siggraph17"
    _same(inferred, zhang.load_zhang(tmp_path / "z.pth", "siggraph17"))
