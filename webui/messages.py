"""User-facing errors: a GenModelsError (bad upload, missing weights) becomes a gr.Error with its message, so the
UI shows it and API clients receive it, and the app keeps serving.

Generator handlers (live training, streamed renders) stay generators: Gradio decides how to run a handler from
``inspect.isgeneratorfunction``, so wrapping one in a plain function would hand Gradio a single generator object.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import inspect
import logging
from collections.abc import Callable, Iterator
from typing import TypeVar

import gradio as gr

from gen_models.core.errors import GenModelsError

F = TypeVar("F", bound=Callable)
log = logging.getLogger("webui")
ERROR_SECONDS = 12
"""How long an error toast stays on the page (it can be closed earlier); it must not cover results for good."""


def error(message: str) -> gr.Error:
    """A gr.Error shown for ``ERROR_SECONDS`` and sent to API clients as its text."""
    return gr.Error(message, duration=ERROR_SECONDS, print_exception=False)


@contextlib.contextmanager
def _as_user_errors(name: str) -> Iterator[None]:
    try:
        yield
    except gr.Error:
        raise
    except GenModelsError as exc:
        raise error(str(exc)) from None
    except MemoryError:
        raise error("Out of memory: try a smaller input.") from None
    except OSError as exc:
        if exc.errno != errno.ENOSPC:
            log.exception("unexpected error in %s", name)
            raise error(f"Something went wrong ({exc.__class__.__name__}: {exc}).") from None
        raise error("The server's disk is full, so the result could not be saved. Try again later.") from None
    except Exception as exc:
        log.exception("unexpected error in %s", name)
        raise error(f"Something went wrong ({exc.__class__.__name__}: {exc}).") from None


def user_errors(fn: F) -> F:
    """Wrap an event handler (plain or generator): known errors show their message; unexpected ones a short
    apology (and a log entry)."""
    if inspect.isgeneratorfunction(fn):
        @functools.wraps(fn)
        def streamed(*args, **kwargs):
            with _as_user_errors(fn.__name__):
                yield from fn(*args, **kwargs)

        return streamed  # type: ignore[return-value]

    @functools.wraps(fn)
    def wrapped(*args, **kwargs):
        with _as_user_errors(fn.__name__):
            return fn(*args, **kwargs)

    return wrapped  # type: ignore[return-value]
