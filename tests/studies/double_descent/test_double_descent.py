"""Model-wise double descent: the grid it trains, its claims on noise and on clear shapes, and
a small run end to end."""

from __future__ import annotations

import json

import numpy as np
import pytest
import yaml

from lowcap.errors import UserInputError
from lowcap.report.build import summarize
from lowcap.report.claims import check_claims
from lowcap.studies.double_descent import STUDY
from lowcap.studies.double_descent.claims import CLAIMS
from lowcap.studies.double_descent.config import plans
from lowcap.studies.registry import parse_config

WIDTHS = (1, 2, 3, 4, 6, 8, 12, 16, 32, 64, 128)
N = 200


def test_the_grid_trains_every_setting_by_full_batch_adam_on_its_dataset():
    cfg = parse_config({"protocols": {"corrected": {"seeds": [0, 1]}, "reference": {}},
                        "double_descent": {"label_noise": [0.0, 0.1], "train_sizes": [50, 100],
                                           "widths": [2, 8], "epochs": 40}}, "t")
    grid = plans(cfg, cfg.protocol("corrected"))
    assert len(grid) == 2 * 2 * 2 * 2 and len({p.model_id for p in grid}) == len(grid)
    assert {(p.hp.label_noise, p.hp.train_size) for p in grid} == {
        (0.0, 50), (0.0, 100), (0.1, 50), (0.1, 100)}
    assert {(p.hp.dataset, p.hp.optimiser, p.hp.batch_size, p.hp.epochs, p.lr)
            for p in grid} == {("mnist1d", "adam", None, 40, 0.01)}
    assert plans(cfg, cfg.protocol("reference")) == []  # the section names its protocol
    trained_otherwise = parse_config({
        "protocols": {"corrected": {"seeds": [0, 1], "augment": True,
                                    "pgd_norm": "linf", "pgd_eps": 0.1, "pgd_steps": 3,
                                    "pgd_step_size": 0.05}},
        "double_descent": {"label_noise": [0.0, 0.1], "train_sizes": [50, 100],
                           "widths": [2, 8], "epochs": 40}}, "t")
    # The protocol's other training choices do not reach the study: the same models.
    assert [p.model_id for p in plans(trained_otherwise,
                                      trained_otherwise.protocol("corrected"))] == [
        p.model_id for p in grid]


def test_the_command_refuses_a_run_without_the_studys_protocol(tmp_path):
    cfg = parse_config({"protocols": {"reference": {}}, "double_descent": {}}, "t")
    with pytest.raises(UserInputError, match=r"'corrected' protocol, which this run does not "
                                             r"have.*--profile double_descent"):
        STUDY.command.check(cfg, tmp_path)
    STUDY.command.check(parse_config({"protocols": {"corrected": {}}, "double_descent": {}},
                                     "t"), tmp_path)


def section(error) -> dict:
    """Test error per (noise, width, seed) from `error(noise, parameters / n, rng)`."""
    rng = np.random.default_rng(3)
    cells = {noise: {str(N): {str(w): {
        "parameters": 42 * w + 1,
        "test_error_by_seed": {str(s): float(error(noise, (42 * w + 1) / N, rng))
                               for s in range(8)}} for w in WIDTHS}}
        for noise in ("0", "0.2")}
    return {"double_descent": {"min_effect": 0.02, "cells": {"mnist1d": {"3-5": cells}}}}


def verdict(result: dict, noisy: bool = True) -> str:
    claim = ("test_error_peaks_near_interpolation_under_label_noise" if noisy else
             "test_error_peaks_near_interpolation_without_label_noise")
    return next(c for c in check_claims("corrected", result, CLAIMS)
                if c["id"] == claim)["verdict"]


def test_the_claims_never_hold_on_noise_and_hold_on_a_peak_at_the_threshold():
    for _ in range(20):
        noise_only = section(lambda noise, ratio, rng: rng.normal(0.25, 0.03))
        assert verdict(noise_only) != "holds" and verdict(noise_only, False) != "holds"
    peak = section(lambda noise, ratio, rng: 0.15 + float(noise) * np.exp(
        -np.log(ratio) ** 2) + rng.normal(0, 0.005))  # a bump at parameters = n under noise
    assert verdict(peak) == "holds" and verdict(peak, False) != "holds"
    falling = section(lambda noise, ratio, rng: 0.3 / (1 + ratio) + rng.normal(0, 0.005))
    assert verdict(falling) == "does not hold"


def test_without_widths_on_both_sides_of_the_threshold_the_claims_are_inconclusive():
    narrow = section(lambda noise, ratio, rng: 0.2)
    for cells in narrow["double_descent"]["cells"]["mnist1d"]["3-5"].values():
        for w in ("16", "32", "64", "128"):  # parameters / n beyond 3
            del cells[str(N)][w]
    assert verdict(narrow) == "inconclusive"


@pytest.mark.slow
def test_a_small_run_trains_measures_and_reports(tmp_path, run_cli):
    config = tmp_path / "dd.yaml"
    config.write_text(yaml.safe_dump({
        "profile": "dd", "protocols": {"corrected": {"seeds": [0]}},
        "double_descent": {"datasets": ["mnist1d", "mnist_pca"], "label_noise": [0.0, 0.2],
                           "train_sizes": [60], "widths": [1, 16], "epochs": 300}}))
    out = tmp_path / "run"
    code, _, err = run_cli("reproduce", "--config", str(config), "--out", str(out), "--quiet",
                           "--device", "cpu")
    assert code == 0, err
    summary = json.loads((out / "summary.json").read_text())
    by_dataset = summary["protocols"]["corrected"]["double_descent"]["cells"]
    assert set(by_dataset) == {"mnist1d", "mnist_pca"}
    for dataset, inputs in (("mnist1d", 40), ("mnist_pca", 32)):
        cells = by_dataset[dataset]["3-5"]
        assert set(cells) == {"0", "0.2"} and set(cells["0.2"]["60"]) == {"1", "16"}
        wide = cells["0.2"]["60"]["16"]
        assert wide["parameters"] == 16 * inputs + 16 + 16 + 1
        assert wide["train_error"] == 0.0  # wide enough to fit every flipped label
        assert 0 < wide["test_error"] < 0.5
    claims = {c["id"] for c in summary["claims"]}
    assert "test_error_peaks_near_interpolation_under_label_noise" in claims
    assert (out / "figures" / "figD1_double_descent_corrected.png").is_file()
    assert "model-wise double descent" in (out / "report.html").read_text()


@pytest.mark.slow
def test_the_command_trains_double_descent_into_a_finished_run(run_copy, run_cli):
    """`lowcap double-descent DIR` on a run without the section: its models are trained into
    the run and measured; the run's own checkpoints stay byte for byte."""
    before = {p.name: p.read_bytes() for p in (run_copy / "checkpoints").iterdir()}
    code, _, err = run_cli("double-descent", str(run_copy), "--datasets", "mnist_pca",
                           "--label-noise", "0.2", "--train-sizes", "60", "--widths", "1,16",
                           "--epochs", "300", "--quiet", "--device", "cpu", "--no-report")
    assert code == 0, err
    after = {p.name: p.read_bytes() for p in (run_copy / "checkpoints").iterdir()}
    assert {name: after[name] for name in before} == before and len(after) > len(before)
    cells = summarize(run_copy)["protocols"]["corrected"]["double_descent"]["cells"]
    seeds = yaml.safe_load((run_copy / "config.yaml").read_text())["protocols"][0]["seeds"]
    assert set(cells) == {"mnist_pca"}
    wide = cells["mnist_pca"]["3-5"]["0.2"]["60"]["16"]
    assert wide["train_error"] == 0.0 and set(wide["test_error_by_seed"]) == set(map(str, seeds))
    code, _, err = run_cli("double-descent", str(run_copy), "--label-noise", "0.7")
    assert code == 2 and "label_noise" in err and "[0, 0.5]" in err
