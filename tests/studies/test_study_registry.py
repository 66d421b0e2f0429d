"""The study registry: a study is one folder and one registry line. A toy study (the worked
example of docs/write-a-study.md) registered here gets a config section, a command, a report
section and a summary key; no core package names any study; model ids survive new fields."""

from __future__ import annotations

import contextlib
import importlib.util
import json
import re
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from conftest import ROOT
from safetensors import safe_open

from lowcap.cli.main import cli
from lowcap.errors import UserInputError
from lowcap.run.plan import ModelPlan
from lowcap.studies.capacity.report import plans as capacity_plans
from lowcap.studies.registry import load_config, parse_config, registered, schema, studies

SRC = ROOT / "src" / "lowcap"
EXAMPLE = ROOT / "docs" / "examples" / "weight_norm" / "__init__.py"


def _toy_study():
    spec = importlib.util.spec_from_file_location("weight_norm_example", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # as an import would: pydantic resolves its annotations
    spec.loader.exec_module(module)
    return module.STUDY


def test_no_core_module_names_a_study():
    """`grep -r <study> src/lowcap` finds only the studies package (its own folder, the studies
    that build on it, the registry): the core knows no study."""
    core = [p for p in SRC.rglob("*.py") if "studies" not in p.relative_to(SRC).parts]
    assert len(core) > 20
    for study in studies():
        naming = [str(p.relative_to(SRC)) for p in core if study.name in p.read_text()]
        assert naming == [], f"{study.name} is named in core modules {naming}"


def test_every_study_lives_in_its_own_folder():
    for study in studies():
        module = study.config.__module__
        assert module.startswith(f"lowcap.studies.{study.name}"), (study.name, module)
        assert (SRC / "studies" / study.name / "__init__.py").is_file()


@pytest.mark.slow
def test_a_registered_toy_study_gets_section_command_report_and_summary_key(run_copy):
    """The toy study of docs/write-a-study.md, registered for the test; or, in a tree where a
    reader has followed that tutorial (it is in the registry), as registered there."""
    followed = any(study.name == "weight_norm" for study in studies())
    runner = CliRunner()
    if not followed:
        assert "weight-norm" not in runner.invoke(cli, ["--help"]).output
    with contextlib.nullcontext() if followed else registered(_toy_study()):
        assert "weight_norm" in schema().model_fields
        cfg = parse_config({"protocols": {"corrected": {}}, "weight_norm": {"norm": "max"}}, "t")
        assert cfg.weight_norm.norm == "max"
        with pytest.raises(UserInputError, match=r"weight_norm\.bogus: unknown key"):
            parse_config({"protocols": {"corrected": {}}, "weight_norm": {"bogus": 1}}, "t")
        assert "weight-norm" in runner.invoke(cli, ["--help"]).output
        done = runner.invoke(cli, ["weight-norm", str(run_copy), "--device", "cpu", "--quiet"])
        assert done.exit_code == 0, done.output
        models = [(m["pair"], m["hidden"], m["checkpoint"])
                  for m in _models(run_copy, "corrected")]
    assert followed or "weight_norm" not in schema().model_fields  # unregistered again
    summary = json.loads((run_copy / "summary.json").read_text())
    norms = summary["protocols"]["corrected"]["weight_norm"]
    # Known values: the mean over seeds of each model's ‖w1‖_F read from its checkpoint.
    for pair, hidden, _ in models:
        expected = np.mean([_w1_norm(run_copy / c) for p, h, c in models
                            if (p, h) == (pair, hidden)])
        assert norms[pair][str(hidden)] == pytest.approx(expected, rel=1e-6)
    assert "Weight norm by width" in (run_copy / "report.html").read_text()
    assert "weight_norm" in (run_copy / "config.yaml").read_text()


def test_a_study_name_is_registered_once():
    with pytest.raises(ValueError, match="already registered"), registered(studies()[0]):
        pass


def _models(run: Path, protocol: str) -> list[dict]:
    """(pair, hidden, checkpoint) of the run's capacity models under `protocol`."""
    cfg = load_config(run / "config.yaml")
    plans = capacity_plans(cfg, cfg.protocol(protocol))
    return [{"pair": p.pair_key, "hidden": p.hidden,
             "checkpoint": f"checkpoints/{p.model_id}.safetensors"} for p in plans]


def _w1_norm(path: Path) -> float:
    with safe_open(path, "pt") as f:
        return float(f.get_tensor("w1").to(torch.float32).norm())


def test_checkpoints_describe_themselves(smoke_run):
    for path in sorted((smoke_run / "checkpoints").glob("*.safetensors"))[:5]:
        if path.name.startswith("unit-"):
            continue
        with safe_open(path, "pt") as f:
            meta = f.metadata()
        assert ModelPlan.from_record(json.loads(meta["plan"])).model_id == path.stem


def test_docs_name_no_shared_folder():
    """Users have no ../shared: docs, README and docstrings point into the repository."""
    texts = [p.read_text() for p in [*SRC.rglob("*.py"), *(ROOT / "docs").rglob("*.md"),
                                     ROOT / "README.md"]]
    assert not any(re.search(r"shared/(docs|seeds)", t) for t in texts)


def test_a_study_reads_another_studys_section_only_where_it_declares_it():
    """Every `section(cfg, Kind)` in a study's folder names its own config or one it lists in
    `Study.reads`; and the check finds the reads that exist (pruning reads t-SNE's)."""
    import importlib

    found = {}
    for study in studies():
        package = importlib.import_module(f"lowcap.studies.{study.name}")
        folder = Path(package.__file__).parent
        for path in folder.glob("*.py"):
            module = importlib.import_module(f"lowcap.studies.{study.name}.{path.stem}"
                                             if path.stem != "__init__" else package.__name__)
            for name in re.findall(r"\bsection\([^,()]+,\s*(\w+)\)", path.read_text()):
                kind = getattr(module, name)
                found.setdefault(study.name, set()).add(kind)
                assert kind is study.config or kind in study.reads, (study.name, path, name)
    registry = {study.name: study for study in studies()}
    assert registry["tsne"].config in found["pruning"]
    assert registry["capacity"].config in found["cnn_baseline"]
