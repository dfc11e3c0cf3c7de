"""A served pipeline called through a route gives what it gives in-process: the same pixels (its files travel as
bytes and land in this process's output folder, still signed), the progress reports, and the same error class and
message. Here the "deployment" is :func:`remote.run_here` in this process, so no Ray is needed."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from gen_models.core.errors import InputError
from gen_models.media import provenance, remote
from gen_models.media.outputs import output_dir
from gen_models.pipelines.face_swap import swap_image, swap_video

EXAMPLES = Path(__file__).resolve().parents[2] / "spaces" / "face_swap" / "examples"
PAIR = "faceswap-astronaut-hopper"


@pytest.fixture
def routed(tmp_path):
    calls = []

    def send(target, args, kwargs):
        calls.append((target, args, kwargs))
        return remote.run_here(target, args, kwargs, tmp_path)

    remote.route("face-swap", send)
    yield calls
    remote.route("face-swap", None)


def pixels(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB"))


def test_a_routed_call_equals_the_in_process_one(routed):
    there = swap_image(EXAMPLES / "astronaut.jpg", model=PAIR)
    remote.route("face-swap", None)
    here = swap_image(EXAMPLES / "astronaut.jpg", model=PAIR)
    (target, args, kwargs), = routed
    assert target == "gen_models.pipelines.face_swap:swap_image"
    assert isinstance(args[0], remote.FileRef) and args[0].name == "astronaut.jpg"  # sent as bytes, not a path
    assert there.path != here.path and there.path.parent.parent == output_dir()
    assert np.array_equal(pixels(there.path), pixels(here.path))
    assert provenance.read(there.path).intact and there.model == here.model


def test_progress_reaches_the_caller_and_errors_keep_their_class(routed, tmp_path):
    seen = []
    result = swap_video(EXAMPLES / "astronaut_clip.mp4", model=PAIR, progress=lambda f, t: seen.append((f, t)))
    assert result.frames == 60 and result.path.is_file() and len(seen) >= 10
    assert all(0 <= f <= 1 for f, _ in seen) and "swapping frame" in seen[-1][1]
    blank = tmp_path / "blank.png"
    Image.fromarray(np.full((120, 120, 3), 128, np.uint8)).save(blank)
    with pytest.raises(InputError, match="No face found in blank.png"):
        swap_image(blank, model=PAIR)


def test_a_stopped_caller_stops_the_served_work(routed):
    def stop(fraction, text):
        if fraction > 0.2:
            raise InputError("stopped by the user")

    with pytest.raises(InputError, match="stopped by the user"):
        swap_video(EXAMPLES / "astronaut_clip.mp4", model=PAIR, progress=stop)
