"""Ray Serve: the face-swap pipeline as a deployment on a local Ray (2 CPUs, no network, no HTTP proxy) answers a
Gradio request with the same result as in-process, reports progress, and raises the same errors; the app's
``--ray-serve`` flag wires it and opens the heavy queue to the deployments' replicas."""

from __future__ import annotations

import concurrent.futures
import socket
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

ray = pytest.importorskip("ray", reason="Ray is optional: pip install -r requirements-ray.txt")

from gen_models.core.errors import InputError  # noqa: E402
from gen_models.media import remote  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "spaces" / "face_swap" / "examples"
PAIR = "faceswap-astronaut-hopper"


@pytest.fixture(scope="module")
def served():
    from gen_models import serving

    serving.connect("local", num_cpus=2)
    with concurrent.futures.ThreadPoolExecutor(1) as pool:  # see in_a_thread
        used = pool.submit(serving.start, "local", serving.read_config(None), groups=("face-swap",)).result()
    calls = []
    send = remote._routes["face-swap"]
    remote.route("face-swap", lambda *a: calls.append(a[0]) or send(*a))
    try:
        yield used, calls
    finally:
        serving.stop()
        ray.shutdown()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _swap(client) -> np.ndarray:
    from gradio_client import handle_file

    video, image, notes = client.predict(None, handle_file(str(EXAMPLES / "astronaut.jpg")), PAIR, None, "a-to-b",
                                         "per-frame", False, False, api_name="/swap_faces")
    assert video is None and PAIR in notes
    return np.asarray(Image.open(image).convert("RGB"))


def test_a_gradio_request_gets_the_same_answer_from_the_deployment(served, tmp_path):
    from gradio_client import Client

    from webui.space import build_space

    used, calls = served
    assert used["face-swap"].replicas == 1
    blocks = build_space(demo="face_swap")
    blocks.queue().launch(server_port=_free_port(), prevent_thread_lock=True, show_error=True, quiet=True)
    try:
        client = Client(f"http://127.0.0.1:{blocks.server_port}/", verbose=False)
        there = _swap(client)
        assert calls == ["gen_models.pipelines.face_swap:swap_image"]  # answered by the deployment
        send = remote._routes.pop("face-swap")
        try:
            here = _swap(client)  # the same request, in-process
        finally:
            remote.route("face-swap", send)
        assert len(calls) == 1 and np.array_equal(there, here)
    finally:
        blocks.close()


def in_a_thread(fn, *args, **kwargs):
    """Call as a Gradio handler does, from a worker thread: the browser suite's Playwright (sync API) keeps an event
    loop running in the main thread, where Ray's blocking calls refuse to run."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(fn, *args, **kwargs).result()


def test_progress_and_errors_come_back_from_the_deployment(served, tmp_path):
    from gen_models.media import provenance
    from gen_models.pipelines.face_swap import swap_image, swap_video

    seen = []
    result = in_a_thread(swap_video, EXAMPLES / "astronaut_clip.mp4", model=PAIR, progress=lambda f, t: seen.append(f))
    assert result.frames == 60 and len(seen) >= 10 and seen == sorted(seen)
    assert served[1][-1] == "gen_models.pipelines.face_swap:swap_video"
    assert provenance.read(result.path).intact  # signed there, still valid here
    blank = tmp_path / "blank.png"
    Image.fromarray(np.full((120, 120, 3), 128, np.uint8)).save(blank)
    with pytest.raises(InputError, match="No face found in blank.png"):
        in_a_thread(swap_image, blank, model=PAIR)


def test_ray_serve_in_the_app_routes_every_heavy_group_and_widens_the_heavy_queue(served):
    import app
    from webui.launch import serve_on_ray

    used = in_a_thread(serve_on_ray, app.demo, "local")
    assert set(used) == {"talking-heads", "colorization", "face-generation", "face-swap"}
    assert set(remote.routed()) == set(used)
    heavy = [fn for fn in app.demo.fns.values() if str(fn.concurrency_id or "").startswith("heavy-")]
    assert heavy and all(fn.concurrency_limit == 4 for fn in heavy)
    light = next(fn for fn in app.demo.fns.values() if fn.api_name == "predict_age")
    assert not str(light.concurrency_id or "").startswith("heavy-")  # age stays in-process, in its own queue


def test_the_flag_and_the_settings_file(tmp_path):
    from gen_models import serving
    from webui.launch import parse_args

    assert parse_args(["--ray-serve"]).ray_serve == "local"
    assert parse_args(["--ray-serve", "auto"]).ray_serve == "auto" and parse_args([]).ray_serve is None
    config = tmp_path / "serve.yaml"
    config.write_text("talking-heads: {min_replicas: 1, max_replicas: 4, num_gpus: 0.5}\ncolorization: {replicas: 2}\n")
    found = serving.read_config(config)
    heads = found["talking-heads"].options(cluster_gpus=1)
    assert heads["autoscaling_config"] == {"min_replicas": 1, "max_replicas": 4, "target_ongoing_requests": 1}
    assert heads["ray_actor_options"] == {"num_cpus": 0.5, "num_gpus": 0.5}
    assert found["colorization"].options(cluster_gpus=0)["num_replicas"] == 2
    assert found["face-swap"].options(cluster_gpus=2)["ray_actor_options"]["num_gpus"] == 0.25
    config.write_text("talking-head: {replicas: 2}\n")
    with pytest.raises(serving.GenModelsError, match="no deployment named 'talking-head'"):
        serving.read_config(config)
    config.write_text("colorization: {gpus: 1}\n")
    with pytest.raises(serving.GenModelsError, match="unknown setting"):
        serving.read_config(config)
