"""Load and fault benchmark: the app as a public server meets it, many clients at once and things going wrong.

Starts ``python app.py`` (random weights in the official formats, staged by tests/fixtures/staging.py; no download), then
runs ``--clients`` concurrent gradio_client clients, each making ``--requests`` calls over a mix of endpoints (age,
digits, autoencoder, one render). It prints answered/failed and p50/p95 seconds per endpoint, the server's RSS
before / peak / after, and the files left on disk, then waits one output TTL and counts the files older than it.
The fault pass then checks that each of these gets a clear message while the app keeps serving: a client killed in
the middle of a training request (the server must go idle), a weights file corrupted on disk, and a full output
disk (a 4 MB tmpfs; needs root to mount, skipped otherwise).

    python -m benchmarks.load [--clients 20] [--requests 5] [--json PATH] [--no-faults] [--no-ttl-wait]

The per-endpoint table and everything else measured are written to ``benchmarks/results/load.json`` (or ``--json``).
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
import urllib.request
from pathlib import Path

from benchmarks.timing import add_json_option, report

ROOT = Path(__file__).resolve().parent.parent
PHOTO = ROOT / "spaces" / "age" / "examples" / "astronaut.jpg"
TTL_MINUTES = 1


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Server:
    """``python app.py`` on a free port with the given environment; RSS sampled in the background."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        self._log = open(log, "wb")
        self.proc = subprocess.Popen([sys.executable, "app.py", "--port", str(self.port)], cwd=ROOT,
                                     env={**os.environ, **env}, stdout=self._log, stderr=subprocess.STDOUT)
        deadline = time.time() + 180
        while True:
            if self.proc.poll() is not None:
                raise SystemExit(f"app.py exited early; see {log}")
            try:
                urllib.request.urlopen(self.url + "config", timeout=2).read()
                break
            except OSError:
                if time.time() > deadline:
                    raise SystemExit("app.py did not start within 180 s") from None
                time.sleep(0.5)
        self.peak = rss_mb(self.proc.pid)
        self._sampling = True
        threading.Thread(target=self._sample, daemon=True).start()

    def _sample(self) -> None:
        while self._sampling and self.proc.poll() is None:
            self.peak = max(self.peak, rss_mb(self.proc.pid))
            time.sleep(0.2)

    def idle_fraction(self, seconds: float = 3.0) -> float:
        """Share of one core the server used over ``seconds``."""
        before = cpu_seconds(self.proc.pid)
        time.sleep(seconds)
        return (cpu_seconds(self.proc.pid) - before) / seconds

    def close(self) -> None:
        self._sampling = False
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self._log.close()


def _calls():
    from gradio_client import handle_file

    return {
        "/predict_age": lambda: ([handle_file(str(PHOTO))], "dlib-age", False),
        "/generate_digits": lambda: ("tutorial-all", 0, 32),
        "/reconstruct": lambda: ("dense", 12, 0),
        "/translate": lambda: (handle_file(str(PHOTO)), "cyclegan-horse2zebra", 512),
    }


def load_pass(server: Server, clients: int, requests: int) -> dict:
    from gradio_client import Client

    calls = _calls()
    names = list(calls)
    times: dict[str, list[float]] = {n: [] for n in names}
    failures: list[str] = []
    lock = threading.Lock()

    def client(index: int) -> None:
        try:
            api = Client(server.url, verbose=False)
        except Exception as exc:
            with lock:
                failures.extend([f"connect: {exc}"] * requests)
            return
        for r in range(requests):
            name = names[(index + r) % len(names)]
            start = time.perf_counter()
            try:
                api.predict(*calls[name](), api_name=name)
                with lock:
                    times[name].append(time.perf_counter() - start)
            except Exception as exc:
                with lock:
                    failures.append(f"{name}: {str(exc)[:120]}")

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - started
    per_endpoint = {}
    for name, values in times.items():
        values.sort()
        per_endpoint[name] = {
            "answered": len(values),
            "p50_s": round(statistics.median(values), 2) if values else None,
            "p95_s": round(values[min(len(values) - 1, int(0.95 * len(values)))], 2) if values else None,
        }
    return {"clients": clients, "requests_each": requests, "answered": sum(len(v) for v in times.values()),
            "failed": len(failures), "failures": failures[:10], "wall_s": round(wall, 1), "endpoints": per_endpoint}


def files_under(*folders: Path) -> list[Path]:
    return [p for folder in folders if folder.is_dir() for p in folder.rglob("*") if p.is_file()]


def _killed_client(server: Server) -> dict:
    """A client that starts a long training run and is killed: the server must stop training and keep serving."""
    script = textwrap.dedent(f"""
        import time
        from gradio_client import Client
        job = Client({server.url!r}, verbose=False).submit("tutorial", -1, "sklearn", 100, 16, 0, 0, 0, -1,
                                                          api_name="/train_digits_gan")
        while not job.outputs():
            time.sleep(0.2)
        print("training", flush=True)
        time.sleep(600)
    """)
    child = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    started = child.stdout.readline().strip() == "training"
    busy = server.idle_fraction(1.0)
    child.kill()
    child.wait()
    time.sleep(3)
    after = server.idle_fraction(3.0)
    return {"fault": "client killed mid-training", "training_seen": started, "cpu_busy_before": round(busy, 2),
            "cpu_busy_after": round(after, 2), "ok": started and after < 0.15}


def _still_serving(server: Server) -> bool:
    from gradio_client import Client

    try:
        Client(server.url, verbose=False).predict("tutorial-all", 0, 8, api_name="/generate_digits")
        return True
    except Exception:
        return False


def _message(server: Server, call: tuple, api_name: str) -> str:
    from gradio_client import Client

    try:
        Client(server.url, verbose=False).predict(*call, api_name=api_name)
        return "(answered without an error)"
    except Exception as exc:
        return str(exc)


def fault_pass(server: Server, weights_dir: Path, root: Path, staged_env: dict[str, str]) -> list[dict]:
    from gradio_client import handle_file

    results = [_killed_client(server)]

    broken = next((weights_dir / "cyclegan-zebra2horse").glob("*"))  # not loaded yet by the load pass
    data = bytearray(broken.read_bytes())
    data[len(data) // 2:len(data) // 2 + 64] = os.urandom(64)
    broken.write_bytes(bytes(data))
    text = _message(server, (handle_file(str(PHOTO)), "cyclegan-zebra2horse", 256), "/translate")
    results.append({"fault": "weights file corrupted on disk", "message": text[:200],
                    "ok": "integrity check" in text and _still_serving(server)})

    disk = root / "full-disk"
    disk.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(disk)],
                             capture_output=True).returncode == 0
    if not mounted:
        results.append({"fault": "full output disk", "ok": None, "message": "skipped: mounting a tmpfs needs root"})
        return results
    try:
        full = Server({**staged_env, "GEN_MODELS_OUTPUT_DIR": str(disk / "out")}, root / "full-disk.log")
        try:
            (disk / "out").mkdir(exist_ok=True)
            with open(disk / "filler", "wb") as fh:  # leave a few KB: the PNGs do not fit
                try:
                    while True:
                        fh.write(b"\0" * 65536)
                except OSError:
                    pass
            text = _message(full, (handle_file(str(PHOTO)), "cyclegan-horse2zebra", 512), "/translate")
            (disk / "filler").unlink()
            results.append({"fault": "full output disk", "message": text[:200],
                            "ok": "disk is full" in text and _still_serving(full)})
        finally:
            full.close()
    finally:
        subprocess.run(["umount", str(disk)], capture_output=True)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--requests", type=int, default=5)
    add_json_option(parser)
    parser.add_argument("--no-faults", action="store_true")
    parser.add_argument("--no-ttl-wait", action="store_true", help="do not wait one TTL to count expired files")
    args = parser.parse_args()

    from tests.fixtures.staging import stage_weights

    root = Path(tempfile.mkdtemp(prefix="load-bench-"))
    try:
        staged = stage_weights(root / "staged")
        weights = root / "weights"
        shutil.copytree(staged.weights_dir, weights)  # a copy: the fault pass damages one file
        outputs, gradio_cache = root / "outputs", root / "gradio"
        env = {"GEN_MODELS_MANIFEST": str(staged.manifest), "GEN_MODELS_WEIGHTS_DIR": str(weights),
               "HF_HUB_OFFLINE": "1", "GRADIO_ANALYTICS_ENABLED": "False", "GEN_MODELS_OUTPUT_DIR": str(outputs),
               "GRADIO_TEMP_DIR": str(gradio_cache), "GEN_MODELS_OUTPUT_TTL_MINUTES": str(TTL_MINUTES),
               "HF_HOME": str(root / "hf-home")}
        server = Server(env, root / "app.log")
        try:
            cold = rss_mb(server.proc.pid)
            load_pass(server, 1, len(_calls()))  # warm-up: each endpoint once, so every model is loaded
            time.sleep(2)
            before = rss_mb(server.proc.pid)
            server.peak = before
            result = load_pass(server, args.clients, args.requests)
            time.sleep(20)  # one pass of the server's sweeper, which also hands freed memory back
            result["rss_mb"] = {"at_start": round(cold), "before": round(before), "peak": round(server.peak),
                                "after": round(rss_mb(server.proc.pid))}
            left = files_under(outputs, gradio_cache)
            result["files_left"] = {"count": len(left), "mb": round(sum(p.stat().st_size for p in left) / 1e6, 1)}
            if not args.no_ttl_wait:
                time.sleep(TTL_MINUTES * 60 + 20)  # one TTL plus one sweep (every 15 s at this TTL)
                cutoff = time.time() - TTL_MINUTES * 60
                expired = [p for p in files_under(outputs, gradio_cache) if p.stat().st_mtime < cutoff]
                result["files_past_ttl"] = len(expired)
                result["files_past_ttl_examples"] = [str(p.relative_to(root)) for p in expired[:5]]
            if not args.no_faults:
                result["faults"] = fault_pass(server, weights, root, {**env, "GEN_MODELS_OUTPUT_DIR": ""})
        finally:
            server.close()
    finally:
        shutil.rmtree(root, ignore_errors=True)

    print(f"{result['clients']} clients × {result['requests_each']} requests: {result['answered']} answered, "
          f"{result['failed']} failed in {result['wall_s']} s")
    rss = result["rss_mb"]
    print(f"server RSS: {rss['at_start']} MB at start; with the models loaded (one warm-up request each) "
          f"{rss['before']} MB before, peak {rss['peak']} MB, after {rss['after']} MB")
    print(f"files left: {result['files_left']['count']} ({result['files_left']['mb']} MB)"
          + (f"; older than the {TTL_MINUTES}-minute TTL after one TTL: {result['files_past_ttl']}"
             if "files_past_ttl" in result else ""))
    for fault in result.get("faults", []):
        verdict = {True: "ok", False: "FAILED", None: "skipped"}[fault["ok"]]
        detail = fault.get("message") or {k: v for k, v in fault.items() if k not in ("fault", "ok")}
        print(f"fault: {fault['fault']}: {verdict} — {detail}")
    for failure in result["failures"]:
        print(f"failure: {failure}")
    rows = [{"endpoint": name, **row} for name, row in result["endpoints"].items()]
    print()
    report("load", rows, [("endpoint", "endpoint"), ("answered", "answered"), ("p50_s", "p50 s", ".2f"),
                          ("p95_s", "p95 s", ".2f")], {k: v for k, v in result.items() if k != "endpoints"},
           args.json, title="seconds per request", show_meta=False)  # RSS, files and faults: printed above


if __name__ == "__main__":
    main()
