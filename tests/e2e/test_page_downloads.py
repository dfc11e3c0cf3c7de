"""Weights on the page, with a Hub that cannot be reached and an authors' server that can: the tab says what it
needs before the first click, its Download button fetches the file (same sha256 check) and turns the tab's buttons
on, and a missing Hub file is reported within seconds instead of after huggingface_hub's retries."""

from __future__ import annotations

import json
import socket
import time

import pytest
from browse import (
    block,
    choose,
    image_sizes,
    open_tab,
    text_of,
    toasts,
    wait_for,
    wait_for_toast,
)
from served import start_app

FETCHED = "zhang-eccv16"  # a plain-url entry, served here by a local server
MISSING = "deoldify-artistic"  # a Hub entry, missing, with the Hub unreachable


@pytest.fixture(scope="module")
def hub_app(tmp_path_factory, staged):
    from hubserver import HubServer

    root = tmp_path_factory.mktemp("download-app")
    manifest = json.loads(staged.manifest.read_text())
    weights = root / "weights"
    weights.mkdir()
    for name in manifest["weights"]:
        if name not in (FETCHED, MISSING):
            (weights / name).symlink_to(staged.weights_dir / name, target_is_directory=True)
    entry = manifest["weights"][FETCHED]
    server = HubServer()
    server.hub.add("authors/colorization", entry["filename"],
                   (staged.weights_dir / FETCHED / entry["filename"]).read_bytes())
    entry["url"] = f"{server.url}/authors/colorization/resolve/main/{entry['filename']}"
    (root / "manifest.json").write_text(json.dumps(manifest))
    with socket.socket() as s:  # a loopback port nothing listens on: the "Hub" that cannot be reached
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    env = {"GEN_MODELS_MANIFEST": str(root / "manifest.json"), "GEN_MODELS_WEIGHTS_DIR": str(weights),
           "HF_HUB_OFFLINE": None, "HF_ENDPOINT": f"http://127.0.0.1:{closed}"}
    try:
        yield from start_app(root, env)
    finally:
        server.close()


def _panel(scope) -> str:
    return " ".join(t for t in scope.locator(".prose").all_inner_texts() if "Weights this model needs" in t)


def test_download_button_fetches_the_weights_and_enables_the_tab(open_page, hub_app):
    page = open_page(hub_app)
    scope = open_tab(page, "Colorization")
    choose(scope, "Model", FETCHED)
    wait_for(page, lambda: f"{FETCHED} · not downloaded yet, 129." in _panel(scope), "the missing weights' status")
    colorize = scope.get_by_role("button", name="Colorize", exact=True)
    assert colorize.is_disabled(), "Colorize stays off until the weights are here"
    download = scope.get_by_role("button", name=f"Download {FETCHED} (129.", exact=False)
    download.click()
    wait_for(page, lambda: f"{FETCHED} · on this machine" in _panel(scope), "the downloaded weights", timeout=120)
    assert colorize.is_enabled() and not download.is_visible()

    page.get_by_text("Cameraman (B&W)", exact=True).click()
    colorize.click()
    compare = block(scope, "Before / after (drag the handle)")
    wait_for(page, lambda: len(image_sizes(compare)) == 2, "the colorized photo")
    assert not toasts(page)


def test_unreachable_hub_is_known_within_seconds(open_page, hub_app):
    page = open_page(hub_app)
    scope = open_tab(page, "Colorization")
    wait_for(page, lambda: f"{MISSING} · not downloaded yet" in _panel(scope), "the missing weights' status")
    started = time.monotonic()
    scope.get_by_role("button", name=f"Download {MISSING}", exact=False).click()
    message = wait_for_toast(page, "could not be reached", timeout=15)
    assert time.monotonic() - started < 5, f"{time.monotonic() - started:.1f} s to say the Hub is unreachable"
    assert f"python -m gen_models fetch {MISSING}" in message

    from bad_files import CAMERAMAN
    from gradio_client import Client, handle_file

    client = Client(hub_app.url, verbose=False)
    for _ in range(2):  # the second answer comes from the remembered probe
        started = time.monotonic()
        with pytest.raises(Exception, match="could not be reached"):
            client.predict(handle_file(str(CAMERAMAN)), MISSING, 10, True, api_name="/colorize")
        assert time.monotonic() - started < 5
    assert MISSING in text_of(scope)
