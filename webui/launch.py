"""Command-line options shared by app.py and each Space's app.py (--host, --port, --share, --mcp), and the server
settings that let the app be left running in public: an upload cap, a bounded queue, results and Gradio's cache that
expire, and one concurrency group for the heavy work on the device."""

from __future__ import annotations

import argparse
import functools
import inspect
import logging
import os
import threading
import time

import gradio as gr

from gen_models.core import settings
from gen_models.media.outputs import output_dir, output_ttl_seconds, remove_expired

log = logging.getLogger("webui")


def parse_args(argv: list[str] | None = None, description: str = "") -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--host", default=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"),
                        help="address to listen on (default 127.0.0.1; 0.0.0.0 for all interfaces)")
    parser.add_argument("--port", type=int, default=int(os.environ.get("GRADIO_SERVER_PORT", "7860")))
    parser.add_argument("--share", action="store_true", help="also open a public gradio.live link")
    parser.add_argument("--mcp", action="store_true", default=mcp_from_env(),
                        help="also serve the API endpoints as MCP tools at /gradio_api/mcp/ (Streamable HTTP; "
                             "/gradio_api/mcp/sse for SSE clients); GRADIO_MCP_SERVER=true does the same")
    parser.add_argument("--ray-serve", nargs="?", const="local", default=None, metavar="ADDRESS",
                        help="run talking heads, colorization, face generation and face swap as Ray Serve "
                             "deployments: on a Ray started here (no ADDRESS), the cluster this node is in (auto), "
                             "or the one at ADDRESS (needs pip install -r requirements-ray.txt)")
    parser.add_argument("--serve-config", metavar="FILE", default=None,
                        help="YAML with each deployment's replicas, num_gpus, num_cpus, min_replicas, max_replicas")
    return parser.parse_args(argv)


def mcp_from_env() -> bool:
    """Gradio's own switch for its MCP server (``GRADIO_MCP_SERVER=true``, as a Space's settings can set it)."""
    return os.environ.get("GRADIO_MCP_SERVER", "").strip().lower() == "true"


def _renamed(fn, name: str):
    """``fn`` under another ``__name__`` (same kind: plain or generator; same signature and docstring)."""
    if inspect.isgeneratorfunction(fn):
        @functools.wraps(fn)
        def renamed(*args, **kwargs):
            return (yield from fn(*args, **kwargs))
    else:
        @functools.wraps(fn)
        def renamed(*args, **kwargs):
            return fn(*args, **kwargs)
    renamed.__name__ = renamed.__qualname__ = name
    return renamed


def name_tools_after_endpoints(demo: gr.Blocks) -> None:
    """Gradio names an MCP tool after its function (``run``, ``run_1``...); name each after its API endpoint
    (``predict_age``, ``animate``...) instead, so an agent sees the same names as the API's clients. The tool's
    description stays the function's docstring (:func:`webui.messages.user_errors` keeps it)."""
    for block_fn in demo.fns.values():
        fn, name = block_fn.fn, block_fn.api_name
        if (fn is None or not name or block_fn.api_visibility != "public" or getattr(fn, "__name__", None) == name
                or inspect.iscoroutinefunction(fn) or inspect.isasyncgenfunction(fn)):
            continue
        block_fn.fn = _renamed(fn, name)


def heavy() -> dict:
    """Event options for work that fills the device (rendering, colorizing, generating): one at a time on it, in
    one queue shared by every such event, so light requests (age, digits) still get the other worker."""
    from gen_models.core.device import get_device

    return {"concurrency_id": f"heavy-{get_device()}", "concurrency_limit": 1}


def sweep_once() -> int:
    """Remove results and Gradio's cached files (uploads, copies of results) older than the TTL; how many went.

    Gradio's own ``delete_cache`` only knows the files it made for outputs, not every upload, so its folder
    (``GRADIO_TEMP_DIR``; give each app its own when several share a machine) is swept here too.
    """
    from gradio.utils import get_upload_folder

    ttl = output_ttl_seconds()
    return remove_expired(output_dir(), ttl) + remove_expired(get_upload_folder(), ttl)


TRIM_SECONDS = 15.0


def _sweep_forever(every_s: float) -> None:
    """Hand freed memory back every TRIM_SECONDS, and sweep expired files every ``every_s``."""
    due = time.monotonic() + every_s
    while True:
        time.sleep(min(TRIM_SECONDS, every_s))
        try:
            trim_memory()
            if time.monotonic() >= due:
                due = time.monotonic() + every_s
                removed = sweep_once()
                if removed:
                    log.info("removed %d expired file(s)", removed)
        except Exception:  # the sweeper must never take the server down
            log.exception("output sweep failed")


def sweep_every() -> int:
    """Seconds between sweeps: a few per TTL, between 10 s and 5 minutes."""
    return max(10, min(300, output_ttl_seconds() // 4))


def start_output_sweeper() -> None:
    """Sweep expired files every :func:`sweep_every` seconds and trim memory often (daemon thread)."""
    threading.Thread(target=_sweep_forever, args=(sweep_every(),), name="output-sweeper", daemon=True).start()


def trim_memory() -> None:
    """Give freed heap memory back to the system (glibc ``malloc_trim``): after a burst of concurrent requests the
    worker threads' malloc arenas otherwise keep it mapped (about +230 MB after 20 clients on this app)."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc
        pass


def serve_on_ray(demo: gr.Blocks, address: str, config: str | None = None) -> dict:
    """Deploy the heavy pipelines on Ray Serve and let the heavy queue hold as many requests at once as the
    deployments have replicas (in-process it holds one per device). Returns the deployments' settings."""
    from gen_models.core.errors import GenModelsError
    from gen_models.serving import read_config, start

    try:
        used = start(address, read_config(config))
    except GenModelsError as exc:
        raise SystemExit(f"--ray-serve: {exc}") from None
    room = sum(group.most for group in used.values())
    for block_fn in demo.fns.values():
        if str(block_fn.concurrency_id or "").startswith("heavy-"):
            block_fn.concurrency_limit = room
    log.info("Ray Serve deployments: %s", ", ".join(f"{name} ×{s.most}" for name, s in used.items()))
    return used


def launch(demo: gr.Blocks, args: argparse.Namespace, **kwargs) -> None:
    """Queue (so long jobs show progress and many users are served in turn) and serve.

    ``show_error`` sends every error's text to the page and to API clients, not only "the upstream app raised an
    exception". Uploads over GEN_MODELS_MAX_UPLOAD_MB (default 200) are refused by the server; at most
    GEN_MODELS_MAX_QUEUE (default 64) requests wait, later ones are told the queue is full; Gradio's cache and our
    results are removed after GEN_MODELS_OUTPUT_TTL_MINUTES (default 60). With ``--mcp`` the API endpoints are
    MCP tools too, named after the endpoints and described by their docstrings.
    """
    demo.delete_cache = demo.delete_cache or (sweep_every(), output_ttl_seconds())
    kwargs.setdefault("show_error", True)
    kwargs.setdefault("max_file_size", f"{settings.max_upload_mb()}mb")
    if getattr(args, "mcp", False):
        name_tools_after_endpoints(demo)
        kwargs.setdefault("mcp_server", True)
    if getattr(args, "ray_serve", None):
        serve_on_ray(demo, args.ray_serve, args.serve_config)
    start_output_sweeper()
    demo.queue(default_concurrency_limit=2, max_size=settings.max_queue()).launch(
        server_name=args.host, server_port=args.port, share=args.share, **kwargs
    )
