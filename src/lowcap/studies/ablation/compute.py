"""The ablation as a phase: train every cell's models (cohorts; a model two cells share is
trained once), then run each cell's analyses, all resumable like any phase."""

from __future__ import annotations

from lowcap.progress import progress
from lowcap.run.config import ProtocolConfig
from lowcap.run.context import RunContext
from lowcap.run.plan import ModelPlan
from lowcap.run.runner import train_plans
from lowcap.studies.ablation.design import Cell, analysis_studies, anchors, cells
from lowcap.studies.capacity.report import plans as capacity_plans


def design(cfg) -> list[Cell]:
    """The cells, then the anchors."""
    return cells(cfg) + anchors(cfg)


def labelled_plans(cfg) -> list[tuple[str, ModelPlan]]:
    """Every model the ablation trains, labelled 'ablation/<cell>'."""
    return [(f"ablation/{cell.name}", plan) for cell in design(cfg)
            for plan in capacity_plans(cell.cfg, cell.protocol)]


def compute(ctx: RunContext, cfg, protocol: ProtocolConfig) -> bool:
    """The whole design, once per run (under its first protocol; the cells are protocols of
    their own)."""
    if protocol.name != cfg.protocols[0].name:
        return False
    every = design(cfg)
    trained = train_plans(ctx, "ablation", [plan for _, plan in labelled_plans(cfg)],
                          cfg.snapshot_every)
    studies = [s for s in analysis_studies(cfg.ablation) if s.compute is not None]
    bar = progress(len(every) * len(studies), "ablation analyses", ctx.quiet, unit="analyses")
    did = False
    for cell in every:
        for study in studies:
            did |= study.compute(ctx, cell.cfg, cell.protocol)
            bar.update(1)
    bar.close()
    return bool(trained) or did
