"""A summary's claims as a Markdown table (the README's claims table is made by it, from a
stored summary: `python scripts/stored_results.py`)."""

from __future__ import annotations

from lowcap.report.claims import by_claim, claim_tables, margin_text


def verdict_cell(claim: dict) -> str:
    """'**holds** · margin 0.012 to −0.02' (with 'near threshold' where it is); where the rule
    kept its interval but could not decide (no margin), the interval; else the bare verdict."""
    words = margin_text(claim)
    interval = claim.get("interval")
    if not words and interval and None not in interval:
        words = (f"interval [{interval[0]:.3g}, {interval[1]:.3g}]; the rule's conditions are "
                 "not met")
    return f"**{claim['verdict']}**" + (f" · {words.replace('-', '−')}" if words else "")


def claims_markdown(summary: dict) -> str:
    """One row per claim (the paper's sentence), one column per protocol that ran: the verdict
    and its margin; each companion study's claims in a table of their own (`claim_tables`)."""
    return "\n".join(_table(claims, protocols)
                     for protocols, claims in claim_tables(summary.get("claims", [])))


def _table(claims: list[dict], protocols: list[str]) -> str:
    lines = ["| claim | " + " | ".join(protocols) + " |",
             "|---|" + "---|" * len(protocols)]
    for by_protocol in by_claim(claims).values():
        first = next(iter(by_protocol.values()))
        cells = [verdict_cell(by_protocol[p]) if p in by_protocol else "—" for p in protocols]
        lines.append(f"| `{first['id']}`: {first['paper_says']} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def replace_region(text: str, name: str, body: str) -> str:
    """`text` with what lies between its `<!-- name:begin -->` and `<!-- name:end -->` lines
    replaced by `body` (how generated tables live inside hand-written Markdown)."""
    begin, end = f"<!-- {name}:begin -->\n", f"<!-- {name}:end -->\n"
    if begin not in text or end not in text:
        raise ValueError(f"no region '{name}': the file needs the lines {begin.strip()} and "
                         f"{end.strip()}")
    head, rest = text.split(begin, 1)
    _, tail = rest.split(end, 1)
    return head + begin + body + end + tail
