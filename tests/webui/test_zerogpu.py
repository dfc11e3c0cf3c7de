"""ZeroGPU: every heavy handler books the GPU through ``spaces.GPU`` for a duration worked out from its request, and
outside ZeroGPU the decorator changes nothing (same function, still a generator where it was one)."""

from __future__ import annotations

import inspect
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import gradio as gr
import imageio_ffmpeg
import pytest

from webui import zerogpu
from webui.zerogpu import MAX_SECONDS, MIN_SECONDS, gpu

ROOT = Path(__file__).resolve().parents[2]
HEADS = ROOT / "spaces" / "talking_heads" / "examples"
SWAP = ROOT / "spaces" / "face_swap" / "examples"
HEAVY = {"generate_faces", "latent_walk", "latent_arithmetic", "latent_directions", "attribute_edit", "animate",
         "swap_faces", "extract_faces", "train_face_swap", "colorize", "render_factor_sweep", "translate"}


@pytest.fixture(scope="module")
def handlers() -> dict:
    """The built app's heavy handlers by API name (the functions Gradio calls)."""
    import app

    found = {fn.api_name: fn.fn for fn in app.demo.fns.values() if str(fn.concurrency_id or "").startswith("heavy")}
    assert set(found) == HEAVY
    return found


@pytest.fixture(scope="module")
def long_clip(tmp_path_factory) -> Path:
    """A 20 s, 25 fps gray clip (500 frames), made by ffmpeg in well under a second."""
    path = tmp_path_factory.mktemp("clips") / "long.mp4"
    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-f", "lavfi", "-i", "color=c=gray:s=64x64:d=20",
                    "-r", "25", "-pix_fmt", "yuv420p", str(path)], check=True, timeout=60)
    return path


def test_the_real_spaces_package_is_inert_here():
    import spaces
    from spaces.config import Config

    assert zerogpu.GPU is spaces.GPU and "site-packages" in spaces.__file__  # not the repository's spaces/ folder
    assert not Config.zero_gpu

    def seconds(**_):
        return 5

    def plain(x: int, progress=gr.Progress()) -> int:
        """Doubles."""
        return 2 * x

    def streamed(n: int, progress=gr.Progress()):
        """Counts."""
        yield from range(n)

    for fn in (plain, streamed):
        before = inspect.signature(fn)
        decorated = gpu(seconds)(fn)
        assert decorated is fn and decorated.__doc__ and inspect.signature(decorated) == before
        assert isinstance(before.parameters["progress"].default, gr.Progress)
        assert decorated.gpu_duration(3) == MIN_SECONDS  # 5 s, clamped up to the minimum
    assert plain(4) == 8 and inspect.isgeneratorfunction(streamed) and list(streamed(3)) == [0, 1, 2]


def test_every_heavy_handler_has_a_duration_and_keeps_its_kind(handlers):
    for name, fn in handlers.items():
        assert callable(getattr(fn, "gpu_duration", None)), name
        assert inspect.signature(fn.gpu_duration) == inspect.signature(fn), name
        assert inspect.isgeneratorfunction(fn) == inspect.isgeneratorfunction(inspect.unwrap(fn)), name
        assert inspect.getdoc(fn), name  # the API's and MCP's description


def book(fn, *args) -> int:
    """The handler's booking for a call with ``args`` (bound to the handler's own signature first, as Gradio
    calls it: positional inputs, a gr.Progress default)."""
    bound = inspect.signature(fn).bind(*args)
    seconds = fn.gpu_duration(*bound.args, **bound.kwargs)
    assert isinstance(seconds, int) and MIN_SECONDS <= seconds <= MAX_SECONDS, seconds
    return seconds


def test_durations_grow_with_the_request(handlers, long_clip, monkeypatch):
    h = handlers
    assert book(h["generate_faces"], "pggan-celebahq-1024", 0, 60, "256", None, False) > \
        book(h["generate_faces"], "pggan-celebahq-1024", 0, 1, "256", None, False)
    assert book(h["latent_walk"], "pggan-celebahq-1024", "1, 2, 3, 4, 5, 6, 7, 8", 30, 12, "slerp", True, "256") > \
        book(h["latent_walk"], "pggan-celebahq-1024", "1, 42", 12, 12, "slerp", False, "256")
    book(h["latent_arithmetic"], "pggan-celebahq-1024", "1, 2", "3", "4", 0.25, "128")
    book(h["latent_directions"], "pggan-celebahq-1024", 42, 0, 3.0, 9, "128")  # a strip: under the minimum
    assert zerogpu.directions_seconds(steps=9) > zerogpu.directions_seconds(steps=3)
    book(h["attribute_edit"], "pggan-celebahq-1024", 42, "age", 3.0)

    photo, clip = str(HEADS / "astronaut.jpg"), str(HEADS / "nodding_astronaut.mp4")  # 3 s, 75 frames
    animate = [photo, clip, "fomm-vox", "relative", True, False, True, True, "face"]
    short = book(h["animate"], *animate)
    assert short > MIN_SECONDS
    assert book(h["animate"], *[photo, str(long_clip), *animate[2:]]) > short
    assert book(h["animate"], *[photo, clip, "tpsmm-vox", *animate[3:]]) > short  # TPSMM is slower
    monkeypatch.setenv("GEN_MODELS_MAX_VIDEO_SECONDS", "10")  # the long clip is now refused at once
    assert book(h["animate"], *[photo, str(long_clip), *animate[2:]]) == MIN_SECONDS
    monkeypatch.delenv("GEN_MODELS_MAX_VIDEO_SECONDS")

    a, b = str(SWAP / "astronaut_clip.mp4"), str(SWAP / "grace_hopper_clip.mp4")
    swap = ["faceswap-astronaut-hopper", None, "a-to-b", "smoothed", False, True, None]
    assert book(h["swap_faces"], str(long_clip), None, *swap) > book(h["swap_faces"], a, None, *swap) > \
        book(h["swap_faces"], None, str(SWAP / "astronaut.jpg"), *swap)
    assert book(h["extract_faces"], [a, str(long_clip)], [b, str(long_clip)], 64) > book(h["extract_faces"], [a], [b], 64)
    assert book(h["train_face_swap"], [a], [b], "original", 64, 8, 2000, 16, 0) > \
        book(h["train_face_swap"], [a], [b], "original", 64, 8, 100, 16, 0)

    cat = str(ROOT / "spaces" / "colorize" / "examples" / "chelsea_cat.jpg")
    assert book(h["colorize"], cat, "deoldify-artistic", 45, True) > book(h["colorize"], cat, "deoldify-artistic", 10, True)
    book(h["render_factor_sweep"], cat, "deoldify-artistic", True)
    assert book(h["translate"], cat, "cyclegan-horse2zebra", 1024) > book(h["translate"], cat, "cyclegan-horse2zebra", 256)


def test_a_duration_never_fails_the_request(handlers):
    """Odd arguments book the fallback (the handler then explains what is wrong)."""
    assert handlers["animate"].gpu_duration() == zerogpu.FALLBACK_SECONDS  # missing arguments
    assert book(handlers["animate"], None, "/no/such/clip.mp4", "fomm-vox", "relative", True, False, True, True,
                "face") == MIN_SECONDS


def test_on_zerogpu_the_handlers_are_wrapped_by_spaces(tmp_path):
    """With ZeroGPU switched on, spaces.GPU wraps each heavy handler (its own wrapper, marked ``zerogpu``), which
    stays a generator function where the handler is one, keeps the docstring and books our duration."""
    script = textwrap.dedent("""
        import inspect, warnings
        warnings.simplefilter("ignore")
        from spaces.config import Config
        Config.zero_gpu = True  # as SPACES_ZERO_GPU=true would, without patching torch at import
        from spaces.zero.wrappers import static_duration
        import app
        heavy = [fn for fn in app.demo.fns.values() if str(fn.concurrency_id or "").startswith("heavy")]
        assert len(heavy) == 12
        for block_fn in heavy:
            fn = block_fn.fn
            assert hasattr(fn, "zerogpu") and hasattr(fn, "gpu_duration"), block_fn.api_name
            assert inspect.isgeneratorfunction(fn) == inspect.isgeneratorfunction(inspect.unwrap(fn))
            assert inspect.getdoc(fn) == inspect.getdoc(inspect.unwrap(fn))
            assert block_fn.types_generator == inspect.isgeneratorfunction(inspect.unwrap(fn))
        faces = next(f.fn for f in heavy if f.api_name == "generate_faces")
        booked = static_duration(faces.gpu_duration, "pggan-celebahq-1024", 0, 10, "256", None, False)
        assert isinstance(booked, int) and 15 <= booked <= 300, booked
        print("wrapped", len(heavy))
    """)
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=180,
                          env={**os.environ, "HF_HUB_OFFLINE": "1", "GRADIO_ANALYTICS_ENABLED": "False"})
    assert done.returncode == 0 and "wrapped 12" in done.stdout, done.stderr[-3000:]
