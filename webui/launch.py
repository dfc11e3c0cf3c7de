"""Command-line options shared by app.py and each Space's app.py (--host, --port, --share), and the server settings
that let the app be left running in public: an upload cap, a bounded queue, results and Gradio's cache that
expire, and one concurrency group for the heavy work on the device."""

from __future__ import annotations

import argparse
import logging
import os
import threading
import time

import gradio as gr

from gen_models.limits import positive_int_env
from gen_models.media import output_dir, output_ttl_seconds, remove_expired

log = logging.getLogger("webui")


def parse_args(argv: list[str] | None = None, description: str = "") -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--host", default=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"),
                        help="address to listen on (default 127.0.0.1; 0.0.0.0 for all interfaces)")
    parser.add_argument("--port", type=int, default=int(os.environ.get("GRADIO_SERVER_PORT", "7860")))
    parser.add_argument("--share", action="store_true", help="also open a public gradio.live link")
    return parser.parse_args(argv)


def heavy() -> dict:
    """Event options for work that fills the device (rendering, colorizing, generating): one at a time on it, in
    one queue shared by every such event, so light requests (age, digits) still get the other worker."""
    from gen_models.device import get_device

    return {"concurrency_id": f"heavy-{get_device()}", "concurrency_limit": 1}


def sweep_once() -> int:
    """Remove results and Gradio's cached files (uploads, copies of results) older than the TTL; how many went.

    Gradio's own ``delete_cache`` only knows the files it made for outputs, not every upload, so its folder
    (``GRADIO_TEMP_DIR``; give each app its own when several share a machine) is swept here too.
    """
    from gradio.utils import get_upload_folder

    ttl = output_ttl_seconds()
    return remove_expired(output_dir(), ttl) + remove_expired(get_upload_folder(), ttl)


def _sweep_forever(every_s: float) -> None:
    while True:
        time.sleep(every_s)
        try:
            removed = sweep_once()
            if removed:
                log.info("removed %d expired file(s)", removed)
        except Exception:  # the sweeper must never take the server down
            log.exception("output sweep failed")


def start_output_sweeper() -> None:
    """Sweep expired files a few times per GEN_MODELS_OUTPUT_TTL_MINUTES (daemon thread)."""
    every = max(10.0, min(300.0, output_ttl_seconds() / 4))
    threading.Thread(target=_sweep_forever, args=(every,), name="output-sweeper", daemon=True).start()


def launch(demo: gr.Blocks, args: argparse.Namespace, **kwargs) -> None:
    """Queue (so long jobs show progress and many users are served in turn) and serve.

    ``show_error`` sends every error's text to the page and to API clients, not only "the upstream app raised an
    exception". Uploads over GEN_MODELS_MAX_UPLOAD_MB (default 200) are refused by the server; at most
    GEN_MODELS_MAX_QUEUE (default 64) requests wait, later ones are told the queue is full; Gradio's cache and our
    results are removed after GEN_MODELS_OUTPUT_TTL_MINUTES (default 60).
    """
    ttl = output_ttl_seconds()
    demo.delete_cache = demo.delete_cache or (max(10, min(300, ttl // 4)), ttl)
    kwargs.setdefault("show_error", True)
    kwargs.setdefault("max_file_size", f"{positive_int_env('GEN_MODELS_MAX_UPLOAD_MB', 200)}mb")
    start_output_sweeper()
    demo.queue(default_concurrency_limit=2, max_size=positive_int_env("GEN_MODELS_MAX_QUEUE", 64)).launch(
        server_name=args.host, server_port=args.port, share=args.share, **kwargs
    )
