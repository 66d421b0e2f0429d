"""The narrow-network study's training step: its tanh and its evaluation forward pass.

One width of the paper profile's narrow study (every arm, radius, lr and seed: 200 runs in one
batched program, float32 as in the profile), timed interleaved (`flops.interleaved`, fastest
of three rounds):

- tanh on a mini-batch step's pre-activations [runs, m, batch]: `torch.tanh` against the
  study's `2·sigmoid(2z) − 1`, and their largest absolute difference;
- the forward pass that evaluates the loss on the whole training set: the earlier einsum
  ([B, n, m] pre-activations, one batched product per run) against the study's (one GEMM over
  every run's units, then the readout);
- whole training runs (`--steps` steps) as before (torch.tanh, every temporary in one piece),
  with the runs in pieces (`methods.PIECE_ELEMENTS`), and as now (pieces and the sigmoid form).

    python benchmarks/bench_narrow.py [--dataset synthetic] [--multiplier 4] [--steps 300]
"""

from __future__ import annotations

import argparse

import torch
from flops import PAPER, gemm_peak, interleaved, machine

from lowcap.data.catalog import Datasets
from lowcap.studies.narrow import methods as narrow
from lowcap.studies.narrow.data import load
from lowcap.studies.registry import load_config
from lowcap.training.malloc import keep_freed_memory


def einsum_forward(w: torch.Tensor, v: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """The study's forward pass before: pre-activations laid out [B, n, m]."""
    return torch.einsum("bnm,bm->bn", narrow.tanh(torch.einsum("bmd,nd->bnm", w, x)), v)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="synthetic")
    parser.add_argument("--multiplier", type=float, default=4.0,
                        help="width as a multiple of 2n/d (the paper profile's largest: 4)")
    parser.add_argument("--steps", type=int, default=300)
    args = parser.parse_args()
    keep_freed_memory()  # as the CLI does
    device = torch.device("cpu")
    spec = load_config(PAPER).narrow
    assert spec is not None
    data = load(Datasets(progress=False), spec, args.dataset).to(device, torch.float32)
    width = max(2, 2 * round(args.multiplier * data.interpolation_width / 2))
    settings = narrow.grid(list(spec.arms), spec.radii, spec.lrs, spec.adam_lrs, spec.seeds)
    # The baseline as an activation of its own: torch.tanh with the study's backward.
    narrow.ACTIVATIONS["torch.tanh"] = (torch.tanh, narrow.ACTIVATIONS["tanh"][1])
    w, v = narrow.lecun_init(len(settings), width, data.x.shape[1], seed=0, dtype=torch.float32)
    z = torch.matmul(w, data.x[: spec.batch_size].T)

    print(machine(device))
    print(f"float32 GEMM peak {gemm_peak(device):.0f} GFLOP/s (same run)")
    print(f"{args.dataset}: n = {len(data.x)}, d = {data.x.shape[1]}, width {width}, "
          f"{len(settings)} runs\n")
    act = interleaved(device, {"torch.tanh": lambda: torch.tanh(z),
                               "2·sigmoid(2z) − 1": lambda: narrow.tanh(z)}, 20)
    error = (narrow.tanh(z).double() - torch.tanh(z.double())).abs().max().item()
    torch_error = (torch.tanh(z).double() - torch.tanh(z.double())).abs().max().item()
    forward = interleaved(device, {"einsum": lambda: einsum_forward(w, v, data.x),
                                   "one GEMM": lambda: narrow.forward(w, v, data.x, "tanh")}, 3)
    study_piece = narrow.PIECE_ELEMENTS

    def train(activation: str, piece: int):
        def run() -> None:
            narrow.PIECE_ELEMENTS = piece
            narrow.train(data.x, data.y, width, settings, args.steps, activation,
                         spec.batch_size)
            narrow.PIECE_ELEMENTS = study_piece
        return run

    whole = interleaved(device, {"before: torch.tanh, one piece": train("torch.tanh", 2**62),
                                 "torch.tanh, pieces": train("torch.tanh", study_piece),
                                 "now: sigmoid form, pieces": train("tanh", study_piece)}, 1)
    print("| what | before | after | speed-up |")
    print("|---|---|---|---|")
    for label, times in ((f"tanh of {tuple(z.shape)}, ms", act),
                         (f"forward over the training set, {len(settings)} runs, ms", forward)):
        before, after = times.values()
        print(f"| {label} | {before * 1e3:.2f} | {after * 1e3:.2f} | {before / after:.2f}x |")
    print(f"\ntraining {len(settings)} runs for {args.steps} steps, s:")
    first = next(iter(whole.values()))
    for name, seconds in whole.items():
        print(f"  {name:32s} {seconds:6.2f}  ({first / seconds:.2f}x)")
    print(f"\nlargest |error| against float64 tanh: study's {error:.1e}, torch.tanh's "
          f"{torch_error:.1e} (float32 eps {torch.finfo(torch.float32).eps:.1e})")


if __name__ == "__main__":
    main()
