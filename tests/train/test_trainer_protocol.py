"""Both step-by-step trainers (digits DCGAN, autoencoder) through the one protocol the labs drive them with:
run to epoch 1, stop mid-epoch 2, save, resume by the checkpoint's own format tag, finish epoch 2."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from gen_models.core.errors import InputError, WeightsIntegrityError
from gen_models.train import protocol
from gen_models.train.autoencoders import AEConfig, AETrainer
from gen_models.train.digits_gan import DigitGANConfig, DigitGANTrainer
from gen_models.train.protocol import EpochEvent, HistoryRow, StepEvent, Trainer, curve_rows

pytestmark = pytest.mark.usefixtures("one_thread")

TRAINERS = {  # tiny runs on the offline digits, a few steps per epoch
    "dcgan": lambda: DigitGANTrainer(DigitGANConfig(arch="tutorial", source="sklearn", device="cpu", batch=8,
                                                    limit=16, epochs=2, seed=1)),
    "autoencoder": lambda: AETrainer(AEConfig(arch="dense", digit=3, source="sklearn", batch=32, epochs=2, seed=1,
                                              device="cpu")),
}


@pytest.mark.parametrize("name", list(TRAINERS))
def test_run_stop_save_resume_through_the_protocol(name, tmp_path):
    trainer = TRAINERS[name]()
    assert isinstance(trainer, Trainer)
    per_epoch = trainer.steps_per_epoch
    assert per_epoch >= 2 and trainer.epoch == trainer.step == 0 and trainer.latest_metrics() == {}

    events = list(trainer.run(1))  # until epoch 1 in all
    assert [type(e) for e in events] == [StepEvent] * per_epoch + [EpochEvent]
    assert [e.step for e in events] == [*range(1, per_epoch + 1), per_epoch]
    assert {e.steps_total for e in events} == {per_epoch} and events[-1].progress == 1
    end = events[-1]
    assert end.kind == "epoch" and end.epoch == 1 and end.image.dtype == np.uint8 and end.image.ndim == 2
    assert trainer.latest_metrics() == end.metrics == trainer.epoch_metrics()[1]
    assert list(trainer.run(1)) == []  # already there: "until", not "this many more"

    stop = threading.Event()
    seen = []
    for event in trainer.run(2, stop):
        seen.append(event)
        stop.set()  # after the first step of epoch 2
    assert [(e.kind, e.epoch) for e in seen] == [("step", 2)] and (trainer.epoch, trainer.step) == (1, per_epoch + 1)
    saved = trainer.save(tmp_path / "run.pt")

    resumed = protocol.resume(saved)
    assert type(resumed) is type(trainer) and resumed.step == per_epoch + 1 and resumed.history == trainer.history
    rest = list(resumed.run(2))
    assert rest[0].step == per_epoch + 2 and rest[-1].kind == "epoch" and rest[-1].epoch == resumed.epoch == 2

    rows = resumed.history
    assert all(isinstance(r, HistoryRow) for r in rows)
    assert [r.step for r in rows] == list(range(1, 2 * per_epoch + 1))
    assert [r.epoch for r in rows] == [1] * per_epoch + [2] * per_epoch
    assert all(isinstance(v, float) and np.isfinite(v) for r in rows for v in r.metrics.values())
    plotted = {row["metric"] for row in curve_rows(rows)}
    assert {m for group in type(resumed).curves for m in group.metrics} <= plotted
    images = resumed.epoch_images()
    assert sorted(images) == [1, 2] and all(i.dtype == np.uint8 and i.shape == end.image.shape
                                            for i in images.values())
    assert np.array_equal(images[1], end.image) and sorted(resumed.epoch_metrics()) == [1, 2]
    assert resumed.latest_metrics() == rest[-1].metrics

    straight = TRAINERS[name]()
    list(straight.run())  # the config's 2 epochs without a break: the resumed run matches it exactly
    assert straight.history == resumed.history and straight.latest_metrics() == resumed.latest_metrics()
    assert resumed.description.startswith(f"{resumed.config.arch} ") and "scikit-learn digits" in resumed.description


def test_resume_refuses_files_no_trainer_wrote(tmp_path):
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(WeightsIntegrityError):
        protocol.resume(tmp_path / "junk.pt")
    from gen_models.train.face_swap import FaceSwapTrainer

    assert set(protocol.trainer_classes()) == {DigitGANTrainer.checkpoint_format, AETrainer.checkpoint_format,
                                               FaceSwapTrainer.checkpoint_format}
    with pytest.raises(InputError, match="epochs must be a whole number"):
        next(TRAINERS["autoencoder"]().run(-1))
