"""A researcher's own question: the README's walkthrough (robustness of pair 2-7 by width) and
its notebook example run as written; every analysis takes a model selection and refuses an
empty one; the config reference is generated from the code; the docs' links resolve."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml
from conftest import ROOT

from lowcap.api import open_run
from lowcap.errors import UserInputError
from lowcap.studies.reference import config_reference
from lowcap.studies.registry import load_config, studies
from lowcap.studies.schedule import check_selections

README = ROOT / "README.md"
EXAMPLES = sorted((ROOT / "configs" / "examples").glob("*.yaml"))
ANALYSES = [s.command.name for s in studies() if s.selection is not None]


@pytest.fixture(scope="module")
def walkthrough(tmp_path_factory) -> Path:
    """The README's second command, as written (with a temporary output folder)."""
    out = tmp_path_factory.mktemp("own") / "robustness-2-7"
    done = subprocess.run([sys.executable, "-m", "lowcap.cli", "sweep",
                           str(ROOT / "configs/examples/robustness-2-7.yaml"), "--out", str(out),
                           "--quiet", "--device", "cpu"],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    return out


@pytest.mark.slow
def test_the_walkthrough_answers_its_question(walkthrough):
    summary = json.loads((walkthrough / "summary.json").read_text())
    widths = ["1", "2", "4", "8", "16", "32"]
    assert sorted(summary["robustness"]["occlusion"], key=int) == widths
    assert sorted(summary["robustness"]["gaussian"], key=int) == widths  # width → σ → F1
    sweep = summary["sweep"]["2-7"]["0.03"]
    assert sorted(sweep, key=int) == widths
    assert all(len(entry["f1_by_seed"]) == 3 for entry in sweep.values())
    page = (walkthrough / "report.html").read_text()
    assert "§4.6 Robustness" in page and "Sweep: best validation F1" in page
    assert "only their verdicts say whether the paper" in page  # not the paper profile
    assert {c["id"] for c in summary["claims"]} == {
        "noise_robustness_grows_with_width", "occlusion_robustness_grows_with_width"}


def _notebook_example() -> str:
    text = (ROOT / "docs" / "notebook.md").read_text()
    block = re.search(r"<!-- notebook-example.*?-->\n```python\n(.*?)```", text, re.S)
    assert block, "docs/notebook.md lost its notebook example"
    return block.group(1)


@pytest.mark.slow
def test_the_readme_notebook_example_runs(walkthrough):
    code = _notebook_example().replace("runs/robustness-2-7", str(walkthrough))
    names: dict = {}
    exec(compile(code, "docs/notebook.md example", "exec"), names)
    assert names["by_width"].shape == (6, 9)  # widths × noise levels
    assert names["models"].shape[0] == 18
    with torch.no_grad():
        assert names["net"](torch.zeros(1, 784)).shape == (1, 1)


@pytest.mark.slow
def test_open_run_reads_and_never_writes(walkthrough):
    before = {p: p.stat().st_mtime_ns for p in walkthrough.rglob("*")}
    with open_run(walkthrough) as run:
        models = run.models(study="sweep", hidden=8)
        assert len(models) == 3 and set(models["pair"]) == {"2-7"}
        net = run.model(models.model_id[0])
        assert net[1].__class__.__name__ == "ReLU"
        with pytest.raises(UserInputError, match="no results of 'tsne'"):
            run.results("tsne")
        with pytest.raises(UserInputError, match="no such column"):
            run.models(colour="red")
        assert run.figure("sweep_f1_by_width_corrected").is_file()
    assert {p: p.stat().st_mtime_ns for p in walkthrough.rglob("*")} == before


@pytest.mark.slow
@pytest.mark.parametrize("command", ANALYSES)
def test_an_empty_selection_exits_2_naming_it_and_writes_nothing(run_copy, run_cli, command):
    before = {p: p.stat().st_mtime_ns for p in run_copy.rglob("*")}
    code, _, err = run_cli(command, str(run_copy), "--select-widths", "999", "--quiet")
    assert code == 2
    assert err.count("\n") == 1 and "widths 999" in err and "no model" in err
    assert {p: p.stat().st_mtime_ns for p in run_copy.rglob("*")} == before


def test_a_selection_names_a_training_study(tmp_path):
    config = {"protocols": {"corrected": {}}, "capacity": {"pairs": [[4, 9]]},
              "pruning": {"select": {"study": "tsne"}}}
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(config))
    with pytest.raises(UserInputError, match="'tsne' is not a study that trains models"):
        check_selections(load_config(path))


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_example_configs_select_models(path):
    check_selections(load_config(path))  # raises on an empty selection


def test_the_config_reference_is_generated_and_current():
    generated = config_reference()
    assert (ROOT / "docs" / "config.md").read_text() == generated, (
        "docs/config.md is stale: run `lowcap config --schema > docs/config.md`")
    for study in studies():  # every section and every field is documented with a meaning
        assert f"## `{study.name}`" in generated
        for field in study.config.model_fields:
            row = next(line for line in generated.splitlines()
                       if line.startswith(f"| `{field}` |"))
            assert not row.rstrip().endswith("|  |"), f"{study.name}.{field} has no meaning"


def test_the_docs_links_resolve_inside_the_repository():
    for page in [README, *(ROOT / "docs").rglob("*.md")]:
        for target in re.findall(r"\]\(([^)#\s]+)", page.read_text()):
            if "://" in target:
                continue
            assert (page.parent / target).exists(), f"{page.name}: {target} does not exist"
            assert "shared" not in Path(target).parts


@pytest.mark.slow
def test_the_report_is_about_the_run_made(walkthrough):
    """One protocol and one pair (2-7): no other protocol, no paper column, no claim about a
    pair the run lacks; the robustness curves' shapes over every width are reported."""
    page = (walkthrough / "report.html").read_text()
    claims = page[page.index("id='claims-check'"):page.index("</table>",
                                                             page.index("id='claims'"))]
    assert "under one protocol, <code>corrected</code>" in claims
    assert "<th>reference</th>" not in claims and "under both" not in page
    assert "<th>paper</th>" not in page  # the paper's occlusion numbers are for 4-9
    assert "pruning_99_easy_task" not in page and "0.847" not in page
    summary = json.loads((walkthrough / "summary.json").read_text())
    trends = summary["robustness"]["trends"]
    assert set(trends) == {"gaussian", "occlusion"}
    for trend in trends.values():
        assert trend["levels"] == [1, 2, 4, 8, 16, 32] and trend["seeds"] == 3
        assert trend["shape"] in page
    # Fig 0 has a row per claim of this run, and no companion table appears
    assert f'data-rows="{len(summary["claims"])}"' in page and "claims-companion" not in page
    assert (walkthrough / "figures" / "fig0_verdicts.png").is_file()
    for claim in summary["claims"]:  # the effect in F1 beside every robustness verdict
        assert claim["min_effect"] == 0.01 and claim["effect"] is not None


@pytest.mark.slow
def test_a_collapsed_model_is_flagged_in_table_plot_data_and_api(walkthrough, tmp_path,
                                                                  run_cli):
    """Plant a model that calls every noisy image positive (its stored share of positive
    answers 1, its F1 an always-positive model's): the report's width table names its seed,
    the summary's plot data lists it, and `run.models()` marks it."""
    import shutil
    import sqlite3

    run = tmp_path / "run"
    shutil.copytree(walkthrough, run)
    with open_run(run) as opened:
        model = opened.models(hidden=16, seed=1).model_id[0]
    db = sqlite3.connect(run / "store" / "results.sqlite")
    params = db.execute("SELECT params FROM results WHERE analysis = 'robustness' AND "
                        "model_id = ? AND metric = 'test_predicted_positive' AND params LIKE "
                        "'%gaussian%0.5%'", (model,)).fetchone()[0]
    fraction = db.execute("SELECT value FROM results WHERE model_id = ? AND metric = "
                          "'test_positive_fraction'", (model,)).fetchone()[0]
    db.execute("UPDATE results SET value = 1.0 WHERE model_id = ? AND params = ? AND metric = "
               "'test_predicted_positive'", (model, params))
    db.execute("UPDATE results SET value = ? WHERE model_id = ? AND params = ? AND metric = "
               "'test_f1'", (2 * fraction / (1 + fraction), model, params))
    db.commit()
    db.close()
    assert run_cli("report", str(run))[0] == 0
    robustness = json.loads((run / "summary.json").read_text())["robustness"]
    assert "1" in robustness["collapsed"]["gaussian"]["0.5"]["16"]
    assert robustness["constant_f1"] == pytest.approx(2 * fraction / (1 + fraction))
    page = (run / "report.html").read_text()
    widths = page[page.index("collapsed seeds (noise)"):]
    widths = widths[:widths.index("</table>")]
    row = next(r for r in widths.split("<tr>") if r.startswith("<td>16</td>"))
    cells = re.findall(r"<td>(.*?)</td>", row)
    assert "1" in cells[3].split(", ")  # hidden, noise F1, AUC, collapsed seeds (noise), …
    with open_run(run) as opened:
        flagged = opened.models()
        assert flagged.set_index("model_id").loc[model, "collapsed"]
        assert {"final_val_f1", "test_f1_at_best_val"} <= set(flagged.columns)
        assert "models" in repr(opened) and "corrected" in repr(opened)


@pytest.mark.slow
def test_more_seeds_extend_the_run_and_say_what_was_reused(walkthrough, tmp_path, run_cli):
    import shutil

    run = tmp_path / "run"
    shutil.copytree(walkthrough, run)
    done = subprocess.run([sys.executable, "-m", "lowcap.cli", "sweep",
                           str(ROOT / "configs/examples/robustness-2-7.yaml"), "--out", str(run),
                           "--seeds", "4", "--device", "cpu", "--no-report"],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    assert "lowcap: sweep: 18 models reused, 6 to train" in done.stderr
    with open_run(run) as opened:
        assert opened.summary(from_store=True)["robustness"]["trends"]["gaussian"]["seeds"] == 4
    code, _, err = run_cli("sweep", str(ROOT / "configs/examples/robustness-2-7.yaml"), "--out",
                           str(run), "--seeds", "0")
    assert code == 2 and "--seeds" in err
