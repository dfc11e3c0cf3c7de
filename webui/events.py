"""Event wiring shared by the tabs."""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from typing import Any

import gradio as gr

from gen_models.core.errors import Cancelled


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


def stoppable(work: Callable[[Callable[[float, str], None]], Any], progress: gr.Progress | None = None):
    """Run ``work(report)`` in a worker thread and yield ``(fraction, text)`` at each of its reports; the
    generator's return value is ``work``'s result.

    Gradio stops iterating a generator handler when its request is cancelled or its client disconnects. The handler
    then never resumes, so this generator is closed, and the work's next ``report`` raises
    :class:`~gen_models.core.errors.Cancelled`: a long render stops within one frame instead of running on for nobody.
    """
    stop, reports, outcome = threading.Event(), queue.Queue(), {}

    def report(fraction: float, text: str) -> None:
        if stop.is_set():
            raise Cancelled("stopped: the request was cancelled")
        reports.put((fraction, text))

    def run() -> None:
        try:
            outcome["result"] = work(report)
        except BaseException as exc:  # handed to the handler's thread below
            outcome["error"] = exc
        finally:
            reports.put(None)

    worker = threading.Thread(target=run, name="stoppable-work", daemon=True)
    worker.start()
    try:
        while (item := reports.get()) is not None:
            if progress is not None:
                progress(item[0], desc=item[1])
            yield item
    finally:
        stop.set()  # a no-op once the work is done; otherwise its next report ends it
    if "error" in outcome:
        raise outcome["error"]
    return outcome["result"]


def while_working(work: Callable[[Callable[[float, str], None]], Any], progress: gr.Progress,
                  update: Callable[[str], Any], every_s: float = 1.0):
    """Drive :func:`stoppable` work from a generator handler: ``yield from`` this, and it yields ``update(text)``
    (the handler's outputs while the work runs, e.g. ``(gr.update(), text)``) at most every ``every_s`` seconds,
    so Gradio gets the chance to stop the handler; its value is the work's result."""
    work_items = stoppable(work, progress)
    last = 0.0
    try:
        while True:
            try:
                _, text = next(work_items)
            except StopIteration as done:
                return done.value
            if time.monotonic() - last > every_s:
                last = time.monotonic()
                yield update(text)
    finally:
        work_items.close()
