"""Numbers in the docs come from stored results: each generated region holds exactly what its
generator writes from the stored file, and the generators refuse a file without the region."""

import importlib.util
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT

from lowcap.report.markdown import claims_markdown, replace_region


def _region(text: str, name: str) -> str:
    return text.split(f"<!-- {name}:begin -->\n", 1)[1].split(f"<!-- {name}:end -->\n", 1)[0]


def _spread_module():
    spec = importlib.util.spec_from_file_location("spread", ROOT / "benchmarks" / "spread.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _stored_results_module():
    spec = importlib.util.spec_from_file_location("stored_results",
                                                  ROOT / "scripts" / "stored_results.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# What prose may spell in digits: names and citations, not measurements. Figure, table and
# section numbers, years and arXiv ids, identifiers (F1, fig3_capacity, log10, AVX-512), digit pairs
# (4-9) and the confidence level every interval states.
_NAMES = re.compile(r"Fig(?:ure)?s? \d+|Table \d+|§\d+(?:\.\d+)*|\b(?:19|20)\d\d\b|arXiv [\d.]+"
                    r"|\b[A-Za-z_]+\d\w*|AVX-512|\b\d-\d\b|95%\s+(?:bootstrap\s+)?(?:interval|CI)")
# What never counts as prose: template code, code, links' targets, HTML comments.
_NOT_PROSE = re.compile(r"{{.*?}}|{%.*?%}|{#.*?#}|```.*?```|`[^`]*`|\]\([^)]*\)|<!--.*?-->"
                        r"|https?://\S+", re.S)


def typed_numbers(text: str) -> list[str]:
    """The numbers `text` spells in digits outside its template code, code and names: on a page
    written from stored results each of them would be typed, so it could go stale."""
    prose = _NAMES.sub(" ", _NOT_PROSE.sub(" ", text))
    return re.findall(r"[^\s]*\d[^\s]*", prose)


def test_typed_numbers_are_found_and_names_are_not():
    assert typed_numbers("F1 0.954 after 14 rounds ({{ x }} left)") == ["0.954", "14"]
    assert typed_numbers("Fig 3 (2018, §4.7) on 4-9: `--seeds 10`, {{ 3 | fixed }}, "
                         "[link](a/b1.md), F1 and its 95% interval") == []


def test_every_results_page_is_what_the_stored_results_render():
    """README regions and the results pages equal their templates rendered from the stores
    under docs/results/, and no template (nor the README outside its regions) types a number."""
    module = _stored_results_module()
    for page, text in module.rendered().items():
        assert text == page.read_text(encoding="utf-8"), (
            f"{page.name} is stale: run `python scripts/stored_results.py`")
    for template in module.TEMPLATES.glob("*.jinja"):
        assert typed_numbers(template.read_text(encoding="utf-8")) == [], template.name
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for _, region, _ in module.PAGES:
        if region:
            readme = replace_region(readme, region, "")
    assert typed_numbers(readme) == []
    paper = json.loads((module.STORES / "paper.json").read_text())
    assert paper["profile"] == "paper" and paper["provenance"]["cpu"]
    table = _region((ROOT / "README.md").read_text(encoding="utf-8"), "claims")
    for claim in paper["claims"]:  # every verdict shows its margin
        assert claim["id"] in table
        assert claim.get("margin") is None or "margin" in table
    assert subprocess.run([sys.executable, str(ROOT / "scripts" / "stored_results.py"),
                           "--check"]).returncode == 0


def test_the_benchmark_spread_table_is_the_stored_spread():
    result = json.loads((ROOT / "tests" / "golden" / "spread.json").read_text())
    assert result["profile"] == "smoke"
    text = (ROOT / "benchmarks" / "README.md").read_text(encoding="utf-8")
    assert _region(text, "spread:smoke") == _spread_module().markdown(result), (
        "benchmarks/README.md is stale: run `python benchmarks/spread.py --from-json "
        "tests/golden/spread.json --readme benchmarks/README.md`")


def test_a_file_without_the_region_is_refused_not_appended_to():
    with pytest.raises(ValueError, match="no region 'claims'"):
        replace_region("# README\n", "claims", "| table |\n")
    text = "a\n<!-- x:begin -->\nold\n<!-- x:end -->\nb\n"
    assert replace_region(text, "x", "new\n") == "a\n<!-- x:begin -->\nnew\n<!-- x:end -->\nb\n"


@pytest.mark.slow
def test_the_documentation_site_builds_strictly(tmp_path):
    """`mkdocs build --strict`: a broken link, a missing page in the nav or an API reference that
    cannot be collected fails the suite."""
    mkdocs = Path(sys.executable).parent / "mkdocs"
    done = subprocess.run([str(mkdocs), "build", "--strict", "--site-dir", str(tmp_path / "site")],
                          cwd=ROOT, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "NO_MKDOCS_2_WARNING": "1"})
    assert done.returncode == 0, done.stderr[-3000:]
    cli_page = (tmp_path / "site" / "cli" / "index.html").read_text()
    for command in ("reproduce", "sweep", "report", "tickets"):  # generated from the code
        assert f'id="{command}"' in cli_page
    assert "open_run" in (tmp_path / "site" / "api" / "index.html").read_text()


def _shown_commands() -> list[tuple[str, str]]:
    """(page, command line) of every `lowcap …` line in a code block of the README or docs."""
    found = []
    for page in [ROOT / "README.md", *(ROOT / "docs").rglob("*.md")]:
        for block in re.findall(r"```(?:bash|sh|console)?\n(.*?)```", page.read_text(), re.S):
            for line in block.splitlines():
                line = line.split("#", 1)[0].strip()
                match = re.match(r"(?:\S*/)?lowcap (.*)$", line)  # lowcap …, .venv/bin/lowcap …
                if match:
                    found.append((page.name, match.group(1)))
    return found


def test_every_command_shown_in_the_docs_exists_with_its_options():
    """Each `lowcap …` line in the docs names a real command and only its real options."""
    from lowcap.cli.reference import lowcap

    shown = _shown_commands()
    assert len(shown) >= 5
    for page, line in shown:
        words = line.split()
        command = lowcap.commands.get(words[0])
        assert command is not None, f"{page}: `lowcap {line}`: no command {words[0]!r}"
        options = {name for p in command.params for name in p.opts}
        for word in words[1:]:
            if word.startswith("--"):
                assert word.split("=")[0] in options | {"--help"}, (
                    f"{page}: `lowcap {line}`: {word} is not an option of {words[0]}")


def test_the_claims_table_has_no_column_of_dashes():
    """Paper claims under the protocols that ran; a companion study's claims in a table of
    their own; a verdict the rule left undecided shows its interval instead of a margin."""
    def claim(cid, protocol, verdict="holds", margin=0.1, interval=(0.2, 0.3)):
        return {"id": cid, "protocol": protocol, "paper_says": cid, "verdict": verdict,
                "margin": margin, "spread": 0.01, "near_threshold": False,
                "interval": list(interval), "threshold": [0.0]}

    text = claims_markdown({"claims": [claim("a", "corrected"), claim("b", "corrected"),
                                       claim("n", "companion-B", "inconclusive", None)]})
    paper, companion = text.split("\n\n")
    assert paper.splitlines()[0] == "| claim | corrected |" and "reference" not in paper
    assert companion.splitlines()[0] == "| claim | companion-B |" and "—" not in text
    assert "interval [0.2, 0.3]; the rule's conditions are not met" in companion
    assert "**holds** · margin 0.1 to 0" in paper
