"""An epoch's updates never wait for the device: no value is read back to the host between the
first and the last step (so a GPU stays busy and the step can be captured in a CUDA graph),
and a diverged model stays isolated on both readout paths."""

from __future__ import annotations

import pytest
import torch
from conftest import small_split
from torch.utils._python_dispatch import TorchDispatchMode

from lowcap.models import Cohort, Lane, ModelSpec
from lowcap.training.epoch_batches import epoch_batches
from lowcap.training.graphs import StepGraphs
from lowcap.training.trainer import run_epoch_steps

# Operators whose result depends on a tensor's values on the host: each one waits for the
# device (`.item()`, `bool(t)`, `nonzero`, boolean-mask indexing, data-dependent shapes).
HOST_READS = {"_local_scalar_dense", "is_nonzero", "item", "nonzero", "masked_select",
              "unique", "_unique2", "equal", "allclose"}


def _has_boolean_index(args) -> bool:
    indices = args[1] if len(args) > 1 and isinstance(args[1], list | tuple) else []
    return any(isinstance(i, torch.Tensor) and i.dtype == torch.bool for i in indices)


class HostReads(TorchDispatchMode):
    """Records every operator of HOST_READS that runs inside the block."""

    def __init__(self):
        super().__init__()
        self.seen: list[str] = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        name = func.overloadpacket.__name__
        if name in HOST_READS:
            self.seen.append(name)
        elif name.startswith("index") and _has_boolean_index(args):
            # Indexing with a boolean mask finds the mask's True entries on the host first.
            self.seen.append(f"{name} with a boolean mask")
        return func(*args, **(kwargs or {}))


def _cohort(mnist, device="cpu", augment=False, depth=1) -> Cohort:
    split = small_split(mnist, (4, 9), 0, 300)
    models = (ModelSpec(4, 0.05, 0), ModelSpec(6, 1e38, 0), ModelSpec(9, 0.05, 0))
    return Cohort([Lane(split, 0, models), Lane(small_split(mnist, (3, 8), 1, 200), 1,
                                                 models[:1], augment)], device=device,
                  depth=depth)


def _epochs(cohort, bank, batch_size, budget="own"):
    """Run two epochs' steps, yielding once per epoch inside the steps' context."""
    full_x = None
    for epoch in range(2):
        batches = epoch_batches(cohort, bank, epoch, batch_size, budget)
        if batch_size is None:
            full_x = [batches.inputs(bank.gather(batches.rows[:, 0]), 0)]
        yield batches, full_x


@pytest.mark.parametrize(("batch_size", "budget", "gemm_columns", "augment", "depth"),
                         [(64, "own", 64, False, 1), (None, 64, 64, False, 1),
                          (64, "own", 1, False, 1), (64, "own", 64, True, 1),
                          (None, 64, 64, True, 1), (64, "own", 64, False, 3),
                          (None, 64, 1, False, 3)])
def test_no_host_read_inside_an_epoch(mnist, bank, monkeypatch, batch_size, budget,
                                      gemm_columns, augment, depth):
    """With a model that diverges in the first steps (lr 1e38), on the GEMM and the exact
    readout path, for mini-batches and a repeated full batch, with one lane augmented or
    none, with one hidden layer or three."""
    monkeypatch.setattr(Cohort, "GEMM_MAX_COLUMNS", gemm_columns)
    cohort = _cohort(mnist, augment=augment, depth=depth)
    for batches, full_x in _epochs(cohort, bank, batch_size, budget):
        with HostReads() as reads:
            logits = run_epoch_steps(cohort, bank, batches, full_x)
        assert reads.seen == [], reads.seen
    assert not torch.isfinite(logits[0, :, 1]).all()  # the blow-up did happen
    assert torch.isfinite(logits[0, :, [0, 2]]).all()


def test_the_recorder_sees_a_host_read():
    with HostReads() as reads:
        bool(torch.ones(2).sum() > 1)
        ones = torch.ones(3)
        ones[torch.tensor([True, False, True])] = 0.0
    assert reads.seen == ["_local_scalar_dense", "index_put_ with a boolean mask"]


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("depth", [1, 3])
def test_no_synchronisation_on_cuda(mnist, depth):
    from lowcap.data import ImageBank

    bank = ImageBank.from_mnist(mnist, device="cuda")
    cohort = _cohort(mnist, "cuda", depth=depth)
    for batches, full_x in _epochs(cohort, bank, 64):
        torch.cuda.synchronize()
        torch.cuda.set_sync_debug_mode("error")
        try:
            run_epoch_steps(cohort, bank, batches, full_x)
        finally:
            torch.cuda.set_sync_debug_mode("default")


@pytest.mark.parametrize(("gemm_columns", "depth"), [(64, 1), (1, 1), (64, 3), (1, 3)])
def test_a_non_finite_unit_makes_only_its_model_nan(mnist, bank, monkeypatch, gemm_columns,
                                                    depth):
    monkeypatch.setattr(Cohort, "GEMM_MAX_COLUMNS", gemm_columns)
    cohort = _cohort(mnist, depth=depth)
    assert cohort._uses_gemm() == (gemm_columns == 64)
    x, _ = bank.inputs(cohort.lanes[0].split, "val")
    before = cohort.logits(x.unsqueeze(0).expand(2, -1, -1))
    units = cohort.unit_slices[0][1]
    cohort.w1[0, units.start] = float("inf")
    after = cohort.logits(x.unsqueeze(0).expand(2, -1, -1))
    assert torch.isnan(after[0, :, 1]).all()
    torch.testing.assert_close(after[0, :, [0, 2]], before[0, :, [0, 2]], rtol=0, atol=0)
    torch.testing.assert_close(after[1], before[1], rtol=0, atol=0)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize(("batch_size", "budget", "depth"), [(64, "own", 1), (None, 64, 1),
                                                             (64, "own", 3)])
def test_cuda_graph_training_equals_eager(mnist, batch_size, budget, depth):
    """Replaying the captured step trains every model as eager launches do, a diverging
    model included, and reports the same metrics."""
    from lowcap.data import ImageBank
    from lowcap.training import train_cohort

    bank = ImageBank.from_mnist(mnist, device="cuda")
    runs = {}
    for graphs in (True, False):
        cohort, seen = _cohort(mnist, "cuda", depth=depth), []
        train_cohort(cohort, bank, 3, batch_size, budget=budget, cuda_graphs=graphs,
                     on_epoch=lambda c, r, seen=seen: seen.append(r))
        runs[graphs] = (cohort, seen)
    (graphed, seen_graphed), (eager, seen_eager) = runs[True], runs[False]
    assert seen_graphed[-1].diverged.tolist() == seen_eager[-1].diverged.tolist()
    for g, i, _ in eager.models():
        if not seen_eager[-1].diverged[g, i]:
            for key, value in eager.model_params(g, i).items():
                torch.testing.assert_close(graphed.model_params(g, i)[key], value,
                                           rtol=1e-5, atol=1e-6)
    for name, values in seen_eager[-1].metrics.items():
        torch.testing.assert_close(torch.from_numpy(seen_graphed[-1].metrics[name]),
                                   torch.from_numpy(values), rtol=1e-5, atol=1e-6,
                                   equal_nan=True)


class ReplayBuffer(StepGraphs):
    """A CPU stand-in for graph replay: every call's result lands in one buffer that the next
    call overwrites, as a CUDA graph's static output does."""

    def get(self, kind, step, *example):
        buffer = []

        def replay(*inputs):
            out = step(*inputs)
            if not buffer:
                buffer.append(out.clone())
            return buffer[0].copy_(out)

        return self.steps.setdefault(kind, replay)


@pytest.mark.parametrize(("batch_size", "budget"), [(64, "own"), (None, 64)])
def test_steps_through_a_replayed_buffer_equal_eager_steps(mnist, bank, batch_size, budget):
    """What the epoch loop does with a captured step (static output buffer) keeps every
    step's logits and trains the same models, on the CPU too."""
    results = []
    for graphs in (None, "replay"):
        cohort = _cohort(mnist)
        replay = ReplayBuffer(cohort) if graphs else None
        logits = [run_epoch_steps(cohort, bank, batches, full_x, replay)
                  for batches, full_x in _epochs(cohort, bank, batch_size, budget)]
        results.append((cohort.state(), logits))
    (eager_state, eager_logits), (state, logits) = results
    for a, b in zip(logits, eager_logits, strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=0, equal_nan=True)
    for key, value in eager_state.items():
        torch.testing.assert_close(state[key], value, rtol=0, atol=0, equal_nan=True)
