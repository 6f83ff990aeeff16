"""The connection budget: every process at its peak fits what the server allows."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine.store.pool_budget import BudgetTooSmall, api_pool, worker_connections


@given(st.integers(10, 10_000), st.integers(0, 50), st.integers(1, 64), st.integers(0, 16),
       st.integers(1, 64))
def test_every_process_at_its_peak_fits_the_server(max_connections: int, reserved: int,
                                                   api: int, workers: int,
                                                   partitions: int) -> None:
    try:
        pool = api_pool(max_connections=max_connections, reserved=reserved, api_processes=api,
                        worker_processes=workers, partitions=partitions)
    except BudgetTooSmall:
        return
    peak = api * pool.connections + workers * worker_connections(partitions) + 2 * 3
    assert peak <= max_connections - reserved
    assert pool.pool_size >= 1 and pool.max_overflow >= 0


def test_too_many_processes_for_the_server_is_refused() -> None:
    with pytest.raises(BudgetTooSmall):
        api_pool(max_connections=100, reserved=10, api_processes=64, worker_processes=2,
                 partitions=8)


def test_the_default_server_with_eight_api_processes() -> None:
    pool = api_pool(max_connections=100, reserved=10, api_processes=8, worker_processes=2,
                    partitions=8)
    assert pool.connections == 8  # (100 - 10 - 2 x 10 - 3 x 2) // 8
