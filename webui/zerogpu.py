"""ZeroGPU: on a Hugging Face ZeroGPU Space the GPU exists only inside functions decorated with ``spaces.GPU``, and
each call books it for a ``duration`` up front. :func:`gpu` decorates a heavy event handler (the ones wired with
``**heavy()``) with ``spaces.GPU(duration=...)`` whose duration is worked out from the request itself: how many
faces, frames, steps, how large a render factor.

Everywhere else (no ``SPACES_ZERO_GPU`` in the environment, or no ``spaces`` package) it changes nothing:
``spaces.GPU`` hands back the very function it was given, so a generator handler stays a generator function, its
``gr.Progress`` default and its docstring (the API's and MCP's description) stay as they are. The duration function
is kept on the handler as ``handler.gpu_duration`` (it takes the handler's own arguments) for tests and for a look
at what a request would book.

``import spaces`` finds the installed package: the repository's ``spaces/`` folder has no ``__init__.py`` (a
namespace folder), and a regular package wins over a namespace folder wherever it is on ``sys.path``.

The costs below are estimates for one slice of the GPUs ZeroGPU lends (an H200 half today, an A10G before), from the
CPU figures in README.md's benchmarks divided by the usual GPU speed-up, plus the CPU work that runs inside the same
call (decoding, PNG/MP4 encoding, C2PA signing). They are deliberately generous: a call that outlives its booking is
cut off, one that books too much only waits longer in ZeroGPU's queue.
"""

from __future__ import annotations

import functools
import inspect
import logging
import math
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TypeVar

try:
    import spaces  # the ZeroGPU package (inert outside ZeroGPU)

    GPU = getattr(spaces, "GPU", None)  # None: only the repository's namespace folder was found
except ImportError:  # pragma: no cover - spaces is in requirements.txt
    GPU = None

F = TypeVar("F", bound=Callable)
log = logging.getLogger("webui")

MIN_SECONDS = 15  # never book less: a worker's start and CUDA's initialisation alone take a few seconds
MAX_SECONDS = 300  # never book more: longer bookings wait long in ZeroGPU's queue and eat visitors' daily quota
FALLBACK_SECONDS = 120  # when a duration function fails on odd arguments (the handler then reports the problem)

MODEL_LOAD_S = 10.0  # first call in a worker: a checkpoint (up to ~900 MB, DeOldify Stable) onto the GPU
IMAGE_IO_S = 3.0  # decoding an upload, writing a full-size PNG and signing its Content Credentials
FACE_S = 0.5  # one PGGAN 1024 face (~0.05 s on the GPU) plus resizing, PNG and C2PA (CPU: 0.43 s a face)
WALK_FRAME_S = 0.3  # one latent-walk frame: a face plus its share of the GIF and the MP4
ATTRIBUTE_FIT_FACES = 200  # "older / younger" labels 200 generated faces the first time per model
ANIMATE_FRAME_S = 0.15  # one FOMM frame with cropping and H.264 (CPU: 0.4–0.8 s; "real time" on a GPU)
TPSMM_FACTOR = 2.4  # TPSMM is about 2.4× slower than FOMM (README benchmarks)
BEST_FRAME_S = 0.05  # per driving frame, finding the frame whose pose matches the photo best
SWAP_FRAME_S = 0.1  # one face-swap frame end to end (CPU: ~23 frames/s, detection-bound; the GPU helps little)
EXTRACT_FRAME_S = 0.05  # dlib finding and aligning the face of one frame (CPU work)
TRAIN_STEP_S = 0.03  # one face-swap step at batch 16, 64 px, width ÷8 (CPU: ~460 steps a minute)
RENDER_FACTOR_S = 0.25  # DeOldify per render-factor unit (factor × 16 px square; 35 is 560 px)
TRANSLATE_MEGAPIXEL_S = 8.0  # CycleGAN per megapixel of working size


def _clamp(seconds: float) -> int:
    return int(math.ceil(min(MAX_SECONDS, max(MIN_SECONDS, seconds))))


def gpu(duration_fn: Callable[..., float]) -> Callable[[F], F]:
    """Decorate a heavy handler with ``spaces.GPU(duration=...)``.

    ``duration_fn`` gets the handler's arguments by name (a ``**_`` takes the ones it does not need) and returns
    seconds; the result is clamped to [MIN_SECONDS, MAX_SECONDS]. The clamped function, which takes the handler's
    own signature (Gradio and ZeroGPU call it with the handler's arguments), is ``handler.gpu_duration``.
    """

    def decorate(handler: F) -> F:
        signature = inspect.signature(handler)

        @functools.wraps(duration_fn)
        def duration(*args: Any, **kwargs: Any) -> int:
            try:
                bound = signature.bind(*args, **kwargs)
                bound.apply_defaults()
                return _clamp(float(duration_fn(**bound.arguments)))
            except Exception:  # a booking must never fail the request: book generously, the handler explains
                log.exception("GPU duration of %s failed", getattr(handler, "__name__", handler))
                return FALLBACK_SECONDS

        duration.__signature__ = signature  # type: ignore[attr-defined]
        decorated = GPU(duration=duration)(handler) if GPU is not None else handler
        decorated.gpu_duration = duration  # type: ignore[attr-defined]
        return decorated  # type: ignore[return-value]

    return decorate


# --------------------------------------------------------------------------------------------- request sizes
def _int(value: Any, default: int = 0) -> int:
    try:
        return int(float(value))
    except (TypeError, ValueError):
        return default


def _paths(files: Any) -> list[str]:
    """Upload values as Gradio hands them over: a path, a list of paths, or file objects with ``.name``/``path``."""
    if not files:
        return []
    items = files if isinstance(files, (list, tuple)) else [files]
    out = []
    for item in items:
        if isinstance(item, dict):
            item = item.get("path") or item.get("name")
        item = getattr(item, "path", None) or getattr(item, "name", None) or item
        if item:
            out.append(str(item))
    return out


def video_frames(path: Any) -> int:
    """Frames of a video (duration × fps, from ffmpeg's header; no decoding), 1 for a photo, 0 for nothing or a
    file the handler will refuse at once (unreadable, longer than GEN_MODELS_MAX_VIDEO_SECONDS)."""
    from gen_models.core.errors import GenModelsError
    from gen_models.media.video import is_still_image, open_video

    paths = _paths(path)
    if not paths:
        return 0
    file = Path(paths[0])
    if file.is_file() and is_still_image(file):
        return 1
    try:
        return open_video(file).frames_estimate
    except (GenModelsError, OSError):
        return 0


def _frames_of(files: Iterable[Any]) -> int:
    return sum(video_frames(path) for path in _paths(files))


def _architecture(model: Any) -> str:
    from gen_models.core.manifest import load_manifest

    try:
        return load_manifest()[str(model)].architecture
    except Exception:
        return ""


# --------------------------------------------------------------------------------------------- per handler
def faces_seconds(count: Any = 1, age_model: Any = None, **_: Any) -> float:
    """Face generation: a model load and FACE_S per face (with ages, a little more)."""
    return MODEL_LOAD_S + _int(count, 1) * FACE_S * (1.2 if age_model else 1.0)


def walk_seconds(seeds: Any = "", frames_per_segment: Any = 12, loop: Any = True, **_: Any) -> float:
    """Latent walk: (keyframes − 1, + 1 to loop back) segments × frames per segment."""
    keyframes = len([p for p in str(seeds or "").replace(",", " ").replace(";", " ").split() if p])
    segments = max(1, keyframes - 1 + (1 if loop else 0))
    return MODEL_LOAD_S + segments * _int(frames_per_segment, 12) * WALK_FRAME_S


def arithmetic_seconds(**_: Any) -> float:
    """Latent arithmetic: a 3×3 grid of faces."""
    return MODEL_LOAD_S + 9 * FACE_S


def directions_seconds(steps: Any = 7, **_: Any) -> float:
    """SeFa directions: one face per step (the eigenvectors of one layer cost nothing)."""
    return MODEL_LOAD_S + _int(steps, 7) * FACE_S


def attribute_seconds(**_: Any) -> float:
    """Older / younger: the first call per model labels ATTRIBUTE_FIT_FACES faces (cached on disk afterwards, but
    a booking cannot cheaply know whether this worker's disk has it), then a strip of 5."""
    return MODEL_LOAD_S + (ATTRIBUTE_FIT_FACES + 5) * FACE_S * 0.5


def animate_seconds(video: Any = None, model: Any = "", best_frame: Any = False, **_: Any) -> float:
    """Talking heads: the driving video's frames × ANIMATE_FRAME_S (× TPSMM_FACTOR for TPSMM)."""
    frames = video_frames(video)
    per_frame = ANIMATE_FRAME_S * (TPSMM_FACTOR if _architecture(model) == "tpsmm" else 1.0)
    return MODEL_LOAD_S + frames * (per_frame + (BEST_FRAME_S if best_frame else 0.0))


def swap_seconds(video: Any = None, photo: Any = None, **_: Any) -> float:
    """Face swap: the video's frames (twice: per frame and smoothed flicker are both measured), or one photo."""
    frames = video_frames(video) if video else (1 if photo else 0)
    return MODEL_LOAD_S + 2 * frames * SWAP_FRAME_S


def extract_seconds(a_files: Any = None, b_files: Any = None, **_: Any) -> float:
    """Face extraction: every frame of both people's clips and photos."""
    return IMAGE_IO_S + (_frames_of(a_files) + _frames_of(b_files)) * EXTRACT_FRAME_S


def train_swap_seconds(a_files: Any = None, b_files: Any = None, size: Any = 64, width: Any = 8, steps: Any = 100,
                       batch: Any = 16, **_: Any) -> float:
    """Face-swap training: extraction, then steps × TRAIN_STEP_S scaled by batch, pixels and width."""
    scale = (_int(batch, 16) / 16) * (_int(size, 64) / 64) ** 2 * math.sqrt(8 / max(1, _int(width, 8)))
    return extract_seconds(a_files, b_files) + _int(steps, 100) * TRAIN_STEP_S * scale


def colorize_seconds(render_factor: Any = 35, **_: Any) -> float:
    """Colorization: DeOldify at the render factor (Zhang's models are lighter; booked the same)."""
    return MODEL_LOAD_S + IMAGE_IO_S + _int(render_factor, 35) * RENDER_FACTOR_S


def sweep_seconds(**_: Any) -> float:
    """Render-factor sweep: the photo at each of SWEEP_FACTORS."""
    from gen_models.pipelines.colorize import SWEEP_FACTORS

    return MODEL_LOAD_S + sum(IMAGE_IO_S + f * RENDER_FACTOR_S for f in SWEEP_FACTORS)


def translate_seconds(max_side: Any = 512, **_: Any) -> float:
    """CycleGAN: the working size's megapixels (the long side; the photo keeps its aspect ratio)."""
    return MODEL_LOAD_S + IMAGE_IO_S + (_int(max_side, 512) ** 2 / 1e6) * TRANSLATE_MEGAPIXEL_S
