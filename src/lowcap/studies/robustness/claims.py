"""§4.6's claims: wider models are more robust to noise and occlusion."""

from __future__ import annotations

import numpy as np

from lowcap.report.claims import CI, Claim, Verdict, listing
from lowcap.report.statistics import (
    INCONCLUSIVE,
    above,
    bootstrap_mean_ci,
    ci_text,
)


def _width_difference(per_seed_small: dict, per_seed_large: dict) -> np.ndarray:
    """Per seed present in both: large − small."""
    seeds = sorted(set(per_seed_small) & set(per_seed_large), key=int)
    return np.array([per_seed_large[s] - per_seed_small[s] for s in seeds], dtype=float)


def _noise(r: dict) -> Verdict:
    gauss = r.get("robustness", {}).get("gaussian_by_seed", {})
    if len(gauss) < 2:
        return INCONCLUSIVE, "fewer than two widths evaluated under noise"
    small, large = min(gauss, key=int), max(gauss, key=int)
    sigmas = [s for s in gauss[small] if float(s) > 0 and s in gauss[large]]
    if not sigmas:
        return INCONCLUSIVE, "no σ > 0 evaluated"
    diffs = np.array([_width_difference(gauss[small][s], gauss[large][s]) for s in sigmas]).T
    ci = bootstrap_mean_ci(diffs)  # rows: seeds; mean over σ too
    return above(ci, 0.0), (f"F1(h={large}) − F1(h={small}) averaged over {len(sigmas)} σ > 0: "
                            f"{np.nanmean(diffs):+.4f}, 95% bootstrap interval over seeds "
                            f"{ci_text(ci, '+.4f')}")


def _occlusion(r: dict) -> Verdict:
    rob = r.get("robustness", {})
    occ = rob.get("occlusion_by_seed", {})
    if len(occ) < 2:
        return INCONCLUSIVE, "fewer than two widths evaluated under occlusion"
    small, large = min(occ, key=int), max(occ, key=int)
    ci = bootstrap_mean_ci(_width_difference(occ[small], occ[large]))
    mean = rob.get("occlusion", {})
    shown = {h: f"{mean[h]:.3f}" for h in sorted(mean, key=int)}
    return above(ci, 0.0), (f"occlusion F1 by width {listing(shown)} (paper 0.847 / 0.860 / "
                            f"0.862 for 24 / 48 / 64); h={large} − h={small}: 95% bootstrap "
                            f"interval over seeds {ci_text(ci, '+.4f')}")


CLAIMS = (
    Claim("noise_robustness_grows_with_width", "Over-parameterised models are more robust to "
          "Gaussian noise.", "statistic: per seed, test F1 of the widest minus the narrowest "
          f"model averaged over σ > 0; {CI} of its mean over seeds. Holds if the interval lies "
          "above 0, does not hold if below", _noise),
    Claim("occlusion_robustness_grows_with_width", "Larger models are more robust to "
          "occlusion.", "statistic: per seed, occluded test F1 of the widest minus the "
          f"narrowest model; {CI} of its mean over seeds. Holds above 0, does not hold below",
          _occlusion),
)
