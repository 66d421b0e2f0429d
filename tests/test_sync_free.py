"""An epoch's updates never wait for the device: no value is read back to the host between the
first and the last step (so a GPU stays busy and the step can be captured in a CUDA graph),
and a diverged model stays isolated on both readout paths."""

from __future__ import annotations

import pytest
import torch
from conftest import small_split
from torch.utils._python_dispatch import TorchDispatchMode

from lowcap.models import Cohort, Lane, ModelSpec
from lowcap.training.trainer import _epoch_batches, run_epoch_steps

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


def _cohort(mnist, device="cpu") -> Cohort:
    split = small_split(mnist, (4, 9), 0, 300)
    models = (ModelSpec(4, 0.05, 0), ModelSpec(6, 1e38, 0), ModelSpec(9, 0.05, 0))
    return Cohort([Lane(split, 0, models), Lane(small_split(mnist, (3, 8), 1, 200), 1,
                                                 models[:1])], device=device)


def _epochs(cohort, bank, batch_size, budget="own"):
    """Run two epochs' steps, yielding once per epoch inside the steps' context."""
    full_x = None
    for epoch in range(2):
        batches = _epoch_batches(cohort, bank, epoch, batch_size, budget)
        if batch_size is None:
            full_x = [bank.gather(batches.rows[:, 0])]
        yield batches, full_x


@pytest.mark.parametrize(("batch_size", "budget", "gemm_columns"),
                         [(64, "own", 64), (None, 64, 64), (64, "own", 1)])
def test_no_host_read_inside_an_epoch(mnist, bank, monkeypatch, batch_size, budget,
                                      gemm_columns):
    """With a model that diverges in the first steps (lr 1e38), on the GEMM and the exact
    readout path, for mini-batches and a repeated full batch."""
    monkeypatch.setattr(Cohort, "GEMM_MAX_COLUMNS", gemm_columns)
    cohort = _cohort(mnist)
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
def test_no_synchronisation_on_cuda(mnist):
    from lowcap.data import ImageBank

    bank = ImageBank.from_mnist(mnist, device="cuda")
    cohort = _cohort(mnist, "cuda")
    for batches, full_x in _epochs(cohort, bank, 64):
        torch.cuda.synchronize()
        torch.cuda.set_sync_debug_mode("error")
        try:
            run_epoch_steps(cohort, bank, batches, full_x)
        finally:
            torch.cuda.set_sync_debug_mode("default")


@pytest.mark.parametrize("gemm_columns", [64, 1])
def test_a_non_finite_unit_makes_only_its_model_nan(mnist, bank, monkeypatch, gemm_columns):
    monkeypatch.setattr(Cohort, "GEMM_MAX_COLUMNS", gemm_columns)
    cohort = _cohort(mnist)
    assert cohort._uses_gemm() == (gemm_columns == 64)
    x, _ = bank.inputs(cohort.lanes[0].split, "val")
    before = cohort.logits(x.unsqueeze(0).expand(2, -1, -1))
    units = cohort.unit_slices[0][1]
    cohort.w1[0, units.start] = float("inf")
    after = cohort.logits(x.unsqueeze(0).expand(2, -1, -1))
    assert torch.isnan(after[0, :, 1]).all()
    torch.testing.assert_close(after[0, :, [0, 2]], before[0, :, [0, 2]], rtol=0, atol=0)
    torch.testing.assert_close(after[1], before[1], rtol=0, atol=0)
