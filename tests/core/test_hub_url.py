"""Manifest entries with a plain download address (files not on the Hub): download once, sha256 check, offline."""

from __future__ import annotations

import hashlib
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from gen_models.core import hub as gm_hub
from gen_models.core.errors import ManifestError, WeightsIntegrityError, WeightsUnavailableError
from gen_models.core.manifest import load_manifest

PAYLOAD = b"pretend generator weights " * 1000


class Files(BaseHTTPRequestHandler):
    files: dict[str, bytes] = {}
    requests: list[str] = []

    def do_GET(self):  # noqa: N802 (http.server's naming)
        self.requests.append(self.path)
        body = self.files.get(self.path)
        if body is None:
            self.send_response(404)
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    Files.files = {"/models/horse2zebra.pth": PAYLOAD}
    Files.requests = []
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Files)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def url_manifest(hub, tmp_path, monkeypatch, server):
    monkeypatch.setenv("GEN_MODELS_CACHE", str(tmp_path / "gm-cache"))

    def write(path="/models/horse2zebra.pth", sha=hashlib.sha256(PAYLOAD).hexdigest(), size=len(PAYLOAD)):
        raw = {"url": server + path, "filename": "horse2zebra.pth", "sha256": sha, "size": size,
               "license": "bsd", "source": "https://example.org/paper", "task": "translation", "architecture": "cyclegan"}
        hub.manifest_path.write_text(__import__("json").dumps({"version": 1, "weights": {"h2z": raw}}))
        return load_manifest()["h2z"]

    return write


def test_url_entry_downloads_once_and_is_cached(url_manifest):
    entry = url_manifest()
    path = gm_hub.weights_path(entry)
    assert path.read_bytes() == PAYLOAD and path.name == "horse2zebra.pth"
    assert gm_hub.weights_path(entry) == path and gm_hub.is_cached(entry)
    assert Files.requests == ["/models/horse2zebra.pth"]
    assert "url" in entry.to_json() and "repo_id" not in entry.to_json()


def test_url_entry_wrong_sha_is_refused_and_deleted(url_manifest):
    entry = url_manifest(sha="0" * 64, size=None)
    with pytest.raises(WeightsIntegrityError, match="sha256"):
        gm_hub.weights_path(entry)
    assert not gm_hub.is_cached(entry)


def test_url_entry_missing_file_and_offline(url_manifest, hub):
    with pytest.raises(WeightsUnavailableError, match="HTTP 404"):
        gm_hub.weights_path(url_manifest(path="/nothing.pth"))
    hub.set_offline(True)
    with pytest.raises(WeightsUnavailableError, match="offline.*fetch h2z"):
        gm_hub.weights_path(url_manifest())
    assert Files.requests == ["/nothing.pth"]


def test_url_entry_lock_pins_sha_and_size(url_manifest):
    locked = gm_hub.lock_entry(url_manifest(sha="", size=None))
    assert locked.sha256 == hashlib.sha256(PAYLOAD).hexdigest() and locked.size == len(PAYLOAD)


def test_url_entry_validation(hub):
    hub.manifest_path.write_text('{"version": 1, "weights": {"x": {"url": "ftp://a/b", "filename": "b", '
                                 '"license": "l", "source": "https://s", "task": "translation", "architecture": "cyclegan"}}}')
    with pytest.raises(ManifestError, match="'url' must be an http"):
        load_manifest()
