"""Numbers in the docs come from stored results: each generated region holds exactly what its
generator writes from the stored file, and the generators refuse a file without the region."""

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

from lowcap.report.markdown import claims_markdown, replace_region

ROOT = Path(__file__).resolve().parents[1]


def _region(text: str, name: str) -> str:
    return text.split(f"<!-- {name}:begin -->\n", 1)[1].split(f"<!-- {name}:end -->\n", 1)[0]


def _spread_module():
    spec = importlib.util.spec_from_file_location("spread", ROOT / "benchmarks" / "spread.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_readme_claims_table_is_the_stored_paper_claims():
    stored = json.loads((ROOT / "docs" / "results" / "paper-claims.json").read_text())
    assert stored["profile"] == "paper" and stored["claims"]
    table = _region((ROOT / "README.md").read_text(encoding="utf-8"), "claims")
    assert table == claims_markdown(stored), (
        "README's claims table is stale: run `python scripts/readme_claims.py "
        "docs/results/paper-claims.json`")
    for claim in stored["claims"]:  # every verdict shows its margin
        assert claim["id"] in table
        assert claim.get("margin") is None or "margin" in table
    assert subprocess.run([sys.executable, str(ROOT / "scripts" / "readme_claims.py"),
                           str(ROOT / "docs" / "results" / "paper-claims.json"), "--check"]
                          ).returncode == 0


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
