"""Starting ``python app.py`` for the browser tests: a free port, a clean test environment, the server's log."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from served_app import stop

ROOT = Path(__file__).resolve().parents[2]
START_SECONDS = 180


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class App:
    """The running app: its address, its output folder and the server's log (for failure messages)."""

    def __init__(self, url: str, log: Path, outputs: Path) -> None:
        self.url, self.log, self.outputs = url, log, outputs

    def log_tail(self, chars: int = 4000) -> str:
        return self.log.read_text(errors="replace")[-chars:]


def start_app(root: Path, env: dict[str, str]):
    """Start ``python app.py`` on a free port with ``env`` over a clean test environment; yields an :class:`App`."""
    port = _free_port()
    outputs = root / "outputs"
    full = {
        **os.environ, "HF_HUB_OFFLINE": "1", "GRADIO_ANALYTICS_ENABLED": "False", "GEN_MODELS_OUTPUT_DIR": str(outputs),
        "HF_HOME": str(root / "hf-home"), "GEN_MODELS_CACHE": str(root / "gen-models-cache"),
        "GRADIO_TEMP_DIR": str(root / "gradio"), "PYTHONUNBUFFERED": "1", **env,
    }
    for key in [k for k, v in full.items() if v is None]:
        del full[key]
    log = root / "app.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, "app.py", "--port", str(port)], cwd=ROOT, env=full, stdout=out,
                                stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.time() + START_SECONDS
    while True:
        if proc.poll() is not None:
            pytest.fail(f"app.py exited early:\n{log.read_text(errors='replace')[-4000:]}")
        try:
            urllib.request.urlopen(url + "config", timeout=2).read()
            break
        except OSError:
            if time.time() > deadline:
                proc.kill()
                pytest.fail(f"app.py did not serve within {START_SECONDS} s")
            time.sleep(0.5)
    try:
        yield App(url, log, outputs)
    finally:
        stop(proc)
