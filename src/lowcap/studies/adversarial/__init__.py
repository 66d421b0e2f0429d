"""Adversarial robustness by width (Madry et al. 2018): FGSM and PGD (ℓ∞ and ℓ2) against
every selected model, each with its own gradients, all models of a lane at once."""

from lowcap.studies.adversarial.claims import CLAIMS
from lowcap.studies.adversarial.compute import compute
from lowcap.studies.adversarial.config import AdversarialConfig
from lowcap.studies.adversarial.report import report, summary
from lowcap.studies.base import Command, Study, floats, names, option
from lowcap.studies.selection import Selection

STUDY = Study(
    "adversarial", AdversarialConfig, compute=compute, report=report, summary=summary,
    claims=CLAIMS, selection=lambda cfg: Selection(cfg.adversarial.select),
    command=Command(
        "adversarial", "FGSM and PGD (ℓ∞, ℓ2) against each selected model with its own "
        "gradients: robust test F1 by width. Rebuilds the report.",
        options=(option("--attacks", "Comma-separated: fgsm, pgd_linf, pgd_l2."),
                 option("--eps-linf", "Comma-separated ℓ∞ radii, e.g. 0.05,0.1,0.2."),
                 option("--eps-l2", "Comma-separated ℓ2 radii, e.g. 0.5,1,2."),
                 option("--steps", "PGD steps (20).", int),
                 option("--max-images", "Test images attacked per model (500).", int)),
        overrides=lambda attacks, eps_linf, eps_l2, steps, max_images: {
            "attacks": names(attacks), "eps_linf": floats(eps_linf), "eps_l2": floats(eps_l2),
            "steps": steps, "max_images": max_images}))
