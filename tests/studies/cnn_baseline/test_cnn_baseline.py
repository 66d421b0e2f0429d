"""The CNN baseline: parameter counts, grouped training equal to training each CNN alone
with torch.optim.SGD, the minimum-capacity rule, resuming per width."""

import importlib
import json

import numpy as np
import pytest
import torch

from lowcap.studies.cnn_baseline.network import (
    LeNet,
    initial_stack,
    logits,
    parameter_count,
    sgd_step,
)

# The package exports the study's `compute` function under the module's name.
cnn_compute = importlib.import_module("lowcap.studies.cnn_baseline.compute")


@pytest.mark.parametrize("channels", [1, 3, 8])
def test_the_parameter_count_is_the_modules(channels):
    assert parameter_count(channels) == sum(p.numel() for p in LeNet(channels).parameters())


def test_grouped_training_equals_each_cnn_trained_alone_with_torch_sgd():
    seeds, channels, lr = [0, 5, 9], 3, 0.2
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(6, 32, len(seeds), 784, generator=gen, dtype=torch.float64)  # steps, B, M
    y = (torch.rand(6, 32, len(seeds), generator=gen) > 0.5).double()
    params = {k: v.double() for k, v in initial_stack(channels, seeds).items()}
    for step in range(len(x)):
        params = sgd_step(params, x[step], y[step], lr)
    for m, seed in enumerate(seeds):
        torch.manual_seed(seed)
        alone = LeNet(channels).double()
        optimiser = torch.optim.SGD(alone.parameters(), lr=lr)
        for step in range(len(x)):
            optimiser.zero_grad()
            torch.nn.functional.binary_cross_entropy_with_logits(
                alone(x[step, :, m]), y[step, :, m]).backward()
            optimiser.step()
        c = channels
        torch.testing.assert_close(params["w1"][m * c:(m + 1) * c], alone.conv1.weight.detach())
        torch.testing.assert_close(params["w2"][2 * m * c:2 * (m + 1) * c],
                                   alone.conv2.weight.detach())
        torch.testing.assert_close(params["w3"][m], alone.readout.weight.detach()[0])
        probe = x[0, :, m]
        torch.testing.assert_close(logits(params, x[0])[:, m], alone(probe).detach())


def test_the_smoke_run_reports_the_cnn_baseline(smoke_run):
    summary = json.loads((smoke_run / "summary.json").read_text())
    for protocol in ("corrected", "reference"):
        section = summary["protocols"][protocol]["cnn_baseline"]
        entry = section["pairs"]["4-9"]
        assert set(entry["widths"]) == {"1", "4"}
        rule = section["rule"]
        meets = [c for c, w in entry["widths"].items()
                 if min(w["f1_by_seed"].values()) > rule["min_f1"]
                 and np.std(list(w["f1_by_seed"].values())) < rule["max_std"]]
        expected = min(map(int, meets)) if meets else None
        assert entry["min_channels"] == expected
        assert entry["mlp"]["f1_by_parameters"]  # the MLP curve beside it


@pytest.mark.slow
def test_more_widths_train_only_the_new_width(run_copy, run_cli, monkeypatch):
    trained = []
    real = cnn_compute.train_group
    monkeypatch.setattr(cnn_compute, "train_group",
                        lambda bank, members, channels, spec: trained.append(channels)
                        or real(bank, members, channels, spec))
    code, _, err = run_cli("cnn-baseline", str(run_copy), "--channels", "1,2,4", "--quiet")
    assert code == 0, err
    assert sorted(trained) == [2, 2]  # widths 1 and 4 were stored; 2 under both protocols
    summary = json.loads((run_copy / "summary.json").read_text())
    assert set(summary["protocols"]["corrected"]["cnn_baseline"]["pairs"]["4-9"]["widths"]) \
        == {"1", "2", "4"}


@pytest.mark.parametrize(("hidden", "depth"), [(2, 1), (24, 1), (6, 2), (8, 3)])
def test_the_mlp_parameter_count_is_the_modules(hidden, depth):
    from lowcap.models.mlp import build_mlp, init_params
    from lowcap.studies.cnn_baseline.network import mlp_parameter_count

    mlp = build_mlp(init_params(hidden, 0, depth=depth))
    assert mlp_parameter_count(hidden, depth) == sum(p.numel() for p in mlp.parameters())
