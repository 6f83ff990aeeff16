"""A Redis Cluster master fails over during a sale: no sale is lost (DESIGN.md, fault model).

The replica of the master serving the partition's hash slot is promoted with
`CLUSTER FAILOVER` while fans' holds stream in and the partition consumer decides them.
Every request must reach a final state and the invariant audit must pass. The pause
(the longest time without a decision) is printed, not asserted: `onsale bench
cluster_failover` records it.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Engine

from loadtests.bench_cluster_failover import sale_through_failover
from tests.support.booking import make_event

pytestmark = [pytest.mark.integration, pytest.mark.cluster]


def test_a_master_failover_during_a_sale_loses_no_request_and_passes_the_audit(
        redis_cluster: Any, database_url: str, db_engine: Engine) -> None:
    event_id = make_event(db_engine, rows=10, seats_per_row=30)  # 300 seats
    run = sale_through_failover(redis_cluster, database_url, event_id, requests=300,
                                rate_per_s=150.0)
    print(f"\nfailover pause {run.pause_s:.3f} s (usual gap {run.usual_gap_s:.4f} s), "
          f"replica promoted after {run.promoted_after_s:.3f} s, "
          f"{run.enqueue_retries} enqueue retries")
    assert len(run.request_ids) == 300, "every fan's request was accepted (after retries)"
    assert run.unfinished == [], "every accepted request reaches a final state"
    assert run.statuses and all(s == "held" for s in run.statuses.values()), \
        "300 fans, 300 seats, one each: every hold is granted"
    assert run.audit is not None and run.audit.ok, run.audit.table() if run.audit else ""
