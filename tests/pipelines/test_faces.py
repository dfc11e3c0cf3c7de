"""Face grids and latent walks, end to end: a DCGAN checkpoint on the local Hub → registry → PNG/GIF/MP4."""

from __future__ import annotations

import hashlib
import io
import uuid

import numpy as np
import pytest
import torch
from PIL import Image
from random_weights import tutorial_state_dict

from gen_models.core import registry
from gen_models.core.errors import InputError
from gen_models.core.latent import z_from_seeds
from gen_models.media import provenance
from gen_models.media.image import read_png_metadata
from gen_models.media.video import probe
from gen_models.pipelines.faces import (
    face_models,
    generate_faces,
    latent_arithmetic,
    latent_walk,
    synthesize,
    with_ages,
)


@pytest.fixture
def dcgan_on_hub(hub):
    torch.manual_seed(0)
    state = {k.replace("main.", "model.", 1): v for k, v in tutorial_state_dict(hidden=8).items()}
    buffer = io.BytesIO()
    torch.save(state, buffer)
    data = buffer.getvalue()
    repo = f"test-org/dcgan-{uuid.uuid4().hex[:8]}"
    hub.hub.add(repo, "pytorch_model.bin", data)
    hub.write_manifest(**{"dcgan-test": {
        "repo_id": repo, "filename": "pytorch_model.bin", "task": "face-generation", "architecture": "dcgan",
        "sha256": hashlib.sha256(data).hexdigest(), "size": len(data), "description": "tiny test DCGAN",
    }})
    registry.clear()
    yield "dcgan-test"
    registry.clear()


def pixels(path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB")).astype(np.int16)


def test_face_grid_is_deterministic_and_labelled(dcgan_on_hub):
    assert face_models() == {"dcgan-test": "tiny test DCGAN"}
    first = generate_faces(dcgan_on_hub, [5, 6, 7], size=64)
    again = generate_faces(dcgan_on_hub, [7, 5], size=64)
    assert [f.seed for f in first] == [5, 6, 7]
    assert np.array_equal(pixels(first[0].path), pixels(again[1].path))
    assert np.array_equal(pixels(first[2].path), pixels(again[0].path))
    assert not np.array_equal(pixels(first[0].path), pixels(first[1].path))
    assert pixels(first[0].path).shape == (64, 64, 3)
    meta = read_png_metadata(first[0].path)
    assert meta["AI-Generated"] == "true" and "dcgan-test" in meta["Description"]
    report = provenance.read(first[0].path)
    assert report.intact and report.model == "dcgan-test" and report.source_type.endswith("/trainedAlgorithmicMedia")
    assert generate_faces(dcgan_on_hub, [5], size=128)[0].path.exists()
    assert pixels(generate_faces(dcgan_on_hub, [5], size=128)[0].path).shape == (128, 128, 3)
    assert registry.loaded() == ["dcgan-test"]  # loaded once, reused


def test_walk_gif_and_mp4(dcgan_on_hub):
    result = latent_walk(dcgan_on_hub, [1, 2, 3], frames_per_segment=5, fps=10, size=64)
    with Image.open(result.gif) as gif:
        assert gif.n_frames == 3 * 5 + 1 == result.frames
        frames = []
        for i in range(gif.n_frames):
            gif.seek(i)
            frames.append(np.asarray(gif.convert("RGB")).astype(np.float32))
    assert np.array_equal(frames[0], frames[-1])
    adjacent = np.mean([np.abs(a - b).mean() for a, b in zip(frames, frames[1:])])
    rng = np.random.default_rng(0)
    pairs = [rng.choice(len(frames), 2, replace=False) for _ in range(30)]
    random_pairs = np.mean([np.abs(frames[i] - frames[j]).mean() for i, j in pairs])
    assert adjacent < random_pairs
    info = probe(result.mp4)
    assert info.video_codec == "h264" and info.frames == result.frames and abs(info.fps - 10) < 1e-6
    for path in (result.gif, result.mp4):  # Content Credentials: made by this model from its training data
        report = provenance.read(path)
        assert report.intact and report.actions == ["c2pa.created"], report.lines()
        assert report.source_type == provenance.TRAINED_ALGORITHMIC_MEDIA and report.model == dcgan_on_hub


def test_bad_requests_are_explained(dcgan_on_hub):
    with pytest.raises(InputError, match="2 to 8 keyframes"):
        latent_walk(dcgan_on_hub, [1])
    with pytest.raises(InputError, match="limit is 240"):
        latent_walk(dcgan_on_hub, [1, 2, 3, 4], frames_per_segment=60)
    with pytest.raises(InputError, match="Unknown face model"):
        generate_faces("stylegan9", [1])
    with pytest.raises(InputError, match="out of range"):
        generate_faces(dcgan_on_hub, [1], size=4096)


def test_latent_arithmetic_grid(dcgan_on_hub):
    result = latent_arithmetic(dcgan_on_hub, [1, 2, 3], [4, 5, 6], [7, 8, 9], size=64)
    grid, center = pixels(result.grid), pixels(result.center)
    assert grid.shape == (192, 192, 3)
    assert np.array_equal(grid[64:128, 64:128], center)
    z = z_from_seeds([1, 2, 3], 100).mean(0) - z_from_seeds([4, 5, 6], 100).mean(0) + z_from_seeds([7, 8, 9], 100).mean(0)
    expected = next(synthesize(registry.load(dcgan_on_hub), z[None], 64))
    assert np.array_equal(center, expected.astype(np.int16))
    corners = [grid[r:r + 64, c:c + 64] for r in (0, 128) for c in (0, 128)]
    assert all(not np.array_equal(cell, center) for cell in corners)
    assert all(np.abs(cell - center).mean() < 60 for cell in corners)  # jitter stays near the result
    again = latent_arithmetic(dcgan_on_hub, [1, 2, 3], [4, 5, 6], [7, 8, 9], size=64)
    assert np.array_equal(pixels(again.grid), grid)


def test_ages_of_generated_faces_and_sorting(dcgan_on_hub):
    from gen_models.pipelines.age import predict_age

    faces = generate_faces(dcgan_on_hub, [1, 2, 3, 4], size=64)
    ordered = with_ages(list(faces), sort=True)
    ages = [f.age for f in ordered]
    assert all(a is not None for a in ages) and ages == sorted(ages)
    direct = predict_age([faces[0].path], whole_image=True, write_annotated=False).data["images"][0]["faces"][0]
    assert next(f.age for f in ordered if f.seed == 1) == direct["age"]
    many = with_ages(generate_faces(dcgan_on_hub, list(range(20)), size=64))  # more than predict_age's 16 a call
    assert len(many) == 20 and all(f.age is not None for f in many)


def test_sefa_directions_and_strip(dcgan_on_hub):
    from gen_models.pipelines.directions import direction_strip, first_layer_weight, sefa

    generator = registry.load(dcgan_on_hub)
    values, directions = sefa(generator)
    assert directions.shape == (100, 100) and np.all(np.diff(values) <= 1e-6)
    assert np.allclose(directions @ directions.T, np.eye(100), atol=1e-4)
    weight = first_layer_weight(generator)
    weight = weight / np.linalg.norm(weight, axis=0, keepdims=True)
    gains = [np.linalg.norm(weight.T @ d) for d in directions[:3]]
    assert gains[0] >= gains[1] >= gains[2]  # the first direction moves the first layer most

    strip = pixels(direction_strip(dcgan_on_hub, seed=4, index=0, distance=3, steps=5, size=64))
    assert strip.shape == (64, 5 * 64, 3)
    original = pixels(generate_faces(dcgan_on_hub, [4], size=64)[0].path)
    assert np.array_equal(strip[:, 128:192], original)
    assert not np.array_equal(strip[:, :64], strip[:, -64:])
    with pytest.raises(InputError, match="odd"):
        direction_strip(dcgan_on_hub, seed=4, index=0, steps=4)


class DesaturatingFace(torch.nn.Module):
    """A test 'generator' with a known age axis: a real face whose colour saturation falls as z[0] grows (the dlib
    model reads desaturated faces as older: 31.0 → 35.6 years from ×1.5 to ×0 saturation) and whose brightness
    follows z[1] (a nuisance the fit must ignore)."""

    z_dim = 8

    def __init__(self) -> None:
        super().__init__()
        from pathlib import Path

        photo = Image.open(Path(__file__).resolve().parents[2] / "spaces/age/examples/astronaut.jpg")
        face = np.asarray(photo.convert("RGB").crop((150, 50, 300, 200)).resize((128, 128)), dtype=np.float32)
        self.register_buffer("face", torch.from_numpy(face).permute(2, 0, 1) / 255)
        self.unused = torch.nn.Parameter(torch.zeros(1))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        saturation = (1 - 0.5 * torch.tanh(z[:, 0]))[:, None, None, None]
        brightness = (1 + 0.05 * torch.tanh(z[:, 1]))[:, None, None, None]
        gray = (self.face * torch.tensor([0.299, 0.587, 0.114])[:, None, None]).sum(0, keepdim=True)
        rgb = (gray + saturation * (self.face - gray)) * brightness
        return rgb.clamp(0, 1) * 2 - 1


def test_age_direction_moves_predicted_age_monotonically():
    from gen_models.pipelines.directions import attribute_directions_for, label_generated

    generator = DesaturatingFace()
    found = attribute_directions_for(generator, samples=48)
    age = torch.from_numpy(found["age"]).float()
    assert age[0] > 0.8  # it found the axis that ages the face
    held_out = z_from_seeds(range(500, 510), 8)
    means = [label_generated(generator, held_out + t * age)[:, 0].mean() for t in (-2, -1, 0, 1, 2)]
    assert all(b >= a for a, b in zip(means, means[1:])) and means[-1] - means[0] > 2


def test_attribute_strip_caches_its_directions(dcgan_on_hub):
    from gen_models.media.outputs import output_dir
    from gen_models.pipelines.directions import attribute_strip

    path, ages = attribute_strip(dcgan_on_hub, seed=3, attribute="age", distance=2, steps=3, size=64, samples=32)
    assert pixels(path).shape == (64, 3 * 64, 3) and len(ages) == 3
    cached = list((output_dir() / "directions").glob("dcgan-test-*-32.npz"))
    assert len(cached) == 1
    stamp = cached[0].stat().st_mtime_ns
    attribute_strip(dcgan_on_hub, seed=4, attribute="gender", distance=2, steps=3, size=64, samples=32)
    assert cached[0].stat().st_mtime_ns == stamp
    with pytest.raises(InputError, match="Attribute must be"):
        attribute_strip(dcgan_on_hub, seed=4, attribute="smile")


def test_a_stopped_walk_writes_no_file(dcgan_on_hub):
    from gen_models.core.errors import Cancelled
    from gen_models.media.outputs import output_dir

    seen = []

    def report(fraction, text):
        seen.append(text)
        if len(seen) == 3:
            raise Cancelled("stopped")

    before = set(output_dir().glob("walk-*"))
    with pytest.raises(Cancelled):
        latent_walk(dcgan_on_hub, [1, 2, 3], frames_per_segment=5, fps=10, size=64, progress=report)
    assert seen == ["frame 1 of 16", "frame 2 of 16", "frame 3 of 16"]
    assert set(output_dir().glob("walk-*")) == before
