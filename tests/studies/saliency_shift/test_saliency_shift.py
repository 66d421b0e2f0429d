"""Saliency under corruption: the occluder's share of a map, the first σ rule, maps that
cannot move, and the study end to end on the smoke run."""

import json

import numpy as np
import pytest
import torch

from lowcap.studies.robustness.corruptions import gaussian_noise, occluder_masks, occlusion
from lowcap.studies.saliency import maps
from lowcap.studies.saliency_shift.compute import occluder_share
from lowcap.studies.saliency_shift.report import first_sigma


def test_the_occluder_masks_are_where_occlusion_blacks_out():
    x = torch.rand(50, 784) + 0.1  # no pixel is 0 before occlusion
    mask = occluder_masks(50, 7, seed=3)
    assert (mask.sum(1) == 49).all()
    assert torch.equal(occlusion(x, 7, 3) == 0, mask)


def test_occluder_share_is_the_area_share_for_a_flat_map_and_one_inside():
    mask = occluder_masks(4, 7, seed=0)
    flat = torch.ones(4, 784)
    np.testing.assert_allclose(occluder_share(flat, mask), 49 / 784)
    inside = mask.double() * torch.tensor([[1.0], [-2.0], [3.0], [0.5]])
    np.testing.assert_allclose(occluder_share(inside, mask), 1.0)
    assert np.isnan(occluder_share(torch.zeros(1, 784), mask[:1]))[0]


def test_first_sigma_takes_the_smallest_sigma_that_passes():
    curve = {"0.1": 0.9, "0.2": 0.6, "0.5": 0.4, "0.8": 0.2}
    assert first_sigma(curve, [0.1, 0.2, 0.5, 0.8], lambda v: v < 0.5) == 0.5
    assert first_sigma(curve, [0.1, 0.2, 0.5, 0.8], lambda v: v < 0.1) is None


def test_a_gradient_map_of_an_all_active_network_does_not_move_under_noise():
    """With every ReLU on, ∂σ(f)/∂x is one fixed vector times a per-image scalar: its ranks
    are the same on any input, so its Spearman correlation with the clean map is exactly 1,
    while finite differences of a network with units switching do move."""
    gen = torch.Generator().manual_seed(0)
    params = {"w1": 0.05 * torch.randn(6, 784, generator=gen, dtype=torch.float64),
              "b1": torch.full((6,), 100.0, dtype=torch.float64),
              "w2": torch.randn(1, 6, generator=gen, dtype=torch.float64),
              "b2": torch.tensor([-100.0 * 0.1], dtype=torch.float64)}
    x = torch.rand(20, 784, generator=gen, dtype=torch.float64)
    noisy = gaussian_noise(x, 0.5, seed=1)
    clean_ranks = maps.centred_ranks(maps.attribute("gradient", params, x))
    moved = maps.rank_correlation(clean_ranks,
                                  maps.centred_ranks(maps.attribute("gradient", params, noisy)))
    np.testing.assert_allclose(moved, 1.0)
    params["b1"] = torch.zeros(6, dtype=torch.float64)
    params["w1"] *= 40  # units switch on and off between clean and noisy images
    switching = maps.rank_correlation(
        maps.centred_ranks(maps.attribute("gradient", params, x)),
        maps.centred_ranks(maps.attribute("gradient", params, noisy)))
    assert np.nanmean(switching) < 0.99


def test_the_smoke_run_reports_saliency_shift(smoke_run):
    summary = json.loads((smoke_run / "summary.json").read_text())
    for protocol in ("corrected", "reference"):
        section = summary["protocols"][protocol]["saliency_shift"]
        assert set(section["by_width"]) == {"8", "24"}
        for entry in section["by_width"].values():
            assert set(entry["f1"]) == {"clean", "0.1", "0.5", "occlusion"}
            assert set(entry["spearman"]) == {"finite_difference", "gradient"}
            for curve in entry["spearman"].values():
                assert all(-1 <= v <= 1 for v in curve.values())
        for counts in section["attention_first"].values():
            assert sum(counts.values()) == 2
        assert section["occluder_area_share"] == pytest.approx(49 / 784)


@pytest.mark.slow
def test_the_command_takes_its_options(run_copy, run_cli):
    code, _, err = run_cli("saliency-shift", str(run_copy), "--max-images", "12", "--quiet")
    assert code == 0, err
    section = json.loads((run_copy / "summary.json").read_text())["protocols"]["corrected"][
        "saliency_shift"]
    assert section["by_width"]
    code, _, err = run_cli("saliency-shift", str(run_copy), "--max-images", "0", "--quiet")
    assert code == 2 and "max_images" in err
