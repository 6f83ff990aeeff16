"""Before a surge: a fresh on-sale event, fan accounts, the event's waiting room, and a
small presale event with its codes.

A fresh event per run keeps runs independent (the audit of run N never sees
run N-1's sales) on any database. Accounts are made in bulk with one real
argon2 hash shared by all (fans sign up days before an on-sale; see
loadtests/journeys/common.py) and a session token each, written to a JSON
lines file only the Locust process reads.
"""

from __future__ import annotations

import json
import math
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from argon2 import PasswordHasher
from redis import Redis
from sqlalchemy import Engine, text

from api.fan.identity import SESSION_TTL, token_hash
from engine.pricing import PriceTier
from engine.seatmap import DRAWING_SIZE
from engine.store import presales
from engine.store.catalog import create_event, create_organizer, create_venue
from loadtests.journeys.defaults import DEFAULT_PASSWORD
from waitingroom.config import RoomConfig
from waitingroom.keys import RoomKeys, events_registry
from workers.redis_client import sync_client

SEATS_PER_ROW = 20
ROW_PITCH = 14.0
GA_SHARE = 0.15
CIRCLE_SHARE = 0.3
BUYER_LIMIT = 6
ORGANIZER_NAME = "Surge Test Promotions"
UNLIMITED_JOINS_PER_IP = 1_000_000
"""Every simulated fan comes from 127.0.0.1: the per-IP join limit must not bite."""
ADMISSION_SECONDS = 600.0
PRESALE_TIER = "PRE"
PRESALE_CODES_PER_USER = 0.1
PRESALE_MIN_CODES = 10
PRESALE_PLACES_PER_CODE = 3
PRESALE_MIN_PLACES = 60


@dataclass(frozen=True)
class SurgeEvent:
    event_id: int
    name: str
    seats: int
    ga_capacity: int


@dataclass(frozen=True)
class SurgePresale:
    event: SurgeEvent
    presale_id: int
    tier: str
    codes: int


def _section(name: str, rank: int, rows: int, first_row: int, category: str,
             row_pitch: float = ROW_PITCH) -> dict[str, Any]:
    return {"name": name, "rank": rank, "rows": [
        {"label": _row_label(first_row + r), "rank": r + 1,
         "seats": [{"label": str(n + 1), "x": 10.0 + 12 * n,
                    "y": round(10.0 + row_pitch * (first_row + r), 2),
                    "category": category} for n in range(SEATS_PER_ROW)]}
        for r in range(rows)]}


def _row_label(index: int) -> str:
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def seatmap_for(capacity: int, run_name: str) -> dict[str, Any]:
    """A hall of about `capacity` places: stalls, a circle, and a GA floor."""
    ga = max(1, round(capacity * GA_SHARE))
    seated = max(SEATS_PER_ROW * 2, capacity - ga)
    circle_rows = max(1, round(seated * CIRCLE_SHARE / SEATS_PER_ROW))
    stalls_rows = max(1, math.ceil(seated / SEATS_PER_ROW) - circle_rows)
    # Seat maps are drawn on a 1000-unit square: a big hall packs its rows closer.
    pitch = min(ROW_PITCH, (DRAWING_SIZE - 20.0) / (stalls_rows + circle_rows))
    return {"name": f"Surge Hall ({run_name})", "city": "Loopback",
            "sections": [_section("Stalls", 1, stalls_rows, 0, "A", pitch),
                         _section("Circle", 2, circle_rows, stalls_rows, "B", pitch)],
            "ga_zones": [{"name": "Floor", "capacity": ga, "category": "GA"}]}


def create_surge_event(engine: Engine, capacity: int, hold_ttl_seconds: int,
                       run_name: str) -> SurgeEvent:
    tiers = [PriceTier("A", "Stalls", "A", 8900), PriceTier("B", "Circle", "B", 5900),
             PriceTier("GA", "Floor", "GA", 3900)]
    return _create_event(engine, seatmap_for(capacity, run_name), f"Surge run {run_name}",
                         tiers, hold_ttl_seconds)


def _create_event(engine: Engine, doc: dict[str, Any], name: str, tiers: list[PriceTier],
                  hold_ttl_seconds: int) -> SurgeEvent:
    now = datetime.now(UTC)
    with engine.begin() as conn:
        organizer = conn.execute(text("SELECT id FROM organizers WHERE name = :name"),
                                 {"name": ORGANIZER_NAME}).scalar()
        if organizer is None:
            organizer = create_organizer(conn, ORGANIZER_NAME)
        venue = create_venue(conn, doc, organizer)
        event_id = create_event(
            conn, organizer_id=organizer, venue_id=venue, name=name, category="concert",
            description="A load-test on-sale made by `onsale surge`.",
            starts_at=now + timedelta(days=30), onsale_at=now - timedelta(seconds=1),
            price_tiers=tiers, status="published", buyer_limit=BUYER_LIMIT,
            hold_ttl_seconds=hold_ttl_seconds)
    seats = sum(len(row["seats"]) for section in doc["sections"] for row in section["rows"])
    return SurgeEvent(event_id, name, seats, doc["ga_zones"][0]["capacity"])


def presale_code_count(users: int) -> int:
    """Codes for a run of `users`: more than its PresaleFans (weight 4 of 110) can take."""
    return max(PRESALE_MIN_CODES, math.ceil(users * PRESALE_CODES_PER_USER))


def create_presale_event(engine: Engine, codes: int, hold_ttl_seconds: int, run_name: str,
                         open_seconds: float, path: Path) -> SurgePresale:
    """A small second event whose presale is open for `open_seconds` from now, unlocking
    its stalls tier (`PRESALE_TIER`), with `codes` single-use codes and a quota of as
    many accounts; {event_id, presale_id, tier, codes} goes to `path` for the journeys.

    A second event, not a presale tier of the surge event: while a presale is open only
    code holders may join its event's line, which would shut the general fans out.
    """
    capacity = max(PRESALE_MIN_PLACES, codes * PRESALE_PLACES_PER_CODE)
    tiers = [PriceTier(PRESALE_TIER, "Presale stalls", "A", 9900),
             PriceTier("B", "Circle", "B", 5900), PriceTier("GA", "Floor", "GA", 3900)]
    event = _create_event(engine, seatmap_for(capacity, f"{run_name} presale"),
                          f"Surge presale {run_name}", tiers, hold_ttl_seconds)
    now = datetime.now(UTC)
    presale = presales.create_presale(
        engine, event.event_id, "Fan club presale", now - timedelta(seconds=1),
        now + timedelta(seconds=open_seconds), [PRESALE_TIER], quota=codes)
    issued = presales.issue_codes(engine, presale.id, presales.CodeKind.SINGLE_USE, codes)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"event_id": event.event_id, "presale_id": presale.id,
                                "tier": PRESALE_TIER, "codes": issued}))
    path.chmod(0o600)
    return SurgePresale(event, presale.id, PRESALE_TIER, len(issued))


def create_accounts(engine: Engine, count: int, run_name: str, path: Path) -> int:
    """`count` fan accounts with open sessions; JSON lines {user_id, email, token} to `path`."""
    password_hash = PasswordHasher().hash(DEFAULT_PASSWORD)
    emails = [f"fan-{run_name}-{n}@surge.example" for n in range(count)]
    tokens = [secrets.token_urlsafe(32) for _ in range(count)]
    expires_at = datetime.now(UTC) + SESSION_TTL
    with engine.begin() as conn:
        ids: dict[str, int] = dict(conn.execute(text(
            "INSERT INTO users (email, password_hash, role, display_name)"
            " SELECT e, :hash, 'fan', split_part(e, '@', 1) FROM unnest(CAST(:emails AS text[])) e"
            " RETURNING email, id"), {"hash": password_hash, "emails": emails}).all())
        conn.execute(text(
            "INSERT INTO sessions (token_hash, user_id, expires_at)"
            " SELECT h, u, :expires_at FROM unnest(CAST(:hashes AS text[]),"
            " CAST(:users AS bigint[])) AS t(h, u)"),
            {"hashes": [token_hash(t) for t in tokens], "users": [ids[e] for e in emails],
             "expires_at": expires_at})
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as handle:
        for email, token in zip(emails, tokens, strict=True):
            handle.write(json.dumps({"user_id": ids[email], "email": email, "token": token}) + "\n")
    path.chmod(0o600)
    return count


def room_config(admissions_per_minute: float, max_active_users: int,
                now: float | None = None,
                admission_seconds: float = ADMISSION_SECONDS) -> RoomConfig:
    """The queue opens now and the sale starts now: the surge is the opening rush.
    `admission_seconds`: how long an admitted fan's session (and token) lasts."""
    opened = time.time() if now is None else now
    return RoomConfig(opens_at=opened, sale_starts_at=opened,
                      new_users_per_minute=admissions_per_minute,
                      max_active_users=max_active_users,
                      admission_token_ttl_seconds=admission_seconds,
                      position_expiry_seconds=30.0,
                      join_limit_per_ip_per_minute=UNLIMITED_JOINS_PER_IP)


def configure_room(redis: Redis, prefix: str, event_id: int, config: RoomConfig) -> None:
    """What `WaitingRoom.configure` writes (one pipeline), from this synchronous process."""
    keys = RoomKeys(prefix, event_id)
    with redis.pipeline(transaction=False) as pipe:  # two slots (Redis Cluster): no MULTI
        pipe.hset(keys.config, mapping=config.to_fields())  # type: ignore[arg-type]
        pipe.sadd(events_registry(prefix), str(event_id))
        pipe.execute()


def admission_rate_for(fans: int, run_seconds: float) -> float:
    """Admissions per minute that serve every fan of the rush within ~40% of the run."""
    return float(max(60, math.ceil(fans * 60 / max(1.0, run_seconds * 0.4))))


def main(argv: list[str] | None = None) -> int:
    """`python -m loadtests.surge_setup`: prepare a surge for Locust run elsewhere (compose).

    Uses the ONSALE_* settings for Postgres and Redis, like every onsale command;
    prints {"event_id", "accounts_file"} as JSON.
    """
    import argparse
    import secrets as _secrets

    from api.launcher.settings import Settings
    from engine.store.db import make_engine

    parser = argparse.ArgumentParser(prog="python -m loadtests.surge_setup",
                                     description="Create a surge event, accounts and its room.")
    parser.add_argument("--users", type=int, required=True, help="accounts to make")
    parser.add_argument("--seats", type=int, help="places of the event (default 1.2 per user)")
    parser.add_argument("--hold-ttl", type=int, default=120, metavar="SECONDS")
    parser.add_argument("--admission-rate", type=float, default=6000.0, metavar="PER_MINUTE")
    parser.add_argument("--max-active", type=int, default=5000)
    parser.add_argument("--out", type=Path, required=True, help="folder for accounts.jsonl")
    args = parser.parse_args(argv)
    settings = Settings.from_env()
    if not (settings.database_url and settings.redis_url):
        parser.error("set ONSALE_DATABASE_URL and ONSALE_REDIS_URL")
    run_name = datetime.now(UTC).strftime("%Y%m%d-%H%M%S") + "-" + _secrets.token_hex(2)
    engine = make_engine(settings.database_url, pool_size=1, max_overflow=0)
    redis = sync_client(settings.redis_url)
    try:
        event = create_surge_event(engine, args.seats or round(args.users * 1.2), args.hold_ttl,
                                   run_name)
        accounts = args.out / "accounts.jsonl"
        create_accounts(engine, args.users, run_name, accounts)
        configure_room(redis, settings.redis_prefix, event.event_id,
                       room_config(args.admission_rate, args.max_active))
    finally:
        redis.close()
        engine.dispose()
    print(json.dumps({"event_id": event.event_id, "accounts_file": str(accounts)}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
