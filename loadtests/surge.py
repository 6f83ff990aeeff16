"""`onsale surge`: an on-sale rush against a stack on this machine, audited, with a report.

    onsale surge --users 200 --spawn-rate 50 --duration 30s --report surge-report

1. Without --host, start `onsale up` on a free port with its own embedded
   Postgres and Redis (a fresh data directory); with --host, use that running
   stack (loopback only) and the stores its ONSALE_* settings name.
2. Create a fresh surge event (or use --event), fan accounts, and open the
   event's waiting room at a rate that serves the rush within the run; and a
   small presale event whose presale is open for the whole run, with its codes.
3. Run Locust headless (loadtests/locustfile.py), bounded by users and time,
   printing progress every few seconds while a sampler records the line,
   admissions, decisions and sales; waiting-list fans and presale code holders
   run beside the general fans.
4. Audit both events (loadtests/audit.py) and write the report folder: Locust's
   HTML and CSV, plots (PNG), samples, the audits (text and JSON), the journey
   metrics and summary.md.

Exit status: 0 all invariants held, 1 an invariant failed (audit, or a bot got
through), 2 the surge could not run (stack, Locust).
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import re
import secrets
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from loadtests.surge_report import Progress, write_report
from loadtests.surge_stack import Stack, StackError, check_loopback, local_stack, running_stack

log = logging.getLogger("onsale.surge")

LOCUSTFILE = Path(__file__).with_name("locustfile.py")
WORKER_EXIT_SECONDS = 15
LOCUST_GRACE_SECONDS = 60.0
SETTLE_SECONDS = 30.0
CONTROLLER_WAIT_SECONDS = 2.5
ADMISSION_TTL_SECONDS = 20.0
"""An admitted fan who walks away (an abandoner, a bot that joined) keeps a session, and the
line's stock cap counts it as a buyer until it ends: with the usual 10-minute sessions a
run of a minute never sells out, so it has no sold-out waiting list. 20 s is about twice
what a fan takes from admission to paying."""
SEATS_PER_USER = 0.9
"""Of all users about 64% are fans asking 1-4 tickets: 0.9 places per user sells out."""
PRESALE_OPEN_AFTER_RUN_SECONDS = 120
"""The presale stays open past the run, so its fans still in line can finish."""
PRESALE_SETTLE_SECONDS = 5.0
_DURATION = re.compile(r"^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s?)?$")


def parse_duration(text: str) -> int:
    """Seconds from `90`, `90s`, `2m`, `1h30m`, `1m30s`."""
    match = _DURATION.match(text.strip())
    if not text.strip() or not match or not any(match.groups()):
        raise argparse.ArgumentTypeError(f"{text!r}: a duration such as 30s, 2m or 1h30m")
    hours, minutes, seconds = (int(part or 0) for part in match.groups())
    total = hours * 3600 + minutes * 60 + seconds
    if total <= 0:
        raise argparse.ArgumentTypeError(f"{text!r}: must be longer than 0s")
    return total


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="onsale surge", description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, required=True, help="simulated users (all kinds)")
    parser.add_argument("--spawn-rate", type=float, required=True, help="users started per s")
    parser.add_argument("--duration", type=parse_duration, required=True,
                        help="how long Locust runs: 30s, 5m, 1h")
    parser.add_argument("--host", help="a running stack on this machine (loopback URL); "
                        "default: start a local one")
    parser.add_argument("--report", type=Path, help="report folder (default surge-report-<time>)")
    parser.add_argument("--shape", choices=("spike", "steady"), default="spike",
                        help="on-sale spike (default) or steady load")
    parser.add_argument("--event", type=int, help="use this on-sale event instead of a fresh one "
                        "(its waiting room is reconfigured for the run)")
    parser.add_argument("--seats", type=int, help="places of the fresh event "
                        "(default: about 0.9 per user, so the rush sells out)")
    parser.add_argument("--hold-ttl", type=int, default=25, metavar="SECONDS",
                        help="hold expiry of the fresh events (default 25: holds fans walked "
                        "away from come back after the sell-out, to the waiting list)")
    parser.add_argument("--admission-ttl", type=float, metavar="SECONDS",
                        default=ADMISSION_TTL_SECONDS,
                        help="how long an admitted fan's session lasts (default 20: sessions "
                        "fans walked away from end within the run, so the line sells out)")
    parser.add_argument("--admission-rate", type=float, metavar="PER_MINUTE",
                        help="waiting-room admissions per minute (default: all fans within "
                        "40%% of the run)")
    parser.add_argument("--max-active", type=int, help="max admitted sessions (default: users)")
    parser.add_argument("--workers", type=int, default=2,
                        help="partition workers of the local stack (default 2)")
    parser.add_argument("--processes", "--locust-processes", dest="locust_processes",
                        type=int, default=1, metavar="N",
                        help="distributed Locust on this machine: a master and N worker "
                        "processes (one core each; default 1: one process); see docs/surge.md "
                        "for workers on other machines")
    parser.add_argument("--think-scale", type=float, default=1.0,
                        help="scale the journeys' think times (0.2: impatient fans)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if args.users < 1 or args.spawn_rate <= 0:
        print("onsale surge: --users and --spawn-rate must be positive", file=sys.stderr)
        return 2
    run_name = datetime.now().strftime("%Y%m%d-%H%M%S") + "-" + secrets.token_hex(2)
    report = (args.report or Path(f"surge-report-{run_name}")).resolve()
    report.mkdir(parents=True, exist_ok=True)
    try:
        with tempfile.TemporaryDirectory(prefix="onsale-surge-") as scratch, \
                contextlib.ExitStack() as stack:
            if args.host:
                print(f"surge: using the stack at {check_loopback(args.host)}")
                target = stack.enter_context(running_stack(args.host))
            else:
                print("surge: starting a local stack (`onsale up`, embedded servers) ...")
                started = time.monotonic()
                target = stack.enter_context(local_stack(
                    Path(scratch) / "data", report / "stack.log", args.workers))
                print(f"surge: stack ready at {target.host} in "
                      f"{time.monotonic() - started:.1f}s")
            return _surge(args, target, report, Path(scratch), run_name)
    except (StackError, LookupError) as exc:
        print(f"onsale surge: {exc}", file=sys.stderr)
        return 2


def _surge(args: argparse.Namespace, target: Stack, report: Path, scratch: Path,
           run_name: str) -> int:
    from sqlalchemy import text

    from engine.store.db import make_engine
    from loadtests import surge_setup as setup
    from loadtests.audit import run_audit
    from loadtests.audit_redis import request_records
    from loadtests.surge_sampler import Sampler, StandInController, controller_running
    from workers.keys import Keys
    from workers.redis_client import sync_client

    engine = make_engine(target.database_url, pool_size=2, max_overflow=0)
    redis = sync_client(target.redis_url)
    controller: StandInController | None = None
    try:
        if args.event:
            with engine.connect() as conn:
                if conn.execute(text("SELECT status FROM events WHERE id = :id"),
                                {"id": args.event}).scalar() != "published":
                    raise LookupError(f"event {args.event} does not exist or is not published")
            event_id, seats_note = args.event, "existing event"
        else:
            capacity = args.seats or max(20, round(args.users * SEATS_PER_USER))
            event = setup.create_surge_event(engine, capacity, args.hold_ttl, run_name)
            event_id = event.event_id
            seats_note = f"{event.seats} seats + {event.ga_capacity} GA"
        accounts_file = scratch / "accounts.jsonl"
        setup.create_accounts(engine, args.users * (1 if args.shape == "spike" else 4),
                              run_name, accounts_file)
        presale_file = scratch / "presale.json"
        presale = setup.create_presale_event(
            engine, setup.presale_code_count(args.users), args.hold_ttl, run_name,
            args.duration + PRESALE_OPEN_AFTER_RUN_SECONDS, presale_file)
        rate = args.admission_rate or setup.admission_rate_for(args.users, args.duration)
        config = setup.room_config(rate, args.max_active or max(1, args.users),
                                   admission_seconds=args.admission_ttl)
        setup.configure_room(redis, target.redis_prefix, event_id, config)
        setup.configure_room(redis, target.redis_prefix, presale.event.event_id, config)
        print(f"surge: event {event_id} ({seats_note}), waiting room open at "
              f"{rate:.0f} admissions/min; presale event {presale.event.event_id} "
              f"({presale.codes} codes, tier {presale.tier})")
        if not controller_running(redis, target.redis_prefix, event_id,
                                  CONTROLLER_WAIT_SECONDS):
            print("surge: the stack runs no admission controller; running one here")
            controller = StandInController(target.redis_url, target.redis_prefix)
            controller.start()
        sampler = Sampler(redis, engine, target.redis_prefix, event_id)
        sampler.start()
        locust_rc = _run_locust(args, target, report, event_id, accounts_file, presale_file,
                                sampler)
        print(f"surge: Locust finished (exit {locust_rc}); letting in-flight work settle "
              "and auditing ...")
        audit = run_audit(target.database_url, target.redis_url, target.redis_prefix, event_id,
                          positions=sampler.places, settle_seconds=SETTLE_SECONDS)
        sampler.stop()
        presale_audit = run_audit(target.database_url, target.redis_url, target.redis_prefix,
                                  presale.event.event_id, settle_seconds=PRESALE_SETTLE_SECONDS)
        requests = request_records(redis, Keys(target.redis_prefix), event_id)
        verdict = write_report(report, args=vars(args), host=target.host, event_id=event_id,
                               seats_note=seats_note, rate_per_minute=rate, sampler=sampler,
                               requests=requests, audit=audit, locust_rc=locust_rc,
                               presale=presale, presale_audit=presale_audit)
    finally:
        if controller is not None:
            controller.stop()
        redis.close()
        engine.dispose()
    print(verdict.text)
    print(f"surge: report in {report}")
    if not verdict.ran:
        return 2
    return 0 if verdict.ok else 1


def _run_locust(args: argparse.Namespace, target: Stack, report: Path, event_id: int,
                accounts_file: Path, presale_file: Path, sampler: Any) -> int:
    command = [
        sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--headless", "--only-summary",
        "-u", str(args.users), "-r", str(args.spawn_rate), "-t", f"{args.duration}s",
        "--host", target.host, "--stop-timeout", "10",
        "--csv", str(report / "locust"), "--csv-full-history",
        "--html", str(report / "locust.html"),
        "--event-id", str(event_id), "--accounts-file", str(accounts_file),
        "--waiting-list", "--presale-file", str(presale_file),
        "--metrics-file", str(report / "journeys.json"), "--load-shape", args.shape,
        "--think-scale", str(args.think_scale), "--loglevel", "WARNING",
    ]
    workers: list[subprocess.Popen[bytes]] = []
    if args.locust_processes > 1:
        port = free_port()
        custom = command[command.index("--event-id"):]
        command += ["--master", "--expect-workers", str(args.locust_processes),
                    "--master-bind-host", "127.0.0.1", "--master-bind-port", str(port),
                    "--account-slices", str(args.locust_processes)]
        workers = [subprocess.Popen(
            [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--worker",
             "--master-host", "127.0.0.1", "--master-port", str(port),
             "--account-slices", str(args.locust_processes), *custom],
            stdout=subprocess.DEVNULL, stderr=(report / f"locust-worker-{n}.log").open("wb"))
            for n in range(args.locust_processes)]
    progress = Progress(report / "locust_stats_history.csv", args.duration, sampler,
                        interactive=sys.stdout.isatty())
    with (report / "locust.log").open("wb") as output:
        locust = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + args.duration + LOCUST_GRACE_SECONDS
        try:
            while locust.poll() is None:
                if time.monotonic() > deadline:
                    print("surge: Locust overran its time; stopping it", file=sys.stderr)
                    locust.terminate()
                    locust.wait(15)
                    break
                progress.tick()
                time.sleep(0.5)
        except KeyboardInterrupt:
            locust.terminate()
            locust.wait(15)
            raise
    progress.done()
    stop_workers(workers)
    return int(locust.returncode if locust.returncode is not None else -1)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def stop_workers(workers: list[subprocess.Popen[bytes]]) -> None:
    """Locust workers leave when their master quits; any still there after a grace go."""
    for worker in workers:
        try:
            worker.wait(WORKER_EXIT_SECONDS)
        except subprocess.TimeoutExpired:
            worker.terminate()
            worker.wait(15)


if __name__ == "__main__":
    sys.exit(main())
