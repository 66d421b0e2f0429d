"""The adversarial study's claim: capacity alone raises robustness (Madry et al. 2018)."""

from __future__ import annotations

import numpy as np

from lowcap.report.claims import CI, Claim, SeedValues, Verdict, listing
from lowcap.report.statistics import above, bootstrap_mean_ci, ci_text, practical, undecided

ATTACK = "pgd_linf"  # the attack the claim reads: the strongest ℓ∞ attack measured


def _per_seed(r: dict) -> SeedValues:
    """Per seed: PGD-ℓ∞ test F1 of the widest minus the narrowest model, mean over the ε
    measured and the pairs where the seed has both."""
    differences: dict[str, list[float]] = {}
    for cells in r.get("adversarial", {}).get("f1_by_seed", {}).values():
        for key, widths in cells.items():
            if not key.startswith(f"{ATTACK}@") or len(widths) < 2:
                continue
            small, large = widths[min(widths, key=int)], widths[max(widths, key=int)]
            for seed in small:
                if seed in large:
                    differences.setdefault(seed, []).append(large[seed] - small[seed])
    return {seed: float(np.mean(d)) for seed, d in sorted(differences.items(),
                                                           key=lambda kv: int(kv[0]))}


def _grows(r: dict) -> Verdict:
    section = r.get("adversarial", {})
    per_seed = _per_seed(r)
    if not per_seed:
        return undecided(), f"no {ATTACK} attack on two widths measured"
    values = np.array(list(per_seed.values()))
    ci = bootstrap_mean_ci(values)
    effect = float(np.nanmean(values))
    cells = [(key.split("@")[1], widths) for by_key in section["f1_by_seed"].values()
             for key, widths in by_key.items() if key.startswith(f"{ATTACK}@")]
    measured = sorted({int(w) for _, widths in cells for w in widths})
    shown = {eps: listing({w: f"{v:.3f}" for w, v in sorted(by_width.items(),
                                                           key=lambda kv: int(kv[0]))
                           if v is not None})
             for eps, by_width in section.get("f1", {}).get(ATTACK, {}).items()}
    return (practical(above(ci, 0.0), effect, float(section.get("min_effect", 0.01))),
            f"PGD-ℓ∞ test F1(h={measured[-1]}) − F1(h={measured[0]}) averaged over "
            f"{len({eps for eps, _ in cells})} ε: {effect:+.4f}, 95% bootstrap interval over "
            f"{len(values)} seeds {ci_text(ci, '+.4f')}"
            + (f"; F1 by ε and width {listing(shown)}" if shown else ""))


CLAIMS = (
    Claim("adversarial_robustness_grows_with_width", "Madry et al. (2018): capacity alone "
          "makes a naturally trained network somewhat more robust to adversarial examples.",
          "statistic: per seed, the PGD-ℓ∞ test F1 of the widest minus the narrowest model, "
          f"mean over the ε measured and over pairs; {CI} of its mean over seeds. Holds if "
          "the interval lies above 0 and the mean effect is at least `adversarial.min_effect` "
          "(negligible if smaller), does not hold if below 0",
          _grows, _per_seed, "one seed's PGD-ℓ∞ F1 of the widest minus the narrowest model, "
          "mean over ε and pairs"),
)
