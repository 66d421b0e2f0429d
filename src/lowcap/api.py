"""A run folder in a notebook: `lowcap.open_run(path)` gives its models, training curves and
analysis results as pandas DataFrames and any model as an `nn.Module`. Read-only: the store is
opened read-only, nothing in the folder is written, and no run lock is taken (a run may be
training while you look)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
from torch import nn

from lowcap.errors import UserInputError
from lowcap.models.mlp import build_mlp
from lowcap.run.checkpoints import load_tensors
from lowcap.run.run_folder import STORE_FILE, require_run_folder
from lowcap.run.store import Store
from lowcap.studies.registry import configured, parse_config
from lowcap.studies.schedule import training_groups
from lowcap.training.hyperparameters import defaults as hyperparameter_defaults


def open_run(path: str | Path) -> Run:
    """Open the lowcap run folder at `path` for reading."""
    return Run(Path(path).expanduser())


class Run:
    """A run folder opened read-only (use `open_run`)."""

    def __init__(self, path: Path):
        require_run_folder(path)
        self.path = path
        self.store = Store(path / STORE_FILE, read_only=True)
        self.config = parse_config(self.store.get_meta("config"), f"{path} (the run's config)")

    def __repr__(self) -> str:
        models = self.store.all_models()
        protocols = sorted({m["protocol"] for m in models})
        studies = [s.name for s in configured(self.config)]
        return (f"<lowcap Run {str(self.path)!r}: {len(models)} models, "
                f"protocols {', '.join(protocols) or 'none'}, studies {', '.join(studies)}>")

    def __enter__(self) -> Run:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the store."""
        self.store.close()

    def models(self, **where: object) -> pd.DataFrame:
        """One row per trained model: its id, every plan field (protocol, pair as 'a-b',
        hidden, lr, seed, labels, activation, ...; NaN for a hyper-parameter its optimiser
        does not use, e.g. momentum for plain SGD), `studies` (the names of the studies
        that trained or share it, with a variant where a study trains several), `diverged_epoch`,
        `best_val_f1`, `final_val_f1` (the last epoch's), `test_f1_at_best_val` (test F1 at
        the epoch of the best validation F1) and `collapsed` (an analysis found the model giving
        one answer for every image: a stored `*_predicted_positive` of 0 or 1). Keyword
        arguments filter on columns, e.g. `models(pair="4-9", hidden=24)`; a study matches
        where it is one of the model's studies."""
        studies = self._studies()
        epochs = self.epochs()
        best, final, test_at_best = _epoch_columns(epochs)
        collapsed = self._collapsed()
        rows = []
        # Fields added since a model was stored hold their defaults (what it trained with).
        defaults = hyperparameter_defaults()
        for row in self.store.all_models():
            spec = {**defaults, **row["spec"], "pair": row["pair"]}
            rows.append({"model_id": row["model_id"], **spec,
                         "studies": " ".join(studies.get(row["model_id"], [])),
                         "diverged_epoch": row["diverged_epoch"],
                         "best_val_f1": best.get(row["model_id"], float("nan")),
                         "final_val_f1": final.get(row["model_id"], float("nan")),
                         "test_f1_at_best_val": test_at_best.get(row["model_id"], float("nan")),
                         "collapsed": row["model_id"] in collapsed})
        frame = pd.DataFrame(rows)
        if not frame.empty:  # a hyper-parameter its optimiser does not use is left blank
            frame["momentum"] = frame["momentum"].where(frame["optimiser"] == "momentum")
            for beta in ("adam_beta1", "adam_beta2"):
                frame[beta] = frame[beta].where(frame["optimiser"] == "adam")
        for column, value in where.items():
            if column == "study":
                frame = frame[frame["studies"].str.split().apply(lambda s, v=value: v in s)]
            elif column not in frame:
                raise UserInputError(f"models({column}=...): no such column; columns are "
                                     f"{', '.join(frame.columns)}")
            else:
                frame = frame[frame[column] == value]
        return frame.reset_index(drop=True)

    def _collapsed(self) -> set[str]:
        """Models some analysis saw answer the same for every image."""
        found = self.store.query(
            "SELECT DISTINCT model_id FROM results WHERE metric LIKE '%predicted_positive' "
            "AND value IN (0.0, 1.0)")
        return {row["model_id"] for row in found}

    def epochs(self) -> pd.DataFrame:
        """One row per model and epoch: train/val/test loss, F1 and ROC-AUC."""
        return pd.DataFrame(self.store.all_epochs())

    def results(self, analysis: str) -> pd.DataFrame:
        """An analysis's stored numbers, one row each: model_id, metric, value, and its
        parameters (level, method, corruption, ...) as columns."""
        rows = [{"model_id": r["model_id"], **r["params"], "metric": r["metric"],
                 "value": r["value"]} for r in self.store.results(analysis)]
        if not rows:
            names = [s.name for s in configured(self.config) if s.compute is not None]
            raise UserInputError(f"{self.path}: no results of {analysis!r} stored; this run's "
                                 f"analyses are {', '.join(names) or 'none'}")
        return pd.DataFrame(rows)

    def model(self, model_id: str) -> nn.Module:
        """A trained model as a plain `nn.Sequential` (Linear, activation, …, Linear: one pair
        per hidden layer) in the float type it trained in; its checkpoint is checked against
        the store's record."""
        row = self.store.models([model_id]).get(model_id)
        if row is None:
            raise UserInputError(f"{self.path}: no model {model_id!r} (see run.models())")
        path = row["checkpoint"]
        params = load_tensors(self.path / path, record=self.store.file_records().get(path))
        return build_mlp(params, row["spec"]["activation"])

    def summary(self, from_store: bool = False) -> dict:
        """The run's summary.json (as the last `lowcap report` wrote it); with `from_store`,
        the summary the report would write now, computed from the store alone without
        drawing or writing anything (e.g. after `--no-report`)."""
        if from_store:
            from lowcap.report.build import summarize

            return summarize(self.path)
        return json.loads((self.path / "summary.json").read_text(encoding="utf-8"))

    def figure(self, name: str) -> Path:
        """The path of a figure the report drew, by its file name without extension (e.g.
        the names in the run's figures/ folder); show it with IPython.display.Image(...)."""
        path = self.path / "figures" / f"{name}.png"
        if not path.is_file():
            shown = sorted(p.stem for p in (self.path / "figures").glob("*.png"))
            raise UserInputError(f"no figure {name!r}; this run has {', '.join(shown)}")
        return path

    def _studies(self) -> dict[str, list[str]]:
        """model id → the studies whose models it is (from the run's config)."""
        labelled = [(study, plan) for study, _, plans in training_groups(self.config)
                    for plan in plans]
        labelled += [pair for study in configured(self.config) if study.trains is not None
                     for pair in study.trains(self.config)]
        out: dict[str, list[str]] = {}
        for label, plan in labelled:
            out.setdefault(plan.model_id, [])
            if label not in out[plan.model_id]:
                out[plan.model_id].append(label)
        return out


def _epoch_columns(epochs: pd.DataFrame) -> tuple[dict, dict, dict]:
    """Per model: the best validation F1, the last epoch's, and test F1 at the best epoch."""
    if epochs.empty:
        return {}, {}, {}
    ordered = epochs.sort_values(["model_id", "epoch"])
    final = ordered.groupby("model_id").tail(1).set_index("model_id")["val_f1"]
    at_best = ordered.loc[ordered["val_f1"].fillna(-1.0).groupby(ordered["model_id"]).idxmax()]
    return (ordered.groupby("model_id")["val_f1"].max().to_dict(), final.to_dict(),
            at_best.set_index("model_id")["test_f1"].to_dict())
