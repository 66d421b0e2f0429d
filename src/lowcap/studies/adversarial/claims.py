"""The adversarial study's claim: capacity alone raises robustness (Madry et al. 2018)."""

from __future__ import annotations

import numpy as np

from lowcap.report.claims import (
    CI,
    Claim,
    SeedValues,
    Verdict,
    listing,
    seed_effect,
    widest_minus_smallest,
)
from lowcap.report.statistics import undecided

ATTACK = "pgd_linf"  # the attack the claim reads: the strongest ℓ∞ attack measured


def _robust_gain(section: dict) -> SeedValues:
    """Per seed: PGD-ℓ∞ test F1 of the widest minus the narrowest model, mean over the ε
    measured and the pairs where the seed has both."""
    cells = section.get("f1_by_seed", {}).values()
    return widest_minus_smallest(widths for by_key in cells for key, widths in by_key.items()
                                  if key.startswith(f"{ATTACK}@"))


def _per_seed(r: dict) -> SeedValues:
    return _robust_gain(r.get("adversarial", {}))


def _trained_per_seed(r: dict) -> SeedValues:
    return _robust_gain(r.get("adversarial", {}).get("pgd_trained", {}))


def _robustness_grows(section: dict, min_effect: float) -> Verdict:
    """Whether PGD-ℓ∞ F1 rises from the narrowest to the widest model of `section`."""
    per_seed = _robust_gain(section)
    if not per_seed:
        return undecided(), f"no {ATTACK} attack on two widths measured"
    cells = [(key.split("@")[1], widths) for by_key in section["f1_by_seed"].values()
             for key, widths in by_key.items() if key.startswith(f"{ATTACK}@")]
    measured = sorted({int(w) for _, widths in cells for w in widths})
    shown = {eps: listing({w: f"{v:.3f}" for w, v in sorted(by_width.items(),
                                                           key=lambda kv: int(kv[0]))
                           if v is not None})
             for eps, by_width in section.get("f1", {}).get(ATTACK, {}).items()}
    decision, evidence = seed_effect(
        per_seed, f"PGD-ℓ∞ test F1(h={measured[-1]}) − F1(h={measured[0]}) averaged over "
        f"{len({eps for eps, _ in cells})} ε", min_effect)
    return decision, evidence + (f"; F1 by ε and width {listing(shown)}" if shown else "")


def _grows(r: dict) -> Verdict:
    section = r.get("adversarial", {})
    return _robustness_grows(section, float(section.get("min_effect", 0.01)))


def _collapsed(trained: dict) -> str:
    """'; …' naming the widths where PGD-trained models give one answer for every image."""
    counts = {w: n for w, n in trained.get("collapsed", {}).items() if n}
    return (f"; PGD-trained models giving one answer for every clean image, by width "
            f"{listing(counts)}" if counts else "")


def _trained_grows(r: dict) -> Verdict:
    section = r.get("adversarial", {})
    if "pgd_trained" not in section:
        return undecided(), "no PGD-trained models (set adversarial.training)"
    verdict, text = _robustness_grows(section["pgd_trained"],
                                      float(section.get("min_effect", 0.01)))
    return verdict, text + _collapsed(section["pgd_trained"])


def _cost_per_seed(r: dict) -> SeedValues:
    """Per seed: the clean test F1 that PGD training costs the narrowest model minus what it
    costs the widest (each cost: natural F1 − PGD-trained F1), mean over pairs."""
    return widest_minus_smallest(
        r.get("adversarial", {}).get("clean_change_by_seed", {}).values())


def _costs_small_more(r: dict) -> Verdict:
    section = r.get("adversarial", {})
    per_seed = _cost_per_seed(r)
    if not per_seed:
        return undecided(), "no PGD-trained twins of two widths (set adversarial.training)"
    natural = section.get("f1", {}).get("clean", {}).get("0", {})
    trained = section["pgd_trained"].get("f1", {}).get("clean", {}).get("0", {})
    shown = {f"h={w}": f"{natural[w]:.3f} → {trained[w]:.3f}" for w in trained
             if w in natural and natural[w] is not None and trained[w] is not None}
    decision, evidence = seed_effect(
        per_seed, "clean-F1 cost of PGD training at the narrowest width minus at the widest",
        float(section.get("min_effect", 0.01)))
    return (decision, f"{evidence}; clean test F1 natural → PGD-trained {listing(shown)}"
            + _collapsed(section["pgd_trained"]))


def _lipschitz_per_seed(r: dict) -> SeedValues:
    """Per seed: log10 of the widest model's empirical Lipschitz constant minus the
    narrowest's, mean over the pairs where the seed has both."""
    return widest_minus_smallest(
        r.get("adversarial", {}).get("lipschitz_by_seed", {}).values(), np.log10)


def _lipschitz_falls(r: dict) -> Verdict:
    section = r.get("adversarial", {})
    per_seed = _lipschitz_per_seed(r)
    if not per_seed:
        return undecided(), "no Lipschitz constants of two widths measured"
    lip, sizes = section.get("lipschitz", {}), section.get("parameters", {})
    shown = {f"h={w} ({int(sizes[w]):,} parameters)": f"{v:.3g}" for w, v in lip.items()
             if w in sizes}
    decision, evidence = seed_effect(
        per_seed, "log10 Lipschitz(widest) − log10 Lipschitz(narrowest)",
        float(section.get("lipschitz_min_effect", 0.1)), "below", "+.3f", " decades")
    return decision, f"{evidence}; mean empirical Lipschitz constant {listing(shown)}"


CLAIMS = (
    Claim("adversarial_robustness_grows_with_width", "Madry et al. (2018): capacity alone "
          "makes a naturally trained network somewhat more robust to adversarial examples.",
          "statistic: per seed, the PGD-ℓ∞ test F1 of the widest minus the narrowest model, "
          f"mean over the ε measured and over pairs; {CI} of its mean over seeds. Holds if "
          "the interval lies above 0 and the mean effect is at least `adversarial.min_effect` "
          "(negligible if smaller), does not hold if below 0",
          _grows, _per_seed, "one seed's PGD-ℓ∞ F1 of the widest minus the narrowest model, "
          "mean over ε and pairs"),
    Claim("adversarial_training_robustness_grows_with_width", "Madry et al. (2018): under "
          "PGD training, robustness to PGD grows with capacity (small networks fail to "
          "become robust).",
          "statistic: per seed, the PGD-ℓ∞ test F1 of the widest minus the narrowest "
          "PGD-trained model (`adversarial.training`), mean over the ε measured and over "
          f"pairs; {CI} of its mean over seeds. Holds if the interval lies above 0 and the "
          "mean effect is at least `adversarial.min_effect` (negligible if smaller), does not "
          "hold if below 0",
          _trained_grows, _trained_per_seed, "one seed's PGD-ℓ∞ F1 of the widest minus the "
          "narrowest PGD-trained model, mean over ε and pairs"),
    Claim("adversarial_training_costs_small_networks_more", "Madry et al. (2018): PGD "
          "training costs small networks clean accuracy that wide ones keep.",
          "statistic: per seed, the clean test F1 PGD training costs the narrowest model "
          "(natural F1 − its PGD-trained twin's) minus what it costs the widest, mean over "
          f"pairs; {CI} of its mean over seeds. Holds if the interval lies above 0 and the "
          "mean effect is at least `adversarial.min_effect` (negligible if smaller), does not "
          "hold if below 0",
          _costs_small_more, _cost_per_seed, "one seed's clean-F1 cost of PGD training at "
          "the narrowest width minus at the widest, mean over pairs"),
    Claim("lipschitz_falls_with_parameters", "Bubeck & Sellke (2021): fitting data "
          "smoothly needs many parameters (a Lipschitz constant of order √(n·d/p)), so wider "
          "models fit with smaller Lipschitz constants.",
          "statistic: per seed, log10 of the widest model's empirical Lipschitz constant (its "
          "largest logit-gradient norm over the attacked test images) minus the narrowest's, "
          f"mean over pairs; {CI} of its mean over seeds. Holds if the interval lies below 0 "
          "and the mean effect is at least `adversarial.lipschitz_min_effect` decades "
          "(negligible if smaller), does not hold if above 0",
          _lipschitz_falls, _lipschitz_per_seed, "one seed's log10 Lipschitz constant of the "
          "widest minus the narrowest model, mean over pairs"),
)
