"""Write the README's claims table from a stored summary (never by hand).

    python scripts/readme_claims.py docs/results/paper-summary.json [--check]

Replaces what lies between the `<!-- claims:begin -->` and `<!-- claims:end -->` lines of
README.md with `lowcap.report.markdown.claims_markdown` of the summary; `--check` only says
whether the README already holds exactly that (exit 1 if not).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from lowcap.report.markdown import claims_markdown

README = Path(__file__).resolve().parents[1] / "README.md"
BEGIN, END = "<!-- claims:begin -->\n", "<!-- claims:end -->\n"


def with_table(readme: str, table: str) -> str:
    """The README text with its claims region replaced by `table`."""
    head, rest = readme.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    return head + BEGIN + table + END + tail


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("summary", type=Path)
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args()
    text = README.read_text(encoding="utf-8")
    wanted = with_table(text, claims_markdown(json.loads(args.summary.read_text())))
    if args.check:
        return 0 if wanted == text else 1
    README.write_text(wanted, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
