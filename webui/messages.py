"""User-facing errors: a GenModelsError (bad upload, missing weights) becomes a gr.Error with its message, so the
UI shows it and API clients receive it, and the app keeps serving."""

from __future__ import annotations

import functools
import logging
from typing import Callable, TypeVar

import gradio as gr

from gen_models.errors import GenModelsError

F = TypeVar("F", bound=Callable)
log = logging.getLogger("webui")


def user_errors(fn: F) -> F:
    """Wrap an event handler: known errors show their message; unexpected ones a short apology (and a log entry)."""

    @functools.wraps(fn)
    def wrapped(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except gr.Error:
            raise
        except GenModelsError as exc:
            raise gr.Error(str(exc), print_exception=False) from None
        except MemoryError:
            raise gr.Error("Out of memory: try a smaller input.", print_exception=False) from None
        except Exception as exc:
            log.exception("unexpected error in %s", fn.__name__)
            raise gr.Error(f"Something went wrong ({exc.__class__.__name__}: {exc}).") from None

    return wrapped  # type: ignore[return-value]
