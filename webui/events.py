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
