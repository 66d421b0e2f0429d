"""Adversarial robustness as a resumable analysis: every selected model of a lane attacked
at once, each with its own gradients, on a fixed subset of its test images."""

from __future__ import annotations

import torch

from lowcap.run.analysis_cache import Rows, run_analysis_unit
from lowcap.run.config import ProtocolConfig
from lowcap.run.context import RunContext
from lowcap.run.plan import ModelPlan
from lowcap.run.runner import train_plans, trained_models
from lowcap.studies.adversarial.attacks import (
    NORMS,
    attack,
    logit_gradient_norms,
    random_start,
    stack_models,
    stacked_logits,
)
from lowcap.studies.adversarial.config import AdversarialConfig
from lowcap.studies.selection import Selection, by_lane
from lowcap.training.metrics import classification_metrics


def settings(spec: AdversarialConfig) -> list[tuple[str, float]]:
    """(attack, ε) pairs measured, in order; (clean, 0) first."""
    return [("clean", 0.0)] + [(name, eps) for name in spec.attacks
                               for eps in (spec.eps_l2 if name == "pgd_l2" else spec.eps_linf)]


def twins(cfg, protocol: ProtocolConfig) -> list[ModelPlan]:
    """The PGD-trained twins of the selected models (none without `training`)."""
    spec: AdversarialConfig = cfg.adversarial
    if spec.training is None:
        return []
    made = (spec.training.twin(plan) for plan in Selection(spec.select).plans(cfg, protocol))
    return [twin for twin in made if twin is not None]


def compute(ctx: RunContext, cfg, protocol: ProtocolConfig) -> bool:
    """Per model, attack and ε: test F1 and accuracy on the attacked images (FGSM: one ℓ∞
    step of size ε; PGD: `steps` projected steps, from a random start drawn per lane from
    `seed`); and per model its empirical Lipschitz constant (the largest ‖∂f/∂x‖ of its logit
    over the clean images) and its parameter count. With `training`, the selected models'
    PGD-trained twins are trained first and measured beside them."""
    spec: AdversarialConfig = cfg.adversarial
    natural = Selection(spec.select).healthy(ctx, cfg, protocol)
    trained = twins(cfg, protocol)
    if trained:
        train_plans(ctx, "adversarial", trained, cfg.snapshot_every)
    pgd_trained = [m for m in trained_models(ctx.store, trained) if not m.diverged]
    models = natural + pgd_trained

    def measure() -> Rows:
        rows: Rows = []
        # The twins are attacked apart: the models' random starts do not depend on them.
        groups = [group for kind in (natural, pgd_trained) for group in by_lane(ctx, kind)]
        for split, members, plist in groups:
            x, y = ctx.analysis_bank(members[0].plan).sample(split, "test", spec.max_images,
                                                             spec.seed)
            stack = {k: v.to(x.dtype) for k, v in stack_models(plist).items()}
            activation = members[0].plan.hp.activation
            x0 = x.expand(len(members), *x.shape)
            generator = torch.Generator().manual_seed(spec.seed)
            for name, eps in settings(spec):
                if name == "clean":
                    adv = x0
                elif name == "fgsm":
                    adv = attack(stack, x, y, activation, "linf", eps, 1, 1.0)
                else:
                    start = (random_start(x0, eps, NORMS[name], generator)
                             if spec.random_start else None)
                    adv = attack(stack, x, y, activation, NORMS[name], eps, spec.steps,
                                 spec.rel_step, start)
                with torch.no_grad():
                    logits = stacked_logits(stack, adv, activation)
                f1 = classification_metrics(logits, y)["f1"].cpu()
                accuracy = ((logits > 0) == (y > 0.5)).double().mean(1).cpu()
                where = {"attack": name, "eps": eps}
                for i, model in enumerate(members):
                    rows += [(model.model_id, where, "test_f1", float(f1[i])),
                             (model.model_id, where, "test_accuracy", float(accuracy[i]))]
                if name == "clean":  # 0 or 1: the model gives one answer for every image
                    positive = (logits > 0).double().mean(1).cpu()
                    rows += [(model.model_id, where, "positive_rate", float(positive[i]))
                             for i, model in enumerate(members)]
            norms = logit_gradient_norms(stack, x0, activation).cpu()
            for i, (model, params) in enumerate(zip(members, plist, strict=True)):
                where = {"attack": "clean", "eps": 0.0}
                rows += [(model.model_id, where, "lipschitz", float(norms[i].max())),
                         (model.model_id, where, "parameters",
                          float(sum(t.numel() for t in params.values())))]
        return rows

    # "version" 3: each model's share of positive answers on the clean images (version 2:
    # its largest logit-gradient norm over the images, and its size).
    identity = {"models": [m.model_id for m in models], "version": 3,
                **spec.model_dump(mode="json",
                                 exclude={"select", "min_effect", "lipschitz_min_effect"})}
    return run_analysis_unit(ctx, "adversarial", identity, measure)
