"""Staged random weights (tests/fixtures/staging.py): every manifest entry gets a file that loads strictly through the registry,
and each task's pipeline gives, on a small input, what a user would notice: images of the asked size that are not
flat, colours on a gray photo, an MP4 whose frames move, age estimates, MNIST digits. No download anywhere."""

from __future__ import annotations

import json
import subprocess
import time
import zipfile
from pathlib import Path

import imageio_ffmpeg
import numpy as np
import pytest
import torch
from PIL import Image
from staging import RECIPES, StagedWeights, StagingError, stage_weights

import gen_models
from gen_models.core import registry
from gen_models.core.hub import sha256_file
from gen_models.core.manifest import DEFAULT_MANIFEST, load_manifest
from gen_models.media.image import read_png_metadata

EXAMPLES = Path(__file__).resolve().parent.parent / "spaces"
PHOTO = EXAMPLES / "talking_heads" / "examples" / "astronaut.jpg"
CLIP = EXAMPLES / "talking_heads" / "examples" / "nodding_astronaut.mp4"
GRAY = EXAMPLES / "colorize" / "examples" / "cameraman.png"
SOURCE = load_manifest(DEFAULT_MANIFEST)
KEPT_FIELDS = ("architecture", "license", "source", "description", "filename", "repo_id", "url")


def entries(*architectures: str) -> list[str]:
    return [e.name for e in SOURCE if e.architecture in architectures]


pytestmark = pytest.mark.usefixtures("one_thread")  # tiny models: one thread is faster on a shared 2-core machine


@pytest.fixture(scope="module")
def staged(tmp_path_factory) -> StagedWeights:
    """Stage the repo's manifest once and point gen_models at it (offline) for the whole module."""
    root = tmp_path_factory.mktemp("staged")
    start = time.perf_counter()
    result = stage_weights(root)
    seconds = time.perf_counter() - start
    assert seconds < 60, f"staging took {seconds:.0f} s"
    mp = pytest.MonkeyPatch()
    for key, value in {**result.env(), "HF_HUB_OFFLINE": "1"}.items():
        mp.setenv(key, value)
    registry.clear()
    yield result
    registry.clear()
    mp.undo()


def pixels(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB"))


def assert_visible(image: np.ndarray, what: str) -> None:
    """Not flat, not black or white, no NaN turned into garbage: a picture a user can see."""
    assert np.isfinite(image).all(), what
    assert image.std() > 10, f"{what} is nearly flat (std {image.std():.1f})"
    assert 15 < image.mean() < 240, f"{what} is nearly black or white (mean {image.mean():.1f})"


# ----------------------------------------------------------------------------------------------------- staging


def test_every_entry_is_staged_with_its_metadata_and_integrity(staged):
    data = json.loads(staged.manifest.read_text())["weights"]
    assert list(data) == list(SOURCE.entries)
    for entry in SOURCE:
        got = data[entry.name]
        for field in KEPT_FIELDS:
            assert got.get(field, "") == getattr(entry, field), (entry.name, field)
        if entry.kind in ("bundled", "package"):  # files that ship with the code are kept, not staged
            assert got == json.loads(json.dumps(entry.to_json())), entry.name
            continue
        path = staged.weights_dir / entry.name / entry.basename
        assert path.is_file() and got["size"] == path.stat().st_size, entry.name
        assert len(got["sha256"]) == 64
    shipped = {e.architecture for e in SOURCE if e.kind in ("bundled", "package")}  # their real files are used
    assert ({e.architecture for e in SOURCE} | set(registry.ARCHITECTURES)) - shipped <= set(RECIPES) | {"dataset"}
    assert data["pggan-celebahq-1024"]["config"]["resolution"] < 1024  # a small config where the loader takes one
    total = sum(p.stat().st_size for p in staged.weights_dir.rglob("*") if p.is_file())
    assert total < 1_000_000_000


def test_a_second_call_reuses_the_files_and_a_changed_file_is_rewritten(staged):
    before = {p: p.stat().st_mtime_ns for p in staged.weights_dir.rglob("*") if p.is_file()}
    start = time.perf_counter()
    again = stage_weights(staged.manifest.parent)
    assert time.perf_counter() - start < 15 and again == staged
    assert {p: p.stat().st_mtime_ns for p in before} == before
    path = staged.weights_dir / "fomm-vox" / "vox-cpk.pth.tar"
    path.write_bytes(b"not a checkpoint")
    stage_weights(staged.manifest.parent)
    entry = load_manifest(staged.manifest)["fomm-vox"]
    assert entry.sha256 == sha256_file(path) and entry.size == path.stat().st_size > 1000
    registry.clear()
    assert gen_models.load("fomm-vox").kind == "fomm"


def test_an_unknown_architecture_is_an_error(tmp_path):
    raw = json.loads(DEFAULT_MANIFEST.read_text())
    raw["weights"]["stylegan-ffhq"] = {**raw["weights"]["pggan-celebahq-1024"],
        "task": "face-generation", "architecture": "stylegan", "default": False}
    source = tmp_path / "manifest.json"
    source.write_text(json.dumps(raw))
    with pytest.raises(StagingError, match="'stylegan-ffhq'.*architecture 'stylegan'"):
        stage_weights(tmp_path / "root", source)
    assert not (tmp_path / "root" / "weights").exists()  # checked before anything is written


def _load(path: Path):
    with torch.serialization.safe_globals([slice]):
        return torch.load(path, map_location="cpu", weights_only=True)


def test_files_have_the_official_containers(staged):
    import pyarrow.parquet as pq

    from gen_models.models.agenet import read_caffemodel

    def file(name: str) -> Path:
        return staged.weights_dir / name / SOURCE[name].basename

    for name in entries("fomm"):
        assert not zipfile.is_zipfile(file(name))  # torch 1.0's legacy serialisation
        cpk = _load(file(name))
        assert set(cpk) == {"generator", "discriminator", "kp_detector", "optimizer_generator",
                            "optimizer_discriminator", "optimizer_kp_detector", "epoch"}
        adversarial = "adv" in SOURCE[name].basename
        assert any(k.endswith("weight_orig") for k in cpk["discriminator"]) != adversarial  # sn only in vox-256
        assert bool(cpk["optimizer_discriminator"]["state"]) == adversarial  # vox-256 never steps it
        assert isinstance(cpk["optimizer_generator"]["state"][0]["step"], int)
    for name in entries("tpsmm"):
        cpk = _load(file(name))
        assert set(cpk) == {"inpainting_network", "dense_motion_network", "kp_detector", "avd_network",
                            "bg_predictor", "epoch"}
        assert len(cpk["bg_predictor"]) == 122 and "bg_encoder.conv1.weight" in cpk["bg_predictor"]
    for name in entries("deoldify"):
        state = _load(file(name))
        assert all(k.startswith("layers.") for k in state)
        assert {"layers.8.conv.0.weight_g", "layers.11.0.weight_orig", "layers.11.0.weight_u"} <= set(state)
    for name in entries("zhang"):
        assert "model1.0.weight" in _load(file(name))
    for name in entries("cyclegan"):
        state = _load(file(name))
        assert "model.1.weight" in state and "model.2.running_mean" in state  # the old InstanceNorm buffers
    for name in entries("pggan"):
        state = _load(file(name))
        assert "lod" in state and state["layer0.weight"].shape[1] == 512
    for name in entries("agenet"):
        assert set(read_caffemodel(file(name))) >= {"conv1", "conv2", "conv3", "fc6", "fc7", "fc8"}
    for name in entries("dataset"):
        schema = pq.read_schema(file(name))
        assert str(schema.field("image").type) == "struct<bytes: binary, path: string>"
        assert str(schema.field("label").type) == "int64" and b"huggingface" in schema.metadata


@pytest.mark.parametrize("name", [e.name for e in SOURCE if e.architecture != "dataset"])
def test_every_model_loads_strictly_through_the_registry(staged, name):
    model = gen_models.load(name)  # sha256, size, then load_strict inside each architecture's load()
    if SOURCE[name].kind == "package":  # dlib's predictors: ONNX sessions, no torch state
        assert hasattr(model, "predict_faces")
        return
    assert isinstance(model, torch.nn.Module) and not model.training
    assert all(torch.isfinite(t).all() for t in model.state_dict().values() if t.is_floating_point())


# --------------------------------------------------------------------------------------------------- pipelines


@pytest.mark.parametrize("name", entries("pggan", "dcgan"))
def test_faces_have_the_asked_size_and_differ_by_seed(staged, name):
    from gen_models.pipelines.faces import generate_faces

    faces = generate_faces(name, [0, 1], size=64)
    images = [pixels(f.path) for f in faces]
    assert [im.shape for im in images] == [(64, 64, 3)] * 2
    for image in images:
        assert_visible(image, name)
    assert np.abs(images[0].astype(int) - images[1]).mean() > 5
    assert read_png_metadata(faces[0].path)  # labelled as synthetic


@pytest.mark.parametrize("name", entries("deoldify", "zhang"))
def test_colorizers_give_a_colour_photo_of_the_same_size(staged, name, tmp_path):
    from gen_models.pipelines.colorize import colorize

    gray = Image.open(GRAY).convert("L").resize((120, 96))
    gray.save(tmp_path / "gray.png")
    result = colorize(tmp_path / "gray.png", name, render_factor=7)
    out = pixels(result.path).astype(int)
    assert out.shape == (96, 120, 3) and result.size == (120, 96)
    assert_visible(out, name)
    assert np.abs(out[..., 0] - out[..., 2]).mean() > 2 or np.abs(out[..., 0] - out[..., 1]).mean() > 2


@pytest.mark.parametrize("name", entries("cyclegan"))
def test_translation_keeps_the_size_and_changes_the_photo(staged, name, tmp_path):
    from gen_models.pipelines.translation import translate_photo

    photo = Image.open(PHOTO).convert("RGB").resize((100, 76))
    photo.save(tmp_path / "photo.png")
    result = translate_photo(tmp_path / "photo.png", name, max_side=128)
    out = pixels(result.path)
    assert out.shape == (76, 100, 3) and result.size == (100, 76)
    assert_visible(out, name)
    assert np.abs(out.astype(int) - np.asarray(photo)).mean() > 5


@pytest.fixture(scope="module")
def short_clip(tmp_path_factory) -> Path:
    """The first 0.4 s (10 frames, with sound) of the example driving video."""
    path = tmp_path_factory.mktemp("clip") / "nodding.mp4"
    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-y", "-loglevel", "error", "-i", str(CLIP), "-t", "0.4",
                    "-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac", str(path)], check=True)
    return path


def talking_head_cases() -> list[tuple[str, str]]:
    return [(name, mode) for name in entries("fomm", "tpsmm")
            for mode in (("relative", "absolute", "avd") if SOURCE[name].architecture == "tpsmm"
                         else ("relative", "absolute"))]


@pytest.mark.parametrize("name, mode", talking_head_cases())
def test_talking_heads_give_an_mp4_of_moving_frames(staged, short_clip, name, mode):
    from gen_models.media.video import open_video, probe, read_frames
    from gen_models.pipelines.animate import animate

    result = animate(PHOTO, short_clip, model=name, mode=mode)
    info = probe(result.path)
    assert info.video_codec == "h264" and (info.width, info.height) == (256, 256)
    assert info.frames == result.frames == 10 and result.has_audio
    frames = np.stack(list(read_frames(open_video(result.path)))).astype(int)
    for frame in frames[[0, -1]]:
        assert_visible(frame, f"{name} {mode}")
    assert max(np.abs(frame - frames[0]).mean() for frame in frames) > 0.5  # the face moves


@pytest.mark.parametrize("name", entries("fomm", "tpsmm"))
def test_talking_head_keypoints_are_sane(staged, name):
    from gen_models.pipelines.animate import prepare_source, to_tensor

    model = gen_models.load(name)
    kp = model.keypoints(to_tensor([prepare_source(PHOTO).crop], torch.device("cpu")))
    points = kp[model.keypoints_key][0]
    assert points.abs().max() < 0.98 and points.std(dim=0).min() > 0.15  # inside the frame, spread out
    if "jacobian" in kp:
        assert (kp["jacobian"].det() - 1).abs().max() < 0.5  # near-identity local affine maps


@pytest.mark.parametrize("name", entries("agenet"))
def test_age_model_gives_spread_out_bucket_probabilities(staged, name):
    from gen_models.pipelines.age import predict_age

    result = predict_age([PHOTO], model=name, write_annotated=False)
    faces = result.data["images"][0]["faces"]
    assert len(faces) == 1
    probabilities = np.asarray(faces[0]["probabilities"])
    assert probabilities.sum() == pytest.approx(1, abs=1e-4) and probabilities.max() < 0.99
    assert 1 <= faces[0]["age"] <= 70 and faces[0]["age_bucket"] in faces[0]["buckets"]


def test_mnist_comes_from_the_staged_parquet_files(staged):
    from gen_models.train.digits import load_digits

    assert {"mnist-train", "mnist-test"} <= set(entries("dataset"))
    for split in ("train", "test"):
        digits = load_digits(split, source="mnist")
        assert digits.source == "mnist" and digits.images.shape[1:] == (28, 28) and len(digits) >= 200
        assert 0 <= digits.images.min() and digits.images.max() <= 1 and digits.images.std() > 0.1
        assert set(digits.labels.tolist()) == set(range(10))
    assert load_digits("train", source="auto").source == "mnist"  # the labs pick it up without asking
