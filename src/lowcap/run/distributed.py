"""The Ray executor: training units and analysis work items run on a Ray cluster; results come
back to the one store writer (this process), which checkpoints and commits them exactly as local
work does.

A cohort group's lanes (models sharing a split and batch order) are cut into as many tasks as
the cluster can run at once (its CPUs over the driver's threads; with `--device cuda` no more
than its GPUs), each a cohort of consecutive lanes: a cluster spreads a study's training over
its workers, and each task keeps the cohort's batching (on one machine the whole group is one
task: one task per lane was much slower there, `benchmarks/bench_overlap.py --ray`). A task
trains its cohort to the end (with the same unit trainer as local work) and returns per-epoch
metrics and final weights; a run killed mid-study resumes at unit granularity (finished units
are in the store), not from mid-training snapshots as the local executor does.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Callable
from typing import Any

import torch

from lowcap.data.bank import ImageBank
from lowcap.data.datasets import Dataset
from lowcap.errors import LowcapError, UserInputError
from lowcap.run.context import RunContext
from lowcap.run.plan import ModelPlan
from lowcap.run.runner import layout, store_trained, train_unit, unit_id
from lowcap.run.split import plan_split


def train_remote(data: Dataset, plans: list[ModelPlan], device: str, threads: int
                 ) -> dict[str, Any]:
    """Train one unit anywhere (no store access) with the one unit trainer: epoch rows, each
    model's final weights (CPU tensors) and divergence epoch, and the Ray node it ran on.
    `threads` matches the driver's, so CPU results are bit-for-bit those of local training
    (GEMM reductions depend on the thread count)."""
    import ray

    torch.set_num_threads(threads)
    bank = ImageBank.from_dataset(data, device=device, dtype=plans[0].hp.torch_dtype)
    rows: list[tuple] = []
    models = train_unit(plans, bank, lambda plan: plan_split(data, plan),
                        on_epoch=lambda epoch: rows.extend(epoch.rows))
    return {"rows": rows, "node": ray.get_runtime_context().get_node_id(),
            "models": [(plan, {k: v.cpu() for k, v in params.items()}, diverged)
                       for plan, params, diverged in models]}


def _call_with_threads(fn: Callable[..., Any], threads: int, *args: Any) -> Any:
    torch.set_num_threads(threads)  # as the driver: same reductions, same results
    return fn(*args)


# Times Ray runs a task again after its worker or node died (Ray's default, stated).
RETRIES = 3

_PROBE = """
import json, sys, ray
ray.init(address=sys.argv[1], include_dashboard=False, logging_level="ERROR",
         log_to_driver=False, configure_logging=False, **json.loads(sys.argv[2]))
ray.shutdown()
"""


def _join_options(address: str | None) -> dict[str, str]:
    """ray.init's options for joining `address`: a local Ray (None) listens on the loopback
    address only, so that its traffic stays on this machine."""
    return {"_node_ip_address": "127.0.0.1"} if address is None else {}


def check_cluster(address: str, timeout: float) -> None:
    """UserInputError unless a Ray cluster answers at `address` within `timeout` seconds.

    `ray.init` retries an address that does not answer for minutes, and cannot be interrupted,
    so it is tried first in a child process that can be killed: a closed port fails at once,
    a silent one after `timeout`."""
    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():
        raise UserInputError(f"--ray-address {address!r}: expected HOST:PORT of the cluster's "
                             "head node (e.g. 10.0.0.5:6379)")
    try:
        socket.create_connection((host, int(port)), timeout=timeout).close()
    except OSError as exc:
        raise UserInputError(f"--ray-address {address}: nothing answers there "
                             f"({exc.strerror or exc}); is the cluster up?") from exc
    try:
        probe = subprocess.run([sys.executable, "-c", _PROBE, address,
                                json.dumps(_join_options(address))], capture_output=True,
                               text=True, timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        raise UserInputError(f"--ray-address {address}: no Ray cluster answered within "
                             f"{timeout:g} s (see --ray-timeout); check the address and that "
                             "the cluster is up") from exc
    if probe.returncode != 0:
        last = (probe.stderr.strip().splitlines() or ["unknown error"])[-1]
        raise UserInputError(f"--ray-address {address}: cannot join the Ray cluster ({last})")


def task_units(lane_plans: list[list[ModelPlan]], slots: int) -> list[list[ModelPlan]]:
    """The plans of `lane_plans` (one list per lane) cut into at most `slots` units of
    consecutive whole lanes, as even in lanes as they go."""
    count = max(1, min(slots, len(lane_plans)))
    size, extra = divmod(len(lane_plans), count)
    units, start = [], 0
    for i in range(count):
        stop = start + size + (i < extra)
        units.append([plan for lane in lane_plans[start:stop] for plan in lane])
        start = stop
    return units


def task_slots(ray: Any, resources: dict[str, int]) -> int:
    """How many tasks asking for `resources` (Ray's num_cpus and num_gpus) the cluster can run
    at once: its CPUs over a task's, and its GPUs over a task's where it asks for any (at
    least 1)."""
    total = ray.cluster_resources()
    asked = {"CPU": resources.get("num_cpus", 0), "GPU": resources.get("num_gpus", 0)}
    return max(1, min((int(total.get(name, 0) // need) for name, need in asked.items()
                       if need > 0), default=1))


class RayExecutor:
    """Runs training units as Ray tasks; `address=None` starts a local Ray instance of its
    own. With `gpus=1` every task asks for a GPU (runs on `--device cuda` send CUDA tensors
    to tasks)."""

    def __init__(self, address: str | None = None, gpus: int = 0, timeout: float = 30.0):
        if address is None:
            # A local Ray keeps to the loopback address: without this, Ray resolves "this
            # node" to the machine's network address and listens there. (Ray reads it on
            # import; a Ray imported earlier by the caller keeps its own setting.)
            os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
        try:
            import ray
        except ImportError as exc:
            raise UserInputError("--executor ray: Ray is not installed; "
                                 "pip install 'lowcap[ray]'") from exc
        self.ray = ray
        if address is not None:
            check_cluster(address, timeout)
        if not ray.is_initialized():
            try:
                # "local": a Ray of this process's own, never one that `ray start` (another
                # run's, a test's) left on this machine, which a bare ray.init() would join.
                ray.init(address=address or "local", include_dashboard=False,
                         logging_level="ERROR", log_to_driver=False, configure_logging=False,
                         **_join_options(address))
            except ConnectionError as exc:
                raise UserInputError(f"--ray-address {address}: cannot reach a Ray cluster "
                                     f"there ({exc})") from exc
        self.threads = torch.get_num_threads()
        self.resources = {"num_cpus": self.threads, "num_gpus": gpus}
        self._task = ray.remote(**self.resources, max_retries=RETRIES)(train_remote)

    def train(self, ctx: RunContext, groups: list[list[ModelPlan]]) -> None:
        """Train every group, its lanes cut into as many tasks as the cluster runs at once,
        committing each unit as it finishes (and, in the store's meta `ray_nodes`, the node each
        unit ran on). A task whose node dies is retried on another by Ray (up to `RETRIES`
        times); if it still fails, the units already committed stay and a rerun trains only the
        rest."""
        slots = task_slots(self.ray, self.resources)
        units = [unit for group in groups
                 for unit in task_units(layout(group, ctx.split)[1], slots)]
        data = {name: self.ray.put(ctx.datasets.get(name))
                for name in {plans[0].hp.dataset for plans in units}}
        device = ctx.device.type
        pending = {self._task.remote(data[plans[0].hp.dataset], plans, device, self.threads): plans
                   for plans in units}
        nodes = dict(ctx.store.get_meta("ray_nodes") or {})
        while pending:
            ready, _ = self.ray.wait(list(pending), num_returns=1)
            plans = pending.pop(ready[0])
            result = self._get(ready[0])
            uid = unit_id(plans)
            store_trained(ctx, uid, result["models"], result["rows"])
            nodes[uid] = result["node"]
            ctx.store.set_meta("ray_nodes", nodes)

    def _get(self, ref: Any) -> Any:
        """A task's result; a task that failed on the cluster (after Ray's retries) becomes a
        lowcap error that says what was kept and how to go on."""
        try:
            return self.ray.get(ref)
        except self.ray.exceptions.RayError as exc:
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            raise LowcapError(f"a Ray task failed on the cluster after {RETRIES} retries "
                              f"({type(exc).__name__}: {first}); the units finished before it "
                              "are in the store: run the same command again to train the "
                              "rest") from exc

    def map(self, fn: Callable[..., Any], items: list[tuple]) -> list[Any]:
        """[fn(*item) for item in items], one Ray task per item, results in order."""
        task = self.ray.remote(**self.resources, max_retries=RETRIES)(_call_with_threads)
        return [self._get(ref) for ref in [task.remote(fn, self.threads, *item)
                                           for item in items]]

    def shutdown(self) -> None:
        self.ray.shutdown()
