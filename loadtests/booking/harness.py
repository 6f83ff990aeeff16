"""Drive one contender with client processes and measure it.

Closed loop (default): each client process runs `buyers_per_client` buyers on
one event loop; a buyer issues a request, waits for its decision, issues the
next. Open loop (`rate_per_s`): the client processes together issue requests
at that rate whatever the answers, and latency counts from the scheduled issue
time, so a stalled contender cannot hide its queueing (no coordinated omission).

Arrival order is one counter shared by all client processes: a request's
`seq` is taken at the moment it is issued and selects the request from the
workload stream. The client processes also share a count of seats they were
told are held, and stop issuing once the event is sold out (`SOLD_OUT_SHARE`
of its seats): after that every request is a cheap rejection that a real sale
would turn away at the door, so it measures nothing of interest. The run then
holds a fresh sale (the contender's `setup` again, with its own warm-up and
arrival counter) for the measured seconds still missing, up to `max_sales`.

Each sale is bounded: issuing stops at sell-out or after warm-up + the seconds
still missing, every request in flight gets at most `decision_timeout_s`, and
the harness kills its client processes if they overrun. State is reset by the
contender's `setup` at the start of every sale.
"""

from __future__ import annotations

import asyncio
import math
import multiprocessing
import queue
import sys
import time
import traceback
from dataclasses import dataclass, field, replace
from multiprocessing.context import SpawnContext
from typing import Any

from loadtests.booking.contender import Audit, Contender
from loadtests.booking.cpu import CpuFigures, CpuSampler, combine_cpu, window_figures
from loadtests.booking.metrics import (
    ERROR,
    SOLD_OUT_SHARE,
    TIMEOUT,
    Figures,
    Record,
    Sale,
    summarize_sales,
)
from loadtests.booking.workload import WorkloadSpec, build_workload

MIN_SALE_WINDOW_SECONDS = 1.0
"""A fresh sale is started only when at least this much measured time is missing."""
START_DELAY_SECONDS = 0.5
"""Between releasing the client processes and the first request, so all start together."""
ERRORS_SHOWN_PER_CLIENT = 3
_SEQ, _SEATS_HELD = 0, 1
"""Slots of the array the client processes share."""


@dataclass(frozen=True)
class RunConfig:
    duration_s: float = 14.0
    """Measured seconds wanted, after each sale's warm-up. A sale's window ends early when
    its event sells out; the run then starts a fresh sale (fresh store, fresh arena) for
    the seconds still missing, up to `max_sales`."""
    max_sales: int = 8
    warmup_s: float = 1.0
    clients: int = 2
    """Client processes; the same for every contender."""
    buyers_per_client: int = 32
    """Concurrent closed-loop buyers per client process."""
    rate_per_s: float | None = None
    """Open loop at this total rate instead of closed-loop buyers."""
    decision_timeout_s: float = 30.0
    start_timeout_s: float = 60.0
    max_in_flight_per_client: int = 5_000
    """Open loop only: requests beyond this many unanswered ones are not issued (counted)."""


@dataclass(frozen=True)
class RunResult:
    name: str
    config: RunConfig
    figures: Figures
    audit: Audit
    not_issued: int
    """Open loop only: requests the harness could not issue (in-flight cap reached)."""
    records: list[Record] = field(repr=False)
    """Every request of the run, warm-up included, every sale's (arrival numbers restart
    with each sale)."""
    cpu: CpuFigures | None = None
    """CPU per process group over the measured windows (None off Linux)."""

    @property
    def sales(self) -> int:
        return self.figures.sales

    @property
    def sold_per_sale(self) -> float:
        return self.audit.sold / self.sales

    @property
    def seats_told(self) -> int:
        """Seats the buyers of the whole run were told they hold: equal to `audit.sold`
        unless the contender told someone of a seat its store does not record."""
        return sum(record.seats for record in self.records if record.code is None)

    def entry(self) -> dict[str, Any]:
        """The contender's entry in bench-results/booking.json."""
        f = self.figures
        return {
            "name": self.name,
            "decisions_per_s": round(f.decisions_per_s, 1),
            "p50_ms": None if f.p50_ms is None else round(f.p50_ms, 2),
            "p99_ms": None if f.p99_ms is None else round(f.p99_ms, 2),
            "sold": self.audit.sold,
            "oversold": self.audit.oversold,
            "retries": f.retries,
            "fifo_share": None if f.fifo_share is None else round(f.fifo_share, 4),
        }


def run_contender(contender_class: type[Contender], spec: WorkloadSpec, pg_url: str,
                  redis_url: str, redis_prefix: str, config: RunConfig) -> RunResult:
    """Sales one after the other until `config.duration_s` seconds are measured: each sets
    up a fresh store, runs the clients, stops and is audited. `contender_class()` must
    build an instance (in this process and in each client process). The audit adds up
    the sales' seats sold and oversold."""
    workload = build_workload(spec)
    contender = contender_class()
    sales: list[Sale] = []
    records: list[Record] = []
    cpu_parts: list[tuple[CpuFigures, float]] = []
    sold = oversold = not_issued = 0
    missing = config.duration_s
    client_pids: set[int] = set()
    while True:
        sale_config = replace(config, duration_s=missing)
        contender.setup(workload, pg_url, redis_url, redis_prefix)
        client_pids.clear()
        try:
            contender.start()
            with CpuSampler(lambda: client_pids) as sampler:
                sale_records, skipped, run_start = _drive(
                    contender_class, spec, pg_url, redis_url, redis_prefix, sale_config,
                    client_pids)
        finally:
            contender.stop()
        audit = contender.audit()
        sold += audit.sold
        oversold += audit.oversold
        not_issued += skipped
        window_start = run_start + config.warmup_s
        sale = Sale(sale_records, run_start, window_start, window_start + missing)
        one = summarize_sales([sale], workload.capacity)
        sales.append(sale)
        records.extend(sale_records)
        cpu = window_figures(sampler.snapshots, window_start, window_start + one.window_s,
                             one.decisions_per_s)
        if cpu is not None:
            cpu_parts.append((cpu, one.decisions_per_s))
        missing -= one.window_s
        if (one.sold_out_at_s is None or missing < MIN_SALE_WINDOW_SECONDS
                or len(sales) >= config.max_sales):
            break
    figures = summarize_sales(sales, workload.capacity)
    return RunResult(contender.name, config, figures, Audit(sold=sold, oversold=oversold),
                     not_issued, records, combine_cpu(cpu_parts))


def _drive(contender_class: type[Contender], spec: WorkloadSpec, pg_url: str, redis_url: str,
           redis_prefix: str, config: RunConfig,
           client_pids: set[int]) -> tuple[list[Record], int, float]:
    context: SpawnContext = multiprocessing.get_context("spawn")
    shared = context.Array("q", 2)
    run_start = context.Value("d", 0.0)
    ready = context.Queue()
    results = context.Queue()
    go = context.Event()
    processes = [
        context.Process(
            target=_client_main,
            args=(contender_class, spec, pg_url, redis_url, redis_prefix, config, index,
                  shared, run_start, ready, go, results),
            name=f"bench-client-{index}",
        )
        for index in range(config.clients)
    ]
    for process in processes:
        process.start()
        client_pids.add(process.pid or 0)
    try:
        _wait_ready(processes, ready, results, config.start_timeout_s)
        run_start.value = time.monotonic() + START_DELAY_SECONDS
        go.set()
        deadline = (run_start.value + config.warmup_s + config.duration_s
                    + config.decision_timeout_s + 30.0)
        records: list[Record] = []
        not_issued = 0
        for _ in processes:
            index, outcome, error = results.get(timeout=max(1.0, deadline - time.monotonic()))
            if error is not None:
                raise RuntimeError(f"client {index} failed: {error}")
            rows, skipped = outcome
            records.extend(Record(*row) for row in rows)
            not_issued += skipped
        for process in processes:
            process.join(timeout=10.0)
        return records, not_issued, run_start.value
    except queue.Empty:
        raise RuntimeError("client processes overran the run's deadline") from None
    finally:
        for process in processes:
            if process.is_alive():
                process.terminate()
                process.join(timeout=5.0)


def _wait_ready(processes: list[Any], ready: Any, results: Any, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    waiting = len(processes)
    while waiting:
        try:
            ready.get(timeout=0.2)
            waiting -= 1
            continue
        except queue.Empty:
            pass
        try:
            index, _outcome, error = results.get_nowait()
            raise RuntimeError(f"client {index} failed before the start: {error}")
        except queue.Empty:
            pass
        if any(not process.is_alive() for process in processes):
            raise RuntimeError("a client process died before the start")
        if time.monotonic() > deadline:
            raise RuntimeError("client processes did not get ready in time")


def _client_main(contender_class: type[Contender], spec: WorkloadSpec, pg_url: str,
                 redis_url: str, redis_prefix: str, config: RunConfig, index: int,
                 shared: Any, run_start: Any, ready: Any, go: Any, results: Any) -> None:
    try:
        client = _Client(contender_class, spec, config, index, shared)
        outcome = asyncio.run(client.run(pg_url, redis_url, redis_prefix, run_start, ready, go))
    except BaseException:
        results.put((index, None, traceback.format_exc(limit=8)))
        raise
    results.put((index, outcome, None))


class _Client:
    """The buyers of one client process."""

    def __init__(self, contender_class: type[Contender], spec: WorkloadSpec,
                 config: RunConfig, index: int, shared: Any) -> None:
        self.contender = contender_class()
        self.workload = build_workload(spec)
        self.config = config
        self.index = index
        self.shared = shared
        self.sold_out_seats = math.ceil(SOLD_OUT_SHARE * self.workload.capacity)
        self.rows: list[tuple[Any, ...]] = []
        self.errors_shown = 0

    async def run(self, pg_url: str, redis_url: str, redis_prefix: str, run_start: Any,
                  ready: Any, go: Any) -> tuple[list[tuple[Any, ...]], int]:
        await self.contender.open(self.workload, pg_url, redis_url, redis_prefix)
        try:
            ready.put(self.index)
            if not await asyncio.to_thread(go.wait, self.config.start_timeout_s):
                raise RuntimeError("never released by the harness")
            start = run_start.value
            issue_end = start + self.config.warmup_s + self.config.duration_s
            await asyncio.sleep(max(0.0, start - time.monotonic()))
            not_issued = 0
            if self.config.rate_per_s is None:
                await asyncio.gather(*(self._buyer(issue_end)
                                       for _ in range(self.config.buyers_per_client)))
            else:
                not_issued = await self._paced(start, issue_end, self.config.rate_per_s)
            return self.rows, not_issued
        finally:
            await self.contender.close()

    def _next_seq(self) -> int:
        with self.shared.get_lock():
            self.shared[_SEQ] += 1
            return int(self.shared[_SEQ])

    def _sold_out(self) -> bool:
        # Read without the lock: a stop condition may see a count one update old, and the
        # lock, taken by every buyer of both processes before each request, was ~5 % of a
        # client process's busy CPU (py-spy, 512 buyers), for every contender alike.
        return bool(self.shared.get_obj()[_SEATS_HELD] >= self.sold_out_seats)

    async def _buyer(self, issue_end: float) -> None:
        while True:
            issued_at = time.monotonic()
            if issued_at >= issue_end or self._sold_out():
                return
            await self._one(self._next_seq(), issued_at)

    async def _paced(self, start: float, issue_end: float, rate_per_s: float) -> int:
        interval = self.config.clients / rate_per_s
        due = start + self.index / rate_per_s  # client processes interleave
        in_flight: set[asyncio.Task[None]] = set()
        not_issued = 0
        while due < issue_end and not self._sold_out():
            delay = due - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            now = time.monotonic()
            while due <= now and due < issue_end:
                if len(in_flight) >= self.config.max_in_flight_per_client:
                    not_issued += 1
                else:
                    task = asyncio.create_task(self._one(self._next_seq(), due))
                    in_flight.add(task)
                    task.add_done_callback(in_flight.discard)
                due += interval
        if in_flight:
            await asyncio.wait(in_flight)
        return not_issued

    async def _one(self, seq: int, issued_at: float) -> None:
        request = self.workload.request(seq)
        try:
            async with asyncio.timeout(self.config.decision_timeout_s):
                decision = await self.contender.book(request)
        except TimeoutError:
            now = time.monotonic()
            self.rows.append((seq, issued_at, now, now, 0, TIMEOUT, 0))
            return
        except Exception as exc:  # a failed request is recorded, the run goes on
            now = time.monotonic()
            self.rows.append((seq, issued_at, now, now, 0, f"{ERROR}:{type(exc).__name__}", 0))
            if self.errors_shown < ERRORS_SHOWN_PER_CLIENT:
                self.errors_shown += 1
                print(f"[client {self.index}] request {seq} failed: {exc!r}", file=sys.stderr)
            return
        received_at = time.monotonic()
        decided_at = received_at if decision.decided_at is None else decision.decided_at
        code = decision.code if decision.seat_ids or decision.code else "rejected"
        if decision.seat_ids:
            with self.shared.get_lock():
                self.shared[_SEATS_HELD] += len(decision.seat_ids)
        self.rows.append((seq, issued_at, decided_at, received_at, len(decision.seat_ids),
                          code, decision.retries))
