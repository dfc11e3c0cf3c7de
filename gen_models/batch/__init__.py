"""Batch jobs: one task over many inputs, on this machine or as a Ray Data pipeline (``python -m gen_models batch``).

* :mod:`~gen_models.batch.jobs`: the tasks (age, colorize, translate, faces, animate, face-swap), their items and
  output names;
* :mod:`~gen_models.batch.sidecar`: hashes, the sidecar beside each output, atomic placement (resumable jobs);
* :mod:`~gen_models.batch.worker`: checking an item, and the worker that loads the model once and runs the pipeline;
* :mod:`~gen_models.batch.local` and :mod:`~gen_models.batch.ray_runner`: the two ways of running a job;
* :mod:`~gen_models.batch.driver`: progress, failures.jsonl and the summary; :mod:`~gen_models.batch.cli`: the command.

The layer above the pipelines: it imports them, nothing imports it. Ray is optional and imported only when used.
"""
