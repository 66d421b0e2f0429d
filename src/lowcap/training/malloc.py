"""Keep freed memory in the process (glibc): large tensors are then reused, not page-faulted in.

Training allocates the same few multi-megabyte temporaries every step. glibc's default returns
such blocks to the OS (mmap/trim) and the next step faults every page in again, which cost up to
40% of a full-batch epoch here, erratically. Raising the thresholds makes freed blocks stay in
the heap. A process-wide setting, so only entry points (the CLI, benchmarks) call it.
"""

from __future__ import annotations

import ctypes
import ctypes.util

_M_TRIM_THRESHOLD = -1
_M_TOP_PAD = -2
_M_MMAP_THRESHOLD = -3


def keep_freed_memory() -> bool:
    """Apply the settings; False where the C library is not glibc (nothing changes)."""
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError, TypeError):
        return False
    return all([mallopt(_M_MMAP_THRESHOLD, 32 * 2**20) == 1,  # glibc's maximum
                mallopt(_M_TRIM_THRESHOLD, 2**31 - 1) == 1,
                mallopt(_M_TOP_PAD, 256 * 2**20) == 1])
