"""What every benchmark shares: timing a call (median of repeats after warm-up) and reporting a table.

:func:`report` prints an aligned table under a line of run facts (device, threads, ...) and writes the same as JSON to
``benchmarks/results/<name>.json`` (git-ignored), or to the path given with ``--json`` (see :func:`add_json_option`).
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"

Column = str | tuple[str, str] | tuple[str, str, str]  # key, or (key, header), or (key, header, format spec)


def median_seconds(fn: Callable[[], Any], repeat: int = 3, warmup: int = 1,
                   sync: Callable[[], Any] | None = None) -> float:
    """Median wall time of ``repeat`` calls of ``fn`` after ``warmup`` untimed ones; ``sync`` (e.g.
    ``torch.cuda.synchronize``) runs before each clock reading so queued GPU work is counted."""
    if repeat < 1:
        raise ValueError("repeat must be at least 1")
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeat):
        if sync:
            sync()
        start = time.perf_counter()
        fn()
        if sync:
            sync()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def torch_sync(device) -> Callable[[], Any] | None:
    """``torch.cuda.synchronize`` for a CUDA device, else None (CPU calls finish before they return)."""
    import torch

    return torch.cuda.synchronize if torch.device(device).type == "cuda" else None


def device_meta(device) -> dict[str, Any]:
    """Run facts for a torch device: its name, the CPU threads torch uses, torch's version."""
    import torch

    device = torch.device(device)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor() or "CPU"
    return {"device": f"{device} ({name})", "cpu_threads": torch.get_num_threads(), "torch": torch.__version__}


def peak_rss_mb() -> float:
    """This process's peak resident memory (``VmHWM``; ``ru_maxrss``, which a forked child inherits from its
    parent, only where /proc is missing)."""
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    import resource
    import sys

    scale = 1 if sys.platform == "darwin" else 1024  # bytes on macOS, KiB elsewhere
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale / 2**20


def add_json_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", type=Path, default=None,
                        help="write the results here (default: benchmarks/results/<benchmark>.json)")


def _spec(column: Column) -> tuple[str, str, str]:
    if isinstance(column, str):
        return column, column, ""
    if len(column) == 2:
        return column[0], column[1], ""
    return column  # type: ignore[return-value]


def _cell(value: Any, fmt: str) -> str:
    if value is None:
        return "-"
    if isinstance(value, (int, float)) and not isinstance(value, bool) and fmt:
        return format(value, fmt)
    return str(value)


def format_table(rows: Sequence[Mapping[str, Any]], columns: Sequence[Column]) -> str:
    """Rows under their headers; the first column left-aligned, numbers right-aligned."""
    specs = [_spec(c) for c in columns]
    cells = [[_cell(row.get(key), fmt) for key, _, fmt in specs] for row in rows]
    widths = [max([len(header)] + [len(r[i]) for r in cells]) for i, (_, header, _) in enumerate(specs)]

    def line(values: Sequence[str]) -> str:
        return "  ".join(v.ljust(w) if i == 0 else v.rjust(w) for i, (v, w) in enumerate(zip(values, widths))).rstrip()

    return "\n".join([line([h for _, h, _ in specs]), *(line(r) for r in cells)])


def report(name: str, rows: Sequence[Mapping[str, Any]], columns: Sequence[Column],
           meta: Mapping[str, Any] | None = None, json_path: Path | None = None, title: str | None = None,
           show_meta: bool = True) -> Path:
    """Print ``rows`` as a table (after ``meta``, unless not ``show_meta``, and ``title``) and write everything as
    JSON; returns the JSON path."""
    meta = dict(meta or {})
    if meta and show_meta:
        print("; ".join(f"{k}: {v}" for k, v in meta.items()))
    if title:
        print(title)
    print(format_table(rows, columns))
    path = Path(json_path) if json_path else RESULTS / f"{name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {"benchmark": name, "when": datetime.now(timezone.utc).isoformat(timespec="seconds"), "meta": meta,
            "columns": [{"key": k, "header": h} for k, h, _ in map(_spec, columns)], "rows": [dict(r) for r in rows]}
    path.write_text(json.dumps(data, indent=2, default=str) + "\n")
    print(f"(written to {path})")
    return path
