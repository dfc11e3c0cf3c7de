"""Batch jobs on a local Ray (started once for the module, 2 CPUs, no dashboard, no network) give what the local
run gives: the same age JSON lines, pixel-equal translations; a rerun skips everything; failures are per item."""

from __future__ import annotations

import json

import numpy as np
import pytest
from batch_helpers import TRANSLATOR, age_lines, batch, counts, failures
from PIL import Image

from gen_models.batch import sidecar

ray = pytest.importorskip("ray", reason="ray is not installed (pip install -r requirements-ray.txt)")
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")  # Ray Data's own, about its context's fields


@pytest.fixture(scope="module")
def local_ray():
    from gen_models.batch.ray_runner import connect

    started = connect("local", num_cpus=2)
    yield
    if started:
        ray.shutdown()


def test_age_on_ray_matches_the_local_run_and_a_rerun_skips_everything(photos, catalog, local_ray, tmp_path, capsys):
    here, there = tmp_path / "local", tmp_path / "ray"
    code, out, _ = batch(capsys, "age", "--input", photos, "--output", here, "--quiet")
    assert code == 1 and counts(out) == (20, 0, 1), out  # the corrupt file fails, the 20 photos are done
    code, out, err = batch(capsys, "age", "--input", photos, "--output", there, "--ray", "local", "--workers", "2")
    assert code == 1 and counts(out) == (20, 0, 1), out + err
    assert "2 workers" in out and "items/s" in err  # progress lines go to stderr
    faces = age_lines(here)
    assert faces == age_lines(there)
    assert len({f["file"] for f in faces}) >= 8 and all({"box", "age", "gender", "probabilities"} <= set(f) for f in faces)
    assert (there / "age.jsonl").read_text() == (here / "age.jsonl").read_text()  # same order too
    for folder in (here, there):
        (failure,) = failures(folder)
        assert failure["item"] == "broken.jpg" and failure["task"] == "age" and failure["input"].endswith("broken.jpg")
        assert "broken.jpg is not an image" in failure["message"] and failure["time"]
        assert not (folder / ".partial").exists()
    record = sidecar.read(there / "photo0_orig.age.jsonl")
    assert record["job"]["inputs"] == [sidecar.sha256_file(photos / "photo0_orig.jpg")]
    assert record["output_sha256"] == sidecar.sha256_file(there / "photo0_orig.age.jsonl")

    code, out, _ = batch(capsys, "age", "--input", photos, "--output", there, "--ray", "local", "--quiet")
    assert code == 1 and counts(out) == (0, 20, 1), out  # only the corrupt file is tried again
    assert (there / "age.jsonl").read_text() == (here / "age.jsonl").read_text()


def test_translate_on_ray_is_pixel_equal_to_the_local_run_and_signed(photos, catalog, local_ray, tmp_path, capsys):
    from gen_models.media import provenance

    inputs = sorted(p for p in photos.rglob("photo*_orig.*"))[:4] + [photos / "broken.jpg"]
    here, there = tmp_path / "local", tmp_path / "ray"
    common = ["translate", "--model", TRANSLATOR, "--max-side", "64", "--input", *inputs, "--quiet"]
    code, out, _ = batch(capsys, *common, "--output", here)
    assert code == 1 and counts(out) == (4, 0, 1)
    code, out, _ = batch(capsys, *common, "--output", there, "--ray", "local", "--workers", "2")
    assert code == 1 and counts(out) == (4, 0, 1)
    names = sorted(p.name for p in here.glob("*.translated.png"))
    assert names == sorted(p.name for p in there.glob("*.translated.png")) and len(names) == 4
    for name in names:
        a, b = (np.asarray(Image.open(folder / name)) for folder in (here, there))
        assert a.shape == b.shape and np.array_equal(a, b), name
        report = provenance.read(there / name)
        assert report.intact and report.synthetic and report.model == TRANSLATOR
        assert any(i.endswith("(parentOf)") for i in report.ingredients)
        data = json.loads((there / f"{name}.json").read_text())
        assert data["job"]["options"] == {"max_side": 64} and data["output_sha256"] == sidecar.sha256_file(there / name)
    assert [f["item"] for f in failures(there)] == ["broken.jpg"]
