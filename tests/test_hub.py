"""Downloads through huggingface_hub against the local Hub endpoint: caching, pinning, integrity, errors, CLI."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import threading
import uuid
from pathlib import Path

import pytest

from gen_models import hub as gm_hub
from gen_models.errors import WeightsIntegrityError, WeightsUnavailableError
from gen_models.manifest import load_manifest

ROOT = Path(__file__).resolve().parent.parent


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
    assert "13.0 KB" in row and " no " in row
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
    assert unknown.returncode == 1 and "no weights named 'nope'" in unknown.stderr
