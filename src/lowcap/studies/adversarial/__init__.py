"""Adversarial robustness by width (Madry et al. 2018): FGSM and PGD (ℓ∞ and ℓ2) against
every selected model, each with its own gradients, all models of a lane at once; with
`training`, PGD-trained twins of the models beside them."""

from lowcap.errors import UserInputError
from lowcap.studies.adversarial.claims import CLAIMS
from lowcap.studies.adversarial.compute import compute, twins
from lowcap.studies.adversarial.config import AdversarialConfig
from lowcap.studies.adversarial.report import report, summary
from lowcap.studies.base import Command, Study, floats, ints, names, option
from lowcap.studies.selection import Selection


def _training(text: str | None) -> dict | None:
    """--training NORM,EPS,STEPS,STEP_SIZE as the section's `training` (None: not given)."""
    if text is None:
        return None
    parts = text.split(",")
    if len(parts) != 4:
        raise UserInputError(f"--training {text!r}: expected NORM,EPS,STEPS,STEP_SIZE, e.g. "
                             "linf,0.1,7,0.036")
    (eps,), (steps,), (step_size,) = floats(parts[1]), ints(parts[2]), floats(parts[3])
    return {"norm": parts[0], "eps": eps, "steps": steps, "step_size": step_size}


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
                 option("--max-images", "Test images attacked per model (500).", int),
                 option("--training", "Also train each model's PGD-trained twin: NORM,EPS,"
                        "STEPS,STEP_SIZE, e.g. linf,0.05,7,0.018.")),
        overrides=lambda attacks, eps_linf, eps_l2, steps, max_images, training: {
            "attacks": names(attacks), "eps_linf": floats(eps_linf), "eps_l2": floats(eps_l2),
            "steps": steps, "max_images": max_images, "training": _training(training)}),
    trains=lambda cfg: [("adversarial/pgd_trained", twin) for protocol in cfg.protocols
                        for twin in twins(cfg, protocol)])
