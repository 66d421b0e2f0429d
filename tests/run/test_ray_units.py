"""How the Ray executor cuts a training phase into tasks: whole lanes, consecutive, at most as
many tasks as the cluster runs at once (no Ray needed)."""

from types import SimpleNamespace

import pytest

from lowcap.run.distributed import task_slots, task_units

LANES = [["a1", "a2"], ["b1"], ["c1", "c2"], ["d1"]]


@pytest.mark.parametrize("slots, expected", [
    (1, [["a1", "a2", "b1", "c1", "c2", "d1"]]),
    (2, [["a1", "a2", "b1"], ["c1", "c2", "d1"]]),
    (3, [["a1", "a2", "b1"], ["c1", "c2"], ["d1"]]),
    (4, LANES),
    (10, LANES),  # never more tasks than lanes
    (0, [["a1", "a2", "b1", "c1", "c2", "d1"]]),
])
def test_task_units_are_consecutive_whole_lanes(slots, expected):
    units = task_units(LANES, slots)
    assert units == expected
    assert [plan for unit in units for plan in unit] == [p for lane in LANES for p in lane]


def test_task_slots_are_what_the_cluster_has_over_what_a_task_asks():
    def cluster(resources: dict) -> SimpleNamespace:
        return SimpleNamespace(cluster_resources=lambda: resources)

    cpu = {"num_cpus": 2, "num_gpus": 0}
    assert task_slots(cluster({"CPU": 4.0, "GPU": 1.0}), cpu) == 2
    assert task_slots(cluster({"CPU": 5.0}), cpu) == 2
    assert task_slots(cluster({"CPU": 2.0}), cpu) == 1  # one machine: the whole group, one task
    assert task_slots(cluster({"CPU": 1.0}), cpu) == 1
    assert task_slots(cluster({}), cpu) == 1
    gpu = {"num_cpus": 8, "num_gpus": 1}  # one GPU: one task at a time, however many CPUs
    assert task_slots(cluster({"CPU": 32.0, "GPU": 1.0}), gpu) == 1
    assert task_slots(cluster({"CPU": 32.0, "GPU": 2.0}), gpu) == 2
    assert task_slots(cluster({"CPU": 8.0, "GPU": 4.0}), gpu) == 1
