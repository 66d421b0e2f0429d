"""`--executor ray` beyond one node: a cluster of a head and two worker nodes simulated on this
machine (Ray's own `ray.cluster_utils.Cluster`, each worker node with its own CPU resources).
The smoke profile's training units spread over both workers and give the local numbers; a
worker node removed mid-run leaves Ray to run its task again on the other, and the run still
ends with the local numbers. (A local Ray started by lowcap itself: test_ray.py.)"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import smoke_subset

from lowcap.report.build import summarize
from lowcap.report.compare import flat_numbers

pytestmark = pytest.mark.slow

ray = pytest.importorskip("ray", reason="Ray not installed (pip install 'lowcap[ray]')")
from ray.cluster_utils import Cluster  # noqa: E402

# Each worker node offers the two CPUs a task asks for (the driver's thread count), so one
# task runs per node at a time; the head offers none, so every task runs on a worker node.
# Every node on the loopback address: the cluster's traffic never leaves this machine.
WORKER = {"num_cpus": 2, "object_store_memory": 300 * 2**20, "node_ip_address": "127.0.0.1"}


@pytest.fixture(scope="module")
def cluster():
    if ray.is_initialized():
        ray.shutdown()
    cluster = Cluster(initialize_head=True,
                      head_node_args={**WORKER, "num_cpus": 0})
    workers = [cluster.add_node(**WORKER) for _ in range(2)]
    cluster.wait_for_nodes()
    yield cluster, workers
    cluster.shutdown()


# The smoke profile's models, and the studies whose numbers are compared (the others run no
# Ray task of their own), with how far each may move: a lane trained alone may sum in another
# order than inside a bigger cohort; saliency rank statistics move more; the narrow study
# runs one Ray task per (dataset, width, method) and gives the same numbers exactly.
COMPARED = {"capacity": 1e-4, "lr_grid": 1e-4, "pruning": 1e-4, "dead_neurons": 1e-4,
            "robustness": 1e-4, "saliency": 2e-3, "sensitivity": 1e-3, "narrow": 0.0}
# Training alone: what a node removed mid-run can interrupt.
TRAINING = ("capacity", "lr_grid")


def _reproduce(out: Path, address: str, studies) -> subprocess.Popen:
    config = smoke_subset(out.parent, *studies)
    return subprocess.Popen([sys.executable, "-m", "lowcap.cli", "reproduce", "--config",
                             str(config), "--out", str(out), "--quiet", "--device", "cpu",
                             "--executor", "ray", "--ray-address", address, "--no-report"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _nodes(out: Path) -> dict[str, str]:
    db = sqlite3.connect(out / "store" / "results.sqlite")
    row = db.execute("SELECT value FROM meta WHERE key = 'ray_nodes'").fetchone()
    db.close()
    return json.loads(row[0]) if row else {}


def _assert_local_numbers(out: Path, smoke_run: Path, studies) -> None:
    """The numbers of `studies` in a run on the cluster equal local training's, each within
    its bound in COMPARED, and every model has a local model's id."""
    local, remote = json.loads((smoke_run / "summary.json").read_text()), summarize(out)
    pairs = [(local[key], remote[key], key) for key in ("sensitivity", "narrow")
             if key in studies]
    pairs += [(local["protocols"][protocol][key], remote["protocols"][protocol][key], key)
              for protocol in local["protocols"] for key in studies
              if key in local["protocols"][protocol]]
    assert {key for _, _, key in pairs} == set(studies)
    for a, b, key in pairs:
        a, b = flat_numbers(a), flat_numbers(b)
        assert a.keys() == b.keys() and a, key
        worst = max((abs(a[k] - b[k]) for k in a if a[k] is not None), default=0.0)
        assert worst <= COMPARED[key], (key, worst)
    assert _checkpoints(out) and _checkpoints(out) <= _checkpoints(smoke_run)  # same ids


def test_training_units_spread_over_the_worker_nodes_and_give_the_local_numbers(
        cluster, smoke_run, tmp_path):
    head, workers = cluster
    out = tmp_path / "run"
    proc = _reproduce(out, head.address, COMPARED)
    _, err = proc.communicate(timeout=900)
    assert proc.returncode == 0, err[-3000:]
    ran_on = set(_nodes(out).values())
    assert ran_on <= {w.node_id for w in workers}  # never the head: it offers no CPU
    assert len(ran_on) == 2, ran_on
    _assert_local_numbers(out, smoke_run, COMPARED)


def test_a_worker_node_removed_mid_run_is_survived_with_the_local_numbers(cluster, smoke_run,
                                                                       tmp_path):
    head, workers = cluster
    doomed = workers[1]
    out = tmp_path / "run"
    proc = _reproduce(out, head.address, TRAINING)
    deadline = time.time() + 600
    while time.time() < deadline and proc.poll() is None and not _committed(out):
        time.sleep(0.2)
    assert proc.poll() is None, "the run ended before a node could be removed"
    head.remove_node(doomed)  # its raylet and workers die, a task in flight with them
    before = _nodes(out)  # units committed from here on ran after the removal
    workers.remove(doomed)
    _, err = proc.communicate(timeout=900)
    assert proc.returncode == 0, err[-3000:]
    after = {unit: node for unit, node in _nodes(out).items() if unit not in before}
    assert after and set(after.values()) == {workers[0].node_id}  # the survivor did the rest
    _assert_local_numbers(out, smoke_run, TRAINING)


def _committed(out: Path) -> bool:
    """Whether the run has committed a training unit (so tasks are spread and in flight)."""
    if not (out / "store" / "results.sqlite").exists():
        return False
    try:
        return len(_nodes(out)) >= 1
    except sqlite3.Error:
        return False


def _checkpoints(run: Path) -> set[str]:
    return {path.name for path in (run / "checkpoints").glob("*.safetensors")}


def test_a_local_ray_is_its_own_beside_a_running_cluster(cluster):
    """`--executor ray` without `--ray-address` starts a Ray of its own, even while another
    cluster runs on this machine (a bare ray.init() would join the latest one: two runs, or
    two test suites, would share one Ray, and one's end would kill the other's tasks)."""
    head, _ = cluster
    code = ("import ray\nfrom lowcap.run.distributed import RayExecutor\n"
            "executor = RayExecutor()\nprint(ray.get_runtime_context().gcs_address)\n"
            "executor.shutdown()\n")
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=300, env=env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split()[-1] != head.address
