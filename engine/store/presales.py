"""Presales: windows open only to code holders, their codes, and the atomic redemption.

A redemption is ONE SQL statement (`_REDEEM`): it finds the code of a presale of the
event whose window holds `now`, binds a single-use code to the first account (the
row lock on the code makes concurrent redemptions of one code queue up; each later
one re-checks `account_id` and finds it taken), counts the account against the
quota (the row lock on the presale and the re-checked `redeemed < quota` keep any
number of concurrent redemptions within it) and records the access. The table
check `redeemed <= quota` backs this up in the database itself.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import Any

from sqlalchemy import Connection, Engine, text

CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
"""No 0/O or 1/I: codes are read off screens and typed."""
CODE_LENGTH = 12
"""60 bits: with the guessing limits a guess succeeds about never."""
MAX_CODES_PER_BATCH = 100_000


class CodeKind(str, Enum):
    SINGLE_USE = "single_use"
    PER_ACCOUNT = "per_account"


class RedeemOutcome(str, Enum):
    GRANTED = "granted"
    ALREADY_IN = "already_in"
    UNKNOWN_CODE = "unknown_code"
    """No such code for a presale of this event that is open now."""
    CODE_TAKEN = "code_taken"
    """A single-use code another account redeemed first."""
    PRESALE_FULL = "presale_full"


@dataclass(frozen=True, slots=True)
class Presale:
    id: int
    event_id: int
    name: str
    starts_at: datetime
    ends_at: datetime
    tier_codes: tuple[str, ...]
    quota: int
    redeemed: int

    def is_open(self, now: datetime) -> bool:
        return self.starts_at <= now < self.ends_at

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "event_id": self.event_id,
            "name": self.name,
            "starts_at": self.starts_at.isoformat(),
            "ends_at": self.ends_at.isoformat(),
            "tier_codes": list(self.tier_codes),
            "quota": self.quota,
            "redeemed": self.redeemed,
        }


_COLUMNS = "id, event_id, name, starts_at, ends_at, tier_codes, quota, redeemed"


def _presale(row: Any) -> Presale:
    return Presale(
        row.id,
        row.event_id,
        row.name,
        row.starts_at,
        row.ends_at,
        tuple(row.tier_codes),
        row.quota,
        row.redeemed,
    )


def new_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def create_presale(
    engine: Engine,
    event_id: int,
    name: str,
    starts_at: datetime,
    ends_at: datetime,
    tier_codes: Sequence[str],
    quota: int,
) -> Presale:
    with engine.begin() as conn:
        row = conn.execute(
            text(
                "INSERT INTO presales (event_id, name, starts_at, ends_at, tier_codes, quota)"
                " VALUES (:event_id, :name, :starts_at, :ends_at, :tier_codes, :quota)"
                f" RETURNING {_COLUMNS}"
            ),
            {
                "event_id": event_id,
                "name": name,
                "starts_at": starts_at,
                "ends_at": ends_at,
                "tier_codes": list(tier_codes),
                "quota": quota,
            },
        ).one()
    return _presale(row)


def presales_of(engine: Engine, event_id: int) -> list[Presale]:
    with engine.connect() as conn:
        rows = conn.execute(
            text(f"SELECT {_COLUMNS} FROM presales WHERE event_id = :event_id ORDER BY id"),
            {"event_id": event_id},
        )
        return [_presale(row) for row in rows]


def presale(engine: Engine, presale_id: int) -> Presale | None:
    with engine.connect() as conn:
        row = conn.execute(
            text(f"SELECT {_COLUMNS} FROM presales WHERE id = :id"), {"id": presale_id}
        ).first()
    return None if row is None else _presale(row)


def issue_codes(
    engine: Engine, presale_id: int, kind: CodeKind, count: int, shared_code: str | None = None
) -> list[str]:
    """New codes for the presale: `count` single-use ones, or one shared per-account code."""
    codes = (
        [shared_code or new_code()]
        if kind is CodeKind.PER_ACCOUNT
        else [new_code() for _ in range(count)]
    )
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO presale_codes (code, presale_id, kind)"
                " VALUES (:code, :presale_id, :kind)"
            ),
            [{"code": code, "presale_id": presale_id, "kind": kind.value} for code in codes],
        )
    return codes


def code_rows(engine: Engine, presale_id: int) -> Iterator[tuple[str, str, int | None]]:
    """(code, kind, bound account or None) of every code of the presale, for the CSV."""
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT code, kind, account_id FROM presale_codes WHERE presale_id = :id"
                " ORDER BY created_at, code"
            ),
            {"id": presale_id},
        ).all()
    for row in rows:
        yield row.code, row.kind, row.account_id


_REDEEM = text("""
WITH target AS (
    SELECT c.code, c.kind, c.presale_id
    FROM presale_codes c JOIN presales p ON p.id = c.presale_id
    WHERE c.code = :code AND p.event_id = :event_id
      AND p.starts_at <= :now AND :now < p.ends_at
), claimed AS (
    UPDATE presale_codes c
    SET account_id = CASE WHEN t.kind = 'single_use' THEN :account ELSE c.account_id END
    FROM target t
    WHERE c.code = t.code
      AND (t.kind = 'per_account' OR c.account_id IS NULL OR c.account_id = :account)
      AND NOT EXISTS (SELECT 1 FROM presale_access a
                      WHERE a.presale_id = t.presale_id AND a.account_id = :account)
    RETURNING c.presale_id
), counted AS (
    UPDATE presales p SET redeemed = p.redeemed + 1
    FROM claimed
    WHERE p.id = claimed.presale_id AND p.redeemed < p.quota
      AND NOT EXISTS (SELECT 1 FROM presale_access a
                      WHERE a.presale_id = p.id AND a.account_id = :account)
    RETURNING p.id
), granted AS (
    INSERT INTO presale_access (presale_id, account_id, code, redeemed_at)
    SELECT id, :account, :code, :now FROM counted
    ON CONFLICT DO NOTHING
    RETURNING presale_id
)
SELECT (SELECT count(*) FROM target) AS found,
       (SELECT count(*) FROM claimed) AS claimed,
       (SELECT count(*) FROM granted) AS granted,
       (SELECT min(presale_id) FROM target) AS presale_id,
       EXISTS (SELECT 1 FROM presale_access a JOIN target t ON a.presale_id = t.presale_id
               WHERE a.account_id = :account) AS had_access
""")


@dataclass(frozen=True, slots=True)
class Redemption:
    outcome: RedeemOutcome
    presale_id: int | None


def redeem_code(
    engine: Engine, event_id: int, code: str, account_id: int, now: datetime
) -> Redemption:
    """Let the account into the presale the code opens, if the code and the quota allow."""
    with engine.begin() as conn:
        row = conn.execute(
            _REDEEM, {"code": code, "event_id": event_id, "account": account_id, "now": now}
        ).one()
    presale_id = int(row.presale_id) if row.presale_id is not None else None
    if row.found == 0:
        return Redemption(RedeemOutcome.UNKNOWN_CODE, None)
    if row.had_access:
        return Redemption(RedeemOutcome.ALREADY_IN, presale_id)
    if row.granted:
        return Redemption(RedeemOutcome.GRANTED, presale_id)
    if row.claimed == 0:
        return Redemption(RedeemOutcome.CODE_TAKEN, presale_id)
    return Redemption(RedeemOutcome.PRESALE_FULL, presale_id)


def open_presales(engine: Engine, event_id: int, now: datetime) -> list[Presale]:
    return [p for p in presales_of(engine, event_id) if p.is_open(now)]


def accessible_presales(engine: Engine, event_id: int, account_id: int) -> set[int]:
    """Ids of the event's presales the account was let into."""
    with engine.connect() as conn:
        return _accessible(conn, event_id, account_id)


def _accessible(conn: Connection, event_id: int, account_id: int) -> set[int]:
    rows = conn.execute(
        text(
            "SELECT a.presale_id FROM presale_access a JOIN presales p ON p.id = a.presale_id"
            " WHERE p.event_id = :event_id AND a.account_id = :account"
        ),
        {"event_id": event_id, "account": account_id},
    )
    return {int(presale_id) for (presale_id,) in rows}


def event_tier_codes(engine: Engine, event_id: int) -> set[str]:
    with engine.connect() as conn:
        rows = conn.execute(
            text("SELECT code FROM price_tiers WHERE event_id = :id"), {"id": event_id}
        )
        return {str(code) for (code,) in rows}


@dataclass(frozen=True, slots=True)
class TierAccess:
    """The tiers an event's presales lock, and which of them an account was let into."""

    locked: frozenset[str]
    unlocked: frozenset[str]

    @property
    def closed(self) -> frozenset[str]:
        """Locked tiers the account may not book (a seat is closed to it when every tier of
        its category is among them, as the partition decides)."""
        return self.locked - self.unlocked


def tier_access(conn: Connection, event_id: int, account_id: int) -> TierAccess:
    """The event's locked tiers and those the account unlocked, by the rule of
    `hidden_tier_codes` (closed = hidden)."""
    tiers_of = {int(row.id): tuple(row.tier_codes) for row in conn.execute(
        text("SELECT id, tier_codes FROM presales WHERE event_id = :event_id"),
        {"event_id": event_id})}
    accessible = _accessible(conn, event_id, account_id)
    return TierAccess(frozenset(code for codes in tiers_of.values() for code in codes),
                      frozenset(code for presale_id, codes in tiers_of.items()
                                if presale_id in accessible for code in codes))


_LINE_TICKETS_LEFT = text("""
WITH closed AS (
    SELECT code FROM presales p, unnest(p.tier_codes) AS code WHERE p.event_id = :event_id
    EXCEPT
    SELECT code FROM presales p, unnest(p.tier_codes) AS code
    WHERE p.event_id = :event_id AND p.starts_at <= :now AND :now < p.ends_at
), open_categories AS (
    SELECT DISTINCT t.category FROM price_tiers t
    WHERE t.event_id = :event_id AND t.code NOT IN (SELECT code FROM closed)
)
SELECT EXISTS (SELECT 1 FROM presales WHERE event_id = :event_id
               AND cardinality(tier_codes) > 0) AS has_presales,
       (SELECT count(*) FROM events e JOIN seats s ON s.venue_id = e.venue_id
        LEFT JOIN seat_claims c ON c.event_id = e.id AND c.seat_id = s.id
        WHERE e.id = :event_id AND c.seat_id IS NULL
          AND s.category IN (SELECT category FROM open_categories))
     + (SELECT coalesce(sum(g.capacity - g.held - g.sold), 0) FROM ga_inventory g
        JOIN ga_zones z ON z.id = g.zone_id
        WHERE g.event_id = :event_id
          AND z.category IN (SELECT category FROM open_categories)) AS tickets_left""")


def line_tickets_left(conn: Connection, event_id: int, now: datetime) -> int | None:
    """What a fan in the event's line can get, counted from the stored claims as the
    partition counts it (`EventInventory.tickets_for_line`): free seats and GA places of
    the categories no presale closes at `now`. None for an event without presales (every
    free ticket counts: the catalog's read model says how many)."""
    row = conn.execute(_LINE_TICKETS_LEFT, {"event_id": event_id, "now": now}).one()
    return int(row.tickets_left) if row.has_presales else None


def hidden_tier_codes(presales: Sequence[Presale], accessible: set[int]) -> set[str]:
    """Tiers a presale unlocks that this account may not see (it is not in that presale)."""
    hidden = {code for p in presales for code in p.tier_codes}
    visible = {code for p in presales if p.id in accessible for code in p.tier_codes}
    return hidden - visible
