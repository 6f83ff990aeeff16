"""A tiny run of the booking benchmark against each baseline contender.

Behaviour only (the machine is shared, timings are not asserted): every
request gets a decision, no seat is sold twice, and the store records exactly
the seats the buyers were told they hold.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import psycopg
import pytest

from loadtests.booking.contender import Contender
from loadtests.booking.harness import MIN_SALE_WINDOW_SECONDS, RunConfig, run_contender
from loadtests.booking.metrics import Record, fifo_flags
from loadtests.booking.onsale_contender import OnsaleContender
from loadtests.booking.pg_optimistic import PgOptimisticContender
from loadtests.booking.pg_pessimistic import PgPessimisticContender
from loadtests.booking.redis_lock import RedisLockContender
from loadtests.booking.redisclean import delete_run_keys, run_tag
from loadtests.booking.vanilla_rq import VanillaRqContender
from loadtests.booking.workload import WorkloadSpec, build_workload
from tests.support.servers import with_database

pytestmark = pytest.mark.integration

SMALL_ARENA = WorkloadSpec(target_seats=600)
"""Sells out within the run, so the sold-out path and the capacity check are exercised."""
LARGER_ARENA = WorkloadSpec(target_seats=20_000)
"""Does not sell out in the paced test, whose request count depends on that."""
TINY_RUN = RunConfig(warmup_s=0.5, duration_s=2.0, clients=2, buyers_per_client=8,
                     decision_timeout_s=20.0, max_sales=2)
BASELINES: list[type[Contender]] = [
    VanillaRqContender, PgPessimisticContender, PgOptimisticContender, RedisLockContender,
]


@pytest.fixture(scope="module")
def bench_pg_url(pg_admin_url: str) -> Iterator[str]:
    """A throwaway database of our own on the test server, as a libpq URL."""
    name = f"onsale_benchtest_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    admin = pg_admin_url.replace("postgresql+psycopg://", "postgresql://", 1)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield with_database(admin, name)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'DROP DATABASE IF EXISTS "{name}_onsale" WITH (FORCE)')  # onsale's own


@pytest.fixture()
def bench_redis_prefix(redis_url: str) -> Iterator[str]:
    prefix = f"onsalebench-test-{os.getpid()}-{uuid.uuid4().hex[:6]}"
    yield prefix
    delete_run_keys(redis_url, prefix)


@pytest.mark.parametrize("contender_class", BASELINES, ids=lambda c: c.name)
def test_baseline_decides_every_request_and_never_oversells(
        contender_class: type[Contender], bench_pg_url: str, redis_url: str,
        bench_redis_prefix: str) -> None:
    result = run_contender(contender_class, SMALL_ARENA, bench_pg_url, redis_url,
                           bench_redis_prefix, TINY_RUN)

    records = result.records
    assert records
    undecided = [record for record in records if not record.decided]
    assert undecided == [], "every request reaches a decision (no timeout, no error)"
    assert any(record.code is None for record in records), "some buyers got seats"
    assert result.audit.oversold == 0, "a seat is never given to two buyers"
    assert result.sold_per_sale <= build_workload(SMALL_ARENA).capacity
    assert result.audit.sold == result.seats_told, "the store records what buyers were told"
    sold_out_at = result.figures.sold_out_at_s
    if sold_out_at is not None and (sold_out_at - TINY_RUN.warmup_s
                                    < TINY_RUN.duration_s - MIN_SALE_WINDOW_SECONDS):
        # A sale that sells out early is followed by a fresh one for the missing seconds.
        assert result.sales == 2


def test_onsale_drain_decides_every_queued_request_and_never_oversells(
        bench_pg_url: str, redis_url: str, bench_redis_prefix: str) -> None:
    """The bench's drain figure: a queue filled through the API's enqueue path, then one
    real `onsale worker` process decides all of it."""
    workload = build_workload(SMALL_ARENA)
    contender = OnsaleContender()
    contender.setup(workload, bench_pg_url, redis_url, bench_redis_prefix)
    try:
        drain = contender.drain(workload, 300)
    finally:
        contender.stop()
    audit = contender.audit()
    assert drain.requests == 300 and drain.batches >= 1 and drain.seconds > 0
    assert audit.oversold == 0, "a seat is never given to two buyers"
    assert 0 < audit.sold <= workload.capacity


def test_paced_mode_issues_on_schedule_and_decides_everything(
        bench_pg_url: str, redis_url: str, bench_redis_prefix: str) -> None:
    rate_per_s = 100.0
    paced = RunConfig(warmup_s=0.5, duration_s=2.0, clients=2, rate_per_s=rate_per_s)
    result = run_contender(PgPessimisticContender, LARGER_ARENA, bench_pg_url, redis_url,
                           bench_redis_prefix, paced)

    expected = rate_per_s * paced.duration_s
    assert abs(result.figures.issued - expected) <= paced.clients, "requests follow the schedule"
    assert result.not_issued == 0
    assert all(record.decided for record in result.records)
    assert result.audit.oversold == 0
    assert result.audit.sold == result.seats_told
    if os.path.isdir("/proc"):  # CPU per process group over the window (Linux)
        # Not postgres > 0 alone: 200 short transactions in 2 s may not reach one clock
        # tick (10 ms) in any backend, and did not once here; the window saw work somewhere.
        assert result.cpu is not None and result.cpu.total_cores > 0
        assert set(result.cpu.us_per_decision) == {"clients", "server", "postgres", "redis"}


def test_fifo_share_counts_requests_overtaken_by_a_later_arrival() -> None:
    def record(seq: int, decided_at: float) -> Record:
        return Record(seq, 0.0, decided_at, decided_at, 1, None, 0)

    flags = fifo_flags([record(1, 1.0), record(2, 3.0), record(3, 2.0), record(4, 3.0)])

    assert flags == {1: True, 2: False, 3: True, 4: True}


def test_run_cleanup_deletes_job_keys_named_by_the_prefix_tag(redis_url: str,
                                                             bench_redis_prefix: str) -> None:
    """Job ids carry the prefix as letters and digits only; a prefix with other characters
    must not leave the run's RQ jobs behind (they live for an hour)."""
    import redis

    client = redis.Redis.from_url(redis_url)
    tag = run_tag(bench_redis_prefix)
    assert tag != bench_redis_prefix, "the fixture's prefix has characters a tag drops"
    ours = [f"{bench_redis_prefix}:queue", f"rq:job:1-{tag}-00ff", f"rq:queue:{bench_redis_prefix}"]
    theirs = f"rq:job:1-other{tag[::-1]}-00ff"
    try:
        for key in [*ours, theirs]:
            client.set(key, "x", ex=60)
        assert delete_run_keys(redis_url, bench_redis_prefix) == len(ours)
        assert [client.exists(key) for key in ours] == [0, 0, 0]
        assert client.exists(theirs) == 1
    finally:
        client.delete(theirs)
        client.close()


def test_onsale_refuses_to_run_beside_a_stray_worker(bench_pg_url: str, redis_url: str,
                                                     bench_redis_prefix: str) -> None:
    """A worker left running on the bench's prefix would take the partition and decide the
    run's requests, so the figures would be its own: the run stops before it starts."""
    import time

    import redis

    from workers.keys import Keys

    client = redis.Redis.from_url(redis_url)
    try:
        client.zadd(Keys(bench_redis_prefix).workers(), {"elsewhere:4242:abcdef": time.time()})
        with pytest.raises(RuntimeError, match="elsewhere:4242:abcdef"):
            OnsaleContender().setup(build_workload(SMALL_ARENA), bench_pg_url, redis_url,
                                    bench_redis_prefix)
    finally:
        client.close()


def test_machine_yardsticks_are_measured_and_leave_nothing_behind(bench_pg_url: str,
                                                                  redis_url: str) -> None:
    """The bench prints how fast this machine is with its figures; the commit yardstick
    writes a table of its own in the bench's database and drops it."""
    from loadtests.booking.calibration import TABLE, measure

    speed = measure(bench_pg_url, redis_url)

    assert min(speed.entry().values()) > 0
    assert "Postgres round trip" in speed.line()
    with psycopg.connect(bench_pg_url) as conn:
        assert conn.execute("SELECT to_regclass(%s)", (TABLE,)).fetchone() == (None,)
