"""The DCGAN face training command: outputs per epoch, exact resume, a generator file the loader accepts."""

from __future__ import annotations

import csv
import hashlib
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from gen_models.models import dcgan
from gen_models.train.dcgan_faces import TrainConfig, load_faces, train

ROOT = Path(__file__).resolve().parents[2]


def face_folder(folder: Path, n: int = 20) -> Path:
    rng = np.random.default_rng(0)
    (folder / "nested").mkdir(parents=True)
    for i in range(n):
        h, w = int(rng.integers(70, 120)), int(rng.integers(70, 120))
        image = (rng.random((h, w, 3)) * 255).astype(np.uint8)
        Image.fromarray(image).save(folder / ("nested" if i % 2 else "") / f"face{i}.png")
    (folder / "notes.txt").write_text("not an image")
    return folder


def test_faces_are_center_cropped_to_64(tmp_path):
    data = load_faces(face_folder(tmp_path / "faces"))
    assert data.shape == (20, 3, 64, 64) and data.min() >= -1 and data.max() <= 1


def test_train_resume_equals_straight_run_and_writes_loadable_weights(tmp_path):
    faces = face_folder(tmp_path / "faces")
    straight = train(TrainConfig(str(faces), str(tmp_path / "a"), epochs=3, batch=8, hidden=8))
    train(TrainConfig(str(faces), str(tmp_path / "b"), epochs=2, batch=8, hidden=8))
    resumed = train(TrainConfig(str(faces), str(tmp_path / "b"), epochs=3, batch=8, hidden=8, resume=True))
    a = dcgan.from_manifest(straight.weights, {}, torch.device("cpu"))
    b = dcgan.from_manifest(resumed.weights, {}, torch.device("cpu"))
    for (name, p), q in zip(a.state_dict().items(), b.state_dict().values()):
        assert torch.equal(p, q), name
    assert straight.sha256 == hashlib.sha256(straight.weights.read_bytes()).hexdigest()

    rows = list(csv.DictReader(open(tmp_path / "b" / "losses.csv")))
    assert sorted({int(r["epoch"]) for r in rows}) == [1, 2, 3] and len(rows) == 3 * 3
    assert all(0 <= float(r["d_real"]) <= 1 for r in rows)
    grids = sorted(p.name for p in (tmp_path / "b").glob("samples_epoch*.png"))
    assert grids == ["samples_epoch001.png", "samples_epoch002.png", "samples_epoch003.png"]
    assert Image.open(tmp_path / "b" / grids[0]).size == (8 * 66 + 2, 8 * 66 + 2)


def test_cli_reports_an_empty_folder(tmp_path):
    (tmp_path / "empty").mkdir()
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    result = subprocess.run([sys.executable, "-m", "gen_models.train", "dcgan", "--data", str(tmp_path / "empty"),
                             "--out", str(tmp_path / "run")], cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 1 and "No images found" in result.stderr and "Traceback" not in result.stderr
