"""Every claim rule decides on a stated statistic: noise alone never makes a claim hold, and a
clear effect does (so each rule can both pass and fail)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lowcap.report import statistics as st
from lowcap.report.claims import check_claims, seed_effect
from lowcap.run.checkpoints import save_tensors
from lowcap.run.store import Store
from lowcap.studies.capacity.statistics import min_capacity_bootstrap
from lowcap.studies.capacity.tables import capacity_table
from lowcap.studies.registry import studies
from lowcap.studies.saliency.report import saliency_intervals
from lowcap.studies.sensitivity.report import RULES, sensitivity_claims
from lowcap.studies.tsne.report import tsne_intervals

CLAIMS = [claim for study in studies() for claim in study.claims]

NOT_HOLDING = {"inconclusive", "does not hold"}
SEEDS = [str(s) for s in range(10)]


def verdict(result: dict, claim_id: str) -> str:
    checked = check_claims("corrected", result, CLAIMS)
    return next(c for c in checked if c["id"] == claim_id)["verdict"]


# --- the statistics themselves ---------------------------------------------------------------

def test_bootstrap_interval_of_constant_values_is_the_value():
    assert st.bootstrap_mean_ci(np.full(7, 0.25)) == (0.25, 0.25)


def test_bootstrap_interval_covers_the_mean_and_shrinks_with_more_values():
    rng = np.random.default_rng(1)
    small, large = rng.normal(1, 1, 10), rng.normal(1, 1, 1000)
    lo, hi = st.bootstrap_mean_ci(small)
    assert lo < small.mean() < hi
    lo2, hi2 = st.bootstrap_mean_ci(large)
    assert hi2 - lo2 < (hi - lo) / 5
    assert np.isnan(st.bootstrap_mean_ci(np.array([np.nan, np.nan]))[0])


def test_holm_matches_hand_computed_values():
    # sorted p 0.01, 0.02, 0.04 × (3, 2, 1) = 0.03, 0.04, 0.04 (monotone)
    assert st.holm([0.04, 0.01, 0.02]) == pytest.approx([0.04, 0.03, 0.04])


def test_signed_rank_needs_six_nonzero_values_and_detects_a_shift():
    assert st.signed_rank_p(np.array([1, 2, 3, 0, 0]), "greater") == 1.0
    assert st.signed_rank_p(np.arange(1, 21, dtype=float), "greater") < 1e-4
    assert st.signed_rank_p(np.arange(1, 21, dtype=float), "less") > 0.99


def test_verdict_helpers():
    assert st.above((0.1, 0.2), 0).verdict == "holds"
    assert st.above((-0.2, -0.1), 0).verdict == "does not hold"
    assert st.above((-0.1, 0.1), 0).verdict == "inconclusive"
    assert st.below((-0.2, -0.1), 0).verdict == "holds"
    assert st.below((0.1, 0.2), 0).verdict == "does not hold"
    assert st.inside((3, 5), 2, 6).verdict == "holds"
    assert st.inside((7, 9), 2, 6).verdict == "does not hold"
    assert st.inside((5, 9), 2, 6).verdict == "inconclusive"
    assert st.all_of([st.above((0.1, 0.2), 0), st.above((-0.1, 0.1), 0)]).verdict \
        == "inconclusive"
    assert st.all_of([st.above((0.1, 0.2), 0), st.above((-0.2, -0.1), 0)]).verdict \
        == "does not hold"


def test_margins_are_the_distance_of_the_deciding_end_to_the_threshold():
    assert st.above((0.1, 0.2), 0).margin == pytest.approx(0.1)  # lower end decides
    assert st.above((-0.2, -0.1), 0).margin == pytest.approx(0.1)  # upper end decides
    assert st.above((-0.03, 0.1), 0).margin == pytest.approx(0.03)  # nearest end
    assert st.below((-0.2, -0.05), 0).margin == pytest.approx(0.05)
    assert st.below((-0.2, -0.05), 0).interval == (-0.2, -0.05)
    assert st.inside((3, 5), 2, 6).margin == pytest.approx(1)
    assert st.inside((7, 9), 2, 6).margin == pytest.approx(1)
    assert st.inside((5.5, 9), 2, 6).margin == pytest.approx(0.5)
    # A failing compound claim flips only if every failing part does: its most robust one.
    failing = st.all_of([st.above((-0.2, -0.1), 0), st.above((-0.2, -0.01), 0),
                         st.above((0.5, 0.6), 0)])
    assert failing.margin == pytest.approx(0.1) and failing.interval == (-0.2, -0.1)
    holding = st.all_of([st.above((0.3, 0.4), 0), st.above((0.02, 0.4), 0)])
    assert holding.margin == pytest.approx(0.02)
    assert np.isnan(st.above((np.nan, 1.0), 0).margin)
    assert not st.above((np.nan, 1.0), 0).near_threshold


def test_near_threshold_is_a_margin_within_the_numerical_spread():
    wide = st.above((0.01, 0.41), 0)  # spread NUMERICAL_SPREAD × 0.4
    assert wide.spread == pytest.approx(st.NUMERICAL_SPREAD * 0.4)
    assert wide.verdict == "holds" and wide.near_threshold
    assert not st.above((0.2, 0.41), 0).near_threshold
    assert st.probability_at_least(0.96, 0.0).near_threshold
    assert not st.probability_at_least(1.0, 0.0).near_threshold
    assert st.probability_at_least(0.5, 0.5).verdict == "inconclusive"
    assert st.p_value_below(0.04, "holds").near_threshold
    assert not st.p_value_below(1e-6, "holds").near_threshold


def test_seed_effect_decides_on_the_interval_and_the_practical_threshold():
    clear = {str(s): 0.10 + 0.01 * (s % 3) for s in range(10)}  # mean 0.109, all > 0
    decision, evidence = seed_effect(clear, "F1(h=64) − F1(h=2)", 0.05)
    low, high = st.bootstrap_mean_ci(np.array(list(clear.values())))
    assert decision.verdict == "holds" and decision.effect == pytest.approx(0.109)
    assert evidence == (f"F1(h=64) − F1(h=2): +0.1090, 95% bootstrap interval over 10 seeds "
                        f"{st.ci_text((low, high), '+.4f')}")
    assert seed_effect(clear, "x", 0.5)[0].verdict == "negligible"  # real, but too small
    assert seed_effect(clear, "x", 0.05, "below")[0].verdict == "does not hold"
    falling = {s: -v for s, v in clear.items()}
    decision, evidence = seed_effect(falling, "log10 L", 0.05, "below", "+.3f", " decades")
    assert decision.verdict == "holds" and evidence.startswith("log10 L: -0.109 decades, ")
    noise = dict(zip(SEEDS, np.random.default_rng(0).normal(0, 0.05, 10), strict=True))
    assert seed_effect(noise, "x", 0.0)[0].verdict == "inconclusive"


def test_two_way_bootstrap_carries_the_runs_randomness():
    rng = np.random.default_rng(0)
    points = rng.normal(0, 1, 2000)
    shifts = np.array([-0.3, -0.1, 0.0, 0.1, 0.3])[:, None]  # each run moves every point
    values = points + shifts
    lo, hi = st.bootstrap_two_way_ci(values)
    one_run = st.bootstrap_mean_ci(values.mean(axis=0))
    assert lo < one_run[0] and hi > one_run[1]  # wider: the runs are a sample too
    assert lo < values.mean() < hi
    # One run: the points alone, as the one-way bootstrap draws them.
    assert st.bootstrap_two_way_ci(values[:1]) == pytest.approx(st.bootstrap_mean_ci(values[0]))
    # Brute force on a small case: the same resamples drawn index by index.
    small = rng.normal(0, 1, (3, 7))
    gen = np.random.default_rng(st.SEED)
    pick_points, pick_runs = gen.integers(0, 7, (50, 7)), gen.integers(0, 3, (50, 3))
    means = [small[np.ix_(r, p)].mean() for r, p in zip(pick_runs, pick_points, strict=True)]
    assert st.bootstrap_two_way_ci(small, n=50) == pytest.approx(
        (np.percentile(means, 2.5), np.percentile(means, 97.5)))


def test_min_capacity_distribution_known_cases():
    widths = [2, 4, 8]
    certain = np.array([[0.5] * 5, [0.95] * 5, [0.99] * 5])  # [widths, seeds]
    boot = min_capacity_bootstrap(certain, widths, 0.9, 0.02)
    assert boot == {"p": {"4": 1.0}, "ci": [4, 4]}
    # One seed of five fails at width 4: resamples without it (P = (4/5)^5) pick 4.
    mixed = np.array([[0.5] * 5, [0.95] * 4 + [0.5], [0.99] * 5])
    boot = min_capacity_bootstrap(mixed, widths, 0.9, 0.5)
    assert boot["p"]["4"] == pytest.approx(0.8**5, abs=0.03)
    assert boot["p"]["4"] + boot["p"]["8"] == pytest.approx(1.0)
    never = min_capacity_bootstrap(np.full((3, 4), 0.5), widths, 0.9, 0.02)
    assert never == {"p": {"none": 1.0}, "ci": [None, None]}


# --- one noise-only input per rule -------------------------------------------------------------

def capacity_section(rng: np.random.Generator, f1: dict[str, callable]) -> dict:
    """A capacity summary built by capacity_table from F1 drawn per pair."""
    from lowcap.report.tables import ModelCurves

    curves, seeds = {}, {}
    for pair, draw in f1.items():
        for h in (2, 4, 8, 16, 32):
            values = np.asarray(draw(rng, h, len(SEEDS)))
            curves[(pair, h, 0.03)] = {"val_f1": values[:, None]}
            seeds[(pair, h, 0.03)] = list(range(len(SEEDS)))
    return capacity_table(ModelCurves(curves, seeds), 0.90, 0.02)


def same_noise(rng, h, n):
    return rng.uniform(0.86, 0.96, n)


def test_capacity_rules_on_noise():
    rng = np.random.default_rng(0)
    cap = capacity_section(rng, {"0-1": same_noise, "4-9": same_noise})
    assert verdict({"capacity": cap}, "capacity_scales_with_difficulty") in NOT_HOLDING
    assert verdict({"capacity": cap}, "min_capacities") in NOT_HOLDING


def test_capacity_rules_on_a_clear_effect():
    rng = np.random.default_rng(0)
    cap = capacity_section(rng, {
        "0-1": lambda rng, h, n: np.full(n, 0.99),
        "4-9": lambda rng, h, n: np.full(n, 0.99 if h >= 16 else 0.7)})
    assert verdict({"capacity": cap}, "capacity_scales_with_difficulty") == "holds"
    assert verdict({"capacity": cap}, "min_capacities") == "holds"  # 2 in 2–6, 16 in 12–24


def pruning_section(changes: callable, rng: np.random.Generator, method: str = "layerwise"
                    ) -> dict:
    widths = {}
    for h in ("2", "8", "32"):
        widths[h] = {}
        for level in ("0.5", "0.7", "0.9", "0.95", "0.99"):
            by_seed = {s: float(changes(rng)) for s in SEEDS}
            widths[h][level] = {"pct_change_f1": float(np.mean(list(by_seed.values()))),
                                "pct_change_by_seed": by_seed}
    return {method: {"0-1": widths, "4-9": widths}}


@pytest.mark.parametrize("claim_id, method, centre, spread", [
    ("pruning_robust_95", "layerwise", -1.0, 3.0),
    ("pruning_robust_95_reference_code", "layerwise_refscale", -1.0, 3.0),
    ("pruning_99_easy_task", "layerwise", 0.1, 0.5),
    ("pruning_regulariser", "layerwise", 0.0, 1.0),
])
def test_pruning_rules_on_noise(claim_id, method, centre, spread):
    rng = np.random.default_rng(3)
    section = pruning_section(lambda r: r.normal(centre, spread), rng, method)
    assert verdict({"pruning_methods": section}, claim_id) in NOT_HOLDING


@pytest.mark.parametrize("claim_id, method, change", [
    ("pruning_robust_95", "layerwise", 0.0),
    ("pruning_robust_95_reference_code", "layerwise_refscale", 0.0),
    ("pruning_99_easy_task", "layerwise", 0.0),
    ("pruning_regulariser", "layerwise", 0.5),
])
def test_pruning_rules_on_a_clear_effect(claim_id, method, change):
    rng = np.random.default_rng(3)
    section = pruning_section(lambda r: r.normal(change, 0.01), rng, method)
    assert verdict({"pruning_methods": section}, claim_id) == "holds"


def test_dead_neuron_rule_on_noise_counts():
    rng = np.random.default_rng(4)
    rows = [{"pair": "4-9", "hidden": 24, "seed": s, "before": int(rng.poisson(1)),
             "after_95": int(rng.poisson(1))} for s in range(10)]
    assert verdict({"dead_neurons": rows}, "zero_dead_neurons") == "does not hold"
    zero = [{**r, "before": 0, "after_95": 0} for r in rows]
    assert verdict({"dead_neurons": zero}, "zero_dead_neurons") == "holds"


def test_tsne_rule_on_noise(tmp_path):
    rng = np.random.default_rng(5)
    dense = rng.uniform(0, 1, 500)
    source = tmp_path / "tsne.safetensors"
    for pruned, expected in ((dense - 0.02 + rng.normal(0, 0.3, 500), NOT_HOLDING),
                             (dense + 0.05, {"holds"})):
        save_tensors(source, {"agreement_0.0": torch.from_numpy(dense),
                              "agreement_0.95": torch.from_numpy(pruned)})
        result = {"tsne_agreement": tsne_intervals(source, 0.95)}
        assert verdict(result, "tsne_clusters_preserved") in expected


def robustness_section(rng: np.random.Generator, gain: float) -> dict:
    def f1(h):
        return {s: float(rng.normal(0.8 + gain * (h == "64"), 0.02)) for s in SEEDS}

    gaussian = {h: {sigma: f1(h) for sigma in ("0.0", "0.3", "0.6")} for h in ("24", "64")}
    occlusion = {h: f1(h) for h in ("24", "64")}
    return {"gaussian_by_seed": gaussian, "occlusion_by_seed": occlusion,
            "occlusion": {h: float(np.mean(list(v.values()))) for h, v in occlusion.items()}}


@pytest.mark.parametrize("claim_id", ["noise_robustness_grows_with_width",
                                      "occlusion_robustness_grows_with_width"])
def test_robustness_rules(claim_id):
    rng = np.random.default_rng(6)
    assert verdict({"robustness": robustness_section(rng, 0.0)}, claim_id) in NOT_HOLDING
    assert verdict({"robustness": robustness_section(rng, 0.05)}, claim_id) == "holds"


def test_saliency_rule_on_noise_counts_undefined_maps(tmp_path):
    rng = np.random.default_rng(7)
    source = tmp_path / "saliency.safetensors"

    def result(magnitude, random):
        save_tensors(source, {"spearman_magnitude": torch.from_numpy(magnitude),
                              "spearman_random": torch.from_numpy(random)})
        undefined = float(np.isnan(magnitude).sum())
        m = {"spearman_mean": float(np.nanmean(magnitude)), "undefined_maps": undefined,
             "spearman_mean_undefined_as_zero": float(np.nan_to_num(magnitude).mean()),
             **saliency_intervals(source)}
        return {"saliency": {"magnitude": m}}

    noise = rng.normal(0.8, 0.3, 300)
    assert verdict(result(noise, rng.normal(0.8, 0.3, 300)), "pruned_saliency_preserved") \
        in NOT_HOLDING
    strong = np.full(300, 0.95)
    assert verdict(result(strong, np.zeros(300)), "pruned_saliency_preserved") == "holds"
    # A third of the maps undefined: counted as 0, the same maps no longer pass.
    strong[:100] = np.nan
    assert verdict(result(strong, np.zeros(300)), "pruned_saliency_preserved") \
        == "does not hold"


def test_every_paper_rule_states_its_statistic():
    for claim in CLAIMS:
        assert "statistic" in claim.rule or "same statistic" in claim.rule, claim.id
    for _, text in RULES.values():
        assert "statistic" in text


def sensitivity_summary_of(rng: np.random.Generator, effect: float) -> dict:
    """A sensitivity summary whose per-model quantities are noise (plus `effect`)."""
    n = 40
    ci = st.bootstrap_mean_ci
    return {
        "protocol": "corrected", "models": n,
        "correlation": {"gap_acc": {"spearman": 0.0, "pearson": 0.0,
                                    "spearman_ci": [-0.3 + effect, 0.3 + effect]}},
        "norms": {w: 1.0 for w in ("train", "test", "random", "ellipse_near", "ellipse_far")},
        "near_over_noise_log_ci": list(ci(rng.normal(-effect, 1, n))),
        "ellipse_near_over_far_log_ci": list(ci(rng.normal(-effect, 1, n))),
        "transitions_near_share": 0.5,
        "transitions_near_minus_far_ci": list(ci(rng.normal(0, 1, n))),
        "error_auc": 0.5, "error_auc_ci": list(ci(rng.normal(0.5 + effect, 0.1, n))),
        "variants": {"base": {"jac_test_mean": 1.0, "models": n}, **{
            v: {"jac_test_mean": 1.0, "models": n,
                "log_ratio_to_base_ci": list(ci(rng.normal(effect, 1, n)))}
            for v in ("random_labels", "full_batch", "tanh")}},
    }


def test_sensitivity_rules_on_noise_and_on_an_effect():
    rng = np.random.default_rng(8)
    assert {c["verdict"] for c in sensitivity_claims(sensitivity_summary_of(rng, 0.0))} \
        <= NOT_HOLDING
    assert {c["verdict"] for c in sensitivity_claims(sensitivity_summary_of(rng, 0.6))} \
        == {"holds"}


def test_sensitivity_summary_survives_a_zero_norm(tmp_path):
    """A model whose every unit is dead on the noise images has norm 0 there: its log ratio is
    left out of the interval, not a crash; a constant gap (here in loss) has no correlation
    interval (NaN), not a crash either."""
    from lowcap.studies.sensitivity.config import SensitivityConfig
    from lowcap.studies.sensitivity.report import sensitivity_summary

    store = Store(tmp_path / "s.sqlite")
    rng = np.random.default_rng(10)
    rows = []
    for i in range(6):
        metrics = {"jac_train": 1.0, "jac_test": 1.0 + i, "jac_random": 0.0 if i == 0 else 2.0,
                   "jac_ellipse_near": 1.0, "jac_ellipse_far": 2.0, "transitions_near": 3.0,
                   "transitions_far": 1.0, "train_acc": 1.0, "test_acc": rng.uniform(0.8, 1),
                   "train_loss": 0.1, "test_loss": 0.2, "error_auc": 0.7,
                   "transitions": 4.0, "transitions_2k": 4.0}
        rows += [("sensitivity", f"m{i}", '{"variant": "base"}', k, v) for k, v in metrics.items()]
    with store.transaction() as db:
        db.executemany("INSERT INTO results VALUES (?, ?, ?, ?, ?)", rows)
    summary = sensitivity_summary(store, SensitivityConfig(bootstrap=50))
    lo, hi = summary["near_over_noise_log_ci"]
    assert lo == hi == pytest.approx(np.log(0.5))  # the five finite ratios, all log(1/2)
    assert {c["id"]: c["verdict"] for c in sensitivity_claims(summary)}[
        "jacobian_lower_near_data_vs_noise"] == "holds"
    assert np.isnan(summary["correlation"]["gap_loss"]["spearman_ci"]).all()
