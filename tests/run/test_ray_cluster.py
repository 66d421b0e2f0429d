"""`--executor ray` beyond one node: a cluster of a head and two worker nodes simulated on this
machine (Ray's own `ray.cluster_utils.Cluster`, each worker node with its own CPU resources).
The smoke profile's training units spread over both workers and give the local numbers; a
worker node removed mid-run leaves Ray to run its task again on the other, and the run still
ends with the local numbers."""

from __future__ import annotations

import json
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
# Ray task of their own).
COMPARED = ("capacity", "lr_grid", "pruning", "dead_neurons", "robustness", "narrow")


def _reproduce(out: Path, address: str) -> subprocess.Popen:
    config = smoke_subset(out.parent, *COMPARED)
    return subprocess.Popen([sys.executable, "-m", "lowcap.cli", "reproduce", "--config",
                             str(config), "--out", str(out), "--quiet", "--device", "cpu",
                             "--executor", "ray", "--ray-address", address, "--no-report"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _nodes(out: Path) -> dict[str, str]:
    db = sqlite3.connect(out / "store" / "results.sqlite")
    row = db.execute("SELECT value FROM meta WHERE key = 'ray_nodes'").fetchone()
    db.close()
    return json.loads(row[0]) if row else {}


def _assert_local_numbers(out: Path, smoke_run: Path) -> None:
    """The numbers of a run on the cluster equal local training's, as the single-node Ray
    test holds them: training-derived numbers to float rounding (a lane trained alone sums in
    another order than inside a bigger cohort), the narrow study exactly."""
    local = json.loads((smoke_run / "summary.json").read_text())
    remote = summarize(out)
    assert remote["narrow"] == local["narrow"]
    for protocol in local["protocols"]:
        for key in COMPARED[:-1]:
            a = flat_numbers(local["protocols"][protocol][key])
            b = flat_numbers(remote["protocols"][protocol][key])
            assert a.keys() == b.keys()
            worst = max((abs(a[k] - b[k]) for k in a if a[k] is not None), default=0.0)
            assert worst <= 1e-4, (protocol, key, worst)
    assert _checkpoints(out) and _checkpoints(out) <= _checkpoints(smoke_run)  # same ids


def test_training_units_spread_over_the_worker_nodes_and_give_the_local_numbers(
        cluster, smoke_run, tmp_path):
    head, workers = cluster
    out = tmp_path / "run"
    proc = _reproduce(out, head.address)
    _, err = proc.communicate(timeout=900)
    assert proc.returncode == 0, err[-3000:]
    ran_on = set(_nodes(out).values())
    assert ran_on <= {w.node_id for w in workers}  # never the head: it offers no CPU
    assert len(ran_on) == 2, ran_on
    _assert_local_numbers(out, smoke_run)


def test_a_worker_node_removed_mid_run_is_survived_with_the_local_numbers(cluster, smoke_run,
                                                                       tmp_path):
    head, workers = cluster
    doomed = workers[1]
    out = tmp_path / "run"
    proc = _reproduce(out, head.address)
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
    _assert_local_numbers(out, smoke_run)


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
