"""``python -m gen_models batch TASK --model NAME --input PATH... --output DIR [--ray auto|ADDRESS|local]``.

Exit status: 0 when every item was done or skipped, 1 when any failed (see DIR/failures.jsonl) or the job could
not run (weights missing, a worker that died), 2 when the command line cannot make a job.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from gen_models.batch.jobs import TASKS, UsageError

EPILOG = """\
tasks:
""" + "\n".join(f"  {name:10} {task.summary}" for name, task in TASKS.items()) + """

Outputs are named after their inputs (photo.jpg -> DIR/photo.colorized.png), each with a sidecar
(photo.colorized.png.json: input and output sha256, model, options); a rerun skips what is done.
Failed items are listed in DIR/failures.jsonl; the job goes on without them."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = EPILOG
    parser.add_argument("task", choices=list(TASKS), help="what to do with each input")
    parser.add_argument("--model", help="catalog name (default: the task's default; python -m gen_models list)")
    parser.add_argument("--input", nargs="+", action="extend", metavar="PATH",
                        help="files or folders (listed recursively, sorted); photos, or clips for face-swap")
    parser.add_argument("--output", required=True, metavar="DIR", help="where results go (on a cluster: a shared path)")
    parser.add_argument("--seeds", metavar="SPEC|FILE", help="faces: seeds such as 0-99 or 1,5,9, or a file of them")
    parser.add_argument("--driving", nargs="+", action="extend", metavar="PATH", help="animate: the driving clips")
    parser.add_argument("--force", action="store_true", help="redo items whose outputs are already done")
    parser.add_argument("--quiet", action="store_true", help="no progress lines, only the summary")
    ray = parser.add_argument_group("Ray (pip install -r requirements-ray.txt)")
    ray.add_argument("--ray", metavar="auto|ADDRESS|local",
                     help="run as a Ray Data job: local starts Ray on this machine, auto joins a running cluster")
    ray.add_argument("--workers", type=int, metavar="N", help="actors in the pool, each with the model loaded "
                     "(default: as many as the cluster has room for)")
    ray.add_argument("--gpus-per-worker", type=float, default=0.0, metavar="G", help="GPUs per actor (0: CPU actors)")
    ray.add_argument("--cpus-per-worker", type=float, default=1.0, metavar="C", help="CPUs per actor (default 1)")
    ray.add_argument("--batch-size", type=int, metavar="N", help="items per actor call (default: the task's)")
    ray.add_argument("--num-cpus", type=int, metavar="N", help="with --ray local: CPUs Ray may use (default: all)")
    options = parser.add_argument_group("task options (each only for its task)")
    options.add_argument("--whole-image", action="store_true", default=None,
                         help="age: each image is one face (tight crops)")
    options.add_argument("--render-factor", type=int, metavar="N", help="colorize: DeOldify's render factor")
    options.add_argument("--no-post-process", dest="post_process", action="store_false", default=None,
                         help="colorize: keep the model's own luma")
    options.add_argument("--max-side", type=int, metavar="PX", help="translate: working size, longer side in px (default 512)")
    options.add_argument("--size", type=int, metavar="PX", help="faces: output size in px (default 256)")
    options.add_argument("--mode", help="animate: relative, absolute or avd")
    options.add_argument("--best-frame", action="store_true", default=None, help="animate: the best reference frame")
    options.add_argument("--paste-back", action="store_true", default=None, help="animate: into the whole photo")
    options.add_argument("--side-by-side", action="store_true", default=None, help="animate, face-swap: input beside")
    options.add_argument("--max-seconds", type=float, metavar="S", help="animate, face-swap: longest clip accepted "
                         "(default GEN_MODELS_MAX_VIDEO_SECONDS)")
    options.add_argument("--direction", metavar="WAY", help="face-swap: a-to-b (default) or b-to-a")
    options.add_argument("--smoothing", metavar="HOW", help="face-swap: smoothed (default) or per-frame")
    options.add_argument("--seamless", action="store_true", default=None, help="face-swap: cv2.seamlessClone")


def _flag(dest: str) -> str:
    return "--no-post-process" if dest == "post_process" else "--" + dest.replace("_", "-")


def build_job(args: argparse.Namespace):
    from gen_models.batch.driver import Job
    from gen_models.core import registry
    from gen_models.core.errors import InputError

    task = TASKS[args.task]
    for other in TASKS.values():
        for dest in other.flags:
            if dest not in task.flags and getattr(args, dest, None) is not None:
                users = [n for n, t in TASKS.items() if dest in t.flags]
                raise UsageError(f"{_flag(dest)} is an option of {', '.join(users)}, not of {task.name}")
    if args.seeds and task.name != "faces":
        raise UsageError("--seeds is for the faces task")
    if args.driving and task.name != "animate":
        raise UsageError("--driving is for the animate task")
    model = args.model or registry.default_model(task.catalog_task)
    if model is None:
        raise UsageError(f"the catalog has no {task.catalog_task} model")
    try:
        registry.require(model, task.catalog_task)
    except InputError as exc:
        raise UsageError(f"--model: {exc}") from None
    options = task.options(args)
    task.check(options)
    out_dir = Path(args.output).expanduser().resolve()
    if out_dir.exists() and not out_dir.is_dir():
        raise UsageError(f"--output {args.output} is a file, not a folder")
    items = task.items(args, out_dir)
    for number, name in (("--workers", args.workers), ("--batch-size", args.batch_size), ("--num-cpus", args.num_cpus)):
        if name is not None and name < 1:
            raise UsageError(f"{number} must be at least 1")
    if args.gpus_per_worker < 0 or args.cpus_per_worker <= 0:
        raise UsageError("--gpus-per-worker must be ≥ 0 and --cpus-per-worker > 0")
    return Job(task, model, options, items, out_dir, force=args.force)


def run(args: argparse.Namespace) -> int:
    from gen_models.batch.driver import Report
    from gen_models.core.errors import GenModelsError

    try:
        if args.ray is not None:
            from gen_models.batch.ray_runner import import_ray

            import_ray()  # before any work: say how to install it
        job = build_job(args)
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    job.out_dir.mkdir(parents=True, exist_ok=True)
    report = Report(job, quiet=args.quiet)
    how = "this machine, 1 process" if args.ray is None else f"Ray at {args.ray}"
    try:
        if args.ray is None:
            from gen_models.batch import local

            local.run(job, report)
        else:
            from gen_models.batch import ray_runner

            how = ray_runner.run(job, report, where=args.ray, workers=args.workers,
                                 gpus_per_worker=args.gpus_per_worker, cpus_per_worker=args.cpus_per_worker,
                                 batch_size=args.batch_size, num_cpus=args.num_cpus)
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except GenModelsError as exc:  # the model could not be loaded: nothing can be done
        report.fault(str(exc))
    notes = []
    try:
        notes = job.task.finish(job.out_dir, [item for item in job.items if item.key in report.finished])
    except OSError as exc:
        report.fault(f"could not write the job's summary files: {exc}")
    print(report.summary(how))
    for note in notes:
        print(note)
    for fault in report.counts.faults:
        print(f"error: {fault}", file=sys.stderr)
    if report.counts.failed:
        print(f"failures: {report.failures_path}")
    return report.exit_code
