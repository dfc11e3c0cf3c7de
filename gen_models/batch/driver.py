"""The job as the driver sees it: the items, their progress, failures.jsonl and the summary.

Both ways of running (:mod:`gen_models.batch.local`, :mod:`gen_models.batch.ray_runner`) hand every item's check
and result to one :class:`Report`, which prints progress (items done / skipped / failed, items/s), appends each
failure to ``DIR/failures.jsonl`` as it happens (so a killed job keeps them) and ends with one summary line.
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from gen_models.batch import sidecar
from gen_models.batch.jobs import Item, Task

FAILURES = "failures.jsonl"


@dataclass
class Job:
    task: Task
    model: str
    options: dict[str, Any]
    items: list[Item]
    out_dir: Path
    force: bool = False

    @property
    def by_key(self) -> dict[str, Item]:
        return {item.key: item for item in self.items}


@dataclass
class Counts:
    done: int = 0
    skipped: int = 0
    failed: int = 0
    faults: list[str] = field(default_factory=list)


class Report:
    """Progress on ``stream`` (stderr), failures in ``DIR/failures.jsonl`` (this run's; the old file is replaced)."""

    def __init__(self, job: Job, stream: TextIO | None = None, every_s: float = 2.0, quiet: bool = False) -> None:
        self.job, self.stream, self.every_s, self.quiet = job, stream or sys.stderr, every_s, quiet
        self.counts = Counts()
        self.total = len(job.items)
        self.started = time.perf_counter()
        self.processing_since: float | None = None
        self._last_print = 0.0
        self._tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.failures_path = job.out_dir / FAILURES
        self.failures_path.unlink(missing_ok=True)
        self.load_seconds: float | None = None
        self.finished: set[str] = set()
        """Keys of the items whose outputs are this job's (done now or skipped as done before)."""

    # --- events
    def checked(self, item: Item, state: dict) -> bool:
        """Record a check; True when the item still has to be processed."""
        if state["status"] == "skip":
            self.counts.skipped += 1
            self.finished.add(item.key)
        elif state["status"] == "failed":
            self.failed(item, state["message"])
        else:
            return True
        return False

    def processing(self) -> None:
        self.processing_since = time.perf_counter()
        self._print(force=True)

    def result(self, item: Item, result: dict) -> None:
        if result["status"] == "done":
            self.counts.done += 1
            self.finished.add(item.key)
        else:
            self.failed(item, result["message"])
        self._print()

    def failed(self, item: Item, message: str) -> None:
        self.counts.failed += 1
        record = {"item": item.key, "input": item.inputs[0] if item.inputs else None, "task": self.job.task.name,
                  "model": self.job.model, "message": message, "time": sidecar.now()}
        if len(item.inputs) > 1:
            record["driving"] = item.inputs[1]
        if item.seed is not None:
            record["seed"] = item.seed
        with open(self.failures_path, "a", encoding="utf-8") as out:
            out.write(json.dumps(record) + "\n")

    def fault(self, text: str) -> None:
        """A problem of the whole job (a worker that could not start): reported, counted as failed at the end."""
        self.counts.faults.append(text)

    # --- output
    @property
    def rate(self) -> float:
        """Items processed (done or failed) per second since processing started."""
        if self.processing_since is None:
            return 0.0
        elapsed = time.perf_counter() - self.processing_since
        return (self.counts.done + self.counts.failed) / elapsed if elapsed > 0 else 0.0

    def line(self) -> str:
        c = self.counts
        seen = c.done + c.skipped + c.failed
        return (f"[{seen}/{self.total}] {c.done} done, {c.skipped} skipped, {c.failed} failed, "
                f"{self.rate:.2f} items/s")

    def _print(self, force: bool = False) -> None:
        if self.quiet:
            return
        now = time.perf_counter()
        c = self.counts
        last = c.done + c.skipped + c.failed == self.total
        if not (force or last or now - self._last_print >= self.every_s):
            return
        self._last_print = now
        end = "" if self._tty and not last else "\n"
        print(("\r" if self._tty else "") + self.line(), end=end, file=self.stream, flush=True)

    @property
    def unfinished(self) -> int:
        c = self.counts
        return self.total - c.done - c.skipped - c.failed

    def summary(self, how: str) -> str:
        c = self.counts
        elapsed = time.perf_counter() - self.started
        text = (f"batch {self.job.task.name} ({self.job.model}, {how}): {c.done} done, {c.skipped} skipped, "
                f"{c.failed} failed of {self.total} in {elapsed:.1f} s ({self.rate:.2f} items/s)")
        if self.unfinished:
            text += f"; {self.unfinished} not processed"
        return text

    @property
    def exit_code(self) -> int:
        return 1 if self.counts.failed or self.counts.faults or self.unfinished else 0
