"""`onsale bench cluster_failover`: a Redis Cluster master fails over during a sale.

A real cluster of 3 masters and 3 replicas is started on loopback
(loadtests/redis_cluster.py). Fans' hold requests go to one partition at a steady rate
through the API's enqueue path while a partition consumer (the worker process's
supervisor) decides them; part-way, the replica of the master that serves the partition's
hash slot is promoted (`CLUSTER FAILOVER` on it). Then every request must reach a final
state and the invariant audit must pass. The figure is the pause: the longest time
without a decision, against the usual gap between decisions at that rate.

Two runs on one cluster: the replica promoted by ops (`CLUSTER FAILOVER`, graceful), then
the new master's process killed (its replica is elected after cluster-node-timeout, 2 s).
Writes `redis_cluster_failover_pause_s` (the promotion) and
`redis_cluster_master_kill_pause_s` (the kill), with each run's details, into
bench-results/scaling.json, keeping the figures other benchmarks wrote there.
The tests assert the behaviour (tests/integration/test_cluster_failover.py); this module
only measures.
"""

from __future__ import annotations

import statistics
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import redis

from loadtests.audit import AuditResult, run_audit
from loadtests.benchio import print_table, update_results
from loadtests.redis_cluster import ClusterUnavailable, LocalCluster, start_cluster
from workers.consumer import ConsumerConfig
from workers.enqueue import SyncRequestQueue
from workers.keys import Keys, partition_slot, text
from workers.redis_client import sync_client
from workers.supervisor import PartitionSupervisor

if TYPE_CHECKING:
    from api.launcher.settings import Settings

PARTITION = "p0"
FINAL_STATUSES = frozenset({"held", "rejected", "failed"})
SETTLE_SECONDS = 30.0
ENQUEUE_RETRY_SECONDS = 0.05
BENCH_NODE_TIMEOUT_MS = 2000
"""The cluster-node-timeout of the measured cluster (the kill's pause grows with it)."""


@dataclass
class FailoverRun:
    """What one sale through a failover showed."""

    event_id: int
    request_ids: list[str] = field(default_factory=list)
    statuses: dict[str, str] = field(default_factory=dict)
    decided_at: list[float] = field(default_factory=list)
    enqueue_retries: int = 0
    failover_started: float = 0.0
    promoted_after_s: float = 0.0
    audit: AuditResult | None = None

    @property
    def unfinished(self) -> list[str]:
        return [r for r in self.request_ids if self.statuses.get(r) not in FINAL_STATUSES]

    @property
    def pause_s(self) -> float:
        """The longest time without a decision, from the failover on."""
        moments = sorted(t for t in self.decided_at if t >= self.failover_started - 1.0)
        gaps = [b - a for a, b in zip(moments, moments[1:], strict=False)]
        return max(gaps, default=0.0)

    @property
    def usual_gap_s(self) -> float:
        """The median time between batches (decisions of one batch share a moment)."""
        moments = sorted(set(self.decided_at))
        gaps = [b - a for a, b in zip(moments, moments[1:], strict=False)]
        return statistics.median(gaps) if gaps else 0.0


def _promote_replica(cluster: LocalCluster, slot: int, mode: str) -> int:
    """Fail the slot's master over to its replica; the replica's port.

    `promote`: `CLUSTER FAILOVER` on the replica (it catches up, then takes over).
    `kill`: the master's process is killed; its replica is elected when the cluster
    deems the master failed (cluster-node-timeout, 2 s here)."""
    master = cluster.master_of_slot(slot)
    replica = cluster.replicas_of(master)[0]
    if mode == "kill":
        cluster.kill_node(master)
    else:
        cluster.node(replica).execute_command(  # type: ignore[no-untyped-call]
            "CLUSTER", "FAILOVER")
    return replica


def _wait_promoted(cluster: LocalCluster, replica: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        role = cluster.node(replica).execute_command("ROLE")  # type: ignore[no-untyped-call]
        if text(role[0]) == "master":
            return
        time.sleep(0.01)
    raise TimeoutError(f"replica {replica} was not promoted")


def _enqueue_all(queue: SyncRequestQueue, run: FailoverRun, requests: int,
                 rate_per_s: float) -> None:
    """Fans' hold requests at a steady rate; a refused call is retried with the same
    Idempotency-Key, as a fan's client does."""
    started = time.monotonic()
    for buyer in range(1, requests + 1):
        wait = started + (buyer - 1) / rate_per_s - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        while True:
            try:
                enqueued = queue.enqueue(event_id=run.event_id, buyer_id=buyer, kind="hold",
                                         params={"quantity": 1}, partition=PARTITION,
                                         idempotency_key=f"fan-{buyer}")
                break
            except redis.RedisError:
                run.enqueue_retries += 1
                time.sleep(ENQUEUE_RETRY_SECONDS)
        run.request_ids.append(enqueued.request_id)


def _read_outcomes(client: Any, keys: Keys, run: FailoverRun) -> None:
    deadline = time.monotonic() + SETTLE_SECONDS
    while True:
        with client.pipeline(transaction=False) as pipe:
            for request_id in run.request_ids:
                pipe.hmget(keys.request(request_id), ["status", "decided_at"])
            rows = pipe.execute()
        run.statuses = {r: text(row[0] or b"") for r, row in zip(run.request_ids, rows,
                                                                   strict=True)}
        run.decided_at = [float(row[1]) for row in rows if row[1]]
        if not run.unfinished or time.monotonic() > deadline:
            return
        time.sleep(0.2)


def sale_through_failover(cluster: LocalCluster, database_url: str, event_id: int, *,
                          requests: int = 400, rate_per_s: float = 200.0,
                          failover_at: float = 0.35, mode: str = "promote") -> FailoverRun:
    """Run the sale on `event_id` with a failover (`mode`, see `_promote_replica`)
    `failover_at` of the way through."""
    from engine.store.db import make_engine
    from workers.pg_store import PostgresBookingStore

    prefix = f"failover-{uuid.uuid4().hex[:8]}"
    keys = Keys(prefix)
    client = sync_client(cluster.url)
    engine = make_engine(database_url)
    run = FailoverRun(event_id)
    stop = threading.Event()
    supervisor = PartitionSupervisor(client, keys, lambda: PostgresBookingStore(engine),
                                     f"failover-worker-{uuid.uuid4().hex[:6]}", 1,
                                     ConsumerConfig())
    worker = threading.Thread(target=supervisor.run, args=(stop,), daemon=True)
    worker.start()
    enqueuer = threading.Thread(target=_enqueue_all, daemon=True, args=(
        SyncRequestQueue(client, keys, max_queue_depth=100_000), run, requests, rate_per_s))
    try:
        enqueuer.start()
        time.sleep(requests / rate_per_s * failover_at)
        run.failover_started = time.time()
        promoted = _promote_replica(cluster, partition_slot(PARTITION), mode)
        _wait_promoted(cluster, promoted)
        run.promoted_after_s = time.time() - run.failover_started
        enqueuer.join()
        _read_outcomes(client, keys, run)
    finally:
        stop.set()
        worker.join(timeout=10)
        engine.dispose()
    run.audit = run_audit(database_url, cluster.url, prefix, event_id, settle_seconds=5.0)
    client.close()
    return run


def _figures(run: FailoverRun) -> dict[str, Any]:
    return {
        "requests": len(run.request_ids),
        "pause_s": round(run.pause_s, 3),
        "usual_gap_between_batches_s": round(run.usual_gap_s, 4),
        "replica_promoted_after_s": round(run.promoted_after_s, 3),
        "enqueue_retries": run.enqueue_retries,
        "unfinished_requests": len(run.unfinished),
        "audit_ok": run.audit is not None and run.audit.ok,
    }


def main(quick: bool, settings: Settings) -> int:
    """Both ways a master goes: promoted by ops (`CLUSTER FAILOVER`), then killed."""
    from loadtests.bench_ops import make_bench_events

    database_url = settings.database_url or ""
    requests = 200 if quick else 600
    try:
        cluster = start_cluster(node_timeout_ms=BENCH_NODE_TIMEOUT_MS)
    except ClusterUnavailable as reason:
        print(f"cluster_failover skipped: {reason}")
        return 0
    try:
        events = make_bench_events(database_url, 2, name="cluster failover bench")
        runs = {mode: _figures(sale_through_failover(cluster, database_url, event_id,
                                                     requests=requests, mode=mode))
                for mode, event_id in zip(("promote", "kill"), events, strict=True)}
    finally:
        cluster.stop()
    print_table([{"master": mode, **figures} for mode, figures in runs.items()],
                ["master", "requests", "pause_s", "usual_gap_between_batches_s",
                 "replica_promoted_after_s", "enqueue_retries", "unfinished_requests",
                 "audit_ok"])
    path = update_results("scaling", {
        "redis_cluster_failover_pause_s": runs["promote"]["pause_s"],
        "redis_cluster_master_kill_pause_s": runs["kill"]["pause_s"],
        "redis_cluster_failover": runs,
    })
    print(f"results: {path}")
    failed = [mode for mode, figures in runs.items()
              if figures["unfinished_requests"] or not figures["audit_ok"]]
    return 1 if failed else 0
