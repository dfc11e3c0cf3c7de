"""``python -m webui export-space DEMO DIR`` | ``python -m webui export-space --all DIR``: write a demo (or each
demo, into DIR/<demo>/) as a Hugging Face Space repository; see :mod:`webui.export`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    from .loading import DEMOS

    known = ", ".join(d.folder for d in DEMOS if d.folder)
    parser = argparse.ArgumentParser(prog="python -m webui")
    commands = parser.add_subparsers(dest="command", required=True)
    export = commands.add_parser(
        "export-space", help="write a demo as a Hugging Face Space repository",
        usage="python -m webui export-space DEMO DIR | --all DIR",
        description=f"Write one demo ({known}) as a complete Hugging Face Space repository in DIR (new or empty), "
                    "or with --all each demo into DIR/<demo>/.")
    export.add_argument("--all", action="store_true", help="every demo, each into DIR/<demo>/")
    export.add_argument("demo", nargs="?", metavar="DEMO", help=f"the demo: {known} (left out with --all)")
    export.add_argument("dir", nargs="?", metavar="DIR", help="the folder to write (new or empty)")
    args = parser.parse_args(argv)
    args.args = [a for a in (args.demo, args.dir) if a is not None]

    from .export import ExportError, export_all, export_space, summary

    wanted = 1 if args.all else 2
    if len(args.args) != wanted:
        usage = "export-space --all DIR" if args.all else "export-space DEMO DIR"
        export.error(f"expected {usage} (demos: {known})")
    try:
        if args.all:
            for folder, written in export_all(args.args[0]).items():
                print(summary(Path(args.args[0]) / folder, written))
        else:
            print(summary(Path(args.args[1]), export_space(args.args[0], args.args[1])))
    except ExportError as exc:
        print(f"python -m webui export-space: {exc}", file=sys.stderr)
        return exc.exit_code
    return 0


if __name__ == "__main__":
    sys.exit(main())
