"""Trends over every width: the shape label reads non-monotone curves, noise alone names no
shape more often than the test's level, and a supported but tiny effect is 'negligible'."""

import numpy as np
import pytest

from lowcap.report.claims import claim_record, margin_text
from lowcap.report.statistics import FAILS, HOLDS, NEGLIGIBLE, above, practical
from lowcap.report.trends import factor_trend

WIDTHS = [1, 2, 4, 8, 16, 32]
# Mean test F1 over σ > 0 of 2-7 by width, as a user measured it (10 seeds): a peak at 2.
NOISE_2_7 = [0.772, 0.869, 0.744, 0.795, 0.791, 0.789]


def _curves(means, seeds, sd, rng):
    return {h: {str(s): m + rng.normal(0, sd) for s in range(seeds)}
            for h, m in zip(WIDTHS, means, strict=True)}


def test_a_curve_that_peaks_at_width_2_is_labelled_peaked_not_monotone():
    trend = factor_trend(_curves(NOISE_2_7, 10, 0.03, np.random.default_rng(1)), 0.01)
    assert trend.shape == "peaked at 2" and trend.best == 2
    assert trend.best_range == (2.0, 2.0)
    assert trend.best_minus_last_ci[0] > 0  # width 2 beats the widest, with its interval
    assert trend.p_values["peaked"] < 0.05 < min(trend.p_values["increasing"],
                                                 trend.p_values["decreasing"])


@pytest.mark.parametrize(("step", "shape"), [(0.03, "increasing"), (-0.03, "decreasing")])
def test_monotone_curves_are_labelled_by_their_direction(step, shape):
    means = [0.8 + step * i for i in range(len(WIDTHS))]
    assert factor_trend(_curves(means, 5, 0.02, np.random.default_rng(2)), 0.01).shape == shape


def test_a_tiny_width_effect_is_flat_below_the_practical_threshold():
    means = [0.962 + 0.0012 * i for i in range(len(WIDTHS))]  # 0.962 → 0.968
    trend = factor_trend(_curves(means, 10, 0.002, np.random.default_rng(3)), 0.01)
    assert trend.shape == "flat" and trend.range_ci[1] < 0.01
    # the same curve held to a smaller practical threshold is a real increase
    assert factor_trend(_curves(means, 10, 0.002, np.random.default_rng(3)),
                        0.001).shape == "increasing"


@pytest.mark.parametrize("seeds", [3, 5, 10])
def test_noise_alone_names_a_shape_no_more_often_than_the_tests_level(seeds):
    """Every width has the same mean: any named shape is a false discovery. Holm over the four
    shapes keeps them at 5% together; 100 draws allow up to 10."""
    rng = np.random.default_rng(seeds)
    named = sum(factor_trend(_curves([0.8] * len(WIDTHS), seeds, 0.05, rng), 0.01).shape
                not in ("unclear", "flat") for _ in range(100))
    assert named <= 10


def test_too_few_levels_or_seeds_are_unclear_and_say_why():
    two_levels = {1: {"0": 0.5, "1": 0.6}, 2: {"0": 0.9, "1": 0.95}}
    trend = factor_trend(two_levels, 0.01)
    assert trend.shape == "unclear" and "2 levels" in trend.reason
    one_seed = {h: {"0": float(h)} for h in WIDTHS}
    assert factor_trend(one_seed, 0.01).shape == "unclear"
    missing = {h: {"0": 0.5, "1": 0.6} for h in WIDTHS} | {4: {"0": 0.5}}  # seed 1 lacks h=4
    assert factor_trend(missing, 0.01).seeds == 1
    assert set(factor_trend(_curves(NOISE_2_7, 4, 0.03, np.random.default_rng(0)), 0.01)
               .as_dict()) >= {"shape", "best", "best_range", "p_values", "reason"}


def test_a_supported_effect_below_the_practical_threshold_is_negligible():
    occlusion = above((0.0007, 0.0036), 0.0)  # the 2-7 occlusion effect, 10 seeds
    assert occlusion.verdict == HOLDS
    decided = practical(occlusion, 0.002, 0.01)
    assert decided.verdict == NEGLIGIBLE and decided.effect == 0.002
    assert practical(occlusion, 0.02, 0.01).verdict == HOLDS
    assert practical(above((-0.03, -0.01), 0.0), -0.002, 0.01).verdict == FAILS
    record = claim_record("c", "corrected", "…", "…", decided, "…")
    assert record["verdict"] == NEGLIGIBLE and not record["holds"]
    assert record["effect"] == 0.002 and record["min_effect"] == 0.01
    assert "effect +0.002, within practical ±0.01" in margin_text(record)
