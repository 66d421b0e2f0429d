"""How far lowcap's numbers and verdicts move between machines: one profile run under several
environments that stand for other CPUs, compared with the first.

    python benchmarks/spread.py --profile smoke --out runs/spread \\
        [--json tests/golden/spread.json] [--readme benchmarks/README.md]
    python benchmarks/spread.py --from-json tests/golden/spread.json --readme benchmarks/README.md

The environments (`ENVIRONMENTS`): the default; one thread; the AVX2-only code paths of
PyTorch, oneDNN and MKL (an AVX2 CPU, with or without one thread); MKL's conditional
numerical reproducibility mode COMPATIBLE (SSE2 kernels); and the SSE4 code paths of all
three (an old CPU). They change which kernels run, so every GEMM and reduction rounds
differently, as on another CPU. Printed: per summary section, the largest absolute and
relative difference of any number; per claim, how far the ends of its deciding interval moved
as a fraction of the interval's width; and whether every verdict not marked near threshold
agrees. `--json` writes the per-section spread the golden test's tolerances come from;
`--readme` writes the tables into the file's `<!-- spread:<profile>:begin/end -->` region.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

from lowcap.report.compare import (
    Movement,
    differences,
    flat_numbers,
    interval_shifts,
    verdict_changes,
)
from lowcap.report.markdown import replace_region

AVX2 = {"ATEN_CPU_CAPABILITY": "avx2", "ONEDNN_MAX_CPU_ISA": "AVX2",
        "MKL_ENABLE_INSTRUCTIONS": "AVX2"}
ENVIRONMENTS = {
    "default": {},
    "1-thread": {"OMP_NUM_THREADS": "1"},
    "avx2": AVX2,
    "avx2-1-thread": {**AVX2, "OMP_NUM_THREADS": "1"},
    "mkl-compatible": {"MKL_CBWR": "COMPATIBLE"},
    "sse4": {"ATEN_CPU_CAPABILITY": "default", "ONEDNN_MAX_CPU_ISA": "SSE41",
             "MKL_ENABLE_INSTRUCTIONS": "SSE4_2"},
}


def run(profile: str, out: Path, name: str, env: dict[str, str]) -> dict:
    """The profile's summary under one environment (reusing a finished run folder)."""
    folder = out / name
    summary = folder / "summary.json"
    if not summary.exists():
        subprocess.run([sys.executable, "-m", "lowcap.cli", "reproduce", "--profile", profile,
                        "--out", str(folder), "--quiet", "--device", "cpu"],
                       env={**os.environ, **env}, check=True)
    result = json.loads(summary.read_text())
    result.pop("seconds")
    return result


def measure(profile: str, out: Path) -> dict:
    """The spread of `profile` over `ENVIRONMENTS`, as the JSON `--json` writes."""
    summaries = {name: run(profile, out / profile, name, env)
                 for name, env in ENVIRONMENTS.items()}
    base = summaries.pop("default")
    sections: dict[str, Movement] = {}
    shifts: dict[str, float] = {}
    counts, changed = {}, []
    for name, other in summaries.items():
        moved = differences(base, other)
        for section, diff in moved.items():
            entry = sections.setdefault(section, Movement())
            entry.abs, entry.rel = max(entry.abs, diff.abs), max(entry.rel, diff.rel)
            entry.numbers = max(entry.numbers, diff.numbers)
        for claim, shift in interval_shifts(base, other).items():
            shifts[claim] = max(shifts.get(claim, 0.0), shift)
        changed += [f"{name}: {text}" for text in verdict_changes(base, other)]
        counts[name] = sum(d.numbers for d in moved.values())
    return {"profile": profile, "machine": machine(), "environments": ENVIRONMENTS,
            "numbers": len(flat_numbers(base)), "differing_numbers": counts,
            "sections": {k: vars(v) for k, v in sorted(sections.items())},
            "claim_interval_shift": dict(sorted(shifts.items())),
            "verdicts_changed": changed}


def machine() -> str:
    """This CPU and PyTorch build, in words."""
    import torch

    from lowcap.machine import cpu_facts

    facts = cpu_facts()
    return f"{facts['cpu']}, {facts['logical_cpus']} logical CPUs, torch {torch.__version__}"


def markdown(result: dict) -> str:
    """The spread as the Markdown benchmarks/README.md shows (generated, never typed)."""
    lines = [f"Measured on {result['machine']}; {result['numbers']} numbers per summary.", ""]
    lines += [f"- {name}: {count} numbers differ from the default"
              for name, count in result["differing_numbers"].items()]
    lines += ["", "| section | numbers that moved (most in one environment) | largest absolute "
              "difference | largest relative difference |", "|---|---|---|---|"]
    lines += [f"| {section} | {entry['numbers']} | {entry['abs']:.3g} | {entry['rel']:.3g} |"
              for section, entry in result["sections"].items()]
    lines += ["", "| claim / protocol | largest move of an interval end, × interval width |",
              "|---|---|"]
    lines += [f"| {claim} | {shift:.3f} |" for claim, shift in
              sorted(result["claim_interval_shift"].items(), key=lambda kv: -kv[1]) if shift]
    changed = result["verdicts_changed"]
    lines += ["", f"Verdicts not near threshold that changed: {'; '.join(changed) or 'none'}."]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="smoke")
    parser.add_argument("--out", type=Path, default=Path("runs/spread"))
    parser.add_argument("--json", type=Path, help="write the spread here")
    parser.add_argument("--from-json", type=Path, help="render this stored spread, run nothing")
    parser.add_argument("--readme", type=Path,
                        help="write the tables into this file's `spread:<profile>` region")
    args = parser.parse_args()
    if args.from_json:
        result = json.loads(args.from_json.read_text())
    else:
        result = measure(args.profile, args.out)
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    text = markdown(result)
    print(text)
    if args.readme:
        args.readme.write_text(replace_region(args.readme.read_text(encoding="utf-8"),
                                              f"spread:{result['profile']}", text),
                               encoding="utf-8")


if __name__ == "__main__":
    main()
