"""The two steps every batch item goes through, the same on this machine and in a Ray actor.

1. :func:`check`: hash the item's inputs and decide whether its output is already done (skipped), can be attempted
   (to do), or cannot be read at all (failed). Cheap, no model: Ray runs it as parallel tasks.
2. :class:`Worker`: loads the model once (the registry keeps it), runs the task's pipeline on the items to do —
   several per call where the pipeline takes several — and moves each signed result from the pipelines' output
   folder (:func:`gen_models.media.outputs.output_dir`) into place, then writes its sidecar. An item that fails is
   reported, never raised.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from gen_models.batch import jobs, sidecar
from gen_models.batch.jobs import Item, Produced


def job_env() -> dict[str, str]:
    """The driver's settings that workers need: the documented gen_models variables that are set, and
    huggingface_hub's ``HF_*`` ones but tokens."""
    from gen_models.core import settings

    hub = {key: value for key, value in os.environ.items() if key.startswith("HF_") and "TOKEN" not in key}
    return {**hub, **settings.exported()}


def check(item: Item, task: str, model: str, options: dict[str, Any], out_dir: Path, force: bool = False) -> dict:
    """``{"status": "skip" | "todo" | "failed", "hashes": [...], "message": ...}`` for one item."""
    try:
        hashes = [sidecar.sha256_file(path) for path in item.inputs]
    except OSError as exc:
        return {"status": "failed", "hashes": [], "message": f"cannot read {exc.filename or item.key}: {exc.strerror}"}
    job = sidecar.job_record(task, model, options, hashes, item.seed)
    done = not force and sidecar.is_done(out_dir / item.output, job)
    return {"status": "skip" if done else "todo", "hashes": hashes, "message": None}


class Worker:
    """Holds the loaded model and processes items; one per process (the local run) or per Ray actor."""

    def __init__(self, task: str, model: str, options: dict[str, Any], out_dir: str | os.PathLike,
                 env: dict[str, str] | None = None, batch: int | None = None) -> None:
        os.environ.update(env or {})
        from gen_models.core import registry

        self.task = jobs.task(task)
        self.model, self.options = model, dict(options)
        self.out_dir = Path(out_dir)
        self.batch = max(1, batch or self.task.local_batch)
        started = time.perf_counter()
        registry.load(model)  # once: every pipeline call below finds it in the registry's cache
        self.load_seconds = time.perf_counter() - started

    def process(self, rows: Sequence[tuple[Item, list[str]]]) -> list[dict]:
        """Each (item, its input hashes) → ``{"key", "status": "done" | "failed", "message", "output", "seconds"}``."""
        results: list[dict] = []
        for start in range(0, len(rows), self.batch):
            chunk = rows[start:start + self.batch]
            began = time.perf_counter()
            outcomes = self._run([item for item, _ in chunk])
            each = (time.perf_counter() - began) / len(chunk)
            for (item, hashes), outcome in zip(chunk, outcomes):
                results.append(self._finish(item, hashes, outcome, each))
        return results

    def _run(self, items: list[Item]) -> list[Produced | BaseException]:
        try:
            outcomes = self.task.run(self.model, items, self.options)
            if len(outcomes) != len(items):
                raise RuntimeError(f"{self.task.name} returned {len(outcomes)} results for {len(items)} items")
            return outcomes
        except Exception as exc:  # noqa: BLE001 (a batch that failed as a whole is retried item by item)
            if len(items) == 1:
                return [exc]
            return [outcome for item in items for outcome in self._run([item])]

    def _finish(self, item: Item, hashes: list[str], outcome: Produced | BaseException, seconds: float) -> dict:
        result = {"key": item.key, "output": item.output, "seconds": seconds, "message": None, "info": {}}
        if isinstance(outcome, BaseException):
            return {**result, "status": "failed", "message": jobs.message(outcome)}
        final = self.out_dir / item.output
        try:
            sidecar.sidecar_path(final).unlink(missing_ok=True)  # an old sidecar never describes the new output
            digest = sidecar.sha256_file(outcome.path)
            sidecar.place(outcome.path, final)  # a rename, or a copy renamed into place: the same signed bytes
            job = sidecar.job_record(self.task.name, self.model, self.options, hashes, item.seed)
            sidecar.write(final, job, inputs=list(item.inputs), output_sha256=digest, info=outcome.info,
                          seconds=seconds)
        except OSError as exc:
            return {**result, "status": "failed", "message": f"could not write {item.output}: {exc}"}
        return {**result, "status": "done", "info": outcome.info}
