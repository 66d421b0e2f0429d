"""Work side by side in threads: every BLAS and OpenMP pool held to one thread meanwhile."""

import numpy as np
from threadpoolctl import threadpool_info

from lowcap.concurrency import side_by_side


def _pools() -> dict[str, int]:
    return {pool["internal_api"]: pool["num_threads"] for pool in threadpool_info()}


def test_workers_see_one_thread_in_every_pool_and_the_pools_are_restored():
    before = _pools()
    seen = side_by_side(lambda _: _pools(), range(4))
    assert all(set(pools.values()) == {1} for pools in seen), seen
    assert _pools() == before


def test_results_equal_the_serial_single_threaded_ones_in_order():
    rng = np.random.default_rng(0)
    matrices = [rng.normal(size=(300, 200)) for _ in range(6)]

    def work(m: np.ndarray) -> np.ndarray:
        return np.linalg.svd(m @ m.T, compute_uv=False)

    together = side_by_side(work, matrices)
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1):
        alone = [work(m) for m in matrices]
    for a, b in zip(together, alone, strict=True):
        np.testing.assert_array_equal(a, b)
