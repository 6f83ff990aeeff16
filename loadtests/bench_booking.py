"""`onsale bench booking [--quick]`: onsale against lock-based baselines on one hot event.

Every contender books the same deterministic request stream (see
`loadtests.booking.workload`) for the same time with the same client
processes, one after the other on this machine; each starts from a freshly
loaded 20,000-seat arena. Prints a table, writes bench-results/booking.json and
bench-results/booking.png. docs/benchmarks.md explains what each contender
does and how to read the figures.

The baselines live in the benchmark's own database (`onsale_bench`, created on
the configured Postgres server) and use Redis keys under `onsalebench`.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import psycopg
from sqlalchemy.engine import make_url

from loadtests.booking import calibration
from loadtests.booking.calibration import MachineSpeed
from loadtests.booking.contender import DEFAULT_REDIS_PREFIX, Contender
from loadtests.booking.harness import RunConfig, RunResult, run_contender
from loadtests.booking.workload import WorkloadSpec, build_workload

if TYPE_CHECKING:
    from api.launcher.settings import Settings

BENCH_DATABASE = "onsale_bench"
LOCAL_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
LOCAL_REDIS_URL = "redis://127.0.0.1:6379/14"
PACED_RATE_PER_S = 2_000.0
DRAIN_REQUESTS = 12_000
"""Queued before onsale's worker starts, for its drain figure (about 2 s of work)."""
ONSALE = "onsale"
VANILLA = "vanilla-rq"
LOCK_BASED = ("pg-pessimistic", "pg-optimistic", "redis-lock")
CONTENDERS: tuple[tuple[str, str, str], ...] = (
    (ONSALE, "loadtests.booking.onsale_contender", "OnsaleContender"),
    (VANILLA, "loadtests.booking.vanilla_rq", "VanillaRqContender"),
    ("pg-pessimistic", "loadtests.booking.pg_pessimistic", "PgPessimisticContender"),
    ("pg-optimistic", "loadtests.booking.pg_optimistic", "PgOptimisticContender"),
    ("redis-lock", "loadtests.booking.redis_lock", "RedisLockContender"),
)
QUICK = RunConfig(warmup_s=1.0, duration_s=14.0)
FULL = RunConfig(warmup_s=2.0, duration_s=58.0)
RUSH_BUYERS_PER_CLIENT = 256
"""The rush level: 2 x 256 = 512 buyers waiting for a decision at once, what a waiting room
admitting a few thousand fans a minute keeps in flight. Run for onsale and the lock-based
designs (vanilla RQ is compared at the base level only)."""
RUSH_CONTENDERS = (ONSALE, *LOCK_BASED)
QUICK_PACED = RunConfig(warmup_s=1.0, duration_s=10.0, rate_per_s=PACED_RATE_PER_S)
FULL_PACED = RunConfig(warmup_s=2.0, duration_s=30.0, rate_per_s=PACED_RATE_PER_S)
COLUMNS = ("contender", "decisions/s", "p50 ms", "p99 ms", "seats sold", "oversold", "retries",
           "fifo share")


@dataclass(frozen=True)
class Plan:
    spec: WorkloadSpec
    closed: RunConfig
    paced: RunConfig
    only: tuple[str, ...] = ()
    rounds: int = 2

    @property
    def rush(self) -> RunConfig:
        return replace(self.closed, buyers_per_client=RUSH_BUYERS_PER_CLIENT)


def main(quick: bool, settings: Settings, only: tuple[str, ...] = (), n_rounds: int = 2) -> int:
    plan = Plan(WorkloadSpec(), QUICK if quick else FULL, QUICK_PACED if quick else FULL_PACED,
                only, n_rounds)
    pg_url = bench_database_url(settings.database_url)
    redis_url = settings.redis_url or LOCAL_REDIS_URL
    workload = build_workload(plan.spec)
    print(f"booking bench: {workload.capacity:,} seats, {len(workload.hot_section_ids)} hot "
          f"sections ({workload.hot_seats:,} seats) get {plan.spec.hot_share:.0%} of requests; "
          f"{plan.closed.clients} client processes x {plan.closed.buyers_per_client} buyers, "
          f"{plan.closed.duration_s:g} s measured per contender after a {plan.closed.warmup_s:g} s "
          f"warm-up (a fresh sale, up to {plan.closed.max_sales}, each time the event sells out)")

    classes: dict[str, type[Contender]] = {}
    for name, module_name, class_name in CONTENDERS:
        if plan.only and name not in plan.only:
            continue
        try:
            classes[name] = getattr(importlib.import_module(module_name), class_name)
        except (ImportError, AttributeError) as exc:
            if name != ONSALE:
                raise
            print(f"-- {name}: skipped, {module_name}.{class_name} is not importable yet ({exc})")

    failures: list[str] = []
    speed_before = machine_speed(pg_url, redis_url)

    def run(name: str, config: RunConfig, label: str) -> RunResult | None:
        print(f"-- {name}: {label}", flush=True)
        try:
            return run_contender(classes[name], plan.spec, pg_url, redis_url,
                                 DEFAULT_REDIS_PREFIX, config)
        except Exception as exc:  # one broken contender must not hide the others' figures
            failures.append(f"{name}: {exc}")
            print(f"-- {name}: FAILED: {exc}", file=sys.stderr)
            return None

    def level(names: list[str], config: RunConfig, label: str) -> list[Rounds]:
        """Every contender once per round, odd rounds in reverse order (ABBA): a machine
        that speeds up or slows down during the run favours nobody."""
        runs: dict[str, list[RunResult]] = {name: [] for name in names}
        for round_no, name in abba(names, plan.rounds):
            result = run(name, config, f"{label}, round {round_no + 1} of {plan.rounds}")
            if result is not None:
                runs[name].append(result)
        return [Rounds(name, found) for name, found in runs.items() if found]

    names = list(classes)
    results = level(names, plan.closed, "running")
    rush_names = [name for name in names if name in RUSH_CONTENDERS]
    rush = level(rush_names, plan.rush, f"rush, {plan.rush.clients * plan.rush.buyers_per_client}"
                 " buyers") if rush_names else []
    paced: RunResult | None = None
    drain: Any = None
    if ONSALE in classes:
        paced = run(ONSALE, plan.paced, f"paced at {PACED_RATE_PER_S:,.0f} requests/s")
        print(f"-- {ONSALE}: draining {DRAIN_REQUESTS:,} queued requests", flush=True)
        try:
            drain = run_drain(classes[ONSALE], plan.spec, pg_url, redis_url)
        except Exception as exc:  # noqa: BLE001 - reported with the others
            failures.append(f"{ONSALE} drain: {exc}")

    speed_after = machine_speed(pg_url, redis_url)
    print()
    for when, speed in (("before", speed_before), ("after", speed_after)):
        if speed is not None:
            print(f"{speed.line()} ({when} the runs)")
    _print_table([rounds.table_row() for rounds in results], COLUMNS)
    for rounds in results:
        for result in rounds.runs:
            print(_details(result))
    if paced is not None:
        print(_details(paced, label=f"onsale paced {PACED_RATE_PER_S:,.0f}/s"))
    if drain is not None:
        print(f"onsale drain (one partition, {drain.requests:,} queued, no clients in the loop): "
              f"{drain.decisions_per_s:,.0f} decisions/s in {drain.batches} batches, worker "
              f"CPU {drain.worker_cpu_seconds / drain.requests * 1e6:.0f} us/decision")
    for line in ratio_lines(results):
        print(line)
    if rush:
        print(f"\nrush: {plan.rush.clients} client processes x {plan.rush.buyers_per_client} "
              "buyers")
        _print_table([rounds.table_row() for rounds in rush], COLUMNS)
        for rounds in rush:
            for result in rounds.runs:
                print(_details(result))
        for line in ratio_lines(rush):
            print(f"rush: {line}")

    payload = {
        "contenders": [rounds.entry() for rounds in results],
        "paced_p99_ms": None if paced is None else paced.entry()["p99_ms"],
        "drain_decisions_per_s": None if drain is None else round(drain.decisions_per_s),
        "drain_worker_cpu_us": None if drain is None else round(
            drain.worker_cpu_seconds / drain.requests * 1e6),
        "details": {rounds.name: rounds.details() for rounds in results},
        "rounds": plan.rounds,
        "rush": {
            "buyers": plan.rush.clients * plan.rush.buyers_per_client,
            "contenders": [rounds.entry() for rounds in rush],
            "details": {rounds.name: rounds.details() for rounds in rush},
        },
        "machine_speed": {"before": None if speed_before is None else speed_before.entry(),
                          "after": None if speed_after is None else speed_after.entry()},
        "workload": {**asdict(plan.spec), "seats": workload.capacity,
                     "hot_seats": workload.hot_seats},
        "config": asdict(plan.closed),
    }
    json_path = _write_results("booking", payload)
    png_path = _write_plot([rounds.runs[0] for rounds in results], json_path.with_suffix(".png"),
                           workload.capacity)
    print(f"wrote {json_path} and {png_path}")

    every_run = [run for rounds in results + rush for run in rounds.runs]
    problems = failures + [
        f"{r.name}: {r.audit.oversold} oversold seats" for r in every_run if r.audit.oversold
    ] + [
        f"{r.name}: {sum(_undecided(r).values())} requests without a decision"
        for r in every_run if _undecided(r)
    ]
    for problem in problems:
        print(f"PROBLEM {problem}", file=sys.stderr)
    return 1 if problems else 0


def run_drain(contender_class: Any, spec: WorkloadSpec, pg_url: str, redis_url: str) -> Any:
    """onsale's partition with a full queue: a fresh arena, DRAIN_REQUESTS queued, one worker."""
    contender = contender_class()
    workload = build_workload(spec)
    contender.setup(workload, pg_url, redis_url, DEFAULT_REDIS_PREFIX)
    try:
        return contender.drain(workload, DRAIN_REQUESTS)
    finally:
        contender.stop()


def abba(names: list[str], rounds: int) -> list[tuple[int, str]]:
    """(round, contender) in running order: every round runs them all, odd rounds reversed."""
    return [(round_no, name) for round_no in range(rounds)
            for name in (names if round_no % 2 == 0 else names[::-1])]


def bench_database_url(database_url: str | None) -> str:
    """A libpq URL of the benchmark's own database on the configured server, created if new."""
    server = make_url(database_url or LOCAL_POSTGRES_URL).set(drivername="postgresql")
    admin = server.set(database="postgres").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s",
                              (BENCH_DATABASE,)).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{BENCH_DATABASE}"')
    return server.set(database=BENCH_DATABASE).render_as_string(hide_password=False)


def machine_speed(pg_url: str, redis_url: str) -> MachineSpeed | None:
    """This machine's yardsticks now (see `loadtests.booking.calibration`); None if they
    could not be taken, which must not cost the run its figures."""
    try:
        return calibration.measure(pg_url, redis_url)
    except Exception as exc:  # noqa: BLE001 - the figures matter more than the yardstick
        print(f"-- machine speed not measured: {exc}", file=sys.stderr)
        return None


def ratio_lines(results: list[Rounds]) -> list[str]:
    rates = {rounds.name: rounds.decisions_per_s for rounds in results}
    locks = {name: rate for name, rate in rates.items() if name in LOCK_BASED}
    best_lock = max(locks, key=lambda name: locks[name]) if locks else None
    if ONSALE not in rates:
        lines = ["onsale not run: no ratios to onsale."]
        if best_lock is not None and rates.get(VANILLA):
            lines.append(f"best lock-based ({best_lock}) / vanilla-rq: "
                         f"{locks[best_lock] / rates[VANILLA]:.1f}x")
        return lines
    lines = []
    if rates.get(VANILLA):
        lines.append(f"onsale / vanilla-rq: {rates[ONSALE] / rates[VANILLA]:.1f}x (target >= 10x)")
    if best_lock is not None and locks[best_lock]:
        lines.append(f"onsale / best lock-based ({best_lock}): "
                     f"{rates[ONSALE] / locks[best_lock]:.1f}x (target >= 2x)")
    return lines


@dataclass(frozen=True)
class Rounds:
    """One contender's runs at one level, one per round. Its figures are the means of the
    runs' (oversold: the worst run), so drift of the machine's speed averages out."""

    name: str
    runs: list[RunResult]

    def _mean(self, value: Callable[[RunResult], float | None]) -> float | None:
        values = [v for v in map(value, self.runs) if v is not None]
        return sum(values) / len(values) if values else None

    @property
    def decisions_per_s(self) -> float:
        return self._mean(lambda r: r.figures.decisions_per_s) or 0.0

    def entry(self) -> dict[str, Any]:
        """The contender's entry in bench-results/booking.json."""
        p50, p99 = self._mean(lambda r: r.figures.p50_ms), self._mean(lambda r: r.figures.p99_ms)
        fifo = self._mean(lambda r: r.figures.fifo_share)
        return {
            "name": self.name,
            "decisions_per_s": round(self.decisions_per_s, 1),
            "p50_ms": None if p50 is None else round(p50, 2),
            "p99_ms": None if p99 is None else round(p99, 2),
            "sold": round(self._mean(lambda r: r.sold_per_sale) or 0),
            "oversold": max(r.audit.oversold for r in self.runs),
            "retries": round(self._mean(lambda r: r.figures.retries) or 0),
            "fifo_share": None if fifo is None else round(fifo, 4),
        }

    def table_row(self) -> dict[str, Any]:
        entry = self.entry()
        return {
            "contender": self.name,
            "decisions/s": " / ".join(f"{r.figures.decisions_per_s:,.0f}" for r in self.runs)
            if len(self.runs) > 1 else f"{self.decisions_per_s:,.0f}",
            "p50 ms": "-" if entry["p50_ms"] is None else round(entry["p50_ms"], 1),
            "p99 ms": "-" if entry["p99_ms"] is None else round(entry["p99_ms"], 1),
            "seats sold": entry["sold"],
            "oversold": entry["oversold"],
            "retries": entry["retries"],
            "fifo share": "-" if entry["fifo_share"] is None else f"{entry['fifo_share']:.3f}",
        }

    def details(self) -> dict[str, Any]:
        return {"runs": [{"decisions_per_s": round(r.figures.decisions_per_s, 1),
                          **_detail_fields(r)} for r in self.runs]}


def _undecided(result: RunResult) -> dict[str, int]:
    """Requests of the whole run, warm-up included, that never got a decision, by cause."""
    causes: dict[str, int] = {}
    for record in result.records:
        if not record.decided and record.code is not None:
            causes[record.code] = causes.get(record.code, 0) + 1
    return causes


def _detail_fields(result: RunResult) -> dict[str, Any]:
    f = result.figures
    return {
        "window_s": round(f.window_s, 2),
        "sales": f.sales,
        "sold_out_at_s": None if f.sold_out_at_s is None else round(f.sold_out_at_s, 2),
        "requests": f.issued,
        "held": f.held,
        "seats_held": f.seats_held,
        "rejected": f.rejected,
        "no_decision": _undecided(result),
        "cpu": None if result.cpu is None else result.cpu.entry(),
    }


def _details(result: RunResult, label: str | None = None) -> str:
    f = result.figures
    rejected = ", ".join(f"{code} {count}" for code, count in sorted(f.rejected.items()))
    sold_out = "" if f.sold_out_at_s is None else f", sold out at {f.sold_out_at_s:.1f} s"
    if f.sales > 1:
        sold_out = f" over {f.sales} sales (the first{sold_out})"
    text = (f"  {label or result.name}: {f.window_s:.1f} s window{sold_out}; "
            f"{f.issued:,} requests, {f.held:,} held ({f.seats_held:,} seats), "
            f"rejected: {rejected or 'none'}")
    if label is not None:
        text += f"; p50 {f.p50_ms or 0:.1f} ms, p99 {f.p99_ms or 0:.1f} ms"
    undecided = _undecided(result)
    if undecided:
        text += f"; NO DECISION (whole run): {undecided}"
    if result.not_issued:
        text += f"; not issued (harness in-flight cap): {result.not_issued}"
    if result.cpu is not None:
        text += f"\n    {result.cpu.line()}"
    return text


def _print_table(rows: list[dict[str, Any]], columns: tuple[str, ...]) -> None:
    from loadtests.benchio import print_table

    print_table(rows, columns)


def _write_results(name: str, payload: dict[str, Any]) -> Path:
    from loadtests.benchio import write_results

    return write_results(name, payload)


def _write_plot(results: list[RunResult], path: Path, seats: int) -> Path:
    from loadtests.booking.plot import write_plot

    return write_plot(results, path, f"booking bench: one hot event, {seats:,} seats")


def _cli() -> int:
    from api.launcher.settings import Settings

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--only", action="append", default=[],
                        help="run just this contender (repeatable)")
    parser.add_argument("--rounds", type=int, default=2,
                        help="runs of each contender and level, in ABBA order (default 2)")
    args = parser.parse_args()
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    return main(args.quick, Settings.from_env(), tuple(args.only), args.rounds)


if __name__ == "__main__":
    sys.exit(_cli())
