"""A local HTTP server that speaks enough of the Hugging Face Hub's file protocol for ``hf_hub_download``.

It serves ``/{repo}/resolve/{revision}/{file}`` (with ``datasets/`` and ``spaces/`` prefixes), answers HEAD with
the headers huggingface_hub reads (``X-Repo-Commit``, ``ETag``, ``Content-Length``), honours ``Range``, and
returns the Hub's error codes for a missing repo, revision or file. Files are what the tests add; every commit
is kept, so a pinned revision gets the bytes it pinned.
"""

from __future__ import annotations

import hashlib
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote

PREFIX_TO_TYPE = {"datasets": "dataset", "spaces": "space"}


@dataclass
class Repo:
    commits: dict[str, dict[str, bytes]] = field(default_factory=dict)
    refs: dict[str, str] = field(default_factory=dict)


class FakeHub:
    """The files and history behind the server, plus a log of the requests it answered."""

    def __init__(self) -> None:
        self.repos: dict[tuple[str, str], Repo] = {}
        self.requests: list[tuple[str, str]] = []
        self.delay_s = 0.0
        self.cut_body_at: int | None = None  # send only this many bytes of a GET body, then close
        self._lock = threading.Lock()

    def add(self, repo_id: str, filename: str, data: bytes, *, repo_type: str = "model", branch: str = "main") -> str:
        """Commit ``data`` as ``filename`` on ``branch``; returns the new commit hash."""
        with self._lock:
            repo = self.repos.setdefault((repo_type, repo_id), Repo())
            files = dict(repo.commits.get(repo.refs.get(branch, ""), {}))
            files[filename] = data
            commit = hashlib.sha1(f"{repo_id}:{len(repo.commits)}:{filename}".encode() + data).hexdigest()
            repo.commits[commit] = files
            repo.refs[branch] = commit
            return commit

    def count(self, method: str, filename: str | None = None) -> int:
        return sum(1 for m, p in self.requests if m == method and (filename is None or p.endswith("/" + filename)))

    def lookup(self, path: str) -> tuple[int, dict[str, str], bytes]:
        parts = [unquote(p) for p in path.split("?")[0].strip("/").split("/")]
        repo_type = PREFIX_TO_TYPE.get(parts[0], "model")
        if repo_type != "model":
            parts = parts[1:]
        if len(parts) < 5 or parts[2] != "resolve":
            return 404, {"X-Error-Code": "EntryNotFound"}, b"not a resolve URL"
        repo_id, revision, filename = "/".join(parts[:2]), parts[3], "/".join(parts[4:])
        repo = self.repos.get((repo_type, repo_id))
        if repo is None:
            return 401, {"X-Error-Code": "RepoNotFound"}, b"Repository not found"
        commit = repo.refs.get(revision, revision if revision in repo.commits else None)
        if commit is None:
            return 404, {"X-Error-Code": "RevisionNotFound"}, b"Invalid rev id"
        data = repo.commits[commit].get(filename)
        if data is None:
            return 404, {"X-Error-Code": "EntryNotFound", "X-Repo-Commit": commit}, b"Entry not found"
        headers = {"X-Repo-Commit": commit, "ETag": f'"{hashlib.sha256(data).hexdigest()}"'}
        return 200, headers, data


class _Handler(BaseHTTPRequestHandler):
    hub: FakeHub
    protocol_version = "HTTP/1.1"

    def log_message(self, *args) -> None:
        pass

    def _answer(self, with_body: bool) -> None:
        hub = self.hub
        with hub._lock:
            hub.requests.append((self.command, self.path))
        if hub.delay_s:
            time.sleep(hub.delay_s)
        status, headers, body = hub.lookup(self.path)
        start = 0
        rng = self.headers.get("Range")
        if status == 200 and rng and rng.startswith("bytes="):
            first, _, last = rng[6:].partition("-")
            start = int(first or 0)
            end = int(last) + 1 if last else len(body)
            headers["Content-Range"] = f"bytes {start}-{end - 1}/{len(body)}"
            body, status = body[start:end], 206
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Accept-Ranges", "bytes")
        self.end_headers()
        if with_body:
            if hub.cut_body_at is not None and status in (200, 206):
                self.wfile.write(body[: hub.cut_body_at])
                self.wfile.flush()
                self.close_connection = True
                return
            self.wfile.write(body)

    def do_HEAD(self) -> None:
        self._answer(with_body=False)

    def do_GET(self) -> None:
        self._answer(with_body=True)


class HubServer:
    """Runs a :class:`FakeHub` on 127.0.0.1 on a free port, in a background thread."""

    def __init__(self) -> None:
        self.hub = FakeHub()
        handler = type("Handler", (_Handler,), {"hub": self.hub})
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
