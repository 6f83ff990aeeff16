"""A believable demo catalog: three venues, a dozen events, one of them on sale now.

Demo accounts (argon2 hashes are stored; these are the plain passwords):

    ops@onsale.example        onsale-ops-demo         role ops
    organizer@onsale.example  onsale-organizer-demo   role organizer (owns every demo event)
    fan@onsale.example        onsale-fan-demo         role fan

The "surge" event (SURGE_EVENT_NAME) is on the ~20,000-seat arena and went on
sale five minutes before the catalog was loaded. `extra_events` adds many more
events on a small pool of venues (seat maps are reused, not regenerated), written
with COPY so 100,000 of them take seconds.

Loading is idempotent: if the demo users exist, the summary is rebuilt from the
database and only missing extra events are added.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from argon2 import PasswordHasher
from sqlalchemy import Connection, text

from engine import layouts
from engine.pricing import PriceTier
from engine.store import catalog
from engine.store.db import make_engine
from engine.store.demo_data import (
    CATEGORY_PRICES_CENTS,
    CORE_EVENTS,
    CORE_VENUES,
    EXTRA_EVENT_DESCRIPTION,
    POOL_VENUES,
    SURGE_EVENT_NAME,
    CoreEvent,
    performer_names,
)

DEMO_LOCK_KEY = 74_201_201
"""pg_advisory_xact_lock key: two loaders at once must not both insert."""
ORGANIZER_NAME = "Northlight Live"
EXTRA_PERFORMERS = 400
EXTRA_DAYS_AHEAD = 365
COPY_CHUNK_EVENTS = 20_000
GENERATED_PERFORMER = "Generated demo performer."


@dataclass(frozen=True, slots=True)
class DemoUser:
    email: str
    password: str
    role: str
    display_name: str


DEMO_USERS = (
    DemoUser("ops@onsale.example", "onsale-ops-demo", "ops", "Olu Adeyemi (ops)"),
    DemoUser("organizer@onsale.example", "onsale-organizer-demo", "organizer",
             "Northlight Live"),
    DemoUser("fan@onsale.example", "onsale-fan-demo", "fan", "Freya Lindqvist"),
)


def load_demo_catalog(database_url: str, *, extra_events: int = 0, seed: int = 7) -> dict[str, Any]:
    """Load the demo catalog once; returns ids and credentials for scripts and docs."""
    engine = make_engine(database_url, pool_size=1, max_overflow=0)
    try:
        with engine.begin() as conn:
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": DEMO_LOCK_KEY})
            if _user_id(conn, DEMO_USERS[0].email) is None:
                _load_core(conn, datetime.now(UTC), random.Random(seed))
            existing = _extra_event_count(conn)
            if extra_events > existing:
                _add_extra_events(conn, extra_events - existing, datetime.now(UTC),
                                  random.Random(seed * 1_000_003 + existing))
            return _summary(conn)
    finally:
        engine.dispose()


def _user_id(conn: Connection, email: str) -> int | None:
    return conn.execute(text("SELECT id FROM users WHERE email = :email"),
                        {"email": email}).scalar()


def _load_core(conn: Connection, now: datetime, rng: random.Random) -> None:
    hasher = PasswordHasher()
    user_ids = {}
    for user in DEMO_USERS:
        user_ids[user.role] = conn.execute(text(
            "INSERT INTO users (email, password_hash, role, display_name)"
            " VALUES (:email, :hash, :role, :name) RETURNING id"),
            {"email": user.email, "hash": hasher.hash(user.password), "role": user.role,
             "name": user.display_name}).scalar_one()
    organizer_id = catalog.create_organizer(conn, ORGANIZER_NAME, user_ids["organizer"])
    venue_ids = {key: catalog.create_venue(conn, _venue_doc(kind, name, city, country))
                 for key, kind, name, city, country in CORE_VENUES}
    performers: dict[str, int] = {}
    for event in CORE_EVENTS:
        for name, kind in event.performers:
            if name not in performers:
                performers[name] = catalog.create_performer(conn, name, kind)
        _create_core_event(conn, event, organizer_id, venue_ids[event.venue], performers,
                           now, rng)


def _venue_doc(kind: str, name: str, city: str, country: str) -> Any:
    if kind == "arena":
        return layouts.arena(name, city, country=country)
    if kind == "small_arena":
        return layouts.arena(name, city, target_seats=8_000, country=country)
    if kind == "theatre":
        return layouts.theatre(name, city, country=country)
    return layouts.club(name, city, country=country)


def tiers_for(categories: set[str], rng: random.Random) -> list[PriceTier]:
    """One tier per category the venue has, priced around the usual level for it."""
    tiers = []
    for category in sorted(categories):
        base = CATEGORY_PRICES_CENTS.get(category, 5000)
        price = int(base * rng.uniform(0.8, 1.3)) // 100 * 100 + 50 * rng.randint(0, 1)
        name = "General admission" if category == "GA" else f"Category {category}"
        tiers.append(PriceTier(category, name, category, price))
    return tiers


def _create_core_event(conn: Connection, event: CoreEvent, organizer_id: int, venue_id: int,
                       performers: dict[str, int], now: datetime, rng: random.Random) -> int:
    starts_at = (now + timedelta(days=event.starts_in_days)).replace(
        hour=19, minute=30, second=0, microsecond=0)
    onsale_at = now + timedelta(minutes=event.onsale_in_minutes)
    return catalog.create_event(
        conn, organizer_id=organizer_id, venue_id=venue_id, name=event.name,
        category=event.category, description=event.description, starts_at=starts_at,
        onsale_at=min(onsale_at, starts_at),
        price_tiers=tiers_for(catalog.venue_categories(conn, venue_id), rng),
        performer_ids=[performers[name] for name, _ in event.performers],
        status="published", currency=event.currency, buyer_limit=event.buyer_limit)


# ---------------------------------------------------------------- many more events


def _pool(conn: Connection) -> list[tuple[int, str, set[str], str]]:
    """Venues extra events are spread over: (venue_id, kind, categories, currency)."""
    pool = []
    for kind, name, city, country, currency in POOL_VENUES:
        venue_id = conn.execute(text("SELECT id FROM venues WHERE name = :name"),
                                {"name": name}).scalar()
        if venue_id is None:
            venue_id = catalog.create_venue(conn, _venue_doc(kind, name, city, country))
        pool.append((venue_id, kind, catalog.venue_categories(conn, venue_id), currency))
    return pool


def _extra_event_count(conn: Connection) -> int:
    return int(conn.execute(text("SELECT count(*) FROM events WHERE description = :marker"),
                            {"marker": EXTRA_EVENT_DESCRIPTION}).scalar_one())


def _add_extra_events(conn: Connection, count: int, now: datetime, rng: random.Random) -> None:
    organizer_id = conn.execute(text("SELECT id FROM organizers WHERE name = :name"),
                                {"name": ORGANIZER_NAME}).scalar_one()
    pool = _pool(conn)
    performer_ids = _performer_pool(conn, rng)
    zones = {venue_id: conn.execute(text(
        "SELECT id, capacity FROM ga_zones WHERE venue_id = :venue_id"),
        {"venue_id": venue_id}).all() for venue_id, *_ in pool}
    ids = catalog.sequence_ids(conn, "events")
    remaining = count
    while remaining:
        chunk = min(remaining, COPY_CHUNK_EVENTS)
        remaining -= chunk
        events: list[tuple[Any, ...]] = []
        tiers: list[tuple[Any, ...]] = []
        billing: list[tuple[int, int, int]] = []
        ga: list[tuple[int, int, int]] = []
        for _ in range(chunk):
            event_id = next(ids)
            venue_id, kind, categories, currency = rng.choice(pool)
            category = rng.choice(("theatre", "comedy", "concert") if kind == "theatre" else
                                  ("concert", "sports", "comedy", "concert"))
            performer_id, performer = rng.choice(performer_ids)
            starts_at = (now + timedelta(days=rng.randint(2, EXTRA_DAYS_AHEAD))).replace(
                hour=rng.choice((19, 20)), minute=rng.choice((0, 30)), second=0, microsecond=0)
            onsale_at = starts_at - timedelta(days=rng.randint(14, 180))
            status = "draft" if rng.random() < 0.05 else "published"
            events.append((event_id, organizer_id, venue_id, f"{performer}: {_tour(rng)}",
                           EXTRA_EVENT_DESCRIPTION, category, starts_at, onsale_at, status,
                           currency))
            tiers.extend((event_id, t.code, t.name, t.category, t.price_cents)
                         for t in tiers_for(categories, rng))
            billing.append((event_id, performer_id, 0))
            ga.extend((event_id, zone_id, capacity) for zone_id, capacity in zones[venue_id])
        catalog.copy_rows(conn, "events", ("id", "organizer_id", "venue_id", "name",
                                           "description", "category", "starts_at",
                                           "onsale_at", "status", "currency"), events)
        catalog.copy_rows(conn, "price_tiers",
                          ("event_id", "code", "name", "category", "price_cents"), tiers)
        catalog.copy_rows(conn, "event_performers",
                          ("event_id", "performer_id", "billing_order"), billing)
        catalog.copy_rows(conn, "ga_inventory", ("event_id", "zone_id", "capacity"), ga)


def _performer_pool(conn: Connection, rng: random.Random) -> list[tuple[int, str]]:
    rows = conn.execute(text("SELECT id, name FROM performers WHERE description = :marker"
                             " ORDER BY id"), {"marker": GENERATED_PERFORMER}).all()
    if rows:
        return [(performer_id, name) for performer_id, name in rows]
    names = performer_names(EXTRA_PERFORMERS, rng)
    return [(catalog.create_performer(conn, name, "artist", GENERATED_PERFORMER), name)
            for name in names]


def _tour(rng: random.Random) -> str:
    return rng.choice(("Live", "The Tour", "In Concert", "Unplugged", "One Night Only",
                       "Greatest Hits", "Season Opener", "The Final Round", "Late Show"))


# ---------------------------------------------------------------- summary


def _summary(conn: Connection) -> dict[str, Any]:
    users = [{"email": u.email, "password": u.password, "role": u.role,
              "id": _user_id(conn, u.email)} for u in DEMO_USERS]
    venues = {key: conn.execute(text("SELECT id FROM venues WHERE name = :name"),
                                {"name": name}).scalar_one()
              for key, _, name, _, _ in CORE_VENUES}
    events = [{"id": event_id, "name": name, "category": category, "venue_id": venue_id}
              for event_id, name, category, venue_id in conn.execute(text(
                  "SELECT id, name, category, venue_id FROM events"
                  " WHERE description <> :marker ORDER BY id"),
                  {"marker": EXTRA_EVENT_DESCRIPTION})]
    surge = next(event["id"] for event in events if event["name"] == SURGE_EVENT_NAME)
    return {
        "users": users,
        "organizer_id": conn.execute(text("SELECT id FROM organizers WHERE name = :name"),
                                     {"name": ORGANIZER_NAME}).scalar_one(),
        "venues": venues,
        "events": events,
        "surge_event_id": surge,
        "extra_events": _extra_event_count(conn),
    }
