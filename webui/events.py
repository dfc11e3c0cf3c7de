"""Event wiring shared by the tabs."""

from __future__ import annotations

from typing import Any, Callable

import gradio as gr


def clear_then(trigger: Callable[..., Any], fn: Callable[..., Any], inputs: Any, outputs: list[gr.components.Component],
               **kwargs: Any) -> Any:
    """On ``trigger`` (say ``button.click``) empty ``outputs`` at once, then run ``fn`` into them.

    A run that fails then never leaves the previous run's result on screen beside its error. The clearing step is
    private and unqueued; ``kwargs`` (``api_name``...) go to ``fn``'s event, so the API endpoint is ``fn`` alone.
    """
    blank = [None] * len(outputs)
    cleared = trigger(lambda: blank if len(blank) > 1 else None, None, outputs, queue=False,
                      api_visibility="private", show_progress="hidden")
    return cleared.then(fn, inputs, outputs, **kwargs)


_CLOSE_TOASTS = "() => { document.querySelectorAll('.toast-body .toast-close').forEach(b => b.click()); }"


def dismiss_toasts_on_tab_switch(demo: gr.Blocks) -> None:
    """Close error toasts when the user opens another tab (in the browser, no server round trip): a message about
    one tab must not sit over another tab's results."""
    with demo:
        for block in list(demo.blocks.values()):
            if isinstance(block, gr.Tab):
                block.select(None, None, None, js=_CLOSE_TOASTS, queue=False, api_visibility="private")
