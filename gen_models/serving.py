"""The heavy pipelines as Ray Serve deployments (``python app.py --ray-serve [ADDRESS]``).

Each group (talking heads, colorization, face generation, face swap) becomes a deployment with its own replicas,
GPU fraction and autoscaling limits; the functions marked ``@served(group)`` in the pipelines then send their calls
there (:mod:`gen_models.media.remote` packs files, progress and errors), so the Gradio handlers are unchanged and the
light tabs (age, digits) stay in-process. Ray is optional (``pip install -r requirements-ray.txt``).

The deployments' settings come from a small YAML file (``--serve-config``), one mapping per group::

    talking-heads: {min_replicas: 1, max_replicas: 4, num_gpus: 0.5}
    colorization: {replicas: 2, num_gpus: 0.25}

Defaults: one replica each, half a CPU, a quarter of a GPU when the cluster has GPUs. On a cluster every node needs this
install (the same code, ``pip install -r requirements.txt -r requirements-ray.txt``) and its weights cache.
"""

from __future__ import annotations

import dataclasses
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from gen_models.core.errors import GenModelsError
from gen_models.media import remote

GROUP_MODULES = {
    "talking-heads": "gen_models.pipelines.animate",
    "colorization": "gen_models.pipelines.colorize",
    "face-generation": "gen_models.pipelines.faces",
    "face-swap": "gen_models.pipelines.face_swap",
}
"""Each deployment and the module whose ``@served`` functions it runs."""
RAY_MISSING = "ray is not installed: pip install -r requirements-ray.txt"


@dataclasses.dataclass(frozen=True)
class GroupSettings:
    """One deployment's resources: fixed ``replicas``, or autoscaling between ``min_replicas`` and ``max_replicas``."""

    replicas: int = 1
    min_replicas: int | None = None
    max_replicas: int | None = None
    num_cpus: float = 0.5
    """CPUs per replica (half a core: the four deployments fit on a 2-core machine)."""
    num_gpus: float | None = None
    """A fraction of a GPU per replica; None: 0.25 when the cluster has GPUs, else 0."""

    def options(self, cluster_gpus: float) -> dict[str, Any]:
        gpus = (0.25 if cluster_gpus > 0 else 0.0) if self.num_gpus is None else self.num_gpus
        found: dict[str, Any] = {"ray_actor_options": {"num_cpus": self.num_cpus, "num_gpus": gpus},
                                 "max_ongoing_requests": 1}  # one render at a time per replica, as in-process
        if self.max_replicas is not None and self.max_replicas > (self.min_replicas or 1):
            found["autoscaling_config"] = {"min_replicas": self.min_replicas or 1, "max_replicas": self.max_replicas,
                                           "target_ongoing_requests": 1}
        else:
            found["num_replicas"] = self.replicas
        return found

    @property
    def most(self) -> int:
        return max(self.replicas, self.max_replicas or 0)


def read_config(path: str | os.PathLike | None) -> dict[str, GroupSettings]:
    """Every group's settings: the YAML file's where given, the defaults elsewhere; errors name the file and key."""
    found = {group: GroupSettings() for group in GROUP_MODULES}
    if path is None:
        return found
    import yaml

    name = Path(path).name
    try:
        data = yaml.safe_load(Path(path).read_text()) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise GenModelsError(f"{name}: cannot read the Serve settings ({exc})") from None
    if not isinstance(data, dict):
        raise GenModelsError(f"{name}: expected a mapping of deployment names to settings")
    fields = {f.name for f in dataclasses.fields(GroupSettings)}
    for group, values in data.items():
        if group not in GROUP_MODULES:
            raise GenModelsError(f"{name}: no deployment named {group!r} (known: {', '.join(GROUP_MODULES)})")
        unknown = set(values or {}) - fields
        if unknown:
            raise GenModelsError(f"{name}: {group}: unknown setting(s) {', '.join(sorted(unknown))} "
                                 f"(known: {', '.join(sorted(fields))})")
        settings = GroupSettings(**(values or {}))
        if settings.replicas < 1 or (settings.num_gpus or 0) < 0 or settings.num_cpus < 0:
            raise GenModelsError(f"{name}: {group}: replicas must be ≥ 1 and resources ≥ 0")
        found[group] = settings
    return found


class PipelineServer:
    """One replica: runs its group's pipeline functions on the inputs it is sent, streaming progress back."""

    def __init__(self, group: str) -> None:
        import importlib

        importlib.import_module(GROUP_MODULES[group])
        self.group, self.targets = group, set(remote.GROUPS.get(group, []))

    def call(self, target: str, args: tuple, kwargs: dict) -> Iterator[tuple]:
        if target not in self.targets:
            yield ("error", "GenModelsError", f"the {self.group} deployment does not run {target}")
            return
        with tempfile.TemporaryDirectory(prefix="served-") as scratch:
            yield from remote.run_here(target, args, kwargs, Path(scratch))


def _import_ray():
    try:
        import ray
        from ray import serve
    except ImportError:
        raise GenModelsError(RAY_MISSING) from None
    return ray, serve


def connect(address: str = "local", num_cpus: int | None = None) -> None:
    """Join the cluster at ``address`` (``auto``: the one this node belongs to), or start one here (``local``)."""
    ray, _ = _import_ray()
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")  # no usage reports to the outside
    if ray.is_initialized():
        return
    from gen_models.batch.ray_runner import worker_env  # the batch workers' environment: settings, path, no telemetry

    runtime_env = {"env_vars": worker_env()}
    if address == "local":
        ray.init(num_cpus=num_cpus or os.cpu_count(), include_dashboard=False, runtime_env=runtime_env,
                 object_store_memory=512 * 1024**2, log_to_driver=False)
    else:
        ray.init(address=address, runtime_env=runtime_env, log_to_driver=False)


def _sender(handle) -> remote.Sender:
    def send(target: str, args: tuple, kwargs: dict):
        return handle.options(stream=True).call.remote(target, args, kwargs)

    return send


def start(address: str = "local", config: dict[str, GroupSettings] | None = None,
          groups: tuple[str, ...] | None = None) -> dict[str, GroupSettings]:
    """Deploy the groups (all by default) and send their pipelines' calls there; returns the settings used."""
    ray, serve = _import_ray()
    connect(address)
    config = config or read_config(None)
    cluster_gpus = float(ray.cluster_resources().get("GPU", 0))
    serve.start(proxy_location="Disabled")  # called through handles only: no HTTP port is opened
    deployment = serve.deployment(PipelineServer)
    chosen = groups or tuple(GROUP_MODULES)
    for group in chosen:
        app = deployment.options(name=group, **config[group].options(cluster_gpus)).bind(group)
        serve.run(app, name=group, route_prefix=None)
        remote.route(group, _sender(serve.get_app_handle(group)))
    return {group: config[group] for group in chosen}


def stop() -> None:
    """Back to in-process, and the deployments removed."""
    for group in GROUP_MODULES:
        remote.route(group, None)
    try:
        _, serve = _import_ray()
        serve.shutdown()
    except GenModelsError:
        pass
