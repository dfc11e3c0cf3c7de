"""Face-swap training: losses fall on the example faces, runs stop and resume, the CLI writes a usable model."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest
import torch

from gen_models.core.errors import InputError
from gen_models.media.face_sets import extract
from gen_models.models import faceswap
from gen_models.train import protocol
from gen_models.train.__main__ import main as train_main
from gen_models.train.face_swap import (
    FaceSwapConfig,
    FaceSwapTrainer,
    augmented_batch,
    masked_loss,
    random_warp,
)

EXAMPLES = Path(__file__).resolve().parents[2] / "spaces" / "face_swap" / "examples"


@pytest.fixture(scope="module")
def people():
    return (extract([EXAMPLES / "astronaut_clip.mp4"], 64, name="A"),
            extract([EXAMPLES / "grace_hopper_clip.mp4"], 64, name="B"))


def test_a_few_hundred_steps_lower_both_reconstruction_losses_clearly(people):
    trainer = FaceSwapTrainer(FaceSwapConfig(steps=300, batch=16, preview_every=50, device="cpu"), *people)
    events = list(trainer.run())
    previews = [e for e in events if e.kind == "epoch"]
    assert trainer.step == 300 and len(previews) == 6 and len(trainer.history) == 300
    first, last = previews[0].metrics, previews[-1].metrics
    for side in ("a", "b"):
        assert last[f"loss_{side}"] < 0.75 * first[f"loss_{side}"], (first, last)
        assert last[f"mse_{side}"] < 0.6 * first[f"mse_{side}"], (first, last)
    grid = previews[-1].image  # columns A, A→A, A→B, B, B→B, B→A; 4 rows of 64 px with 2 px gaps
    assert grid.shape == (4 * 66 + 2, 6 * 66 + 2, 3) and grid.dtype == np.uint8


def test_the_loss_ignores_errors_outside_the_face_mask():
    target = torch.rand(2, 3, 64, 64)
    weights = torch.zeros(2, 64, 64)
    weights[:, 20:40, 20:40] = 1
    output = target.clone()
    output[:, :, :10] = 1 - output[:, :, :10]  # wrong only outside the weighted square
    loss, mse = masked_loss(output, target, weights)
    assert float(mse) == 0 and float(loss) < 1e-2
    output[:, :, 30, 30] += 0.5
    assert float(masked_loss(output, target, weights)[1]) > 0


def test_inputs_are_warped_and_targets_are_not(people):
    rng = np.random.default_rng(0)
    face = people[0].faces[0]
    warped = random_warp(rng, face)
    assert warped.shape == face.shape and 0 < np.abs(warped.astype(int) - face).mean() < 25
    inputs, targets, weights = augmented_batch(np.random.default_rng(1), people[0].faces, 4, warp=True)
    assert inputs.shape == targets.shape == (4, 64, 64, 3) and weights.shape == (4, 64, 64)
    assert not np.array_equal(inputs, targets)
    same_in, same_out, _ = augmented_batch(np.random.default_rng(1), people[0].faces, 4, warp=False)
    assert np.array_equal(same_in, same_out)


def test_stop_save_and_resume_go_on_from_the_same_step(people, tmp_path):
    trainer = FaceSwapTrainer(FaceSwapConfig(steps=40, batch=4, preview_every=20, device="cpu"), *people)
    stop = threading.Event()
    for event in trainer.run(stop=stop):
        if event.step == 7:
            stop.set()
    assert trainer.step == 7
    path = trainer.save(tmp_path / "run.safetensors")
    resumed = protocol.resume(path, device="cpu")  # the protocol finds the trainer from the file's card
    assert isinstance(resumed, FaceSwapTrainer) and resumed.step == 7 and len(resumed.history) == 7
    for key, value in trainer.model.state_dict().items():
        assert torch.equal(value, resumed.model.state_dict()[key])
    assert resumed.optimizer.state_dict()["state"][0]["exp_avg"].abs().sum() > 0
    list(resumed.run())
    assert resumed.step == 40 and sorted(resumed.epoch_images()) == [1, 2]
    swap_only = resumed.export(tmp_path / "model.safetensors")  # weights alone load for swapping, not resuming
    assert faceswap.load(swap_only).card["steps"] == 40
    with pytest.raises(Exception, match="not its training state"):
        FaceSwapTrainer.resume(swap_only)


def test_bad_settings_and_data_are_refused(people):
    with pytest.raises(InputError, match="width must be one of"):
        FaceSwapTrainer(FaceSwapConfig(width=3), *people)
    with pytest.raises(InputError, match="person B: 2 face\\(s\\); at least 4"):
        FaceSwapTrainer(FaceSwapConfig(device="cpu"), people[0], people[1].faces[:2])
    with pytest.raises(InputError, match="faces must be uint8 \\(128, 128, 3\\)"):
        FaceSwapTrainer(FaceSwapConfig(size=128, device="cpu"), *people)


def test_the_command_line_trains_and_writes_model_card_and_checkpoint(tmp_path, capsys):
    out = tmp_path / "run"
    code = train_main(["face-swap", "--a", str(EXAMPLES / "astronaut_clip.mp4"), "--b", str(EXAMPLES / "grace_hopper_clip.mp4"),
                       "--out", str(out), "--steps", "20", "--batch", "4"])
    assert code == 0, capsys.readouterr().err
    assert {p.name for p in out.iterdir()} >= {"model.safetensors", "model.json", "checkpoint.safetensors",
                                               "preview.png", "losses.csv"}
    card = faceswap.read_card(out / "model.safetensors")
    assert card["steps"] == 20 and card["data"]["a"]["kept"] == 60 and card["width"] == 8
    assert train_main(["face-swap", "--a", str(tmp_path / "missing"), "--b", str(out), "--out", str(out)]) == 1
    assert "missing does not exist" in capsys.readouterr().err
