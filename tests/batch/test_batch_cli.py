"""``python -m gen_models batch`` on this machine: clear refusals, resumable outputs with sidecars, signed results
under stable names, per-item failures, seeds for faces, clips for face swaps, and no Ray needed."""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest
from batch_helpers import GENERATOR, MISSING, SWAP_CLIP, TRANSLATOR, batch, counts, failures, write_photos
from PIL import Image

from gen_models.batch import sidecar
from gen_models.batch.jobs import UsageError, parse_seeds
from gen_models.batch.ray_runner import INSTALL
from gen_models.media import provenance

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def few(tmp_path_factory):
    return write_photos(tmp_path_factory.mktemp("few"), count=3, corrupt=False)


def test_bad_command_lines_are_refused_with_a_clear_message(catalog, few, tmp_path, capsys):
    code, _, err = batch(capsys, "age", "--input", tmp_path / "nowhere", "--output", tmp_path / "out")
    assert code == 2 and "no such file or folder" in err and "nowhere" in err
    code, _, err = batch(capsys, "age", "--output", tmp_path / "out")
    assert code == 2 and "no input" in err
    (tmp_path / "empty").mkdir()
    code, _, err = batch(capsys, "age", "--input", tmp_path / "empty", "--output", tmp_path / "out")
    assert code == 2 and "no images found" in err
    code, _, err = batch(capsys, "age", "--model", TRANSLATOR, "--input", few, "--output", tmp_path / "out")
    assert code == 2 and "Unknown age model" in err and "dlib-age" in err
    code, _, err = batch(capsys, "age", "--render-factor", "30", "--input", few, "--output", tmp_path / "out")
    assert code == 2 and "--render-factor is an option of colorize" in err
    code, _, err = batch(capsys, "translate", "--model", TRANSLATOR, "--max-side", "9999", "--input", few,
                         "--output", tmp_path / "out")
    assert code == 2 and "--max-side" in err
    code, _, err = batch(capsys, "faces", "--model", GENERATOR, "--output", tmp_path / "out")
    assert code == 2 and "--seeds" in err
    with pytest.raises(SystemExit) as stopped:
        batch(capsys, "sharpen", "--input", few, "--output", tmp_path / "out")
    assert stopped.value.code == 2 and "invalid choice: 'sharpen'" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()  # nothing was started


def test_weights_that_cannot_be_loaded_stop_the_job_with_their_message(catalog, few, tmp_path, capsys):
    code, out, err = batch(capsys, "translate", "--model", MISSING, "--input", few, "--output", tmp_path, "--quiet")
    assert code == 1 and counts(out) == (0, 0, 0) and "3 not processed" in out
    assert f"Weights '{MISSING}'" in err and "not available" in err
    assert not failures(tmp_path) and not list(tmp_path.glob("*.png"))


def test_without_ray_the_local_path_works_and_ray_says_how_to_install_it(catalog, few, tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` fails as if it were not installed
    code, _, err = batch(capsys, "age", "--input", few, "--output", tmp_path / "out", "--ray", "local")
    assert code == 2 and INSTALL in err and INSTALL == "ray is not installed: pip install -r requirements-ray.txt"
    code, out, _ = batch(capsys, "age", "--input", few, "--output", tmp_path / "out")
    assert code == 0 and counts(out) == (3, 0, 0) and "faces in 3 images" in out


def test_translate_outputs_are_signed_named_after_inputs_and_resumable(catalog, few, tmp_path, capsys):
    out_dir = tmp_path / "out"
    args = ["translate", "--model", TRANSLATOR, "--max-side", "64", "--input", few, "--output", out_dir, "--quiet"]
    code, out, _ = batch(capsys, *args)
    assert code == 0 and counts(out) == (3, 0, 0)
    outputs = sorted(p.relative_to(out_dir).as_posix() for p in out_dir.rglob("*.png"))
    assert outputs == ["photo0_orig.translated.png", "photo1_orig.translated.png", "photo2_orig.translated.png"]
    assert not list(out_dir.rglob("*.partial")) and not (out_dir / ".partial").exists()
    first = out_dir / "photo0_orig.translated.png"
    report = provenance.read(first)
    assert report.intact and report.model == TRANSLATOR and "photo0_orig.jpg (parentOf)" in report.ingredients
    assert Image.open(first).size == Image.open(few / "photo0_orig.jpg").size
    record = json.loads((out_dir / "photo0_orig.translated.png.json").read_text())
    assert record["job"] == {"task": "translate", "model": TRANSLATOR, "options": {"max_side": 64},
                             "inputs": [sidecar.sha256_file(few / "photo0_orig.jpg")], "seed": None}
    assert record["output_sha256"] == sidecar.sha256_file(first)

    assert counts(batch(capsys, *args)[1]) == (0, 3, 0)  # all done already
    # a job killed between the output and its sidecar, an output changed since, an input changed: redone
    sidecar.sidecar_path(first).unlink()
    second = out_dir / "photo1_orig.translated.png"
    second.write_bytes(second.read_bytes()[:-10] + b"0123456789")
    assert counts(batch(capsys, *args)[1]) == (2, 1, 0)
    assert provenance.read(first).intact and provenance.read(second).intact
    # other options: every output is redone
    code, out, _ = batch(capsys, "translate", "--model", TRANSLATOR, "--max-side", "96", "--input", few,
                         "--output", out_dir, "--quiet")
    assert code == 0 and counts(out) == (3, 0, 0)
    code, out, _ = batch(capsys, "translate", "--model", TRANSLATOR, "--max-side", "96", "--input", few,
                         "--output", out_dir, "--quiet", "--force")
    assert counts(out) == (3, 0, 0)


def test_failures_are_recorded_per_item_and_the_exit_code_says_so(catalog, tmp_path, capsys):
    photos = write_photos(tmp_path / "in", count=2, corrupt=True)
    (photos / "empty.png").write_bytes(b"")
    code, out, _ = batch(capsys, "translate", "--model", TRANSLATOR, "--max-side", "64", "--input", photos,
                         "--output", tmp_path / "out", "--quiet")
    assert code == 1 and counts(out) == (2, 0, 2) and "failures.jsonl" in out
    found = {f["item"]: f for f in failures(tmp_path / "out")}
    assert set(found) == {"broken.jpg", "empty.png"}
    assert all(f["task"] == "translate" and f["model"] == TRANSLATOR and f["message"] for f in found.values())
    assert not (tmp_path / "out" / "broken.translated.png").exists()
    assert not (tmp_path / "out" / "broken.translated.png.json").exists()
    (photos / "broken.jpg").unlink()
    (photos / "empty.png").unlink()
    code, out, _ = batch(capsys, "translate", "--model", TRANSLATOR, "--max-side", "64", "--input", photos,
                         "--output", tmp_path / "out", "--quiet")
    assert code == 0 and counts(out) == (0, 2, 0) and not failures(tmp_path / "out")  # this run's failures only


def test_same_names_from_different_extensions_keep_them_apart(catalog, tmp_path, capsys):
    folder = tmp_path / "in"
    folder.mkdir()
    picture = Image.fromarray(np.full((40, 60, 3), 90, np.uint8))
    picture.save(folder / "photo.jpg")
    picture.save(folder / "photo.png")
    code, out, _ = batch(capsys, "translate", "--model", TRANSLATOR, "--max-side", "64", "--input", folder,
                         "--output", tmp_path / "out", "--quiet")
    assert code == 0
    assert sorted(p.name for p in (tmp_path / "out").glob("*.png")) == ["photo.jpg.translated.png",
                                                                       "photo.png.translated.png"]
    inside = folder / "results"  # an output folder inside the input folder is not read back as input
    for expected in ((2, 0, 0), (0, 2, 0)):
        code, out, _ = batch(capsys, "translate", "--model", TRANSLATOR, "--max-side", "64", "--input", folder,
                             "--output", inside, "--quiet")
        assert code == 0 and counts(out) == expected


def test_faces_from_seeds_in_batches(catalog, tmp_path, capsys):
    seeds = tmp_path / "seeds.txt"
    seeds.write_text("# two ranges and a seed\n0-2\n10-11, 40\n")
    code, out, _ = batch(capsys, "faces", "--model", GENERATOR, "--seeds", seeds, "--size", "32",
                         "--output", tmp_path / "out", "--quiet")
    assert code == 0 and counts(out) == (6, 0, 0)
    names = sorted(p.name for p in (tmp_path / "out").glob("*.png"))
    assert names == ["seed00000.png", "seed00001.png", "seed00002.png", "seed00010.png", "seed00011.png", "seed00040.png"]
    assert provenance.read(tmp_path / "out" / "seed00040.png").intact
    again = tmp_path / "again"
    assert batch(capsys, "faces", "--model", GENERATOR, "--seeds", "40", "--size", "32", "--output", again)[0] == 0
    assert np.array_equal(np.asarray(Image.open(again / "seed00040.png")),
                          np.asarray(Image.open(tmp_path / "out" / "seed00040.png")))  # a seed is a face
    code, out, _ = batch(capsys, "faces", "--model", GENERATOR, "--seeds", "0-11", "--size", "32",
                         "--output", tmp_path / "out", "--quiet")
    assert counts(out) == (7, 5, 0)


def test_seed_specs():
    assert parse_seeds("0-3,7 9") == [0, 1, 2, 3, 7, 9]
    assert parse_seeds("5,5,4") == [5, 4]
    for bad in ("3-1", "x", "-4", "4294967296", ""):
        with pytest.raises(UsageError):
            parse_seeds(bad)


def test_face_swap_of_a_clip_and_a_photo_with_the_bundled_pair(catalog, tmp_path, capsys):
    photo = SWAP_CLIP.with_name("astronaut.jpg")
    code, out, _ = batch(capsys, "face-swap", "--model", "faceswap-astronaut-hopper", "--input", SWAP_CLIP, photo,
                         "--output", tmp_path, "--quiet")
    assert code == 0 and counts(out) == (2, 0, 0)
    code, out, _ = batch(capsys, "face-swap", "--input", SWAP_CLIP, "--max-seconds", "0.5", "--output", tmp_path / "short")
    assert code == 1 and "the limit is 0.5 s" in failures(tmp_path / "short")[0]["message"]
    clip, still = tmp_path / "astronaut_clip.swapped.mp4", tmp_path / "astronaut.swapped.png"
    for path in (clip, still):
        report = provenance.read(path)
        assert report.intact and "compositeWithTrainedAlgorithmicMedia" in report.source_type
    assert json.loads((tmp_path / "astronaut_clip.swapped.mp4.json").read_text())["info"]["frames"] >= 10
