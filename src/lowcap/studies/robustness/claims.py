"""§4.6's claims: wider models are more robust to noise and occlusion."""

from __future__ import annotations

import numpy as np

from lowcap.report.claims import CI, Claim, SeedValues, Verdict, listing
from lowcap.report.statistics import (
    above,
    bootstrap_mean_ci,
    ci_text,
    practical,
    seeds_needed,
    undecided,
)

DEFAULT_MIN_EFFECT = 0.01  # summaries made before `robustness.min_effect` existed


def _seed_differences(small: dict, large: dict) -> SeedValues:
    """Per seed present in both: large − small."""
    return {s: large[s] - small[s] for s in sorted(small, key=int) if s in large}


def _width_difference(per_seed_small: dict, per_seed_large: dict) -> np.ndarray:
    """Per seed present in both: large − small."""
    return np.array(list(_seed_differences(per_seed_small, per_seed_large).values()),
                    dtype=float)


def _noise_per_seed(r: dict) -> SeedValues:
    gauss = r.get("robustness", {}).get("gaussian_by_seed", {})
    if len(gauss) < 2:
        return {}
    small, large = min(gauss, key=int), max(gauss, key=int)
    per_sigma = [_seed_differences(gauss[small][s], gauss[large][s])
                 for s in gauss[small] if float(s) > 0 and s in gauss[large]]
    seeds = set.intersection(*(set(d) for d in per_sigma)) if per_sigma else set()
    return {s: float(np.mean([d[s] for d in per_sigma])) for s in seeds}


def _occlusion_per_seed(r: dict) -> SeedValues:
    occ = r.get("robustness", {}).get("occlusion_by_seed", {})
    if len(occ) < 2:
        return {}
    return _seed_differences(occ[min(occ, key=int)], occ[max(occ, key=int)])


def _noise(r: dict) -> Verdict:
    gauss = r.get("robustness", {}).get("gaussian_by_seed", {})
    if len(gauss) < 2:
        return undecided(), "fewer than two widths evaluated under noise"
    small, large = min(gauss, key=int), max(gauss, key=int)
    sigmas = [s for s in gauss[small] if float(s) > 0 and s in gauss[large]]
    if not sigmas:
        return undecided(), "no σ > 0 evaluated"
    diffs = np.array([_width_difference(gauss[small][s], gauss[large][s]) for s in sigmas]).T
    ci = bootstrap_mean_ci(diffs)  # rows: seeds; mean over σ too
    effect = float(np.nanmean(diffs))
    return (practical(above(ci, 0.0), effect, _min_effect(r)),
            f"F1(h={large}) − F1(h={small}) averaged over {len(sigmas)} σ > 0: {effect:+.4f}, "
            f"95% bootstrap interval over seeds {ci_text(ci, '+.4f')}"
            f"{_seeds_text(np.nanmean(diffs, axis=1), effect, _min_effect(r))}"
            f"{_trend_text(r, 'gaussian')}")


def _occlusion(r: dict) -> Verdict:
    rob = r.get("robustness", {})
    occ = rob.get("occlusion_by_seed", {})
    if len(occ) < 2:
        return undecided(), "fewer than two widths evaluated under occlusion"
    small, large = min(occ, key=int), max(occ, key=int)
    diffs = _width_difference(occ[small], occ[large])
    ci = bootstrap_mean_ci(diffs)
    mean = rob.get("occlusion", {})
    shown = {h: f"{mean[h]:.3f}" for h in sorted(mean, key=int)}
    effect = float(np.nanmean(diffs)) if len(diffs) else float("nan")
    paper = (" (paper 0.847 / 0.860 / 0.862 for 24 / 48 / 64)" if rob.get("pair") == "4-9"
             else "")  # the paper's own numbers only beside its own pair
    return (practical(above(ci, 0.0), effect, _min_effect(r)),
            f"occlusion F1 by width {listing(shown)}{paper}; h={large} − h={small}: {effect:+.4f}, "
            f"95% bootstrap interval over seeds {ci_text(ci, '+.4f')}"
            f"{_seeds_text(diffs, effect, _min_effect(r))}{_trend_text(r, 'occlusion')}")


def _seeds_text(per_seed: np.ndarray, effect: float, min_effect: float) -> str:
    """'; 10 seeds resolve ±0.031 F1; the observed +0.018 would need about 30 seeds (…)'; no
    suggestion for an effect below the practical threshold (more seeds would not make it
    matter)."""
    resolvable, needed = seeds_needed(per_seed, effect)
    if not np.isfinite(resolvable):
        return ""
    text = f"; {len(per_seed)} seeds resolve ±{resolvable:.3f} F1"
    if needed is not None and needed > len(per_seed) and abs(effect) >= min_effect:
        text += (f"; the observed {effect:+.4f} would need about {needed} seeds (list more "
                 "seeds under the protocol and rerun the same command: finished models are "
                 "reused)")
    return text


def _min_effect(r: dict) -> float:
    return float(r.get("robustness", {}).get("min_effect", DEFAULT_MIN_EFFECT))


def _trend_text(r: dict, name: str) -> str:
    """'; over every width: peaked at 2 (…)' from the summary's trend, if it has one."""
    trend = r.get("robustness", {}).get("trends", {}).get(name)
    return f"; over every width: {trend['shape']} ({trend['reason']})" if trend else ""


CLAIMS = (
    Claim("noise_robustness_grows_with_width", "Over-parameterised models are more robust to "
          "Gaussian noise.", "statistic: per seed, test F1 of the widest minus the narrowest "
          f"model averaged over σ > 0; {CI} of its mean over seeds. Holds if the interval lies "
          "above 0 and the mean effect is at least `robustness.min_effect` (negligible if "
          "smaller), does not hold if below 0", _noise, _noise_per_seed, "one seed's test F1 "
          "of the widest minus the narrowest model, mean over σ > 0"),
    Claim("occlusion_robustness_grows_with_width", "Larger models are more robust to "
          "occlusion.", "statistic: per seed, occluded test F1 of the widest minus the "
          f"narrowest model; {CI} of its mean over seeds. Holds above 0 with a mean effect of at "
          "least `robustness.min_effect` (negligible if smaller), does not hold below 0",
          _occlusion, _occlusion_per_seed, "one seed's occluded test F1 of the widest minus "
          "the narrowest model"),
)
