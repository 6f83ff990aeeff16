"""The `onsale` command.

`onsale up` is the one command a developer needs: it starts embedded Postgres
and Redis when no URLs are configured, migrates, loads the demo catalog and
supervises the API and the partition workers. The other subcommands are
the pieces it runs (`api`, `worker`) and one-off jobs (`migrate`,
`demo-data`, `bench`).
"""

from __future__ import annotations

import argparse
import functools
import importlib
import json
import logging
import os
import pkgutil
import signal
import socket
import sys
import time
from collections.abc import Callable, Sequence
from types import FrameType
from typing import Any

from api.launcher import roots
from api.launcher.settings import Settings, SettingsError, unknown_variables

log = logging.getLogger("onsale")

Command = Callable[[argparse.Namespace, Settings], int]


PASS_THROUGH = {
    "surge": "loadtests.surge",
    "audit": "loadtests.audit",
    "chaos": "loadtests.chaos.runner",
    "verify-draw": "api.launcher.verify_draw",
}
"""Subcommands with their own argument parsers: everything after the name goes to them."""


def main(argv: Sequence[str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    if arguments and arguments[0] in PASS_THROUGH:
        module = importlib.import_module(PASS_THROUGH[arguments[0]])
        return int(module.main(arguments[1:]) or 0)
    parser = _parser()
    args = parser.parse_args(arguments)
    if not getattr(args, "run", None):
        parser.print_help(sys.stderr)
        return 2
    try:
        settings = Settings.from_env()
    except SettingsError as exc:
        print(f"onsale: configuration error: {exc}", file=sys.stderr)
        return 2
    from api.http.log_format import configure_logging

    configure_logging(settings, component=args.command)
    for name in unknown_variables():
        log.warning("ignoring %s: no setting of that name (see README, Configuration)", name)
    from engine.store.migrate import DatabaseUnavailableError

    command: Command = args.run
    try:
        return command(args, settings)
    except DatabaseUnavailableError as exc:  # one line, not a driver traceback
        log.error("%s", exc)
        return 1


def _root(run: Callable[[Settings], int]) -> Command:
    """A process's subcommand: its composition root in `api.launcher.roots`."""
    return lambda args, settings: run(settings)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="onsale", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    up = commands.add_parser("up", help="run everything here (embedded servers if needed)")
    up.add_argument("--no-demo", action="store_true", help="do not load the demo catalog")
    up.add_argument("--port", type=int, help="HTTP port of the API (default: ONSALE_PORT)")
    up.add_argument("--api-processes", type=int, metavar="N",
                    help="API processes sharing the port (default: ONSALE_API_PROCESSES)")
    up.set_defaults(run=_up)

    api = commands.add_parser("api", help="serve the HTTP API (needs database and Redis URLs)")
    api.set_defaults(run=_root(roots.serve_api))

    worker = commands.add_parser("worker", help="run one partition consumer process")
    worker.set_defaults(run=_root(roots.run_worker))

    payments = commands.add_parser("payments-worker", help="run the payments queue worker")
    payments.set_defaults(run=_root(roots.run_payments_worker))

    notifier = commands.add_parser(
        "notifier", help="send fans' mail from the notifications outbox (tickets, refunds)")
    notifier.set_defaults(run=_root(roots.run_notifier))
    autopilot = commands.add_parser(
        "autopilot", help="run the ops autopilot (steers admission rates of opted-in events)")
    autopilot.set_defaults(run=_root(roots.run_autopilot))

    controller = commands.add_parser(
        "admission-controller", help="run the waiting rooms' admission controller")
    controller.set_defaults(run=_root(roots.run_admission_controller))

    # Listed for --help; main() hands their arguments to their own parsers.
    commands.add_parser(
        "surge", help="run a Locust surge test (local stack unless --host) and audit it")
    commands.add_parser(
        "audit", help="check the booking invariants of an event in Postgres and Redis")
    commands.add_parser(
        "chaos", help="inject faults during a surge on a local stack, audit, report")
    commands.add_parser(
        "verify-draw", help="recompute a shuffled sale's draw from its public report (HTTP only)")

    migrate = commands.add_parser("migrate", help="bring the database schema to the newest version")
    migrate.set_defaults(run=_migrate)

    demo = commands.add_parser("demo-data", help="load the demo venues and events (idempotent)")
    demo.add_argument(
        "--events",
        type=int,
        default=0,
        metavar="N",
        help="extra generated events on top of the demo catalog",
    )
    demo.set_defaults(run=_demo_data)

    bench = commands.add_parser("bench", help="run a benchmark from loadtests/bench_*.py")
    bench.add_argument("name", nargs="?", help="benchmark name (see --list)")
    bench.add_argument("--quick", action="store_true", help="a short run, for smoke checks")
    bench.add_argument("--list", action="store_true", help="print the known benchmark names")
    bench.set_defaults(run=_bench)
    return parser


def _up(args: argparse.Namespace, settings: Settings) -> int:
    from api.launcher import embedded
    from api.launcher.process_table import ProcessTable
    from api.launcher.server_keeper import kept_running
    from api.launcher.supervisor import Supervisor

    if args.port is not None:
        settings = _with_port(settings, args.port)
    if args.api_processes is not None:
        if not 1 <= args.api_processes <= 64:
            raise SystemExit(f"onsale: --api-processes {args.api_processes}: must be 1 to 64")
        settings = settings.replace(api_processes=args.api_processes)
    if args.no_demo:
        settings = settings.replace(demo_data=False)
    if not _port_free(settings.host, settings.port):
        log.error(
            "port %d on %s is in use; pick another with --port or ONSALE_PORT",
            settings.port,
            settings.host,
        )
        return 1
    # Until the supervisor installs its own handlers, SIGINT and SIGTERM unwind
    # start-up, so embedded servers started so far are stopped on the way out.
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, _raise_keyboard_interrupt)
    log.debug("settings: %s", settings.redacted())
    started = time.monotonic()
    processes = ProcessTable.in_data_dir(settings.data_dir)
    try:
        keep = functools.partial(kept_running, processes=processes)
        with embedded.servers_for(settings, keep=keep) as resolved:
            _prepare_database(resolved)
            from api.http.metrics import multiprocess_environment

            os.environ.update(multiprocess_environment(resolved.data_dir))
            log.info("database ready in %.1fs; starting services", time.monotonic() - started)
            code = Supervisor(resolved, processes=processes).run(started)
            _ignore_stop_signals()  # the embedded servers stop next; do not cut that short
            return code
    except KeyboardInterrupt:
        log.info("interrupted during start-up; stopped")
        return 130
    except embedded.EmbeddedServerError as exc:
        log.error("%s", exc)
        return 1
    finally:
        processes.remove_file()


def _migrate(args: argparse.Namespace, settings: Settings) -> int:
    from api.launcher import embedded

    with embedded.servers_for(settings) as resolved:
        _migrate_database(resolved)
    print("database schema is at the newest migration")
    return 0


def _migrate_database(settings: Settings) -> None:
    """Create the configured database if it is new, then bring its schema to the newest
    migration."""
    from sqlalchemy.engine import make_url

    from engine.store.migrate import create_database_if_missing, upgrade_to_head

    assert settings.database_url is not None
    if create_database_if_missing(settings.database_url):
        log.info("created database %s", make_url(settings.database_url).database)
    upgrade_to_head(settings.database_url)


def _demo_data(args: argparse.Namespace, settings: Settings) -> int:
    from api.launcher import embedded
    from engine.store.demo import load_demo_catalog

    with embedded.servers_for(settings) as resolved:
        assert resolved.database_url is not None
        _migrate_database(resolved)
        summary = load_demo_catalog(resolved.database_url, extra_events=args.events)
    print("demo catalog loaded:")
    print(json.dumps(summary, indent=2, default=str))
    return 0


def _bench(args: argparse.Namespace, settings: Settings) -> int:
    from api.launcher import embedded

    known = benchmark_names()
    if args.list:
        print("\n".join(known))
        return 0
    if args.name not in known:
        print(
            f"onsale: unknown benchmark {args.name!r}; known: {', '.join(known) or 'none yet'}",
            file=sys.stderr,
        )
        return 2
    module = importlib.import_module(f"loadtests.bench_{args.name}")
    with embedded.servers_for(settings) as resolved:
        _migrate_database(resolved)
        outcome = module.main(args.quick, resolved)
    return outcome if isinstance(outcome, int) else 0


def benchmark_names() -> list[str]:
    """Every `loadtests/bench_<name>.py`, by name."""
    import loadtests

    return sorted(
        module.name.removeprefix("bench_")
        for module in pkgutil.iter_modules(loadtests.__path__)
        if module.name.startswith("bench_")
    )


def _prepare_database(settings: Settings) -> None:
    assert settings.database_url is not None
    started = time.monotonic()
    _migrate_database(settings)
    log.info("migrations applied in %.1fs", time.monotonic() - started)
    if settings.demo_data:
        from engine.store.demo import load_demo_catalog

        summary = load_demo_catalog(settings.database_url)
        log.info("demo catalog loaded (%s)", _counts(summary))
        surge_event = summary.get("surge_event_id")
        if surge_event and settings.redis_url:
            from waitingroom.demo import open_demo_room
            from waitingroom.keyfile import load_or_create_signer
            from workers.redis_client import async_client

            signer = load_or_create_signer(settings.data_dir / "admission-key.pem")
            if open_demo_room(settings.redis_url, settings.redis_prefix, int(surge_event),
                              signer, async_client):
                log.info("waiting room opened for the demo surge event %s", surge_event)


def _counts(summary: dict[str, Any]) -> str:
    """One short line for a log: collections by their size, other values as they are."""
    return ", ".join(
        f"{key}={len(value) if isinstance(value, list | dict) else value}"
        for key, value in summary.items()
    )


def _with_port(settings: Settings, port: int) -> Settings:
    if not 1 <= port <= 65535:
        raise SystemExit(f"onsale: --port {port}: must be between 1 and 65535")
    return settings.replace(port=port)


def _port_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def _raise_keyboard_interrupt(signum: int, frame: FrameType | None) -> None:
    """Unwind start-up once; further signals must not interrupt the cleanup it triggers."""
    _ignore_stop_signals()
    raise KeyboardInterrupt


def _ignore_stop_signals() -> None:
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, signal.SIG_IGN)


if __name__ == "__main__":
    sys.exit(main())
