"""Downloads through huggingface_hub against the local Hub endpoint: caching, pinning, integrity, errors, CLI."""

from __future__ import annotations

import hashlib
import json
import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from gen_models.core import hub as gm_hub
from gen_models.core.availability import download_weights, weights_status
from gen_models.core.errors import ManifestError, WeightsIntegrityError, WeightsUnavailableError
from gen_models.core.manifest import load_manifest

ROOT = Path(__file__).resolve().parents[2]


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def new_repo() -> str:
    return f"test-org/repo-{uuid.uuid4().hex[:10]}"


def entry(hub, name: str = "w", **fields):
    hub.write_manifest(**{name: fields})
    return load_manifest()[name]


def test_first_download_then_cache_reuse(hub):
    data = os.urandom(200_000)
    repo = new_repo()
    hub.hub.add(repo, "weights/model.bin", data)
    e = entry(hub, repo_id=repo, filename="weights/model.bin", sha256=sha(data), size=len(data))

    path = gm_hub.weights_path(e)
    assert path.read_bytes() == data
    assert hub.cache in path.parents
    assert hub.hub.count("GET", "model.bin") == 1

    again = gm_hub.weights_path(e)
    assert again == path
    assert hub.hub.count("GET", "model.bin") == 1 and hub.hub.count("HEAD", "model.bin") == 1
    assert gm_hub.is_cached(e)


def test_pinned_revision_gets_the_pinned_bytes(hub):
    repo = new_repo()
    old = hub.hub.add(repo, "g.bin", b"first version")
    hub.hub.add(repo, "g.bin", b"second version, now on main")
    pinned = entry(hub, repo_id=repo, filename="g.bin", revision=old)
    assert gm_hub.weights_path(pinned).read_bytes() == b"first version"
    latest = entry(hub, "latest", repo_id=repo, filename="g.bin", revision="main")
    assert gm_hub.weights_path(latest).read_bytes() == b"second version, now on main"


def test_dataset_and_space_repos(hub):
    repo = new_repo()
    hub.hub.add(repo, "data.parquet", b"rows", repo_type="dataset")
    hub.hub.add(repo, "models/age.caffemodel", b"net", repo_type="space")
    hub.write_manifest(
        d={"repo_id": repo, "repo_type": "dataset", "filename": "data.parquet"},
        s={"repo_id": repo, "repo_type": "space", "filename": "models/age.caffemodel"},
    )
    manifest = load_manifest()
    assert gm_hub.weights_path(manifest["d"]).read_bytes() == b"rows"
    assert gm_hub.weights_path(manifest["s"]).read_bytes() == b"net"


def test_sha256_mismatch_is_refused_and_the_file_deleted(hub):
    repo = new_repo()
    hub.hub.add(repo, "m.bin", b"tampered bytes")
    expected = sha(b"the real bytes")
    e = entry(hub, repo_id=repo, filename="m.bin", sha256=expected)
    with pytest.raises(WeightsIntegrityError) as info:
        gm_hub.weights_path(e)
    message = str(info.value)
    assert expected in message and sha(b"tampered bytes") in message
    assert "python -m gen_models fetch w" in message
    assert gm_hub.cached_path(e) is None
    assert not any(p.is_file() for p in hub.cache.rglob("*") if p.parent.name == "blobs")


def test_truncated_file_is_refused(hub):
    data = os.urandom(50_000)
    repo = new_repo()
    hub.hub.add(repo, "t.bin", data[:20_000])  # the mirror holds a cut copy
    by_size = entry(hub, repo_id=repo, filename="t.bin", size=len(data))
    with pytest.raises(WeightsIntegrityError, match="expected 50000 bytes, got 20000"):
        gm_hub.weights_path(by_size)
    by_hash = entry(hub, "h", repo_id=repo, filename="t.bin", sha256=sha(data))
    with pytest.raises(WeightsIntegrityError, match=sha(data)):
        gm_hub.weights_path(by_hash)


def test_connection_cut_mid_download_is_a_clear_error(hub):
    data = os.urandom(100_000)
    repo = new_repo()
    hub.hub.add(repo, "cut.bin", data)
    hub.hub.cut_body_at = 1000
    e = entry(hub, repo_id=repo, filename="cut.bin", sha256=sha(data))
    with pytest.raises((WeightsUnavailableError, WeightsIntegrityError)) as info:
        gm_hub.weights_path(e)
    assert "cut.bin" in str(info.value)
    hub.hub.cut_body_at = None
    assert gm_hub.weights_path(e).read_bytes() == data


def test_missing_file_repo_and_revision(hub):
    repo = new_repo()
    hub.hub.add(repo, "present.bin", b"x")
    hub.write_manifest(
        file={"repo_id": repo, "filename": "absent.bin"},
        repo={"repo_id": new_repo(), "filename": "present.bin"},
        rev={"repo_id": repo, "filename": "present.bin", "revision": "v9.9"},
    )
    manifest = load_manifest()
    for name, needle in [("file", "absent.bin does not exist"), ("repo", "was not found"), ("rev", "'v9.9'")]:
        with pytest.raises(WeightsUnavailableError) as info:
            gm_hub.weights_path(manifest[name])
        assert needle in str(info.value)
        assert f"python -m gen_models fetch {name}" in str(info.value)


def test_offline_mode_error_names_file_and_prefetch_command(hub):
    repo = new_repo()
    hub.hub.add(repo, "off.bin", b"abc")
    e = entry(hub, "agenet-test", repo_id=repo, filename="off.bin", sha256=sha(b"abc"))
    hub.set_offline(True)
    with pytest.raises(WeightsUnavailableError) as info:
        gm_hub.weights_path(e)
    message = str(info.value)
    assert "off.bin" in message and "offline" in message
    assert "python -m gen_models fetch agenet-test" in message
    assert hub.hub.requests == []

    hub.set_offline(False)
    gm_hub.weights_path(e)
    hub.set_offline(True)
    assert gm_hub.weights_path(e).read_bytes() == b"abc"


def test_two_requests_for_one_missing_file_download_it_once(hub):
    data = os.urandom(300_000)
    repo = new_repo()
    hub.hub.add(repo, "once.bin", data)
    hub.hub.delay_s = 0.3
    e = entry(hub, repo_id=repo, filename="once.bin", sha256=sha(data))
    results, errors = [], []

    def worker():
        try:
            results.append(gm_hub.weights_path(e))
        except Exception as exc:  # noqa: BLE001 - surfaced by the assert below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert len({str(p) for p in results}) == 1
    assert hub.hub.count("GET", "once.bin") == 1


def test_local_weights_dir_is_used_first_and_checked(hub, tmp_path, monkeypatch):
    e = entry(hub, "local-w", repo_id=new_repo(), filename="sub/file.pth", sha256=sha(b"good"))
    folder = tmp_path / "weights" / "local-w"
    folder.mkdir(parents=True)
    (folder / "file.pth").write_bytes(b"good")
    monkeypatch.setenv("GEN_MODELS_WEIGHTS_DIR", str(tmp_path / "weights"))
    hub.set_offline(True)
    assert gm_hub.weights_path(e) == folder / "file.pth"

    (folder / "file.pth").write_bytes(b"evil")
    with pytest.raises(WeightsIntegrityError, match="Replace or remove"):
        gm_hub.weights_path(e)
    assert (folder / "file.pth").exists()  # a user's own file is never deleted


def run_cli(hub, *args: str, extra_env: dict | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, **hub.env, **(extra_env or {})}
    return subprocess.run(
        [sys.executable, "-m", "gen_models", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


def test_cli_list_fetch_lock(hub, tmp_path):
    data = b"caffe weights" * 1000
    repo = new_repo()
    commit = hub.hub.add(repo, "age_net.caffemodel", data)
    hub.write_manifest(**{"agenet-adience": {"repo_id": repo, "filename": "age_net.caffemodel", "size": len(data)}})

    listed = run_cli(hub, "list")
    assert listed.returncode == 0, listed.stderr
    row = next(line for line in listed.stdout.splitlines() if line.startswith("agenet-adience"))
    assert "13.0 KB" in row and row.rstrip().endswith(" no")
    assert "dlib-age" in listed.stdout and "bundled" in listed.stdout

    fetched = run_cli(hub, "fetch", "agenet-adience", "--to", str(tmp_path / "offline"))
    assert fetched.returncode == 0, fetched.stderr
    assert (tmp_path / "offline" / "agenet-adience" / "age_net.caffemodel").read_bytes() == data
    assert "cached" in run_cli(hub, "list").stdout

    locked = run_cli(hub, "lock")
    assert locked.returncode == 0, locked.stderr
    pinned = json.loads(hub.manifest_path.read_text())["weights"]["agenet-adience"]
    assert pinned["revision"] == commit and pinned["sha256"] == sha(data) and pinned["size"] == len(data)

    offline = run_cli(hub, "fetch", "--all", extra_env={"HF_HUB_OFFLINE": "1", "HF_HUB_CACHE": str(tmp_path / "empty")})
    assert offline.returncode == 1
    assert "python -m gen_models fetch agenet-adience" in offline.stderr and "Traceback" not in offline.stderr

    unknown = run_cli(hub, "fetch", "nope")
    assert unknown.returncode == 1 and "no model named 'nope'" in unknown.stderr


# --- fast, remembered unreachability; status; downloads with byte progress ---------------------------------------


def closed_port_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def test_unreachable_hub_answers_fast_and_remembers(hub, monkeypatch):
    monkeypatch.setenv("HF_ENDPOINT", closed_port_url())
    e = entry(hub, "gone", repo_id=new_repo(), filename="g.bin")
    started = time.monotonic()
    with pytest.raises(WeightsUnavailableError) as info:
        gm_hub.weights_path(e)
    first = time.monotonic() - started
    message = str(info.value)
    assert "could not be reached" in message and "python -m gen_models fetch gone" in message
    started = time.monotonic()
    with pytest.raises(WeightsUnavailableError, match="could not be reached"):
        gm_hub.weights_path(e)
    second = time.monotonic() - started
    assert first < 5 and second < 0.5 and second < first / 2, (first, second)


def test_retry_seconds_zero_probes_again(hub, monkeypatch):
    monkeypatch.setenv("HF_ENDPOINT", closed_port_url())
    monkeypatch.setenv("GEN_MODELS_HUB_RETRY_SECONDS", "0")
    e = entry(hub, repo_id=new_repo(), filename="g.bin")
    calls = []
    real = gm_hub._probe
    monkeypatch.setattr(gm_hub, "_probe", lambda host: calls.append(host) or real(host))
    for _ in range(2):
        with pytest.raises(WeightsUnavailableError, match="could not be reached"):
            gm_hub.weights_path(e)
    assert len(calls) == 2


def test_unreachable_url_host_answers_fast(hub, monkeypatch, tmp_path):
    monkeypatch.setenv("GEN_MODELS_CACHE", str(tmp_path / "gm-cache"))
    url = closed_port_url() + "/w.pth"
    hub.manifest_path.write_text(json.dumps({"version": 1, "weights": {"u": {
        "url": url, "filename": "w.pth", "license": "l", "source": "https://s",
            "task": "translation", "architecture": "cyclegan"}}}))
    started = time.monotonic()
    with pytest.raises(WeightsUnavailableError, match="the host http://127.0.0.1:.* could not be reached"):
        gm_hub.weights_path(load_manifest()["u"])
    assert time.monotonic() - started < 5


class _HubDownAfterProbe(BaseHTTPRequestHandler):
    """Answers the reachability probe, then fails every file request with 503 (huggingface_hub retries those)."""

    def do_HEAD(self):
        self.send_response(200 if self.path == "/" else 503)
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_GET = do_HEAD

    def log_message(self, *args):
        pass


def test_hub_failing_after_the_probe_is_given_up_on(hub, monkeypatch):
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _HubDownAfterProbe)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{httpd.server_address[1]}")
        monkeypatch.setattr(gm_hub, "_START_SECONDS", 1.0)
        e = entry(hub, repo_id=new_repo(), filename="g.bin")
        started = time.monotonic()
        with pytest.raises(WeightsUnavailableError, match="did not start sending the file"):
            gm_hub.weights_path(e)
        assert time.monotonic() - started < 3  # huggingface_hub alone retries for ~25 s
        with pytest.raises(WeightsUnavailableError, match="could not be reached"):
            gm_hub.weights_path(e)  # remembered
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_weights_status_present_missing_bundled_unknown(hub, tmp_path, monkeypatch):
    repo = new_repo()
    hub.write_manifest(
        here={"repo_id": repo, "filename": "a.bin", "size": 4, "description": "staged"},
        there={"repo_id": repo, "repo_type": "dataset", "filename": "b.bin", "revision": "0" * 40},
    )
    (tmp_path / "weights" / "here").mkdir(parents=True)
    (tmp_path / "weights" / "here" / "a.bin").write_bytes(b"abcd")
    monkeypatch.setenv("GEN_MODELS_WEIGHTS_DIR", str(tmp_path / "weights"))
    here, there, bundled = weights_status(["here", "there", "dlib-age"])
    assert (here.present, here.size, here.origin, here.description) == (True, 4, f"{repo}@main", "staged")
    assert not there.present and there.origin == f"datasets/{repo}@{'0' * 40}" and there.size is None
    assert bundled.bundled and bundled.present and bundled.origin == "bundled" and bundled.license == "CC0-1.0"
    assert hub.hub.requests == []
    with pytest.raises(ManifestError, match="no model named 'nope'"):
        weights_status(["nope"])


def test_download_weights_reports_bytes_and_checks_sha(hub):
    data = os.urandom(3 * 1024 * 1024 + 5)
    repo = new_repo()
    hub.hub.add(repo, "big.bin", data)
    hub.hub.add(repo, "bad.bin", b"tampered")
    hub.write_manifest(big={"repo_id": repo, "filename": "big.bin", "sha256": sha(data), "size": len(data)},
                       bad={"repo_id": repo, "filename": "bad.bin", "sha256": sha(b"real")})
    seen = []
    path = download_weights("big", lambda done, total: seen.append((done, total)))
    assert path.read_bytes() == data
    dones = [d for d, _ in seen]
    assert dones == sorted(dones) and dones[-1] == len(data) and {t for _, t in seen} == {len(data)}
    assert weights_status(["big"])[0].present
    with pytest.raises(WeightsIntegrityError, match=sha(b"real")):
        download_weights("bad")
    assert not weights_status(["bad"])[0].present
    with pytest.raises(ManifestError, match="bundled"):
        download_weights("dlib-age")


def test_download_weights_url_entry_reports_each_chunk(hub, monkeypatch, tmp_path):
    monkeypatch.setenv("GEN_MODELS_CACHE", str(tmp_path / "gm-cache"))
    data = os.urandom(2 * 1024 * 1024 + 7)
    repo = new_repo()
    hub.hub.add(repo, "plain.pth", data)
    url = f"{hub.server.url}/{repo}/resolve/main/plain.pth"  # any plain http file will do
    hub.manifest_path.write_text(json.dumps({"version": 1, "weights": {"p": {
        "url": url, "filename": "plain.pth", "sha256": sha(data), "license": "l", "source": "https://s",
        "task": "translation", "architecture": "cyclegan"}}}))
    seen = []
    assert download_weights("p", lambda done, total: seen.append((done, total))).read_bytes() == data
    assert [d for d, _ in seen] == [1 << 20, 2 << 20, len(data)] and seen[-1][1] == len(data)
