"""The topology for a big on-sale, from the per-core costs `onsale bench scaling` measured.

    python -m loadtests.capacity --fans 2000000 --events 100

Reads bench-results/scaling.json (`per_core`, `origin_polls_per_fan_per_min`) and
prints, for a ladder of sizes up to the one asked, the cores each tier needs
and the tier that runs out first (the bottleneck), then the topology for the
asked size: API processes, partition worker processes, Redis Cluster masters,
Postgres and its connection budget. docs/scaling.md explains the model.

The model, per second at the peak of the rush:

- joins: every fan of the big line joins within `--join-window`, the fans of the
  other events within the same window;
- origin polls: fans in line x origin polls per fan per minute / 60 (the shared
  summary is served by the CDN: one origin request per edge per second per event);
- decisions: each event admits `--admissions-per-minute` fans, each makes
  `--decisions-per-fan` booking decisions (hold, sale, a retry); one event's
  decisions run on one partition, one core: it must fit
  `decisions_per_worker_core_s`, however many cores the workers have;
- Redis: commands per poll, join and decision x their rates;
- Postgres: transactions per decision x decisions.

Each tier is sized to run at `--utilization` of its cores.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.store.pool_budget import BudgetTooSmall, api_pool

RESULTS = Path("bench-results/scaling.json")
CDN_EDGES = 50
"""Edges that each fetch the summary once a second (a large CDN's shield tier is fewer)."""


@dataclass(frozen=True)
class Costs:
    polls_per_core: float
    joins_per_core: float
    decisions_per_core: float
    redis_commands_per_core: float
    postgres_transactions_per_core: float
    redis_commands_per_poll: float
    redis_commands_per_join: float
    redis_commands_per_decision: float
    postgres_transactions_per_decision: float
    origin_polls_per_fan_per_min: float

    @classmethod
    def from_results(cls, figures: dict[str, Any]) -> Costs:
        core = figures["per_core"]
        return cls(
            polls_per_core=core["status_polls_per_api_core_s"],
            joins_per_core=core["joins_per_api_core_s"],
            decisions_per_core=core["decisions_per_worker_core_s"],
            redis_commands_per_core=core["redis_commands_per_redis_core_s"],
            postgres_transactions_per_core=core["postgres_transactions_per_backend_core_s"],
            redis_commands_per_poll=core.get("redis_commands_per_status_poll", 1.0),
            redis_commands_per_join=core.get("redis_commands_per_join", 2.0),
            redis_commands_per_decision=core["redis_commands_per_decision"],
            postgres_transactions_per_decision=core["postgres_transactions_per_decision"],
            origin_polls_per_fan_per_min=figures["origin_polls_per_fan_per_min"],
        )


@dataclass(frozen=True)
class Demand:
    fans: int
    events: int
    joins_per_s: float
    polls_per_s: float
    summary_reads_at_origin_per_s: float
    decisions_per_s: float
    decisions_per_event_per_s: float


@dataclass(frozen=True)
class Tiers:
    """Cores each tier needs at the target utilization."""

    api: float
    workers: float
    redis: float
    postgres: float
    hot_partition_load: float
    """One event's decisions against one core's capacity: above 1, no topology helps."""

    def bottleneck(self) -> str:
        if self.hot_partition_load > 1:
            return "one event's partition (decisions are serialized per event)"
        named = {"API (polls and joins)": self.api, "partition workers": self.workers,
                 "Redis": self.redis, "Postgres": self.postgres}
        return max(named, key=lambda name: named[name])


def demand(fans: int, events: int, *, fans_per_other_event: int, join_window_s: float,
           admissions_per_minute: float, decisions_per_fan: float,
           costs: Costs) -> Demand:
    all_fans = fans + max(0, events - 1) * fans_per_other_event
    per_event = admissions_per_minute / 60 * decisions_per_fan
    return Demand(
        fans=fans, events=events,
        joins_per_s=all_fans / join_window_s,
        polls_per_s=all_fans * costs.origin_polls_per_fan_per_min / 60,
        summary_reads_at_origin_per_s=float(CDN_EDGES * events),
        decisions_per_s=per_event * events,
        decisions_per_event_per_s=per_event,
    )


def tiers(need: Demand, costs: Costs, utilization: float) -> Tiers:
    api_core_s = (need.joins_per_s / costs.joins_per_core
                  + (need.polls_per_s + need.summary_reads_at_origin_per_s) / costs.polls_per_core)
    redis_commands = (need.polls_per_s * costs.redis_commands_per_poll
                      + need.joins_per_s * costs.redis_commands_per_join
                      + need.decisions_per_s * costs.redis_commands_per_decision)
    transactions = need.decisions_per_s * costs.postgres_transactions_per_decision
    return Tiers(
        api=api_core_s / utilization,
        workers=need.decisions_per_s / costs.decisions_per_core / utilization,
        redis=redis_commands / costs.redis_commands_per_core / utilization,
        postgres=transactions / costs.postgres_transactions_per_core / utilization,
        hot_partition_load=need.decisions_per_event_per_s / costs.decisions_per_core,
    )


def topology(need: Demand, sized: Tiers, *, max_connections: int,
             cores_per_host: int) -> dict[str, Any]:
    """Processes and hosts for the tiers; the Postgres connection budget they imply."""
    api_processes = max(2, math.ceil(sized.api))
    worker_processes = max(2, math.ceil(sized.workers))
    partitions = max(need.events, worker_processes)
    redis_masters = max(3, math.ceil(sized.redis))
    try:
        pool = api_pool(max_connections=max_connections, reserved=10,
                        api_processes=api_processes, worker_processes=worker_processes,
                        partitions=math.ceil(partitions / worker_processes))
        connections = f"{pool.connections} per API process (direct)"
    except BudgetTooSmall:
        connections = ("PgBouncer in transaction mode: the processes' pools exceed "
                       f"max_connections {max_connections}")
    return {
        "api_processes": api_processes,
        "api_hosts": math.ceil(api_processes / cores_per_host),
        "worker_processes": worker_processes,
        "partitions": partitions,
        "redis_cluster_masters": redis_masters,
        "postgres_cores": max(2, math.ceil(sized.postgres)),
        "postgres_connections": connections,
    }


def ladder(fans: int, events: int) -> list[tuple[int, int]]:
    steps = [(fans // 100, max(1, events // 100)), (fans // 10, max(1, events // 10)),
             (fans // 2, max(1, events // 2)), (fans, events)]
    return [step for n, step in enumerate(steps) if step[0] > 0 and step not in steps[:n]]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m loadtests.capacity",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--fans", type=int, default=2_000_000, help="fans in the big line")
    parser.add_argument("--events", type=int, default=100, help="on-sales at once")
    parser.add_argument("--fans-per-other-event", type=int, default=20_000)
    parser.add_argument("--join-window", type=float, default=600.0, metavar="SECONDS",
                        help="the rush: every fan joins within this (default 10 minutes)")
    parser.add_argument("--admissions-per-minute", type=float, default=6_000.0,
                        help="per event (default 6,000: 100 fans a second)")
    parser.add_argument("--decisions-per-fan", type=float, default=2.5)
    parser.add_argument("--utilization", type=float, default=0.6,
                        help="share of each core a tier may use at the peak")
    parser.add_argument("--max-connections", type=int, default=500,
                        help="Postgres max_connections")
    parser.add_argument("--cores-per-host", type=int, default=16)
    parser.add_argument("--results", type=Path, default=RESULTS)
    parser.add_argument("--json", action="store_true", help="print JSON instead of tables")
    args = parser.parse_args(argv)
    try:
        figures = json.loads(args.results.read_text())["results"]
        costs = Costs.from_results(figures)
    except (OSError, KeyError, ValueError) as exc:
        print(f"capacity: {args.results}: no scaling figures ({exc}); run "
              "`onsale bench scaling` first", file=sys.stderr)
        return 2
    rows = []
    for fans, events in ladder(args.fans, args.events):
        need = demand(fans, events, fans_per_other_event=args.fans_per_other_event,
                      join_window_s=args.join_window,
                      admissions_per_minute=args.admissions_per_minute,
                      decisions_per_fan=args.decisions_per_fan, costs=costs)
        sized = tiers(need, costs, args.utilization)
        rows.append((need, sized, topology(need, sized, max_connections=args.max_connections,
                                           cores_per_host=args.cores_per_host)))
    if args.json:
        print(json.dumps([{"fans": n.fans, "events": n.events, "demand": vars(n),
                           "cores": vars(t), "bottleneck": t.bottleneck(), "topology": top}
                          for n, t, top in rows], indent=2, default=str))
        return 0
    print_ladder(rows, costs)
    return 0


def print_ladder(rows: list[tuple[Demand, Tiers, dict[str, Any]]], costs: Costs) -> None:
    print(f"per core (measured): {costs.polls_per_core:,.0f} polls, {costs.joins_per_core:,.0f} "
          f"joins, {costs.decisions_per_core:,.0f} decisions, "
          f"{costs.redis_commands_per_core:,.0f} Redis commands, "
          f"{costs.postgres_transactions_per_core:,.0f} Postgres transactions a second; "
          f"{costs.origin_polls_per_fan_per_min} origin polls per waiting fan a minute")
    header = (f"{'fans':>10} {'events':>6} {'joins/s':>8} {'polls/s':>8} {'decisions/s':>11} "
              f"{'API':>6} {'workers':>7} {'Redis':>6} {'PG':>5}  bottleneck")
    print(header)
    for need, sized, _ in rows:
        print(f"{need.fans:>10,} {need.events:>6} {need.joins_per_s:>8,.0f} "
              f"{need.polls_per_s:>8,.0f} {need.decisions_per_s:>11,.0f} {sized.api:>6.1f} "
              f"{sized.workers:>7.1f} {sized.redis:>6.1f} {sized.postgres:>5.1f}  "
              f"{sized.bottleneck()}")
    need, sized, top = rows[-1]
    print(f"\ntopology for {need.fans:,} fans in one line and {need.events} on-sales at once "
          "(cores at the target utilization):")
    for name, value in top.items():
        print(f"  {name}: {value}")


if __name__ == "__main__":
    sys.exit(main())
