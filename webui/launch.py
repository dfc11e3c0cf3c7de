"""Command-line options shared by app.py and each Space's app.py: --host, --port, --share."""

from __future__ import annotations

import argparse
import os

import gradio as gr


def parse_args(argv: list[str] | None = None, description: str = "") -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--host", default=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"),
                        help="address to listen on (default 127.0.0.1; 0.0.0.0 for all interfaces)")
    parser.add_argument("--port", type=int, default=int(os.environ.get("GRADIO_SERVER_PORT", "7860")))
    parser.add_argument("--share", action="store_true", help="also open a public gradio.live link")
    return parser.parse_args(argv)


def launch(demo: gr.Blocks, args: argparse.Namespace, **kwargs) -> None:
    """Queue (so long jobs show progress and many users are served in turn) and serve. ``show_error`` sends every
    error's text to the page and to API clients, not only "the upstream app raised an exception"."""
    kwargs.setdefault("show_error", True)
    demo.queue(default_concurrency_limit=2).launch(
        server_name=args.host, server_port=args.port, share=args.share, **kwargs
    )
