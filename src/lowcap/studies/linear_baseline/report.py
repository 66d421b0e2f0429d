"""The linear baseline's report section, beside the capacity table: logistic regression F1
and exact linear separability per pair, and what separability means for 'capacity needed'."""

from __future__ import annotations

from lowcap.report.html import table
from lowcap.run.plan import ModelPlan
from lowcap.run.store import Store
from lowcap.studies.base import ReportInput, Section
from lowcap.studies.linear_baseline.compute import first_splits, split_id
from lowcap.studies.selection import Selection


def linear_table(store: Store, plans: list[ModelPlan], c: float) -> dict[str, dict]:
    """pair → {seed, logistic_val_f1, logistic_test_f1, logistic_train_accuracy, converged,
    separable} for the pairs of `plans` whose baseline is stored."""
    wanted = {split_id(plan): plan for plan in first_splits(plans).values()}
    values: dict[str, dict] = {}
    for row in store.results("linear_baseline"):
        if row["model_id"] in wanted and row["params"].get("c", c) == c:
            values.setdefault(row["model_id"], {})[row["metric"]] = row["value"]
    out = {}
    for sid, plan in wanted.items():
        got = values.get(sid, {})
        if "val_f1" not in got:
            continue
        out[plan.pair_key] = {"seed": plan.seed, "logistic_val_f1": got["val_f1"],
                              "logistic_test_f1": got["test_f1"],
                              "logistic_train_accuracy": got["train_accuracy"],
                              "converged": bool(got["converged"]),
                              "separable": (bool(got["separable"]) if "separable" in got
                                            else None)}
    return out


def summary(inp: ReportInput) -> dict:
    """Summary key `linear`."""
    spec = inp.cfg.linear_baseline
    plans = Selection(spec.select).plans(inp.cfg, inp.protocol)
    return {"linear_baseline": linear_table(inp.store, plans, spec.c)}


def separability_note(result: dict[str, dict]) -> str:
    """What separability means for the capacity results, in words from the numbers."""
    if any(e["separable"] is None for e in result.values()):
        return "Separability was not tested (linear_baseline: separability: false)."
    separable = [pair for pair, e in result.items() if e["separable"]]
    if not separable:
        return ("No pair's training split is linearly separable: each needs a non-linear "
                "model to be fitted exactly, and 'minimum capacity' measures how much.")
    return (f"Linearly separable training split{'s' if len(separable) > 1 else ''}: "
            f"{', '.join(separable)}. A single linear unit fits these exactly, so their "
            "'minimum capacity' does not measure representational capacity; it measures how "
            "well the optimiser and the rule's F1 threshold fare on the validation split.")


def report(inp: ReportInput) -> Section:
    """The baseline table and the separability note."""
    result = summary(inp)["linear_baseline"]
    if not result:
        return Section()
    rows = [[pair, e["seed"], e["logistic_val_f1"], e["logistic_test_f1"],
             e["logistic_train_accuracy"],
             {True: "yes", False: "no", None: "not tested"}[e["separable"]]]
            for pair, e in result.items()]
    return Section({"linear_baseline": result}, [], (
        "<h3>§4.2 beside it: linear baseline and separability</h3><p>Logistic regression "
        f"(scikit-learn, L2, C = {inp.cfg.linear_baseline.c:g}) on each pair's split of its "
        "smallest seed, and an exact test of whether that training split is linearly "
        "separable (an LP, HiGHS).</p>"
        + table(["pair", "seed", "logistic val F1", "logistic test F1", "train accuracy",
                 "linearly separable"], rows)
        + f"<p>{separability_note(result)}</p>"))
