"""Autoencoders: the bundled models reconstruct, denoise and spot non-digits; the latent map decodes; training is
reproducible across threads and across stop + resume; bad inputs get clear errors.

Everything runs on the CPU on the offline scikit-learn digits (297 test images). Measured numbers are printed
(``pytest -s``) so a run reports them, not only pass/fail.
"""

from __future__ import annotations

import argparse
import csv
import json
import threading

import numpy as np
import pytest
import torch
from PIL import Image

from gen_models.core.errors import InputError, WeightsIntegrityError
from gen_models.models import autoencoders as ae
from gen_models.train.autoencoders import AEConfig, AETrainer, EpochEvent, StepEvent, add_parser, run_cli
from gen_models.train.digits import load_digits

CPU = torch.device("cpu")


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def train():
    return load_digits("train", source="sklearn")


@pytest.fixture(scope="module")
def test():
    return load_digits("test", source="sklearn")


def small(**overrides) -> AEConfig:
    """A run short enough for the suite: the 3s only (about 150 images), batch 32, on the CPU."""
    base = dict(arch="dense", digit=3, source="sklearn", epochs=2, batch=32, lr=1e-3, seed=5, device="cpu")
    return AEConfig(**{**base, **overrides})


def same_weights(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    return all(torch.equal(p, q) for p, q in zip(a.state_dict().values(), b.state_dict().values()))


# ---- bundled models -------------------------------------------------------------------------------------------


def test_bundle_card_lists_three_models_with_pinned_files():
    models = ae.bundled_models()
    assert set(models) == {"dense", "conv", "dense-denoise"}
    assert models["dense-denoise"].denoise == ("gaussian", 0.5) and models["dense"].denoise is None
    total = sum(info.path.stat().st_size for info in models.values())
    assert total < 4_000_000
    for info in models.values():
        assert info.mean_image_mse > 0 and info.epochs > 0 and len(info.sha256) == 64
        assert ae.read_metadata(info.path)["arch"] == info.arch


def test_dense_and_conv_reconstruct_far_better_than_the_mean_image(train, test):
    baseline = ae.mean_image_mse(train.images, test.images)
    for name in ("dense", "conv"):
        model = ae.load_bundled(name, CPU)
        assert ae.load_bundled(name, CPU) is model  # cached
        errors = ae.reconstruction_error(model, test.images)
        mse = float(errors.mean())
        print(f"{name}: test MSE {mse:.4f} vs mean image {baseline:.4f} (ratio {mse / baseline:.2f})")
        assert errors.shape == (len(test),)
        assert mse < 0.5 * baseline
        assert mse == pytest.approx(ae.bundled_models()[name].test_mse, abs=1e-5)
    recon = ae.reconstruct(ae.load_bundled("dense", CPU), test.images[:4])
    assert recon.shape == (4, 28, 28) and recon.min() >= 0 and recon.max() <= 1


def test_a_tampered_bundle_file_is_refused(monkeypatch, tmp_path):
    from gen_models.core import registry

    info = ae.bundled_models()["conv"]
    copy = tmp_path / "conv" / info.file  # GEN_MODELS_WEIGHTS_DIR/<name>/<file> is looked at first
    copy.parent.mkdir()
    copy.write_bytes(info.path.read_bytes()[:-1] + b"\0")
    monkeypatch.setenv("GEN_MODELS_WEIGHTS_DIR", str(tmp_path))
    registry.clear()
    try:
        with pytest.raises(WeightsIntegrityError, match="sha256"):
            ae.load_bundled("conv", CPU)
    finally:
        registry.clear()


# ---- noise and denoising --------------------------------------------------------------------------------------


def test_noise_is_deterministic_clipped_and_as_strong_as_asked(test):
    images = test.images[:20]
    a, b = ae.add_noise(images, "gaussian", 0.5, seed=3), ae.add_noise(images, "gaussian", 0.5, seed=3)
    assert np.array_equal(a, b) and not np.array_equal(a, ae.add_noise(images, "gaussian", 0.5, seed=4))
    assert a.min() >= 0 and a.max() <= 1 and a.dtype == np.float32
    assert np.array_equal(ae.add_noise(images, "gaussian", 0.0), images)
    sp = ae.add_noise(images, "salt_pepper", 0.3, seed=1)
    changed = sp != images
    assert 0.1 < changed.mean() < 0.3  # 30% replaced, some by the value already there
    assert set(np.unique(sp[changed])) <= {0.0, 1.0}
    assert np.array_equal(images, test.images[:20])  # the input is left alone


@pytest.mark.parametrize("kind,strength", [("gaussian", 0.5), ("salt_pepper", 0.3)])
def test_the_denoising_model_removes_noise(test, kind, strength):
    model = ae.load_bundled("dense-denoise", CPU)
    result = ae.denoise(model, test.images, kind, strength, seed=11)
    noisy, denoised = result.noisy_mse.mean(), result.denoised_mse.mean()
    plain = ae.denoise(ae.load_bundled("dense", CPU), test.images, kind, strength, seed=11).denoised_mse.mean()
    print(f"{kind} {strength}: noisy input MSE {noisy:.4f} → denoised {denoised:.4f} (plain dense AE {plain:.4f})")
    assert denoised < 0.25 * noisy
    assert (result.denoised_mse < result.noisy_mse).mean() > 0.95
    assert denoised < plain
    assert result.noisy.shape == result.denoised.shape == (len(test), 28, 28)


# ---- anomaly detection ----------------------------------------------------------------------------------------


def test_letters_are_drawn_like_mnist_digits():
    letters = ae.letter_images("AbZ")
    assert letters.shape == (3, 28, 28) and letters.dtype == np.float32
    assert letters.min() >= 0 and letters.max() <= 1 and letters.max() > 0.9
    for glyph in letters:
        rows, cols = np.nonzero(glyph > 0.05)
        assert max(np.ptp(rows), np.ptp(cols)) <= 21 and rows.min() >= 2 and cols.min() >= 2
        ys, xs = np.indices(glyph.shape)
        assert abs((ys * glyph).sum() / glyph.sum() - 13.5) < 1.5 and abs((xs * glyph).sum() / glyph.sum() - 13.5) < 1.5
    assert len(ae.non_digits("letters", 60)) == 60
    assert np.array_equal(ae.non_digits("uniform", 5, seed=2), ae.non_digits("uniform", 5, seed=2))


def test_noise_and_letters_score_above_digits(test):
    model = ae.load_bundled("dense", CPU)
    aurocs = {}
    for kind in ae.PROBE_KINDS:
        others = ae.non_digits(kind, 52)
        report = ae.anomaly_report(model, test.images, others)
        aurocs[kind] = report.auroc
        print(f"{kind}: AUROC {report.auroc:.3f}, threshold {report.threshold:.4f} flags "
              f"{report.flagged_others}/{len(others)} of them and {report.flagged_digits}/{len(test)} digits")
        assert report.threshold == pytest.approx(np.percentile(report.digit_errors, 99))
        assert report.flagged_digits <= 4
        edges, digit_counts, other_counts = report.histogram(20)
        assert len(edges) == 21 and digit_counts.sum() == len(test) and other_counts.sum() == len(others)
        worst = report.errors[report.top]
        assert np.all(np.diff(worst) <= 0) and worst[0] == report.errors.max()
        assert np.array_equal(report.top_images[0], np.concatenate([test.images, others])[report.top[0]])
    assert aurocs["uniform"] > 0.95 and aurocs["gaussian"] > 0.95
    assert aurocs["letters"] > 0.85
    strict = ae.anomaly_report(model, test.images, ae.non_digits("uniform", 8), threshold=0.0)
    assert strict.flagged_digits == len(test) and strict.threshold_rule == "given"


def test_auroc_counts_ties_as_half():
    assert ae.auroc(np.array([0.0, 1.0]), np.array([2.0, 3.0])) == 1.0
    assert ae.auroc(np.array([1.0, 1.0]), np.array([1.0])) == 0.5
    assert ae.auroc(np.array([0.0, 2.0]), np.array([1.0])) == 0.5


# ---- the latent map -------------------------------------------------------------------------------------------


def test_latent_map_points_decode_to_their_own_digit_class(test):
    model = ae.load_bundled("dense", CPU)
    latent = ae.latent_map(model, test.images, test.labels)
    assert latent.coords.shape == (len(test), 2) and latent.components.shape == (2, 32)
    assert np.allclose(latent.components @ latent.components.T, np.eye(2), atol=1e-6)
    assert 0 < latent.explained.sum() <= 1
    class_means = np.stack([test.images[test.labels == c].mean(axis=0) for c in range(10)])
    ranks = []
    for (x, y), label in zip(latent.coords, latent.labels):
        image = ae.decode_point(model, latent, x, y)
        distances = ((class_means - image[None]) ** 2).mean(axis=(1, 2))
        ranks.append(int((distances < distances[label]).sum()))  # 0: nearest to its own class mean
    ranks = np.array(ranks)
    print(f"map explains {latent.explained.sum():.0%} of the code variance; decoded own-class rank: mean "
          f"{ranks.mean():.2f} (chance 4.5), own class among the 3 nearest for {(ranks < 3).mean():.0%} (chance 30%)")
    assert ranks.mean() < 3.0 and (ranks < 3).mean() > 0.55 and (ranks < 5).mean() > 0.8
    image = ae.decode_point(model, latent, 1e6, -1e6)  # far off the map: clipped to codes the encoder makes
    assert image.shape == (28, 28) and np.isfinite(image).all()


# ---- training -------------------------------------------------------------------------------------------------


def test_one_epoch_yields_step_and_epoch_events():
    trainer = AETrainer(small(epochs=1, arch="conv"))
    events = list(trainer.run())
    steps = [e for e in events if isinstance(e, StepEvent)]
    assert len(steps) == trainer.steps_per_epoch and isinstance(events[-1], EpochEvent)
    assert [e.step for e in steps] == list(range(1, len(steps) + 1))
    assert all(np.isfinite(e.metrics["loss"]) and e.steps_total == len(steps) for e in steps)
    epoch = events[-1]
    assert set(epoch.metrics) == {"train_loss", "test_mse"} and np.isfinite(epoch.metrics["test_mse"])
    assert epoch.image.dtype == np.uint8 and epoch.image.shape == (2 * 30 + 2, 8 * 30 + 2)
    assert trainer.epoch_images() == {1: epoch.image} and trainer.latest_metrics() == epoch.metrics
    assert [(r.step, r.metrics["loss"]) for r in trainer.history] == [(e.step, e.metrics["loss"]) for e in steps]
    assert trainer.history[-1].metrics["test_mse"] == epoch.metrics["test_mse"]  # the epoch's last row carries it

    denoising = AETrainer(small(epochs=1, denoise=("salt_pepper", 0.2)))
    last = list(denoising.run())[-1]
    assert last.image.shape == (3 * 30 + 2, 8 * 30 + 2) and last.metrics["noisy_input_mse"] > 0


def test_two_trainers_in_threads_match_runs_alone():
    configs = [small(seed=1), small(seed=2, arch="conv", denoise=("gaussian", 0.3))]
    alone = []
    for config in configs:
        trainer = AETrainer(config)
        list(trainer.run())
        alone.append(trainer)
    together = [AETrainer(config) for config in configs]
    threads = [threading.Thread(target=lambda t=t: list(t.run())) for t in together]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for a, b in zip(alone, together):
        assert same_weights(a.model, b.model)
        assert a.history == b.history
    assert not torch.equal(alone[0].model.encoder[1].weight, AETrainer(small(seed=3)).model.encoder[1].weight)


def test_stop_and_resume_equals_an_uninterrupted_run(tmp_path):
    config = small(epochs=3, denoise=("gaussian", 0.4))
    straight = AETrainer(config)
    list(straight.run())

    stop = threading.Event()
    first = AETrainer(config)
    for event in first.run(stop=stop):
        if isinstance(event, StepEvent) and event.step == first.steps_per_epoch + 2:
            stop.set()  # mid-way through epoch 2
    assert first.epoch == 1 and first.step == first.steps_per_epoch + 2
    first.save(tmp_path / "run.pt")
    resumed = AETrainer.resume(tmp_path / "run.pt")
    rest = list(resumed.run())
    assert rest[0].step == first.steps_per_epoch + 3 and resumed.epoch == 3
    assert same_weights(straight.model, resumed.model)
    assert straight.history == resumed.history
    assert [e.test_mse for e in straight.snapshots] == [e.test_mse for e in resumed.snapshots]
    assert np.array_equal(straight.snapshots[0].image, resumed.snapshots[0].image)

    more = list(resumed.run(4))  # until epoch 4 in all
    assert resumed.epoch == 4 and more[-1].epoch == 4

    exported = resumed.export(tmp_path / "model.safetensors")
    loaded = ae.load_model(exported.path, CPU)
    assert isinstance(loaded, ae.DenseAE) and same_weights(loaded, resumed.model)
    meta = ae.read_metadata(exported.path)
    assert meta["config"]["denoise"] == ["gaussian", 0.4] and meta["epochs"] == 4 and meta["arch"] == "dense"
    assert resumed.export(tmp_path / "again.safetensors").sha256 == exported.sha256  # byte-reproducible


def test_cli_writes_logs_images_and_weights_and_resumes(tmp_path, capsys):
    parser = argparse.ArgumentParser()
    add_parser(parser.add_subparsers(dest="model"))
    out = tmp_path / "run"
    argv = ["autoencoder", "--arch", "conv", "--digit", "7", "--data", "sklearn", "--batch", "64", "--out", str(out)]
    assert run_cli(parser.parse_args(argv + ["--epochs", "1"])) == 0
    assert run_cli(parser.parse_args(argv + ["--epochs", "2", "--resume"])) == 0
    rows = list(csv.DictReader((out / "losses.csv").read_text().splitlines()))
    assert sorted({r["epoch"] for r in rows}) == ["1", "2"] and all(np.isfinite(float(r["loss"])) for r in rows)
    assert len(list(csv.DictReader((out / "epochs.csv").read_text().splitlines()))) == 2
    assert sorted(p.name for p in out.glob("recon_epoch*.png")) == ["recon_epoch001.png", "recon_epoch002.png"]
    with Image.open(out / "recon_epoch002.png") as image:
        assert image.size == (8 * 30 + 2, 2 * 30 + 2)
    assert isinstance(ae.load_model(out / "model.safetensors", CPU), ae.ConvAE)
    assert json.loads((out / "config.json").read_text())["digit"] == 7
    assert "resumed" in capsys.readouterr().out

    bad = parser.parse_args(["autoencoder", "--denoise", "gaussian", "--strength", "2", "--out", str(tmp_path / "b")])
    assert run_cli(bad) == 1
    assert "noise strength must be from 0 to 1" in capsys.readouterr().err


# ---- bad inputs -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind,strength,message", [
    ("gaussian", 1.5, "strength must be from 0 to 1, got 1.5"),
    ("gaussian", -0.1, "strength must be from 0 to 1"),
    ("gaussian", float("nan"), "strength must be from 0 to 1"),
    ("gaussian", "0.5", "strength must be a number"),
    ("speckle", 0.5, "noise kind must be one of gaussian, salt_pepper, got 'speckle'"),
])
def test_bad_noise_settings_are_input_errors(kind, strength, message):
    with pytest.raises(InputError, match=message.replace("(", r"\(")):
        ae.add_noise(np.zeros((1, 28, 28), np.float32), kind, strength)
    with pytest.raises(InputError, match=message.split(",")[0]):
        AEConfig(denoise=(kind, strength)).checked()


def test_other_bad_inputs_are_input_errors(test):
    model = ae.load_bundled("dense", CPU)
    with pytest.raises(InputError, match=r"28×28 images shaped \(N, 28, 28\), got shape \(2, 32, 32\)"):
        ae.reconstruction_error(model, np.zeros((2, 32, 32)))
    with pytest.raises(InputError, match="non-digit kind"):
        ae.non_digits("circles")
    with pytest.raises(InputError, match="threshold must be a non-negative number"):
        ae.anomaly_report(model, test.images[:5], ae.non_digits("uniform", 2), threshold=-1)
    latent = ae.latent_map(model, test.images[:20], test.labels[:20])
    with pytest.raises(InputError, match="map coordinate x must be a finite number"):
        ae.decode_point(model, latent, float("nan"), 0.0)
    with pytest.raises(InputError, match="Unknown autoencoder 'vae'; choose one of: dense, conv"):
        ae.load_bundled("vae")
    with pytest.raises(InputError, match="architecture must be one of dense, conv"):
        AETrainer(small(arch="mlp"))
    with pytest.raises(InputError, match="digit must be a whole number from 0 to 9"):
        AETrainer(small(digit=12))
    with pytest.raises(InputError, match="epochs must be a whole number"):
        next(AETrainer(small()).run(-1))
