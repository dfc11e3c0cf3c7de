"""What makes a batch job resumable: content hashes, a JSON sidecar beside each output, atomic placement.

Each output ``DIR/photo.colorized.png`` has ``DIR/photo.colorized.png.json`` recording the job that made it (task,
model, options, each input's sha256, the seed) and the output's own sha256. An item is skipped when its output
exists, its sidecar records the same job and the output still has the recorded hash. The output is moved into place
first and the sidecar written after it (both by rename), so a job killed at any point leaves either no output, an
output without a sidecar (redone on the next run) or both, never half a file with a sidecar.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import os
import shutil
from pathlib import Path
from typing import Any

from gen_models.core.files import replacing

SIDECAR_SUFFIX = ".json"
FORMAT = 1  # the sidecar layout's version


def sha256_file(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        while block := stream.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def sidecar_path(output: str | os.PathLike) -> Path:
    output = Path(output)
    return output.with_name(output.name + SIDECAR_SUFFIX)


def now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def publish(path: Path) -> Path:
    """Give a finished file the usual permissions (temp files are private: 0600), so others sharing DIR read it."""
    os.chmod(path, 0o666 & ~_umask())
    return path


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` beside ``path`` and rename it into place (readers see the old file or the whole new one)."""
    path = Path(path)
    with replacing(path) as partial:
        partial.write_text(text, encoding="utf-8")
        publish(partial)
    return path


def place(staged: str | os.PathLike, final: str | os.PathLike) -> Path:
    """Move a finished file to ``final`` atomically: a rename, or (across file systems) a copy beside ``final``
    renamed into place. The bytes are unchanged, so the file's C2PA manifest stays valid."""
    staged, final = Path(staged), Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    publish(staged)
    try:
        os.replace(staged, final)
        return final
    except OSError:
        pass
    with replacing(final) as partial:
        shutil.copyfile(staged, partial)
    staged.unlink(missing_ok=True)
    return final


def job_record(task: str, model: str, options: dict[str, Any], input_hashes: list[str], seed: int | None) -> dict:
    """The fields that must match for an output to count as done (paths are not among them: moving the inputs
    does not redo the work, changing their bytes does)."""
    return {"task": task, "model": model, "options": dict(options), "inputs": list(input_hashes), "seed": seed}


def write(output: Path, job: dict, *, inputs: list[str], output_sha256: str, info: dict | None = None,
          seconds: float | None = None) -> Path:
    from gen_models import __version__

    data = {"format": FORMAT, "job": job, "input_files": inputs, "output": output.name,
            "output_sha256": output_sha256, "software": f"gen_models {__version__}", "finished": now(),
            "seconds": None if seconds is None else round(seconds, 4), "info": info or {}}
    return atomic_write_text(sidecar_path(output), json.dumps(data, indent=2, default=str) + "\n")


def read(output: Path) -> dict | None:
    try:
        data = json.loads(sidecar_path(output).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def is_done(output: Path, job: dict) -> bool:
    """Whether ``output`` exists with a sidecar for the same job and the hash it recorded."""
    if not output.is_file():
        return False
    data = read(output)
    if data is None or data.get("format") != FORMAT or data.get("job") != job:
        return False
    try:
        return sha256_file(output) == data.get("output_sha256")
    except OSError:
        return False
