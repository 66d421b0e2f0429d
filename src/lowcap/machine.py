"""The machine a result was computed on, as the benchmarks and the stored results record it."""

from __future__ import annotations

import os
import platform
from pathlib import Path


def cpu_facts() -> dict:
    """The CPU model (from /proc/cpuinfo where there is one), the logical CPUs, and whether
    the CPU has AVX-512 and AMX."""
    model, flags = None, None
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name") and model is None:
                model = line.split(":", 1)[1].strip()
            elif line.startswith("flags") and flags is None:
                flags = set(line.split(":", 1)[1].split())
    except OSError:
        pass
    flags = flags or set()
    return {"cpu": model or platform.processor() or platform.machine(),
            "logical_cpus": os.cpu_count(), "avx512": "avx512f" in flags,
            "amx": "amx_tile" in flags}
