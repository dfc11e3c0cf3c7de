"""benchmarks/run.py, the one benchmark command: a --quick run of a few cheap rows end to end (no speeds asserted)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "benchmarks" / "run.py"
CHEAP = ["dcgan-64", "dlib-age", "digit-walk-48"]


def _run(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    return subprocess.run([sys.executable, str(SCRIPT), *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=timeout)


def test_quick_rows_give_timings_memory_and_a_table(tmp_path):
    out = tmp_path / "run.json"
    done = _run("--quick", "--device", "cpu", "--only", *CHEAP, "pggan-1024-b1", "--json", str(out))
    assert done.returncode == 0, done.stderr[-3000:]
    data = json.loads(out.read_text())
    rows = {row["row"]: row for row in data["rows"]}
    assert list(rows) == ["pggan-1024-b1", *CHEAP]  # the table's order, whatever the order asked in
    for name in CHEAP:
        row = rows[name]
        assert row["status"] == "ok", row
        assert row["median_s"] > 0
        assert row["min_s"] <= row["median_s"] <= row["max_s"]
        assert row["peak_mb"] > 0 and row["peak_rss_mb"] > 0
        assert row["rate"] > 0 and row["unit"].endswith("/s")
        assert len(row["times_s"]) == data["meta"]["repeat"] == 1
    skipped = rows["pggan-1024-b1"]  # --quick skips full-size PGGAN 1024 and says so
    assert skipped["status"] == "skipped" and "--quick" in skipped["note"] and skipped.get("median_s") is None
    header = next(line for line in done.stdout.splitlines() if line.startswith("row "))
    for title in ("median s", "min s", "max s", "throughput", "peak RSS MB", "note"):
        assert title in header
    for name in CHEAP:
        assert any(line.startswith(name) for line in done.stdout.splitlines())


def test_unknown_row_is_refused_with_the_list_of_rows():
    done = _run("--only", "no-such-row", timeout=60)
    assert done.returncode == 2
    assert "no-such-row" in done.stderr and "talking-heads-5s" in done.stderr


def test_the_half_precision_script_compares_a_models_outputs_in_bfloat16(tmp_path):
    """The GPU script's smoke test on the CPU (bfloat16 only there): one row per model with pixel differences."""
    out = tmp_path / "half.json"
    done = subprocess.run([sys.executable, "-m", "benchmarks.half_precision", "--device", "cpu", "--quick", "--only",
                           "cyclegan-horse2zebra", "fomm-vox", "--json", str(out)], cwd=ROOT, capture_output=True,
                          text=True, timeout=300, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    assert done.returncode == 0, done.stderr[-3000:]
    rows = {row["model"]: row for row in json.loads(out.read_text())["rows"]}
    assert list(rows) == ["fomm-vox", "cyclegan-horse2zebra"]
    for row in rows.values():
        assert row["dtype"] == "bfloat16" and row["weights"] == "random"
        assert 0 <= row["mean"] <= row["max"] <= 255 and row["safe"] in ("yes", "no")
    assert rows["cyclegan-horse2zebra"]["max"] > 0  # bfloat16 does move pixels: the comparison is real
