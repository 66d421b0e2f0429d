"""The adversarial-robustness study's config section."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, field_validator

from lowcap.run.config import ConfigSection, Pair, PositiveInt, Seed, parse_pairs
from lowcap.run.plan import ModelPlan
from lowcap.studies.selection import ModelFilter

Epsilon = Annotated[float, Field(gt=0, le=28)]


class AdversarialTraining(ConfigSection):
    """PGD training beside natural training (Madry et al. 2018): a twin of each selected model
    (same split, batch order, initial weights, learning rate and epochs) trained on the
    worst-case inputs of every batch, and attacked beside it."""

    # The ball of the inner maximisation: linf or l2.
    norm: Literal["linf", "l2"] = "linf"
    # Its radius (Madry et al.: 0.3 in linf for a CNN on ten MNIST classes; at 0.1, PGD
    # training of the pair 4-9 stays at chance for every width up to 32, measured).
    eps: Epsilon = 0.05
    # Steps of the inner maximisation, from the clean image.
    steps: int = Field(7, strict=True, ge=1, le=100)
    # Each step's size, in the units of eps (Madry et al.: 2.5 eps / steps).
    step_size: float = Field(0.018, gt=0, le=28)
    # Only the selected models of these digit pairs get a twin (unset: every pair).
    pairs: list[Pair] | None = None
    # Only the selected models of these widths get a twin (unset: every width).
    widths: list[PositiveInt] | None = None

    _pairs = field_validator("pairs", mode="before")(
        lambda value: None if value is None else parse_pairs(value))

    def twin(self, plan: ModelPlan) -> ModelPlan | None:
        """`plan` trained on PGD inputs, or None where the section gives it no twin."""
        if (self.pairs is not None and plan.pair not in self.pairs) or (
                self.widths is not None and plan.hidden not in self.widths):
            return None
        twin = plan.with_hp(pgd_norm=self.norm, pgd_eps=self.eps, pgd_steps=self.steps,
                            pgd_step_size=self.step_size)
        return None if twin == plan else twin


class AdversarialConfig(ConfigSection):
    """Robustness of every selected model to adversarial perturbations of its test images
    (FGSM and PGD, ℓ∞ and ℓ2), each model attacked with its own gradients: does capacity buy
    adversarial robustness (Madry et al. 2018)?"""

    # Which trained models it reads (default: the capacity sweep's).
    select: ModelFilter = ModelFilter()
    # The attacks: fgsm (one ℓ∞ step of size ε), pgd_linf and pgd_l2 (projected gradient
    # ascent on the loss, `steps` steps from a random start in the ball).
    attacks: list[Literal["fgsm", "pgd_linf", "pgd_l2"]] = ["fgsm", "pgd_linf", "pgd_l2"]
    # Radii of the ℓ∞ attacks, in pixel intensity (pixels lie in [0, 1]).
    eps_linf: list[Epsilon] = [0.05, 0.1, 0.2]
    # Radii of the ℓ2 attack, in the same units over the whole image.
    eps_l2: list[Epsilon] = [0.5, 1.0, 2.0]
    # PGD steps.
    steps: int = Field(20, strict=True, ge=1, le=1000)
    # PGD step size as a multiple of ε (Madry et al.: 2.5 ε / steps).
    rel_step: float = Field(0.125, gt=0, le=1)
    # Whether PGD starts from a uniformly random point of the ball (else from the image).
    random_start: bool = Field(True, strict=True)
    # Test images attacked per model (a random subset fixed by `seed`).
    max_images: int = Field(500, strict=True, ge=10)
    # Seed of the image subset and of the random starts.
    seed: Seed = 0
    # The practical threshold, in robust test F1: a width effect the statistics support but
    # smaller than this is reported as negligible.
    min_effect: float = Field(0.01, ge=0)
    # The practical threshold of the Lipschitz claim, in decades (log10) of the constant.
    lipschitz_min_effect: float = Field(0.1, ge=0)
    # Also train a PGD-trained twin of each selected model and attack it:
    # {norm, eps, steps, step_size, pairs, widths}. Unset: natural training only.
    training: AdversarialTraining | None = None
