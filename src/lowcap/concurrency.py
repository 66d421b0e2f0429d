"""Work beside the main thread: threads whose results do not depend on it, and worker
processes that do not outlive the process that started them."""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import signal
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from threadpoolctl import threadpool_limits

T = TypeVar("T")
R = TypeVar("R")


def side_by_side(fn: Callable[[T], R], items: Iterable[T]) -> list[R]:
    """[fn(item) for item in items], one thread per core, with every BLAS and OpenMP pool in
    the process held to one thread meanwhile. Each item then computes exactly what it computes
    alone on one thread: a multi-threaded BLAS called from two threads at once may fall back to
    one thread for one of them, and which one depends on timing, so its rounding (an SVD's,
    a solver's) would change with the machine's load."""
    items = list(items)

    def alone(item: T) -> R:
        # OpenMP's thread count is per calling thread: set it in each worker too.
        with threadpool_limits(limits=1, user_api="openmp"):
            return fn(item)

    with threadpool_limits(limits=1), ThreadPoolExecutor(
            max(1, min(len(items), os.cpu_count() or 1))) as pool:
        return list(pool.map(alone, items))


_PR_SET_PDEATHSIG = 1  # prctl(2), Linux


def die_with_parent(parent: int) -> None:
    """In a worker process: be killed when the process `parent` ends, even by SIGKILL (which
    leaves it no chance to stop its workers). Linux only; elsewhere nothing changes."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError, TypeError):
        return
    if os.getppid() != parent:  # the parent ended before the request took effect
        os._exit(1)
