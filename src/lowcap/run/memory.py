"""Will the run fit? The memory the largest cohort of a run needs, checked before anything
is allocated or written, so a width that cannot fit is a clear error rather than a crash (or
the kernel's OOM killer) minutes into a run."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

import torch

from lowcap.data.datasets import DatasetFacts, facts
from lowcap.errors import UserInputError
from lowcap.models.step import CHUNK
from lowcap.run.plan import ModelPlan, datasets_of

GIB = 2**30


def bank_values(data: DatasetFacts) -> int:
    """Values of a dataset's bank: every input and the padding row."""
    return (sum(data.train_counts) + sum(data.test_counts) + 1) * data.input_dim


def _split_sizes(plan: ModelPlan) -> tuple[int, int, int]:
    """(train, validation, test) sample counts of a plan's split, from its dataset's class
    counts."""
    data = facts(plan.hp.dataset)
    a, b = (data.train_counts[d] for d in plan.pair)
    pool = 2 * min(a, b) if plan.hp.balance else a + b
    val = round(pool * plan.hp.val_fraction)
    test = sum(data.test_counts[d] for d in plan.pair)
    return min(pool - val, plan.hp.train_size or pool), val, test


def cohort_bytes(plans: list[ModelPlan]) -> int:
    """Peak bytes of training `plans` as one cohort: weights with their gradient and snapshot
    copies, one chunk of hidden activations and their gradients, and the inputs it keeps on
    the device (the full batch, validation and test images)."""
    lanes: dict[tuple, list[ModelPlan]] = defaultdict(list)
    for plan in plans:
        lanes[plan.lane_key()].append(plan)
    n_lanes = len(lanes)
    hidden = max(sum(p.hidden for p in members) for members in lanes.values())
    sizes = [_split_sizes(members[0]) for members in lanes.values()]
    batch = plans[0].hp.batch_size
    rows = min(batch or max(s[0] for s in sizes), CHUNK)
    kept_inputs = max((0 if batch else s[0]) + s[1] + s[2] for s in sizes)
    # A float64 cohort also needs the bank's float64 copy.
    float_bytes = plans[0].hp.torch_dtype.itemsize
    data = facts(plans[0].hp.dataset)
    bank_copy = 0 if float_bytes == 4 else bank_values(data) * float_bytes
    dim = data.input_dim
    deep = (plans[0].hp.depth - 1) * (4 * hidden * hidden + rows * hidden)  # block layers
    return bank_copy + float_bytes * n_lanes * (4 * hidden * dim + 4 * rows * hidden
                                                + kept_inputs * dim + deep)


def largest_cohort(groups: Iterable[tuple[str, str, list[ModelPlan]]]) -> tuple[str, int]:
    """(description, bytes) of the training cohort that needs the most memory, among the
    `groups` ((study, protocol, plans) each) a run trains."""
    worst = ("", 0)
    for study, protocol, group in groups:
        cohorts: dict[tuple, list[ModelPlan]] = defaultdict(list)
        for plan in group:
            cohorts[plan.cohort_key()].append(plan)
        for plans in cohorts.values():
            need = cohort_bytes(plans)
            if need > worst[1]:
                worst = (f"{study} under the {protocol} protocol ({len(plans)} models, "
                         f"widths up to {max(p.hidden for p in plans)})", need)
    return worst


def available_bytes(device: torch.device) -> int | None:
    """Memory free for a new allocation on `device` (None when it cannot be told)."""
    if device.type == "cuda":
        return torch.cuda.mem_get_info(device)[0]
    try:
        with open("/proc/meminfo", encoding="ascii") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def check_memory(groups: Iterable[tuple[str, str, list[ModelPlan]]], device: torch.device
                 ) -> None:
    """UserInputError naming the cohort and both sizes if the largest cohort cannot fit."""
    groups = list(groups)
    what, need = largest_cohort(groups)
    used = datasets_of(plan for _, _, plans in groups for plan in plans)
    need += sum(bank_values(facts(name)) * 4 for name in used)  # the float32 banks
    free = available_bytes(device)
    if free is not None and need > free:
        raise UserInputError(
            f"the largest cohort, {what}, needs about {need / GIB:.1f} GiB of memory and "
            f"{device.type} has {free / GIB:.1f} GiB free; use smaller widths, fewer seeds or "
            "learning rates, or a machine with more memory")
