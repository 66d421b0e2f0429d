"""Lottery tickets: iterative magnitude pruning with rewinding, its random-reinitialisation
and random-mask controls, and one-shot pruning with and without fine-tuning, all in cohorts."""

from lowcap.studies.base import Command, Study, ints, names, option
from lowcap.studies.tickets.claims import CLAIMS
from lowcap.studies.tickets.compute import compute, dense_plans
from lowcap.studies.tickets.config import TicketsConfig
from lowcap.studies.tickets.report import report, summary

COMMAND = Command(
    "tickets", "Lottery tickets (iterative magnitude pruning with rewinding and its controls) "
    "of a run's protocols: trains the dense models and every round, resuming; rebuilds the "
    "report.",
    options=(option("--pairs", "Comma-separated digit pairs, e.g. 4-9,3-8."),
             option("--widths", "Comma-separated widths, e.g. 12,64."),
             option("--rounds", "Pruning rounds (21: about 1% of the weights left).", int),
             option("--rewind-epoch", "0: rewind to the initialisation; k: to epoch k.", int),
             option("--evaluate-every", "Validation F1 after every k-th epoch of a round and "
                    "its last (1: each).", int)),
    overrides=lambda pairs, widths, rounds, rewind_epoch, evaluate_every: {
        "pairs": names(pairs), "widths": ints(widths), "rounds": rounds,
        "rewind_epoch": rewind_epoch, "evaluate_every": evaluate_every})
STUDY = Study(
    "tickets", TicketsConfig, compute=compute, report=report, summary=summary, claims=CLAIMS,
    command=COMMAND,
    trains=lambda cfg: [("tickets", plan) for protocol in cfg.protocols
                        for plan in dense_plans(cfg, protocol)])
