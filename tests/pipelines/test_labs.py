"""The labs as the tab and the API call them: bundled models give real results offline, live runs report plots
and images, stop and resume, and runs of different users do not mix."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from PIL import Image

from gen_models.core.errors import InputError
from gen_models.media.image import read_png_metadata
from gen_models.pipelines.labs import (
    LabRun,
    anomaly_view,
    decode_map_point,
    denoise_digits,
    digit_gan_models,
    digit_walk,
    generate_digit_grid,
    latent_map_points,
    reconstruct_digits,
    train_to_end,
)
from gen_models.train.autoencoders import AETrainer
from gen_models.train.digits_gan import DigitGANTrainer

pytestmark = pytest.mark.usefixtures("one_thread")


def test_generated_digit_grid_is_labelled_and_deterministic():
    name = next(iter(digit_gan_models()))
    first, again = generate_digit_grid(name, 5, 10, cols=5), generate_digit_grid(name, 5, 10, cols=5)
    pixels = np.asarray(Image.open(first))
    assert pixels.shape == ((2 * 30 + 2) * 4, (5 * 30 + 2) * 4) and np.array_equal(pixels, np.asarray(Image.open(again)))
    assert "AI" in str(read_png_metadata(first))
    with pytest.raises(InputError, match="number of digits"):
        generate_digit_grid(name, 0, 65)


def test_digit_walk_gif_visits_the_keyframes():
    name = next(iter(digit_gan_models()))
    with Image.open(digit_walk(name, [1, 2, 3], frames_per_segment=4)) as gif:
        assert gif.n_frames == 3 * 4 + 1 and gif.size == (112, 112)
    with pytest.raises(InputError, match="2 to 8"):
        digit_walk(name, [1])
    with pytest.raises(InputError, match="Frames per second must be between 1 and 60, got 0"):
        digit_walk(name, [1, 2], fps=0)


def test_autoencoder_views_show_what_the_lab_teaches():
    rec = reconstruct_digits("dense", 8)
    assert rec.mse < 0.5 * rec.mean_image_mse and Image.open(rec.image).size == ((8 * 30 + 2) * 4, (2 * 30 + 2) * 4)
    den = denoise_digits("dense-denoise", "salt_pepper", 0.3)
    assert den.denoised_mse < den.noisy_mse
    view = anomaly_view("dense", "uniform", count=100)
    assert view.report.auroc > 0.95 and view.report.flagged_others > 90
    assert sum(r["count"] for r in view.histogram) == 200
    rows, latent = latent_map_points("dense", 200)
    assert len(rows) == 200 and {r["digit"] for r in rows} == {str(d) for d in range(10)}
    ones = np.mean([[r["x"], r["y"]] for r in rows if r["digit"] == "1"], axis=0)
    assert decode_map_point("dense", *ones, count=200).shape == (112, 112)
    with pytest.raises(InputError, match="non-digit"):
        anomaly_view("dense", "cats")


def test_live_run_stops_resumes_and_reports():
    run = LabRun.digit_gan("tutorial", digit=1, source="sklearn", epochs=2, batch=16, seed=3)
    seen = []
    for snapshot in run.run(2):
        seen.append(snapshot)
        if not run._stop.is_set():  # the first snapshot comes after step 1: stop before step 2
            run.stop()
    assert seen[-1].status.startswith("stopped") and run.trainer.epoch == 0 and run.trainer.step == 1
    assert not run.active
    last = list(run.run(1))[-1]
    assert last.status.startswith("finished") and last.epoch == 1 and 1 in last.epoch_images
    metrics = {row["metric"] for row in last.curves}
    assert metrics == {"d_loss", "g_loss", "d_acc_real", "d_acc_fake"}
    assert 0 <= last.metrics["d_acc_real"] <= 1 and last.epoch_images[1].shape == (8 * 30 + 2, 8 * 30 + 2)


def test_api_style_training_returns_metrics_and_concurrent_runs_do_not_mix():
    results = {}

    def train(key, seed):
        results[key] = train_to_end(LabRun.autoencoder("dense", digit=0, source="sklearn", epochs=1, batch=64,
                                                       seed=seed))

    alone = train_to_end(LabRun.autoencoder("dense", digit=0, source="sklearn", epochs=1, batch=64, seed=1))
    threads = [threading.Thread(target=train, args=(k, s)) for k, s in (("a", 1), ("b", 2))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results["a"]["metrics"] == alone["metrics"] != results["b"]["metrics"]
    assert alone["per_epoch"][0]["epoch"] == 1 and alone["checkpoint"].endswith(".pt")
    resumed = LabRun.resume(alone["checkpoint"])
    assert isinstance(resumed.trainer, AETrainer) and resumed.trainer.epoch == 1


@pytest.mark.parametrize("make,trainer", [
    (lambda: LabRun.digit_gan("tutorial", source="sklearn", epochs=2, batch=8, limit=16), DigitGANTrainer),
    (lambda: LabRun.autoencoder("dense", digit=3, source="sklearn", epochs=2, batch=32), AETrainer),
])
def test_either_trainer_runs_reports_and_resumes_the_same_way(make, trainer):
    result = train_to_end(make(), 1)  # until epoch 1 of the config's 2
    assert result["status"].startswith("finished after 1 epoch(s)") and result["epochs"] == 1
    assert result["per_epoch"] == [{"epoch": 1, **result["metrics"]}] and result["metrics"]
    resumed = LabRun.resume(result["checkpoint"])  # the checkpoint's format tag picks the trainer
    assert type(resumed.trainer) is trainer and resumed.trainer.epoch == 1
    last = list(resumed.run())[-1]
    assert last.status.startswith("finished after 2 epoch(s)") and sorted(last.epoch_images) == [1, 2]
    assert {m for group in trainer.curves for m in group.metrics} <= {row["metric"] for row in last.curves}
    assert last.metrics == resumed.trainer.epoch_metrics()[2] and last.image is last.epoch_images[2]
