"""`onsale audit --event ID`: check an event's invariants after (or during) an on-sale.

Reads Postgres and Redis, never writes. Checks, each named in the output:

    seats_once      no seat in two active holds, two paid orders, or both; one live ticket
    log_replay      the inventory log replays without an impossible step and ends where
                    seat_claims are (double holds/sales show up here even if a constraint
                    were missing)
    capacity        sold (and sold + held) <= seats per section and capacity per GA zone;
                    GA counters agree with holds and orders
    orders_tickets  every paid order has one live ticket per seat/person, every live ticket
                    a paid order; no order shown paid to a fan that Postgres does not have;
                    a refunded order keeps no seat
    requests_final  every request that got a 202 was decided (none pending) and recorded;
                    every checkout ended paid, declined or voided
    holds_returned  expired/released holds keep no seat; active holds have theirs and are
                    not past expiry (plus a grace)
    buyer_limits    tickets held + owned per buyer <= the event's limit; counters agree
    presale_codes   a single-use code lets in one account (its owner); a code lets into its
                    own presale only; a presale lets in at most its quota (informational
                    when the event has no presale; figures: codes checked, accounts let in)
    waiting_list_offers  waiting-list offers were made in list order, each to its entry's
                    account, naming only free seats (informational when no offer was made;
                    figures: offers, seats offered, pairs compared)
    queue_order     the partition decided hold requests in enqueue order
    intent_holds    holds made at admission from fans' intents were decided in line order
                    (share of pairs >= 0.99), with the admission-to-held time (p50, p95)
    fifo_share      how far the decision order follows the waiting-room order (see
                    docs/surge.md): informational unless --min-fifo-share is given

Exit status: 0 when every check passes, 1 when any fails, 2 on a usage or connection error.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from redis import Redis
from sqlalchemy import text

from loadtests import audit_checks as checks
from loadtests.audit_checks import CheckResult
from loadtests.audit_redis import (
    FINAL_ORDER_STATES,
    merge_places,
    order_records,
    request_records,
    room_record,
)
from loadtests.audit_replay import replay_log
from workers.keys import Keys
from workers.redis_client import sync_client

SETTLE_POLL_SECONDS = 0.5
DEFAULT_EXPIRY_GRACE_SECONDS = 5.0


@dataclass
class AuditResult:
    event_id: int
    checks: list[CheckResult] = field(default_factory=list)
    took_seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return all(check.ok for check in self.checks)

    def check(self, name: str) -> CheckResult:
        return next(check for check in self.checks if check.name == name)

    def to_json(self) -> dict[str, Any]:
        return {"event_id": self.event_id, "ok": self.ok,
                "took_seconds": round(self.took_seconds, 3),
                "checks": [check.to_json() for check in self.checks]}

    def table(self) -> str:
        """A fixed-width table for a terminal and for the report's audit.txt."""
        name_width = max(len(check.name) for check in self.checks)
        lines = [f"Audit of event {self.event_id}: "
                 f"{'all invariants hold' if self.ok else 'INVARIANTS VIOLATED'}",
                 f"{'check':<{name_width}}  {'result':<6}  {'violations':>10}  detail",
                 f"{'-' * name_width}  {'-' * 6}  {'-' * 10}  {'-' * 30}"]
        for check in self.checks:
            lines.append(f"{check.name:<{name_width}}  {check.status.upper():<6}  "
                         f"{check.violations:>10}  {check.detail}")
            lines.extend(f"{'':<{name_width}}    - {example}" for example in check.examples)
        return "\n".join(lines)


def run_audit(database_url: str, redis_url: str, prefix: str, event_id: int, *,
              positions: Mapping[int, int] | None = None,
              settle_seconds: float = 0.0,
              expiry_grace_seconds: float | None = DEFAULT_EXPIRY_GRACE_SECONDS,
              min_fifo_share: float | None = None) -> AuditResult:
    """Check every invariant of one event; see the module docstring.

    `positions` (account -> join number) adds waiting-room places seen earlier
    (the members hash forgets a place when its session ends). `settle_seconds`
    gives in-flight requests and checkouts that long to finish before the
    audit reads, so an audit right after a surge does not flag work in flight.
    """
    from engine.store.db import make_engine

    started = time.monotonic()
    engine = make_engine(database_url, pool_size=1, max_overflow=0)
    redis = sync_client(redis_url)
    keys = Keys(prefix)
    try:
        requests, orders = _settled(redis, keys, event_id, settle_seconds)
        room = room_record(redis, prefix, event_id)
        result = AuditResult(event_id)
        with engine.connect().execution_options(isolation_level="REPEATABLE READ") as conn, \
                conn.begin():
            found = conn.execute(text("SELECT 1 FROM events WHERE id = :event_id"),
                                 {"event_id": event_id}).scalar()
            if found is None:
                raise LookupError(f"event {event_id} does not exist")
            replay = replay_log((seq, kind, payload) for seq, kind, payload in conn.execute(
                text("SELECT seq, type, payload FROM inventory_events"
                            " WHERE event_id = :event_id ORDER BY seq"), {"event_id": event_id}))
            result.checks = [
                checks.seats_once(conn, event_id),
                checks.log_replay(conn, event_id, replay),
                checks.capacity(conn, event_id),
                checks.orders_tickets(conn, event_id, orders),
                checks.requests_final(conn, event_id, requests, orders),
                checks.holds_returned(conn, event_id, expiry_grace_seconds),
                checks.buyer_limits(conn, event_id),
                checks.presale_codes(conn, event_id),
                checks.waiting_list_offers(conn, event_id, replay),
                checks.queue_order(replay, requests),
                checks.fifo_share(replay, merge_places(room, positions), room is not None,
                                  min_fifo_share),
                checks.intent_holds(replay, requests, merge_places(room, positions)),
            ]
        result.took_seconds = time.monotonic() - started
        return result
    finally:
        redis.close()
        engine.dispose()


def _settled(redis: Redis, keys: Keys, event_id: int, settle_seconds: float
             ) -> tuple[list[Any], list[Any]]:
    deadline = time.monotonic() + settle_seconds
    while True:
        requests = request_records(redis, keys, event_id)
        orders = order_records(redis, keys, event_id)
        busy = any(r.status == "pending" for r in requests) or any(
            o.status not in FINAL_ORDER_STATES for o in orders)
        if not busy or time.monotonic() >= deadline:
            return requests, orders
        time.sleep(SETTLE_POLL_SECONDS)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="onsale audit", description="Check an event's booking invariants (read-only).")
    parser.add_argument("--event", type=int, required=True, metavar="ID", help="event id")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument("--settle", type=float, default=5.0, metavar="SECONDS",
                        help="wait this long for in-flight requests to finish (default 5)")
    parser.add_argument("--expiry-grace", type=float, default=DEFAULT_EXPIRY_GRACE_SECONDS,
                        metavar="SECONDS",
                        help="an active hold this long past its expiry is a violation "
                        "(default 5; needs the workers running)")
    parser.add_argument("--no-expiry-check", action="store_true",
                        help="skip the overdue-hold check (e.g. the workers are stopped)")
    parser.add_argument("--min-fifo-share", type=float, metavar="SHARE",
                        help="fail when the FIFO share is below this (0..1)")
    parser.add_argument("--positions", metavar="FILE",
                        help="JSON {account id: join number} seen earlier (onsale surge writes "
                        "one: places.json)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """`onsale audit`: database and Redis come from ONSALE_* settings, as for every command."""
    args = _parser().parse_args(argv)
    from api.launcher import embedded
    from api.launcher.settings import Settings, SettingsError

    try:
        settings = Settings.from_env()
    except SettingsError as exc:
        print(f"onsale audit: configuration error: {exc}", file=sys.stderr)
        return 2
    positions = None
    if args.positions:
        with open(args.positions) as handle:
            positions = {int(k): int(v) for k, v in json.load(handle).items()}
    try:
        with embedded.servers_for(settings) as resolved:
            assert resolved.database_url and resolved.redis_url
            result = run_audit(
                resolved.database_url, resolved.redis_url, resolved.redis_prefix, args.event,
                positions=positions, settle_seconds=args.settle,
                expiry_grace_seconds=None if args.no_expiry_check else args.expiry_grace,
                min_fifo_share=args.min_fifo_share)
    except LookupError as exc:
        print(f"onsale audit: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # a connection error is a usage problem, not a violation
        print(f"onsale audit: could not read the stores: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(result.to_json(), indent=2) if args.json else result.table())
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
