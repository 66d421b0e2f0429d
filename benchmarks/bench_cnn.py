"""Training the CNN baseline's models together (grouped convolutions) against the naive way
(one `nn.Module` per model, autograd and `torch.optim.SGD`), per width.

Workload: one SGD step of M CNNs of one width (M = the seeds of a protocol, 3 by default),
each on its own batch of 128 images. Prints ms per step, achieved GFLOP/s against the float32
GEMM peak measured in the same run, and the ratio to the loop.

Counted FLOPs per image are the convolutions' and the readout's multiply-adds ×2, ×3 for a
training step (forward, input and weight gradients).

    python benchmarks/bench_cnn.py [--device cuda] [--models 3] [--steps 20]
"""

from __future__ import annotations

import argparse

import torch
from flops import gemm_peak, interleaved, machine

from lowcap.studies.cnn_baseline.network import LeNet, initial_stack, sgd_step

BATCH, LR = 128, 0.1


def step_flops(channels: int, images: int) -> float:
    """Training FLOPs of one CNN on `images` images (multiply-adds × 2 × 3)."""
    conv1 = 24 * 24 * channels * 25
    conv2 = 8 * 8 * 2 * channels * channels * 25
    readout = 32 * channels
    return 6.0 * (conv1 + conv2 + readout) * images


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--models", type=int, default=3)
    parser.add_argument("--steps", type=int, default=20)
    args = parser.parse_args()
    device = torch.device(args.device)
    peak = gemm_peak(device)
    print(machine(device))
    print(f"device {device}, float32 GEMM peak {peak:.0f} GFLOP/s, {args.models} models, "
          f"batch {BATCH}")
    print(f"{'c':>3} {'grouped ms':>11} {'loop ms':>8} {'loop/grouped':>13} "
          f"{'grouped % peak':>15}")
    gen = torch.Generator().manual_seed(0)
    seeds = list(range(args.models))
    for channels in (1, 2, 4, 8, 16):
        x = torch.rand(BATCH, args.models, 784, generator=gen).to(device)
        y = (torch.rand(BATCH, args.models, generator=gen) > 0.5).float().to(device)
        state = {"params": initial_stack(channels, seeds, device)}

        def grouped(state=state, x=x, y=y):
            state["params"] = sgd_step(state["params"], x, y, LR)

        models = [LeNet(channels).to(device) for _ in seeds]
        optimisers = [torch.optim.SGD(m.parameters(), lr=LR) for m in models]

        def loop(models=models, optimisers=optimisers, x=x, y=y):
            for m, (model, optimiser) in enumerate(zip(models, optimisers, strict=True)):
                optimiser.zero_grad()
                torch.nn.functional.binary_cross_entropy_with_logits(
                    model(x[:, m]), y[:, m]).backward()
                optimiser.step()

        times = interleaved(device, {"grouped": grouped, "loop": loop}, args.steps)
        t_grouped, t_loop = times["grouped"], times["loop"]
        achieved = step_flops(channels, BATCH) * args.models / t_grouped / 1e9
        print(f"{channels:>3} {t_grouped * 1e3:>11.1f} {t_loop * 1e3:>8.1f} "
              f"{t_loop / t_grouped:>13.2f} {100 * achieved / peak:>14.1f}%")


if __name__ == "__main__":
    main()
