"""The weights panel in a launched Blocks, driven as the browser drives it (queue/join + the SSE stream, which
also reaches private events): status on page load and on model change, Download with byte progress, buttons."""

from __future__ import annotations

import hashlib
import json
import os
import socket
import time
import uuid

import gradio as gr
import httpx
import huggingface_hub.constants
import pytest

import webui.weights
from gen_models.core.availability import weights_status
from webui import weights_panel
from webui.weights import _view

DATA = os.urandom(3 * 1024 * 1024 + 5)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def app(hub, tmp_path, monkeypatch):
    """A Blocks with a model dropdown over two staged entries ("here" in GEN_MODELS_WEIGHTS_DIR, "there" only on
    the local Hub), a main button and the panel; launched on a free loopback port."""
    repo = f"test-org/panel-{uuid.uuid4().hex[:8]}"
    hub.hub.add(repo, "there.bin", DATA)
    hub.write_manifest(
        here={"repo_id": repo, "filename": "here.bin", "size": 4, "description": "already staged"},
        there={"repo_id": repo, "filename": "there.bin", "size": len(DATA),
               "sha256": hashlib.sha256(DATA).hexdigest()},
    )
    (tmp_path / "weights" / "here").mkdir(parents=True)
    (tmp_path / "weights" / "here" / "here.bin").write_bytes(b"here")
    monkeypatch.setenv("GEN_MODELS_WEIGHTS_DIR", str(tmp_path / "weights"))
    with gr.Blocks() as demo, gr.Tab("A tab"):
        model = gr.Dropdown(choices=["here", "there"], value="there", label="Model")
        run = gr.Button("Run")
        panel = weights_panel(model, [run])
    demo.queue().launch(server_name="127.0.0.1", server_port=free_port(), prevent_thread_lock=True, quiet=True)
    try:
        yield demo, panel, demo.local_url.rstrip("/")
    finally:
        demo.close()


def dependency(demo, trigger_id: int | None, event: str) -> int:
    """The event listening to ``event`` on block ``trigger_id`` (None: the page itself, as for "load")."""
    return next(d["id"] for d in demo.config["dependencies"]
                if any(e == event and (trigger_id is None or t == trigger_id) for t, e in d["targets"]))


def run_event(url: str, fn_index: int, data: list, *, ok: bool = True) -> tuple:
    """Run one event through the queue as the page does; returns its outputs (its error when ``ok`` is False)
    and the progress messages."""
    session, progress = uuid.uuid4().hex, []
    with httpx.Client(base_url=url, timeout=20) as client:
        joined = client.post("/gradio_api/queue/join",
                             json={"data": data, "fn_index": fn_index, "session_hash": session, "trigger_id": None})
        joined.raise_for_status()
        with client.stream("GET", "/gradio_api/queue/data", params={"session_hash": session}) as stream:
            for line in stream.iter_lines():
                if not line.startswith("data:"):
                    continue
                message = json.loads(line[5:])
                if message["msg"] == "progress":
                    progress.append(message["progress_data"][-1])
                elif message["msg"] == "process_completed":
                    assert message["success"] is ok, message["output"]
                    return (message["output"]["data"] if ok else message["output"]["error"]), progress
    raise AssertionError("the event stream ended without a result")


def test_status_on_load_download_with_progress_then_present(app, hub, monkeypatch):
    demo, panel, url = app
    load = dependency(demo, None, "load")
    assert load == dependency(demo, next(b._id for b in demo.blocks.values() if isinstance(b, gr.Dropdown)), "change")

    box, button, run = run_event(url, load, ["there"])[0]
    assert "**there**" in box and "not downloaded yet, 3.1 MB" in box and "buttons stay off" in box
    assert button["visible"] is True and button["value"] == "Download there (3.1 MB)"
    assert run["interactive"] is False
    box, button, run = run_event(url, load, ["here"])[0]
    assert "on this machine" in box and button["visible"] is False and run["interactive"] is True

    # small chunks and unthrottled, slightly slowed reports, so the page's 10 ms progress poll sees each one
    monkeypatch.setattr(huggingface_hub.constants, "DOWNLOAD_CHUNK_SIZE", 1 << 20)
    monkeypatch.setattr(webui.weights, "PROGRESS_EVERY_S", 0.0)
    real = webui.weights.download_weights

    def slowed(name, progress):
        return real(name, lambda done, total: (progress(done, total), time.sleep(0.05)))

    monkeypatch.setattr(webui.weights, "download_weights", slowed)
    (box, button, run), progress = run_event(url, dependency(demo, panel.download._id, "click"), ["there"])
    assert "on this machine" in box and "not downloaded" not in box
    assert button["visible"] is False and run["interactive"] is True
    done = [p["index"] for p in progress]
    assert done == sorted(done) and done[-1] == len(DATA) and len(done) >= 3, progress
    assert {p["length"] for p in progress} == {len(DATA)} and progress[-1]["unit"] == "bytes"
    assert hub.hub.count("GET", "there.bin") == 1

    box, button, run = run_event(url, load, ["there"])[0]  # a reload sees it too
    assert "on this machine" in box and run["interactive"] is True


def test_unreachable_hub_is_a_page_error(app, monkeypatch):
    demo, panel, url = app
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{closed}")
    error, _ = run_event(url, dependency(demo, panel.download._id, "click"), ["there"], ok=False)
    assert "could not be reached" in error and "python -m gen_models fetch there" in error


def test_bundled_offline_and_fixed_names(hub, monkeypatch):
    hub.write_manifest(far={"repo_id": "test-org/far", "filename": "f.bin"})
    box, button, *_ = _view(weights_status(["dlib-age"]), 0)
    assert "bundled, no download" in box and button["visible"] is False
    hub.set_offline(True)
    box, button, run = _view(weights_status(["far"]), 1)
    assert "Offline mode is on" in box and "python -m gen_models fetch far" in box
    assert button["visible"] is False and run["interactive"] is False
    with gr.Blocks() as demo:
        weights_panel("far", [])
    assert dependency(demo, None, "load") == 0 and len(demo.config["dependencies"]) == 2
