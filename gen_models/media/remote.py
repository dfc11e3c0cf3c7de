"""Heavy pipelines that can run elsewhere: on a Ray Serve deployment (``python app.py --ray-serve``) instead of in
this process, with the same arguments, results, progress and errors.

A pipeline function marked ``@served("talking-heads")`` runs in-process as always, until :func:`route` gives its
group a sender (``gen_models.serving`` does, once its deployments are up). Then a call is packed: every argument
that names an existing file travels as its bytes (:class:`FileRef`), the ``progress`` callback stays here and is fed
from the stream of progress events the deployment sends back, and the result's files come back as bytes and are
written into this process's output folder, so callers (the Gradio handlers) see the same paths-on-disk results as
in-process. Errors raised there (an InputError naming the file) are raised here with the same class and message.

This module knows nothing of Ray; it only keeps the routes and packs values.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import tempfile
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, TypeVar

from gen_models.core import errors

F = TypeVar("F", bound=Callable)
Sender = Callable[[str, tuple, dict], Iterable[tuple]]
"""(target, args, kwargs) → the deployment's event stream: ("progress", fraction, text)…, then ("result", value)
or ("error", class name, message)."""

_routes: dict[str, Sender] = {}
_functions: dict[str, Callable] = {}
GROUPS: dict[str, list[str]] = {}
"""Each group's pipeline functions, by target name (``module:qualname``)."""


@dataclasses.dataclass(frozen=True)
class FileRef:
    """A file in transit: its name and its bytes."""

    name: str
    data: bytes


def target_of(fn: Callable) -> str:
    return f"{fn.__module__}:{fn.__qualname__}"


def served(group: str) -> Callable[[F], F]:
    """Mark a pipeline function as one a deployment of ``group`` can run."""

    def decorate(fn: F) -> F:
        target = target_of(fn)
        _functions[target] = fn
        GROUPS.setdefault(group, []).append(target)

        @functools.wraps(fn)
        def call(*args: Any, **kwargs: Any) -> Any:
            sender = _routes.get(group)
            if sender is None:
                return fn(*args, **kwargs)
            return _remote(sender, target, args, kwargs)

        return call  # type: ignore[return-value]

    return decorate


def route(group: str, sender: Sender | None) -> None:
    """Send ``group``'s calls to ``sender`` (None: back to in-process)."""
    if sender is None:
        _routes.pop(group, None)
    else:
        _routes[group] = sender


def routed() -> list[str]:
    return sorted(_routes)


def function(target: str) -> Callable:
    """The plain (in-process) pipeline function named ``target``, importing its module if needed."""
    if target not in _functions:
        import importlib

        importlib.import_module(target.split(":", 1)[0])
    return _functions[target]


# --- packing ---------------------------------------------------------------------------------------------------------


def _walk(value: Any, leaf: Callable[[Any], Any]) -> Any:
    """``value`` with ``leaf`` applied to every path/FileRef inside tuples, lists, dicts and dataclasses."""
    if isinstance(value, (str, os.PathLike, FileRef)):
        return leaf(value)
    if isinstance(value, (list, tuple)):
        items = [_walk(v, leaf) for v in value]
        return type(value)(items) if not hasattr(value, "_fields") else type(value)(*items)
    if isinstance(value, dict):
        return {k: _walk(v, leaf) for k, v in value.items()}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        changes = {f.name: _walk(getattr(value, f.name), leaf) for f in dataclasses.fields(value) if f.init}
        return dataclasses.replace(value, **changes)
    return value


def pack_files(value: Any, *, remove: bool = False) -> Any:
    """Every existing file named in ``value`` (a str or a Path) replaced by its bytes (``remove``: and deleted, for
    results that now live on the caller's side)."""

    def leaf(item: Any) -> Any:
        if isinstance(item, (str, os.PathLike)) and len(str(item)) < 4096:
            try:
                path = Path(item)
                if path.is_file():
                    ref = FileRef(path.name, path.read_bytes())
                    if remove:
                        path.unlink()
                    return ref
            except (OSError, ValueError):
                pass
        return item

    return _walk(value, leaf)


def unpack_files(value: Any, folder: Path, as_path: bool = True) -> Any:
    """Every FileRef in ``value`` written into ``folder`` (under a new sub-folder, keeping its name) and replaced by
    its Path (``as_path``) or its path as text."""

    def leaf(item: Any) -> Any:
        if not isinstance(item, FileRef):
            return item
        target = Path(tempfile.mkdtemp(dir=folder)) / Path(item.name).name
        target.write_bytes(item.data)
        return target if as_path else str(target)

    return _walk(value, leaf)


def _error(name: str, message: str) -> Exception:
    kind = getattr(errors, name, None)
    if isinstance(kind, type) and issubclass(kind, errors.GenModelsError):
        return kind(message)
    return errors.GenModelsError(message)


def _remote(sender: Sender, target: str, args: tuple, kwargs: dict) -> Any:
    from gen_models.media.outputs import output_dir

    progress = kwargs.pop("progress", None)
    events = sender(target, pack_files(args), {**pack_files(kwargs), "progress": bool(progress)})
    finished = False
    try:
        for event in events:
            if event[0] == "progress":
                if progress:
                    progress(event[1], event[2])  # a stopped request raises here, which ends the stream
            elif event[0] == "result":
                finished = True
                return unpack_files(event[1], output_dir())
            elif event[0] == "error":
                finished = True
                raise _error(event[1], event[2])
    finally:
        if not finished:  # stopped here: tell the deployment (its next progress report ends the work)
            cancel = getattr(events, "cancel", None) or getattr(events, "close", None)
            if cancel is not None:
                cancel()
    raise errors.GenModelsError(f"the deployment running {target.split(':')[-1]} stopped without an answer")


def run_here(target: str, args: tuple, kwargs: dict, scratch: Path) -> Iterator[tuple]:
    """The deployment's side: run ``target`` on unpacked inputs, yielding progress events and then the packed result
    or the error (its class name and message). ``kwargs["progress"]`` says whether the caller wants progress."""
    import queue
    import threading

    wants_progress = kwargs.pop("progress", False)
    args, kwargs = unpack_files(args, scratch, as_path=False), unpack_files(kwargs, scratch, as_path=False)
    events: queue.Queue = queue.Queue()
    stop = threading.Event()

    def report(fraction: float, text: str) -> None:
        if stop.is_set():
            raise errors.GenModelsError("stopped: the caller went away")
        events.put(("progress", float(fraction), str(text)))

    def work() -> None:
        try:
            result = function(target)(*args, **({**kwargs, "progress": report} if wants_progress else kwargs))
            events.put(("result", pack_files(result, remove=True)))
        except errors.GenModelsError as exc:
            events.put(("error", type(exc).__name__, str(exc)))
        except Exception as exc:  # unexpected: the caller's handler turns it into its short apology
            events.put(("error", "GenModelsError", f"{type(exc).__name__}: {exc}"))

    worker = threading.Thread(target=work, name=f"served-{target}", daemon=True)
    worker.start()
    try:
        while True:
            event = events.get()
            yield event
            if event[0] != "progress":
                return
    finally:
        stop.set()  # the stream was closed early (a stopped request): the next progress call ends the work
