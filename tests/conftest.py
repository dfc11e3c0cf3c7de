"""Shared fixtures. The suite never touches the real Hub: ``HF_HUB_OFFLINE=1`` everywhere, except in tests that use
the local Hub endpoint (``hub`` fixture), which point ``HF_ENDPOINT`` at it."""

from __future__ import annotations

import atexit
import json
import os
import shutil
import tempfile
from pathlib import Path

_SCRATCH = tempfile.mkdtemp(prefix="gen-models-tests-")
atexit.register(shutil.rmtree, _SCRATCH, ignore_errors=True)
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ.setdefault("HF_HOME", os.path.join(_SCRATCH, "hf-home"))
os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
os.environ.setdefault("GEN_MODELS_OUTPUT_DIR", os.path.join(_SCRATCH, "outputs"))
os.environ.setdefault("GEN_MODELS_CACHE", os.path.join(_SCRATCH, "cache"))  # the local C2PA test signer, url files

ROOT = Path(__file__).resolve().parent.parent  # the repository and tests/fixtures are on pytest's pythonpath

import pytest  # noqa: E402
from hubserver import HubServer  # noqa: E402


@pytest.fixture(scope="module")
def one_thread():
    """Torch on one intra-op thread for a module's tests, restored afterwards: tiny models on a shared 2-core
    machine run several times faster that way. Modules opt in with ``pytestmark = pytest.mark.usefixtures(...)``."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def hub_server():
    server = HubServer()
    yield server
    server.close()


class HubEnv:
    """A local Hub plus a private cache and manifest, with the environment pointed at them."""

    def __init__(self, server: HubServer, tmp: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        self.server = server
        self.hub = server.hub
        self.cache = tmp / "hf-cache"
        self.manifest_path = tmp / "weights_manifest.json"
        self.monkeypatch = monkeypatch
        self.env = {
            "HF_ENDPOINT": server.url,
            "HF_HUB_OFFLINE": "0",
            "HF_HUB_CACHE": str(self.cache),
            "GEN_MODELS_MANIFEST": str(self.manifest_path),
            "HF_HUB_DISABLE_PROGRESS_BARS": "1",
        }
        for key, value in self.env.items():
            monkeypatch.setenv(key, value)
        import huggingface_hub.constants

        monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
        monkeypatch.delenv("GEN_MODELS_WEIGHTS_DIR", raising=False)

    def set_offline(self, offline: bool) -> None:
        import huggingface_hub.constants

        self.monkeypatch.setenv("HF_HUB_OFFLINE", "1" if offline else "0")
        self.env["HF_HUB_OFFLINE"] = "1" if offline else "0"
        self.monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", offline)

    def write_manifest(self, **entries: dict) -> Path:
        """Write a manifest whose entries default to sensible values for the missing fields."""
        weights = {}
        for name, fields in entries.items():
            weights[name] = {
                "revision": "main",
                "license": "cc0-1.0",
                "source": "https://example.org/paper",
                "task": "age", "architecture": "agenet",
                **fields,
            }
        from catalogs import shipped_entries

        weights = {**shipped_entries(), **weights}
        self.manifest_path.write_text(json.dumps({"version": 1, "weights": weights}, indent=2))
        return self.manifest_path


@pytest.fixture
def hub(hub_server, tmp_path, monkeypatch):
    server = hub_server
    server.hub.requests.clear()
    server.hub.delay_s = 0.0
    server.hub.cut_body_at = None
    return HubEnv(server, tmp_path, monkeypatch)
