"""A batch job as a Ray Data pipeline: list → check in parallel → an actor pool that holds the model → outputs.

1. The items (small JSON rows) become a dataset; parallel Ray tasks read and hash each input and compare it with
   its sidecar (:func:`gen_models.batch.worker.check`). Skipped and unreadable items never reach a model.
2. The rest go through ``map_batches`` with :class:`BatchActor`, a callable class whose ``__init__`` loads the model
   once per actor (``num_gpus`` = ``--gpus-per-worker``, or CPU actors); ``--workers`` actors form the pool. Each
   actor writes its outputs and sidecars into the job's folder, which must be a path every node sees (shared).
3. The driver streams the actors' small result rows back for progress, failures.jsonl and the summary.

Ray is optional: this module imports it only inside functions, and :func:`import_ray` says how to install it.
On a cluster every node needs the same install (gen_models, its requirements, requirements-ray.txt) and the weights
(or the Hub); the driver's ``GEN_MODELS_*`` and ``HF_*`` variables (not tokens) are passed to the workers.
"""

from __future__ import annotations

import logging
import math
import os
import re
from pathlib import Path
from typing import Any

from gen_models.batch.driver import Job, Report
from gen_models.batch.jobs import Item, UsageError
from gen_models.batch.worker import Worker, check, job_env
from gen_models.core.errors import GenModelsError

INSTALL = "ray is not installed: pip install -r requirements-ray.txt"
LOCAL_OBJECT_STORE = 500 * 2**20  # bytes: the rows are small JSON; a local Ray fits beside the models
CHECK_ROWS_PER_TASK = 32
MAX_BLOCKS = 1000


class RayMissing(UsageError):
    """``--ray`` was asked for and ray cannot be imported."""


class RayUnavailable(GenModelsError):
    """Ray could not be started or reached: the job did not run (exit code 1)."""


def import_ray():
    try:
        import ray
        import ray.data  # noqa: F401
    except ImportError:
        raise RayMissing(INSTALL) from None
    return ray


def source_root() -> str | None:
    """The checkout gen_models runs from (its parent folder), when it is not an installed package."""
    import gen_models

    root = Path(gen_models.__file__).resolve().parent.parent
    return str(root) if (root / "pyproject.toml").is_file() else None


def worker_env() -> dict[str, str]:
    """What every worker process gets: the driver's GEN_MODELS_* / HF_* settings, gen_models importable from the
    same checkout (on a local cluster; a real cluster needs that path, or an install, on every node), no telemetry."""
    env = {**job_env(), "RAY_USAGE_STATS_ENABLED": "0"}
    root = source_root()
    if root:
        env["PYTHONPATH"] = os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH")) if p)
    return env


def _reachable(address: str, timeout_s: float = 5.0) -> None:
    """Fail fast when nothing listens at a cluster address (ray.init would retry for minutes)."""
    import socket

    host_port = address.split("://", 1)[-1].rstrip("/")
    host, _, port = host_port.rpartition(":")
    if not host or not port.isdigit():
        raise UsageError(f"--ray {address}: give auto, local, or a cluster address such as ray://HOST:10001 or "
                         "HOST:6379")
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout_s).close()
    except OSError as exc:
        raise RayUnavailable(f"could not connect to Ray at {address}: nothing answers there ({exc.strerror or exc})") \
            from None


def connect(where: str, num_cpus: int | None = None) -> bool:
    """Join or start Ray: ``local`` starts one on this machine (``num_cpus``, default all cores; no dashboard; a
    small object store), ``auto`` joins the running cluster, anything else is a cluster address
    (``ray://host:10001`` or ``host:6379``). Returns True when this call started or joined it (and so should
    shut it down), False when Ray was already initialised in this process."""
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    ray = import_ray()
    if ray.is_initialized():
        return False
    if where not in ("local", "auto"):
        _reachable(where)
    # workers report every item's error in its result; their own logs stay in Ray's session folder
    common: dict[str, Any] = {"include_dashboard": False, "ignore_reinit_error": True, "log_to_driver": False,
                              "logging_level": "warning", "runtime_env": {"env_vars": worker_env()}}
    try:
        if where == "local":
            ray.init(num_cpus=num_cpus or os.cpu_count() or 1, object_store_memory=LOCAL_OBJECT_STORE, **common)
        else:
            ray.init(address=where, **common)
    except Exception as exc:  # noqa: BLE001 (no cluster at that address, a version mismatch, ...)
        raise RayUnavailable(f"could not {'start' if where == 'local' else 'connect to'} Ray"
                             f"{'' if where == 'local' else ' at ' + where}: {_root_cause(exc)}") from None
    return True


class _Chatter(logging.Filter):
    """Ray Data's per-dataset INFO lines and its note that progress bars are off (the driver prints its own)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "Progress bars disabled" not in record.getMessage()


def _quiet_data_context(ray) -> None:
    data_logger = logging.getLogger("ray.data")
    data_logger.setLevel(max(data_logger.getEffectiveLevel(), logging.WARNING))
    progress_logger = logging.getLogger("ray.data._internal.progress")  # filters do not apply to children's records
    if not any(isinstance(f, _Chatter) for f in progress_logger.filters):
        progress_logger.addFilter(_Chatter())
    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = False  # the driver prints its own progress
    for name in ("print_on_execution_start", "enable_auto_log_stats", "verbose_stats_logs"):
        if hasattr(context, name):
            setattr(context, name, False)


def check_batch(batch, *, task: str, model: str, options: dict, out_dir: str, force: bool):
    """Ray task: one row per item in, its check out (``state``: status, input hashes, message)."""
    import json

    import pandas as pd

    states = [json.dumps(check(Item.from_json(text), task, model, options, Path(out_dir), force))
              for text in batch["item"]]
    return pd.DataFrame({"item": list(batch["item"]), "state": states})


class BatchActor:
    """One member of the pool: the model loaded once in ``__init__``, then a batch of items per call."""

    def __init__(self, task: str, model: str, options: dict, out_dir: str, env: dict, batch: int) -> None:
        self.worker = Worker(task, model, options, out_dir, env=env, batch=batch)

    def __call__(self, batch):
        import json

        import pandas as pd

        rows = [(Item.from_json(text), json.loads(state)["hashes"]) for text, state in zip(batch["item"], batch["state"])]
        results = self.worker.process(rows)
        return pd.DataFrame({"result": [json.dumps(r) for r in results]})


def pool_size(ray, workers: int | None, gpus: float, cpus: float, batches: int, local: bool) -> int:
    resources = ray.cluster_resources()
    if gpus > 0:
        available = resources.get("GPU", 0.0)
        if available < gpus:
            raise UsageError(f"--gpus-per-worker {gpus:g}, but the Ray cluster has {available:g} GPUs")
        fits = int(available // gpus)
    else:
        fits = max(1, int(resources.get("CPU", 1.0) // max(cpus, 1e-9)))
    if workers is None:
        return max(1, min(fits, batches))
    if local and workers > fits:
        raise UsageError(f"--workers {workers} needs {workers * (gpus or cpus):g} {'GPUs' if gpus else 'CPUs'}; "
                         f"this machine's Ray has room for {fits} (lower --workers or --cpus-per-worker)")
    return max(1, min(workers, batches))


_ERROR_LINE = re.compile(r"gen_models\.[\w.]*?(\w+Error): (.+)")
_COLOUR = re.compile(r"\x1b\[[0-9;]*m")


def _root_cause(exc: BaseException) -> str:
    """A Ray error's original message: the GenModelsError a worker raised (a model that could not be loaded says
    why), found in the exception chain or in the remote traceback's text; else the error's first line."""
    from gen_models.core.errors import GenModelsError

    seen, current = set(), exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, GenModelsError):
            return str(current)
        current = getattr(current, "cause", None) or current.__cause__ or current.__context__
    text = _COLOUR.sub("", str(exc))
    found = _ERROR_LINE.search(text)
    if found:
        return found.group(2).strip()
    first = next((line.strip() for line in text.splitlines() if line.strip()), type(exc).__name__)
    return first[:300]


def run(job: Job, report: Report, *, where: str, workers: int | None = None, gpus_per_worker: float = 0.0,
        cpus_per_worker: float = 1.0, batch_size: int | None = None, num_cpus: int | None = None) -> str:
    """Run ``job`` on Ray; returns a short description of where it ran (for the summary)."""
    ray = import_ray()
    started = connect(where, num_cpus)
    try:
        _quiet_data_context(ray)
        env = worker_env()
        runtime_env = {"env_vars": env}
        by_key = job.by_key
        rows = [{"item": item.to_json()} for item in job.items]
        checks = ray.data.from_items(rows, override_num_blocks=max(1, min(MAX_BLOCKS, math.ceil(
            len(rows) / CHECK_ROWS_PER_TASK)))).map_batches(
            check_batch, batch_format="pandas", batch_size=CHECK_ROWS_PER_TASK, runtime_env=runtime_env,
            fn_kwargs={"task": job.task.name, "model": job.model, "options": job.options, "out_dir": str(job.out_dir),
                       "force": job.force})
        import json

        todo = []
        for row in checks.iter_rows():
            item = Item.from_json(row["item"])
            if report.checked(item, json.loads(row["state"])):
                todo.append({"item": row["item"], "state": row["state"]})
        if not todo:
            return f"Ray at {where}, nothing to process"
        if where == "local":  # one download here, before the actors start (they share this machine's cache)
            from gen_models.core import registry

            registry.weights_file(registry.entry(job.model))
        batch = max(1, batch_size or job.task.ray_batch)
        batches = math.ceil(len(todo) / batch)
        size = pool_size(ray, workers, gpus_per_worker, cpus_per_worker, batches, local=where == "local")
        todo.sort(key=lambda r: Item.from_json(r["item"]).key)
        remote: dict[str, Any] = {"num_cpus": cpus_per_worker}
        if gpus_per_worker > 0:
            remote["num_gpus"] = gpus_per_worker
        results = ray.data.from_items(todo, override_num_blocks=min(MAX_BLOCKS, batches)).map_batches(
            BatchActor, batch_format="pandas", batch_size=batch, runtime_env=runtime_env,
            compute=ray.data.ActorPoolStrategy(size=size, max_tasks_in_flight_per_actor=2),
            fn_constructor_kwargs={"task": job.task.name, "model": job.model, "options": job.options,
                                   "out_dir": str(job.out_dir), "env": env, "batch": batch},
            **remote)
        report.processing()
        try:
            for row in results.iter_rows():
                result = json.loads(row["result"])
                report.result(by_key[result["key"]], result)
        except Exception as exc:  # noqa: BLE001 (a worker that died or could not start: the job stops here)
            report.fault(f"the Ray workers stopped: {_root_cause(exc)} (Ray's logs: /tmp/ray/session_latest/logs "
                         "on each node); finished items are kept: run the same command again to resume")
        kind = f"{gpus_per_worker:g} GPU" if gpus_per_worker else f"{cpus_per_worker:g} CPU"
        return f"Ray at {where}, {size} worker{'s' if size > 1 else ''} × {kind}"
    finally:
        if started:
            ray.shutdown()
