"""Write the README's claims table from a stored summary (never by hand).

    python scripts/readme_claims.py RUN/summary.json --keep docs/results/paper-claims.json
    python scripts/readme_claims.py docs/results/paper-claims.json [--check]

Replaces what lies between the `<!-- claims:begin -->` and `<!-- claims:end -->` lines of
README.md with `lowcap.report.markdown.claims_markdown` of the summary; `--keep` also stores
the summary's claims (with the machine and lowcap version that made them) as the repository's
record of the paper profile's verdicts; `--check` only says whether the README already holds
exactly that table (exit 1 if not).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from lowcap.report.markdown import claims_markdown, replace_region

README = Path(__file__).resolve().parents[1] / "README.md"
# What a stored record keeps of a summary: the verdicts and where they were computed.
KEPT = ("claims", "profile", "lowcap_version", "device", "train_matmul", "default_protocol")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("summary", type=Path)
    parser.add_argument("--check", action="store_true")
    parser.add_argument("--keep", type=Path, help="store the summary's claims here")
    args = parser.parse_args()
    summary = json.loads(args.summary.read_text())
    if args.keep:
        kept = {key: summary.get(key) for key in KEPT}
        args.keep.parent.mkdir(parents=True, exist_ok=True)
        args.keep.write_text(json.dumps(kept, indent=1, sort_keys=True) + "\n")
    text = README.read_text(encoding="utf-8")
    wanted = replace_region(text, "claims", claims_markdown(summary))
    if args.check:
        return 0 if wanted == text else 1
    README.write_text(wanted, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
