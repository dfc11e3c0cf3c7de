"""The digits DCGANs: bundled generators draw recognisable digits, and the per-run trainer is exact and unshared.

Recognisability is judged by a logistic-regression classifier trained here on the scikit-learn digits (28×28, as
:mod:`gen_models.train.digits` serves them). Training runs are tiny (16 images, batch 8) and use the offline data.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import threading

import numpy as np
import pytest
import torch
from PIL import Image

from gen_models.core.errors import InputError, WeightsIntegrityError
from gen_models.media.image import read_png_metadata
from gen_models.models import dcgan_digits
from gen_models.train import digits_gan
from gen_models.train.digits import load_digits
from gen_models.train.digits_gan import DigitGANConfig, DigitGANTrainer

SINGLE = "tutorial-7"
ALL_DIGITS = ("tutorial-all", "lab-all")
TINY = {"source": "sklearn", "device": "cpu", "batch": 8, "limit": 16}  # 2 steps per epoch


@pytest.fixture(scope="module")
def classifier():
    from sklearn.linear_model import LogisticRegression

    def features(images: np.ndarray) -> np.ndarray:  # 2×2 mean pooling: 14×14 = 196 features, fast to fit
        x = np.asarray(images, np.float32)
        x = x / 255.0 if x.max() > 1 else x
        return x.reshape(len(x), 14, 2, 14, 2).mean(axis=(2, 4)).reshape(len(x), -1)

    train, test = load_digits("train", source="sklearn"), load_digits("test", source="sklearn")
    model = LogisticRegression(max_iter=500).fit(features(train.images), train.labels)
    accuracy = model.score(features(test.images), test.labels)
    assert accuracy > 0.9, accuracy
    return lambda images: model.predict_proba(features(images))


def test_bundled_card_lists_checked_files_and_their_data():
    models = dcgan_digits.bundled_models()
    assert set(models) >= {SINGLE, *ALL_DIGITS}
    assert sum(info.size for info in models.values()) < 25e6
    for info in models.values():
        assert info.path.stat().st_size == info.size
        assert hashlib.sha256(info.path.read_bytes()).hexdigest() == info.sha256
        assert "scikit-learn digits" in info.data and info.data in info.summary
        assert info.steps > 0 and info.epochs > 0 and info.arch in dcgan_digits.ARCHS
    assert models[SINGLE].digit == 7 and "digit 7 only" in models[SINGLE].summary
    assert all(models[name].digit is None for name in ALL_DIGITS)
    with pytest.raises(InputError, match="Unknown digits model 'no-such-model'; choose one of: tutorial-all"):
        dcgan_digits.generate_digits("no-such-model", [0])


def test_single_digit_model_draws_its_digit(classifier):
    images = dcgan_digits.generate_digits(SINGLE, range(64), device="cpu")
    assert images.shape == (64, 28, 28) and images.dtype == np.uint8
    share = float(np.mean(classifier(images).argmax(1) == 7))
    assert share >= 0.8, share


@pytest.mark.parametrize("name", ALL_DIGITS)
def test_all_digit_models_draw_varied_readable_digits(classifier, name):
    """At least 30% of 64 samples are read as one digit with probability ≥ 0.8 and those cover ≥ 6 digits (real test
    digits: 77%, all 10; uniform noise: 0%; blobs: about 20%, over 3 digits)."""
    proba = classifier(dcgan_digits.generate_digits(name, range(64), device="cpu"))
    sure = proba.max(1) >= 0.8
    labels = proba.argmax(1)[sure]
    assert sure.mean() >= 0.3 and len(set(labels.tolist())) >= 6, (sure.mean(), np.bincount(labels, minlength=10))


def test_seeds_give_the_same_digits_and_grids_have_28_pixel_cells():
    a = dcgan_digits.generate_digits("lab-all", [3, 1, 4], device="cpu")
    b = dcgan_digits.generate_digits("lab-all", [4, 3], device="cpu")
    assert np.array_equal(a[0], b[1]) and np.array_equal(a[2], b[0])
    assert dcgan_digits.load_bundled("lab-all", "cpu") is dcgan_digits.load_bundled("lab-all", "cpu")
    grid = dcgan_digits.digit_grid(a, cols=2)
    assert grid.shape == (2 * 30 + 2, 2 * 30 + 2) and grid.dtype == np.uint8
    assert np.array_equal(grid[2:30, 32:60], a[1]) and np.all(grid[32:60, 32:60] == 80)


@pytest.mark.parametrize("arch, low, high", [("tutorial", -1, 1), ("lab", 0, 1)])
def test_architectures_make_exactly_28x28_in_their_range(arch, low, high):
    torch.manual_seed(0)
    g, d = dcgan_digits.build_generator(arch).eval(), dcgan_digits.build_discriminator(arch).eval()
    with torch.no_grad():
        images = g(torch.randn(4, dcgan_digits.LATENT_DIM[arch]))
        logits = d(images)
    assert images.shape == (4, 1, 28, 28) and logits.shape == (4,)
    assert images.min() >= low and images.max() <= high
    assert (images.min() < 0) == (arch == "tutorial")
    with pytest.raises(InputError):
        dcgan_digits.build_generator("resnet")


def test_one_epoch_yields_steps_then_an_epoch_with_its_grid():
    trainer = DigitGANTrainer(DigitGANConfig(arch="lab", digit=3, epochs=1, **TINY))
    events = list(trainer.run())
    assert [e.kind for e in events] == ["step", "step", "epoch"]
    assert [e.step for e in events] == [1, 2, 2] and {e.steps_total for e in events} == {2}
    assert events[-1].progress == 1 and events[-1].epoch == 1
    grid = events[-1].image
    assert grid.dtype == np.uint8 and grid.shape == (8 * 30 + 2, 8 * 30 + 2)
    assert np.array_equal(trainer.epoch_images()[1], grid)
    assert len(trainer.history) == 2 and all(r.epoch == 1 for r in trainer.history)
    for row in trainer.history:
        assert set(row.metrics) == set(digits_gan.METRICS)
        assert np.isfinite(row.metrics["d_loss"]) and np.isfinite(row.metrics["g_loss"])
        assert 0 <= row.metrics["d_acc_real"] <= 1 and 0 <= row.metrics["d_acc_fake"] <= 1
    means = {k: float(np.mean([r.metrics[k] for r in trainer.history])) for k in digits_gan.METRICS}
    assert events[-1].metrics == means == trainer.latest_metrics() and events[-1].d_loss == means["d_loss"]
    assert "scikit-learn" in trainer.data_description and trainer.config.source == "sklearn"
    assert list(trainer.run()) == []  # already done


def _run(seed: int, epochs: int = 2) -> DigitGANTrainer:
    trainer = DigitGANTrainer(DigitGANConfig(arch="tutorial", epochs=epochs, seed=seed, **TINY))
    for _ in trainer.run():
        pass
    return trainer


def _assert_same(a: DigitGANTrainer, b: DigitGANTrainer) -> None:
    """Bit for bit: weights, BatchNorm statistics, Adam moments, RNG, history and grids."""
    for key in ("generator", "discriminator"):
        for (name, p), q in zip(a.state_dict()[key].items(), b.state_dict()[key].values()):
            assert torch.equal(p, q), f"{key}.{name}"
    for opt_a, opt_b in ((a.opt_g, b.opt_g), (a.opt_d, b.opt_d)):
        for state_a, state_b in zip(opt_a.state.values(), opt_b.state.values()):
            assert all(torch.equal(state_a[k], state_b[k]) for k in state_a)
    assert torch.equal(a._rng.get_state(), b._rng.get_state())
    assert a.history == b.history and a.grids.keys() == b.grids.keys()
    assert all(np.array_equal(a.grids[e], b.grids[e]) for e in a.grids)


def test_concurrent_runs_share_nothing():
    alone = {seed: _run(seed) for seed in (1, 2)}
    together: dict[int, DigitGANTrainer] = {}
    threads = [threading.Thread(target=lambda s=seed: together.__setitem__(s, _run(s))) for seed in (1, 2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for seed in (1, 2):
        _assert_same(alone[seed], together[seed])
    assert alone[1].history != alone[2].history


def test_stop_save_resume_equals_an_uninterrupted_run(tmp_path):
    straight = _run(seed=5)
    trainer = DigitGANTrainer(DigitGANConfig(arch="tutorial", epochs=2, seed=5, **TINY))
    stop = threading.Event()
    for event in trainer.run(stop=stop):
        if event.step == 3:  # mid-epoch 2
            stop.set()
    assert trainer.step == 3 and trainer.epoch == 1
    saved = trainer.save(tmp_path / "run.pt")
    resumed = DigitGANTrainer.resume(saved)
    assert resumed.step == 3 and list(resumed.grids) == [1]
    events = list(resumed.run())
    assert [e.step for e in events if e.kind == "step"] == [4] and events[-1].kind == "epoch"
    _assert_same(straight, resumed)

    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(WeightsIntegrityError):
        DigitGANTrainer.resume(tmp_path / "junk.pt")


def test_exported_generator_rebuilds_the_same_network(tmp_path):
    trainer = _run(seed=3, epochs=1)
    full = dcgan_digits.load_generator(trainer.export_generator(tmp_path / "g.safetensors"), "cpu")
    half = dcgan_digits.load_generator(trainer.export_generator(tmp_path / "h.safetensors", half=True), "cpu")
    meta = dcgan_digits.read_metadata(tmp_path / "g.safetensors")
    assert meta["arch"] == "tutorial" and json.loads(meta["steps"]) == 2 and "scikit-learn" in meta["data"]
    z = torch.from_numpy(np.stack([np.random.RandomState(s).randn(100) for s in range(64)]).astype(np.float32))
    with torch.no_grad():
        out = dcgan_digits.to_uint8(full(z), "tutorial")
        out_half = dcgan_digits.to_uint8(half(z), "tutorial")
    assert np.array_equal(dcgan_digits.digit_grid(out), trainer.grids[1])
    assert np.abs(out.astype(int) - out_half.astype(int)).max() <= 8


def test_config_refuses_bad_settings():
    for bad in ({"arch": "vae"}, {"digit": 10}, {"source": "emnist"}, {"epochs": 0}, {"batch": 1}):
        with pytest.raises(InputError):
            DigitGANConfig(**bad)
    assert DigitGANConfig(arch="lab").resolved().batch == 128
    assert DigitGANConfig().resolved().lr == 1e-4


def test_cli_writes_checkpoint_losses_grids_and_generator(tmp_path, capsys):
    parser = argparse.ArgumentParser()
    digits_gan.add_parser(parser.add_subparsers(dest="model"))
    base = ["dcgan-digits", "--digit", "7", "--data", "sklearn", "--batch", "75", "--beta1", "0.5", "--out",
            str(tmp_path)]
    assert digits_gan.run_cli(parser.parse_args([*base, "--epochs", "1"])) == 0
    assert DigitGANTrainer.resume(tmp_path / "checkpoint.pt").config.beta1 == 0.5
    assert digits_gan.run_cli(parser.parse_args([*base, "--epochs", "2", "--resume"])) == 0
    assert "resumed after epoch 1" in capsys.readouterr().out
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["checkpoint.pt", "generator.safetensors", "losses.csv", "samples_epoch001.png",
                     "samples_epoch002.png"]
    assert len((tmp_path / "losses.csv").read_text().splitlines()) == 1 + 2  # 149 sevens: one batch of 75
    assert read_png_metadata(tmp_path / "samples_epoch002.png")["AI-Generated"] == "true"
    assert Image.open(tmp_path / "samples_epoch001.png").size == (242, 242)
    assert digits_gan.run_cli(parser.parse_args([*base, "--arch", "lab", "--resume"])) == 1
    assert "differ" in capsys.readouterr().err
    assert digits_gan.run_cli(parser.parse_args([*base[:-4], "--beta1", "0.9", *base[-2:], "--resume"])) == 1
    assert "--beta1 0.9 (checkpoint: 0.5)" in capsys.readouterr().err
