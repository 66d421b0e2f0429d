"""The repository's stored results, and the docs tables written from them (never by hand).

    python scripts/stored_results.py --keep RUN/summary.json   # store a paper-profile run's
    python scripts/stored_results.py [--check]                 # write (or check) the tables

The store is `docs/results/paper-claims.json`: a paper-profile summary's claims and its
minimum-capacity table, with the lowcap version, device and precision that computed them.
Written from it: the README's claims table (between `<!-- claims:begin -->` and
`<!-- claims:end -->`, by `lowcap.report.markdown.claims_markdown`) and the minimum-capacity
table of docs/results.md (its `capacity` region). `--check` writes nothing and exits 1 where a
table differs from what the store gives.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from lowcap.report.markdown import claims_markdown, replace_region
from lowcap.studies.capacity.report import PAPER_MIN_CAPACITY

ROOT = Path(__file__).resolve().parents[1]
STORED = ROOT / "docs" / "results" / "paper-claims.json"
# What the store keeps of a summary: the verdicts and where they were computed.
KEPT = ("claims", "profile", "lowcap_version", "device", "train_matmul", "default_protocol")


def kept(summary: dict) -> dict:
    """The stored record of a summary: KEPT, and per protocol the capacity table's numbers."""
    record = {key: summary.get(key) for key in KEPT}
    record["capacity"] = {
        name: {pair: {"min_hidden": e["min_hidden"], "min_hidden_ci": e.get("min_hidden_ci")}
               for pair, e in section.get("capacity", {}).items()}
        for name, section in summary.get("protocols", {}).items()}
    return record


def capacity_markdown(record: dict) -> str:
    """The minimum-capacity table: per pair, each protocol's minimum width with its interval,
    and the paper's."""
    protocols = [p for p in ("reference", "corrected") if p in record.get("capacity", {})]
    pairs = sorted({pair for p in protocols for pair in record["capacity"][p]})

    def cell(entry: dict | None) -> str:
        if not entry:
            return "—"
        ci = entry.get("min_hidden_ci") or [None, None]
        shown = ["none" if v is None else str(v) for v in (entry["min_hidden"], *ci)]
        return f"{shown[0]} ({shown[1]}–{shown[2]})"

    lines = ["| pair | " + " | ".join(f"{p} protocol" for p in protocols) + " | paper |",
             "|---|" + "---|" * (len(protocols) + 1)]
    lines += [f"| {pair} | " + " | ".join(cell(record["capacity"][p].get(pair))
                                          for p in protocols)
              + f" | {PAPER_MIN_CAPACITY.get(pair, '—')} |" for pair in pairs]
    return "\n".join(lines) + "\n"


PAGES = {ROOT / "README.md": ("claims", lambda r: claims_markdown(r)),
         ROOT / "docs" / "results.md": ("capacity", capacity_markdown)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", type=Path, metavar="SUMMARY",
                        help="store this paper-profile summary.json's results first")
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args()
    if args.keep:
        STORED.parent.mkdir(parents=True, exist_ok=True)
        STORED.write_text(json.dumps(kept(json.loads(args.keep.read_text())), indent=1,
                                     sort_keys=True) + "\n")
    record = json.loads(STORED.read_text())
    stale = []
    for page, (region, render) in PAGES.items():
        text = page.read_text(encoding="utf-8")
        wanted = replace_region(text, region, render(record))
        if wanted != text:
            stale.append(page.name)
            if not args.check:
                page.write_text(wanted, encoding="utf-8")
    if args.check and stale:
        print(f"stale: {', '.join(stale)} (run python scripts/stored_results.py)",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
