"""`onsale chaos [--quick] [--only NAME,...] [--report DIR]`: faults during a surge, audited.

    onsale chaos --quick --report chaos-report

Starts a local stack (`onsale up` with two API processes on one port, against
a Postgres and a Redis this run owns, each behind a loopback fault proxy:
`loadtests.fault_stack`), then for each fault of the catalog (or of --only): a
fresh on-sale event with a waiting room whose line never empties, a bounded
steady Locust surge on loopback, the fault struck at its planned moment, the
audit, and the figures.
Writes the report folder (chaos.md, chaos.json, per fault its plots with the
fault marked) and bench-results/chaos.json.

Exit status: 0 every fault passed (or was skipped); 1 a fault broke an
invariant, answered a 5xx or let the admission rate drift; 2 the run could not
start.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import math
import re
import secrets
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from loadtests.chaos import catalog, plan, table
from loadtests.chaos.inject import Context, Injection, ServerControls, Skipped, inject
from loadtests.chaos.servers import StackServers
from loadtests.fault_stack import fault_stack
from loadtests.surge_stack import Stack, StackError

LOCUSTFILE = Path(__file__).resolve().parents[1] / "locustfile.py"
HOLD_TTL_SECONDS = 30
MAX_ACTIVE_SESSIONS = 100_000
"""Admissions are bound by the rate alone, so the rate is what a fault may disturb."""
ACCOUNTS_PER_USER = 4
SETTLE_SECONDS = 30.0
LOCUST_GRACE_SECONDS = 60.0
LOCUST_STOP_TIMEOUT_SECONDS = 5
REDIS_BACK_WAIT_SECONDS = 60.0
ZOMBIE_WORDS = re.compile(r"lease lost|stale|fenc", re.IGNORECASE)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="onsale chaos", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="shorter runs with fewer users: the whole catalog in minutes")
    parser.add_argument("--only", type=lambda text: [n.strip() for n in text.split(",")
                                                     if n.strip()],
                        metavar="NAME,...", help="these faults only; known: "
                        + ", ".join(catalog.BY_NAME))
    parser.add_argument("--report", type=Path, help="report folder (default chaos-report-<time>)")
    parser.add_argument("--workers", type=int, default=2,
                        help="partition worker processes of the local stack (default 2)")
    parser.add_argument("--api-processes", type=int, default=2,
                        help="API processes of the local stack, on one port (default 2)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    # The sampler's reads fail while a store is down: that is the fault, not news.
    logging.getLogger("onsale.surge").setLevel(logging.ERROR)
    try:
        faults = catalog.select(args.only)
    except catalog.UnknownFault as exc:
        print(f"onsale chaos: {exc}", file=sys.stderr)
        return 2
    runs = plan.plan_runs(faults, args.quick)
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    report = (args.report or Path(f"chaos-report-{stamp}")).resolve()
    report.mkdir(parents=True, exist_ok=True)
    command = "onsale chaos" + (" --quick" if args.quick else "") + (
        f" --only {','.join(args.only)}" if args.only else "")
    print(f"chaos: {len(faults)} fault(s) in {len(runs)} surge(s), about "
          f"{plan.total_seconds(runs) / 60:.0f} min; report in {report}")
    entries: list[dict[str, Any]] = []
    try:
        with tempfile.TemporaryDirectory(prefix="onsale-chaos-") as scratch, \
                contextlib.ExitStack() as stack:
            started = time.monotonic()
            owned = stack.enter_context(fault_stack(
                Path(scratch) / "stack", api_processes=args.api_processes, workers=args.workers,
                log_path=report / "stack.log"))
            data_dir = owned.data_dir
            target = Stack(owned.url, owned.direct_database_url, owned.direct_redis_url,
                           owned.stack.redis_prefix, local=True)
            print(f"chaos: stack ready at {target.host} in {time.monotonic() - started:.1f}s "
                  f"({args.api_processes} API processes, its own Postgres and Redis behind "
                  "fault proxies)")
            servers = StackServers(owned)
            for surge in runs:
                print(f"chaos: {surge.name}: a {surge.run_seconds}s surge of {surge.users} users; "
                      + ", ".join(f"{s.fault.name} at {s.inject_at_seconds:.0f}s"
                                  for s in surge.strikes), flush=True)
                done = SurgeRun(surge, target, data_dir, report, Path(scratch), servers).execute()
                entries += done
                for entry in done:
                    print(f"chaos: {entry['name']}: {table.verdict(entry)}  "
                          + "  ".join(f"{title} {table.cell(name, entry.get(name))}"
                                      for name, title in table.COLUMNS[1:-1]), flush=True)
    except (StackError, RuntimeError, OSError) as exc:
        print(f"onsale chaos: {exc}", file=sys.stderr)
        return 2
    from loadtests.benchio import write_results
    from loadtests.chaos.report import write_summary

    result = write_summary(report, entries, command,
                           {"quick": args.quick, "report": str(report)})
    write_results("chaos", result)
    print()
    print(table.plain(entries))
    print(f"\nchaos: {'PASS' if result['ok'] else 'FAIL'}; report in {report}, "
          "figures in bench-results/chaos.json")
    return 0 if result["ok"] else 1


class SurgeRun:
    """One surge: a fresh event and room, steady fans, its faults struck in turn, the audit,
    and one entry of figures per fault.

    `target` names the stores directly (not through the proxies), so what the run
    measures and audits is never slowed or cut by the fault it injects."""

    def __init__(self, surge: plan.SurgePlan, target: Stack, data_dir: Path, report: Path,
                 scratch: Path, servers: ServerControls | None):
        self.surge = surge
        self.target = target
        self.data_dir = data_dir
        self.directory = report / surge.name
        self.directory.mkdir(parents=True, exist_ok=True)
        self.stack_log = report / "stack.log"
        self.scratch = scratch
        self.servers = servers
        self.entries: list[dict[str, Any]] = [
            {"name": strike.fault.name, "what": strike.fault.what, "surge": surge.name,
             "notes": []} for strike in surge.strikes]
        self.injections: list[Injection | None] = [None] * len(surge.strikes)

    def execute(self) -> list[dict[str, Any]]:
        from redis import Redis

        from engine.store.db import make_engine

        for strike, entry in zip(self.surge.strikes, self.entries, strict=True):
            if strike.fault.needs_proxies and self.servers is None:
                entry.update(skipped=True, audit_ok=None)
                entry["notes"].append("skipped: this stack runs Postgres and Redis without "
                                      "fault proxies")
        if all(entry.get("skipped") for entry in self.entries):
            return self.entries
        engine = make_engine(self.target.database_url, pool_size=2, max_overflow=1)
        redis = Redis.from_url(self.target.redis_url, socket_timeout=5,
                               socket_connect_timeout=5, retry_on_timeout=True)
        try:
            self._execute(engine, redis)
        finally:
            redis.close()
            engine.dispose()
        return self.entries

    def _execute(self, engine: Any, redis: Any) -> None:
        from api.launcher.settings import Settings
        from loadtests import surge_setup as setup
        from loadtests.audit import run_audit
        from loadtests.chaos.measure import AdmissionProbe
        from loadtests.surge_sampler import Sampler, StandInController, controller_running
        from workers.keys import Keys, text
        from workers.partitions import partition_for

        surge, prefix = self.surge, self.target.redis_prefix
        name = f"chaos-{surge.name}-{secrets.token_hex(2)}"
        event = setup.create_surge_event(engine, surge.seats, HOLD_TTL_SECONDS, name)
        accounts = self.scratch / f"{name}.jsonl"
        setup.create_accounts(engine, surge.users * ACCOUNTS_PER_USER, name, accounts)
        setup.configure_room(redis, prefix, event.event_id,
                             setup.room_config(surge.admissions_per_minute, MAX_ACTIVE_SESSIONS))
        if any(s.fault.target is catalog.Target.AUTOPILOT for s in surge.strikes):
            _steer_by_autopilot(redis, prefix, event.event_id, surge.admissions_per_minute)
        stand_in = None
        if not controller_running(redis, prefix, event.event_id, 2.5):
            self.entries[0]["notes"].append("the stack ran no admission controller; one ran here")
            stand_in = StandInController(self.target.redis_url, prefix)
            stand_in.start()
        settings = Settings.from_env({})
        keys = Keys(prefix)
        pins = {int(k): text(v) for k, v in redis.hgetall(keys.partition_pins()).items()}
        context = Context(self.data_dir, redis, engine, keys, event.event_id,
                          partition_for(event.event_id, settings.partitions, pins),
                          settings.lease_ttl_ms, self.servers)
        sampler = Sampler(redis, engine, prefix, event.event_id)
        probe = AdmissionProbe(redis, prefix, event.event_id)
        sampler.start()
        probe.start()
        try:
            started_at, locust_rc = self._locust(event.event_id, accounts, context)
            print(f"chaos: {surge.name}: surge done (Locust exit {locust_rc}); auditing",
                  flush=True)
            audit = run_audit(self.target.database_url, self.target.redis_url, prefix,
                              event.event_id, positions=sampler.places,
                              settle_seconds=SETTLE_SECONDS)
        finally:
            sampler.stop()
            probe.stop()
            if stand_in is not None:
                stand_in.stop()
        self._figures(event.event_id, started_at, locust_rc, audit, sampler, probe, engine,
                      redis)

    def _locust(self, event_id: int, accounts: Path, ctx: Context) -> tuple[float, int]:
        surge, out = self.surge, self.directory
        command = [
            sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--headless",
            "--only-summary", "-u", str(surge.users), "-r", str(surge.spawn_rate),
            "-t", f"{surge.run_seconds}s", "--host", self.target.host,
            "--stop-timeout", str(LOCUST_STOP_TIMEOUT_SECONDS),
            "--csv", str(out / "locust"), "--csv-full-history", "--html", str(out / "locust.html"),
            "--event-id", str(event_id), "--accounts-file", str(accounts),
            "--metrics-file", str(out / "journeys.json"),
            "--timeline-file", str(out / "timeline.json"), "--load-shape", "steady",
            "--loglevel", "WARNING",
        ]
        pending = list(enumerate(surge.strikes))
        with (out / "locust.log").open("wb") as log:
            started_at = time.time()
            locust = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
            deadline = time.monotonic() + surge.run_seconds + LOCUST_GRACE_SECONDS
            try:
                while locust.poll() is None:
                    if time.monotonic() > deadline:
                        locust.terminate()
                        locust.wait(15)
                        break
                    if pending and time.time() >= started_at + pending[0][1].inject_at_seconds:
                        index, strike = pending.pop(0)
                        if not self.entries[index].get("skipped"):
                            self.injections[index] = self._strike(strike.fault, ctx,
                                                                  self.entries[index])
                    time.sleep(0.1)
            except BaseException:
                locust.terminate()
                locust.wait(15)
                raise
        return started_at, int(locust.returncode if locust.returncode is not None else -1)

    def _strike(self, fault: catalog.Fault, ctx: Context, entry: dict[str, Any]) -> Injection:
        from loadtests.chaos.measure import joined

        before = joined(ctx.redis, self.target.redis_prefix, ctx.event_id)
        try:
            injection = inject(fault, ctx)
        except Skipped as exc:
            now = time.time()
            injection = Injection(now, now, notes=[f"not struck: {exc}"])
            entry["not_struck"] = True
        print(f"chaos: {fault.name}: " + "; ".join(injection.notes), flush=True)
        if fault.name == "redis-restart" and before is not None:
            injection.figures["places_lost"] = self._places_lost(ctx, before)
        return injection

    def _places_lost(self, ctx: Context, before: int) -> int | None:
        """Join numbers the room gave out before the blow that it forgot after it."""
        from loadtests.chaos.measure import joined

        deadline = time.monotonic() + REDIS_BACK_WAIT_SECONDS
        while time.monotonic() < deadline:
            after = joined(ctx.redis, self.target.redis_prefix, ctx.event_id)
            if after is not None:
                return max(0, before - after)
            time.sleep(0.05)
        return None

    def _figures(self, event_id: int, started_at: float, locust_rc: int, audit: Any,
                 sampler: Any, probe: Any, engine: Any, redis: Any) -> None:
        import json

        from loadtests.audit_redis import request_records
        from loadtests.chaos.inject import unsent_mail
        from loadtests.chaos.measure import http_figures, read_timeline, series_of, store_figures
        from loadtests.chaos.report import FAULT_PLOT, fault_plot
        from loadtests.surge_plots import Mark, write_plots
        from workers.keys import Keys

        surge, out = self.surge, self.directory
        (out / "audit.txt").write_text(audit.table() + "\n")
        (out / "audit.json").write_text(json.dumps(audit.to_json(), indent=2))
        sampler.write_csv(out / "samples.csv")
        _write_admissions(out / "admissions.csv", probe.readings)
        seconds = read_timeline(out / "timeline.json", started_at)
        series = series_of(seconds)
        journeys_path = out / "journeys.json"
        journeys = json.loads(journeys_path.read_text()) if journeys_path.exists() else {}
        keys = Keys(self.target.redis_prefix)
        stores = store_figures(engine, redis, keys, event_id, audit, journeys)
        audit_failures = [f"{c.name}: {c.violations} ({'; '.join(c.examples)})"
                          for c in audit.checks if not c.ok]
        shared = len(surge.strikes) > 1
        marks = []
        for index, (strike, entry, injection) in enumerate(zip(
                surge.strikes, self.entries, self.injections, strict=True)):
            if entry.get("skipped"):
                continue
            entry.update(event_id=event_id, locust_exit_code=locust_rc, audit_ok=audit.ok)
            if audit_failures:
                entry["audit_failures"] = audit_failures
            if shared:
                entry["notes"].append(f"store figures and audit are the whole {surge.name} "
                                      "surge's, shared by its faults")
            # In a packed surge, a fault is judged up to the next one.
            until = (surge.strikes[index + 1].inject_at_seconds
                     if index + 1 < len(surge.strikes) else surge.run_seconds)
            first = strike.inject_at_seconds - strike.baseline_seconds - 1 if shared else None
            window = [s for s in series if (first is None or s.t >= first) and s.t < until]
            figures = self._strike_figures(strike, injection, started_at, window,
                                           math.floor(until), probe)
            entry["notes"] += figures.pop("notes")
            entry.update(figures)
            if injection is not None:
                marks.append(Mark(strike.fault.name, injection.injected_at, injection.ended_at))
            entry.update(http_figures(seconds, first, until if shared else None))
            entry.update(stores)
            if strike.fault.target is catalog.Target.NOTIFIER:
                entry["unsent_mail"] = unsent_mail(engine, event_id)
            if strike.fault.name == "consumer-pause" and injection is not None:
                entry["zombie_fencing_log_lines"] = _zombie_lines(
                    self.stack_log, injection.figures.get("zombie_pid"))
        write_plots(out, sampler.samples, request_records(redis, keys, event_id),
                    sampler.started_epoch, surge.admissions_per_minute / 60.0,
                    out / "locust_stats_history.csv", marks=marks)
        fault_plot(out / FAULT_PLOT, series, started_at, marks,
                   f"{surge.name}: " + ", ".join(s.fault.name for s in surge.strikes))

    def _strike_figures(self, strike: plan.Strike, injection: Injection | None,
                        started_at: float, series: list[Any], until: int, probe: Any
                        ) -> dict[str, Any]:
        from loadtests.chaos import admissions, recovery

        if injection is None:
            return {"injected_at_s": None, "recovery_s": None, "places_lost": None,
                    "notes": ["the surge ended before the fault was struck"]}
        fault_at = injection.injected_at - started_at
        fault_end = injection.ended_at - started_at
        figures: dict[str, Any] = {
            "injected_at_s": round(fault_at, 1), "ended_at_s": round(fault_end, 1),
            **{name: recovery.recovery_seconds(series, fault_at, fault_end,
                                               strike.baseline_seconds, until=until,
                                               judge_throughput=judge)
               for name, judge in (("recovery_s", True), ("served_again_s", False))},
            **{k: v for k, v in injection.figures.items() if k != "places_lost"},
            "places_lost": injection.figures.get("places_lost"),
        }
        figures["notes"] = [*injection.notes]
        if strike.admission_window is not None:
            rate = admissions.window(probe.readings, started_at + strike.admission_window[0],
                                     started_at + strike.admission_window[1])
            figures["admissions"] = None if rate is None else rate.to_json()
            figures["admissions_ok"] = (None if rate is None or not rate.judged
                                        else rate.within_tolerance)
            if rate is not None and not rate.judged:
                figures["notes"].append(f"admissions not judged: the line was empty for "
                                        f"{rate.line_empty_seconds:.0f}s of the window")
        return figures


def _write_admissions(path: Path, readings: Sequence[Any]) -> None:
    """The admission probe's readings (epoch, admitted_total, setting per minute, waiting)."""
    with path.open("w") as handle:
        handle.write("at,admitted_total,per_minute,waiting\n")
        for r in readings:
            handle.write(f"{r.at:.3f},{r.admitted_total},{r.per_minute},{r.waiting}\n")


def _steer_by_autopilot(redis: Any, prefix: str, event_id: int, per_minute: float) -> None:
    """Switch the event's autopilot on, bounded to 80-100 % of the planned rate."""
    from workers.ops_counters import OpsKeys

    redis.hset(OpsKeys(prefix).autopilot(event_id), mapping={
        "enabled": "1", "target_p99_seconds": "0.5", "target_queue_depth": "200",
        "min_new_users_per_minute": repr(round(per_minute * 0.8)),
        "max_new_users_per_minute": repr(per_minute)})


def _zombie_lines(stack_log: Path, pid: int | None) -> list[str]:
    """Log lines of the paused consumer about its lost lease or a stale fencing token."""
    if pid is None or not stack_log.exists():
        return []
    marker = f"[{pid}]"
    return [line.strip() for line in stack_log.read_text(errors="replace").splitlines()
            if marker in line and ZOMBIE_WORDS.search(line)][:20]


if __name__ == "__main__":
    sys.exit(main())
