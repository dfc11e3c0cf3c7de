"""A batch job on this machine, in this process: check every item, load the model once, process what is left."""

from __future__ import annotations

from gen_models.batch.driver import Job, Report
from gen_models.batch.worker import Worker, check
from gen_models.core.errors import GenModelsError


def run(job: Job, report: Report) -> None:
    todo = []
    for item in job.items:
        state = check(item, job.task.name, job.model, job.options, job.out_dir, job.force)
        if report.checked(item, state):
            todo.append((item, state["hashes"]))
    if not todo:
        return
    report.processing()  # items/s counts the model's loading, as on Ray (where each actor loads it)
    try:
        worker = Worker(job.task.name, job.model, job.options, job.out_dir)
    except GenModelsError:
        raise
    except Exception as exc:  # noqa: BLE001 (a model that cannot be built: the job cannot run)
        raise GenModelsError(f"could not load {job.model}: {type(exc).__name__}: {exc}") from exc
    report.load_seconds = worker.load_seconds
    by_key = job.by_key
    for start in range(0, len(todo), worker.batch):
        for result in worker.process(todo[start:start + worker.batch]):
            report.result(by_key[result["key"]], result)
