"""The repository's stored results, and the docs pages written from them (never by hand).

    python scripts/stored_results.py --keep RUN_DIR    # store a finished run (paper, ablation,
                                                       #   sensitivity or quick profile)
    python scripts/stored_results.py --keep-tests JUNIT.xml [--tier full|fast]
    python scripts/stored_results.py [--check]         # write (or check) the pages

A store is `docs/results/<profile>.json`: the run's summary (less its bulky per-model arrays,
`DROPPED`, and the top-level copies of the default protocol's sections), its resolved config
and where it was computed (CPU, thread count, torch, the commit of this repository that ran
it). Keep a run on the machine that ran it. `tests.json` holds the test suite's measured times.

Written from the stores by the Jinja templates in `docs/results/templates/`: the results pages
(`results.md`, `ablation.md`, `sensitivity.md`, whole) and the README's `claims` and `profiles`
regions. A template types no measured number: every number on those pages is a `{{ … }}` of a
store (the test suite checks both that and that every page is what its template renders).
`--check` writes nothing and exits 1 where a page differs from what the stores give.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import jinja2
import torch
import yaml

from lowcap.atomic import atomic_write_text
from lowcap.machine import cpu_facts
from lowcap.report.markdown import claims_markdown, replace_region
from lowcap.run.config import profile_path
from lowcap.studies.capacity.report import PAPER_MIN_CAPACITY, min_ci_text
from lowcap.studies.registry import load_config

ROOT = Path(__file__).resolve().parents[1]
STORES = ROOT / "docs" / "results"
TEMPLATES = STORES / "templates"
PROFILES = ("paper", "ablation", "sensitivity", "quick", "calibration",
            "adversarial", "double_descent")  # the profiles kept as stores
# Profiles whose pages show only how long they took: their stores keep just that.
TIMED_ONLY = {"quick": ("profile", "seconds", "models", "device", "train_matmul",
                        "lowcap_version")}
ALL_PROFILES = ("paper", "paper-full", "quick", "smoke", "ablation", "sensitivity",
                "calibration", "adversarial", "double_descent")
# Per-model arrays and curves no page shows: (section path, key) dropped from every protocol.
DROPPED = ("pruning_methods", "dead_neurons_all", "claims")  # claims: all at the top level
DROPPED_INSIDE = {"unit_information": ("cells",), "faithfulness": ("by_width",),
                  "robustness": ("collapsed_models", "gaussian_by_seed", "occlusion_by_seed"),
                  "calibration": ("reliability",), "adversarial": ("f1_by_seed",)}
# (page, region or None for the whole page, template)
PAGES = ((ROOT / "README.md", "claims", "readme-claims.md.jinja"),
         (ROOT / "README.md", "profiles", "readme-profiles.md.jinja"),
         (ROOT / "README.md", "tests", "readme-tests.md.jinja"),
         (ROOT / "docs" / "results.md", None, "results.md.jinja"),
         (ROOT / "docs" / "ablation.md", None, "ablation.md.jinja"),
         (ROOT / "docs" / "sensitivity.md", None, "sensitivity.md.jinja"),
         (ROOT / "docs" / "calibration.md", None, "calibration.md.jinja"),
         (ROOT / "docs" / "adversarial.md", None, "adversarial.md.jinja"),
         (ROOT / "docs" / "double_descent.md", None, "double_descent.md.jinja"))


def _rounded(value):
    """Floats to 6 significant digits (the pages show at most 4), recursively."""
    if isinstance(value, float):
        return float(f"{value:.6g}")
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_rounded(v) for v in value]
    return value


def _slim(section: dict) -> dict:
    kept = {k: v for k, v in section.items() if k not in DROPPED}
    for key, inner in DROPPED_INSIDE.items():
        if isinstance(kept.get(key), dict):
            kept[key] = {k: v for k, v in kept[key].items() if k not in inner}
    return kept


def machine() -> dict:
    """Where a run was computed: CPU model, logical CPUs, AVX-512/AMX, torch."""
    return {**cpu_facts(), "torch": torch.__version__}


def commit() -> str:
    """This repository's commit, with '+changes' where the tree differs from it."""
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True).stdout
    return git("rev-parse", "--short", "HEAD").strip() + ("+changes" if git("status",
                                                                             "--porcelain",
                                                                             "src") else "")


def kept(run_dir: Path, revision: str) -> dict:
    """The stored record of a finished run: its summary (slimmed), config and provenance
    (`revision`: the commit of this repository that computed it)."""
    summary = json.loads((run_dir / "summary.json").read_text())
    if summary.get("profile") not in PROFILES:
        raise SystemExit(f"{run_dir}: profile {summary.get('profile')!r} is not one the pages "
                         f"show ({', '.join(PROFILES)})")
    if summary["profile"] in TIMED_ONLY:
        summary = {key: summary.get(key) for key in TIMED_ONLY[summary["profile"]]}
    else:
        summary["protocols"] = {name: _slim(section)
                                for name, section in summary.get("protocols", {}).items()}
        default = summary["protocols"].get(summary.get("default_protocol"), {})
        for key in [k for k in summary if k in default and summary[k] == default[k]]:
            del summary[key]  # the default protocol's sections, copied to the top level
        summary["narrow"] = {name: {k: v for k, v in study.items() if k == "comparisons"}
                             for name, study in summary.get("narrow", {}).items()}
    summary["config"] = yaml.safe_load((run_dir / "config.yaml").read_text())
    summary["provenance"] = {**machine(), "commit": revision}
    return _rounded(summary)


def tests_record(junit: Path, tier: str) -> dict:
    """The suite's measured time from pytest's JUnit XML, with the machine it ran on."""
    suite = ElementTree.parse(junit).getroot()
    suite = suite if suite.tag == "testsuite" else suite.find("testsuite")
    return {"seconds": float(suite.get("time")), "tests": int(suite.get("tests")),
            "skipped": int(suite.get("skipped")), **machine(), "commit": commit()}


# Filters: how the templates write a stored number.
def _fixed(x: float, digits: int = 3) -> str:
    return f"{x:.{digits}f}".replace("-", "−")


def _signed(x: float, digits: int = 3) -> str:
    return f"{x:+.{digits}f}".replace("-", "−")


def _interval(ends: list[float], digits: int = 3, signed: bool = True) -> str:
    show = _signed if signed else _fixed
    return f"[{show(ends[0], digits)}, {show(ends[1], digits)}]"


def _duration(seconds: float) -> str:
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes} min {rest} s" if minutes else f"{rest} s"


def _mean(values: list[float]) -> float:
    return sum(values) / len(values)


def phases(seconds: dict[str, float]) -> list[tuple[str, dict]]:
    """A summary's `seconds` as (phase, {reference, corrected, share}) rows, longest first."""
    rows: dict[str, dict] = {}
    for key, value in seconds.items():
        if key == "total":
            continue
        phase, _, protocol = key.rpartition("_")
        if protocol not in ("reference", "corrected"):
            phase, protocol = key, "corrected"
        row = rows.setdefault(phase.replace("_", " "), {"reference": None, "corrected": None})
        row[protocol] = value
    for row in rows.values():
        row["share"] = sum(v for v in row.values() if v) / seconds["total"]
    return sorted(rows.items(), key=lambda item: -item[1]["share"])


def capacity_cell(entry: dict | None) -> str:
    """A minimum width with its interval, as the report writes them: '4 (2–4)'."""
    if not entry:
        return "—"
    shown = "none" if entry["min_hidden"] is None else entry["min_hidden"]
    return f"{shown} ({min_ci_text(entry.get('min_hidden_ci'))})"


def environment() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=False,
                             undefined=jinja2.StrictUndefined, keep_trailing_newline=True,
                             trim_blocks=True, lstrip_blocks=True)
    env.filters.update(numeric_items=lambda d: sorted(d.items(), key=lambda kv: float(kv[0])),
                       fixed=_fixed, signed=_signed, interval=_interval, duration=_duration,
                       mean=_mean, thousands="{:,}".format,
                       percent=lambda x, digits=0: f"{100 * x:.{digits}f}%")
    env.globals.update(claims_markdown=claims_markdown, paper_min_capacity=PAPER_MIN_CAPACITY,
                       phases=phases, capacity_cell=capacity_cell,
                       claim=lambda store, cid, protocol: next(
                           c for c in store["claims"]
                           if c["id"] == cid and c["protocol"] == protocol))
    return env


def context() -> dict:
    """What the templates see: every store by profile, `tests`, and each profile's config."""
    found = {p: json.loads((STORES / f"{p}.json").read_text()) for p in PROFILES
             if (STORES / f"{p}.json").exists()}
    tests = STORES / "tests.json"
    return {**found, "stores": found,
            "tests": json.loads(tests.read_text()) if tests.exists() else {},
            "configs": {p: load_config(profile_path(p)) for p in ALL_PROFILES}}


def rendered() -> dict[Path, str]:
    """Every page as the stores make it."""
    env, values = environment(), context()
    texts: dict[Path, str] = {}
    for page, region, template in PAGES:
        body = env.get_template(template).render(**values)
        text = texts.get(page, page.read_text(encoding="utf-8"))
        texts[page] = body if region is None else replace_region(text, region, body)
    return texts


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", type=Path, metavar="RUN_DIR",
                        help="store this finished run's results first")
    parser.add_argument("--commit", help="the commit that computed the run kept (default: "
                        "this tree's)")
    parser.add_argument("--keep-tests", type=Path, metavar="JUNIT_XML",
                        help="store the test suite's time from pytest --junitxml")
    parser.add_argument("--tier", choices=("full", "fast"), default="full")
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args()
    if args.keep:
        record = kept(args.keep, args.commit or commit())
        atomic_write_text(STORES / f"{record['profile']}.json",
                          json.dumps(record, indent=1, sort_keys=True) + "\n")
    if args.keep_tests:
        path = STORES / "tests.json"
        tests = json.loads(path.read_text()) if path.exists() else {}
        tests[args.tier] = tests_record(args.keep_tests, args.tier)
        atomic_write_text(path, json.dumps(tests, indent=1, sort_keys=True) + "\n")
    stale = []
    for page, text in rendered().items():
        if text != page.read_text(encoding="utf-8"):
            stale.append(str(page.relative_to(ROOT)))
            if not args.check:
                atomic_write_text(page, text)
    if args.check and stale:
        print(f"stale: {', '.join(stale)} (run python scripts/stored_results.py)",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
