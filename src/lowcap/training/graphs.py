"""CUDA-graph capture of the cohort's training step.

On a GPU the cohort's step is a few dozen small kernels; launching them from Python costs more
than running them. `CapturedStep` records one step once (inputs in static buffers) and replays
it: copying the next batch into the buffers and one `replay()` per update. This relies on the
step being free of host synchronisation and data-dependent branches (see
`Cohort.readout`), and on the cohort updating its tensors in place, so the recorded addresses
stay valid. The CPU path stays eager.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

import torch

from lowcap.models.cohort import Cohort

Step = Callable[..., torch.Tensor]


class CapturedStep:
    """One training step of `cohort` recorded as a CUDA graph; call it like the step."""

    def __init__(self, cohort: Cohort, step: Step, *example: torch.Tensor, warmup: int = 2):
        """Record `step(*inputs)`, inputs shaped like `example`. The warm-up runs (CUDA
        graphs need them: lazy initialisation, workspace allocation) update the cohort, so its
        state is restored afterwards."""
        self.inputs = [tensor.clone() for tensor in example]
        saved = {name: tensor.clone() for name, tensor in cohort.state().items()}
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):
            for _ in range(warmup):
                step(*self.inputs)
        torch.cuda.current_stream().wait_stream(side)
        self.graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(self.graph):
            self.output = step(*self.inputs)
        cohort.load_state(saved)

    def __call__(self, *inputs: torch.Tensor) -> torch.Tensor:
        """Run the step on `inputs`; the result lives in a buffer the next call overwrites."""
        for buffer, value in zip(self.inputs, inputs, strict=True):
            buffer.copy_(value)
        self.graph.replay()
        return self.output


class StepGraphs:
    """The captured steps of one training call, one per kind of step (mini-batch, full
    batch), made on first use. Where capture fails (an unsupported driver or operator) the
    step runs eagerly, with one warning."""

    def __init__(self, cohort: Cohort):
        self.cohort = cohort
        self.steps: dict[str, Step] = {}

    def get(self, kind: str, step: Step, *example: torch.Tensor) -> Step:
        """The step of this kind, captured on the first call with inputs like `example`."""
        if kind not in self.steps:
            try:
                self.steps[kind] = CapturedStep(self.cohort, step, *example)
            except RuntimeError as error:  # keep training; the eager step is equivalent
                warnings.warn(f"CUDA graph capture failed ({error}); training eagerly",
                              RuntimeWarning, stacklevel=2)
                self.steps[kind] = step
        return self.steps[kind]
