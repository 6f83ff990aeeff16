"""Presale codes in Postgres: a code is redeemed once under concurrency, the quota holds,
and no code is used more than allowed (the audit's `presale_codes` check agrees)."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from threading import Barrier

import sqlalchemy as sa
from sqlalchemy import Engine

from engine.store import presales as store
from engine.store.presales import CodeKind, RedeemOutcome
from loadtests.audit_checks import presale_codes
from tests.support.booking import make_event

CONTENDERS = 12


def accounts(engine: Engine, count: int) -> list[int]:
    tag = uuid.uuid4().hex[:8]
    with engine.begin() as conn:
        return [
            int(
                conn.execute(
                    sa.text(
                        "INSERT INTO users (email, password_hash, role, display_name)"
                        " VALUES (:email, 'x', 'fan', 'Fan') RETURNING id"
                    ),
                    {"email": f"p{i}-{tag}@example.com"},
                ).scalar_one()
            )
            for i in range(count)
        ]


def open_presale(engine: Engine, event_id: int, quota: int) -> store.Presale:
    now = datetime.now(UTC)
    return store.create_presale(
        engine, event_id, "Fan club", now - timedelta(hours=1), now + timedelta(hours=1),
        ["front"], quota,
    )


def race(engine: Engine, event_id: int, pairs: list[tuple[str, int]]) -> list[RedeemOutcome]:
    """Every (code, account) redeemed at the same moment, one thread and connection each."""
    start = Barrier(len(pairs))

    def one(pair: tuple[str, int]) -> RedeemOutcome:
        start.wait()
        return store.redeem_code(engine, event_id, pair[0], pair[1], datetime.now(UTC)).outcome

    with ThreadPoolExecutor(len(pairs)) as pool:
        return list(pool.map(one, pairs))


def test_a_single_use_code_is_redeemed_once_under_concurrency(db_engine: Engine) -> None:
    event_id = make_event(db_engine)
    presale = open_presale(db_engine, event_id, quota=100)
    [code] = store.issue_codes(db_engine, presale.id, CodeKind.SINGLE_USE, 1)
    fans = accounts(db_engine, CONTENDERS)
    outcomes = race(db_engine, event_id, [(code, fan) for fan in fans])
    assert outcomes.count(RedeemOutcome.GRANTED) == 1, "exactly one account wins the code"
    assert outcomes.count(RedeemOutcome.CODE_TAKEN) == CONTENDERS - 1
    winner = fans[outcomes.index(RedeemOutcome.GRANTED)]
    again = store.redeem_code(db_engine, event_id, code, winner, datetime.now(UTC))
    assert again.outcome is RedeemOutcome.ALREADY_IN, "the owner may come back"
    with db_engine.connect() as conn:
        assert presale_codes(conn, event_id).violations == 0


def test_the_quota_holds_when_a_crowd_redeems_a_shared_code(db_engine: Engine) -> None:
    event_id = make_event(db_engine)
    quota = 5
    presale = open_presale(db_engine, event_id, quota=quota)
    [code] = store.issue_codes(db_engine, presale.id, CodeKind.PER_ACCOUNT, 1)
    fans = accounts(db_engine, CONTENDERS)
    outcomes = race(db_engine, event_id, [(code, fan) for fan in fans])
    assert outcomes.count(RedeemOutcome.GRANTED) == quota, "never more accounts than the quota"
    assert outcomes.count(RedeemOutcome.PRESALE_FULL) == CONTENDERS - quota
    assert store.presale(db_engine, presale.id).redeemed == quota  # type: ignore[union-attr]


def test_the_quota_holds_across_distinct_codes(db_engine: Engine) -> None:
    event_id = make_event(db_engine)
    presale = open_presale(db_engine, event_id, quota=3)
    codes = store.issue_codes(db_engine, presale.id, CodeKind.SINGLE_USE, CONTENDERS)
    fans = accounts(db_engine, CONTENDERS)
    outcomes = race(db_engine, event_id, list(zip(codes, fans, strict=True)))
    assert outcomes.count(RedeemOutcome.GRANTED) == 3


def test_codes_work_only_inside_the_window_and_for_their_event(db_engine: Engine) -> None:
    event_id, other_event = make_event(db_engine), make_event(db_engine)
    presale = open_presale(db_engine, event_id, quota=10)
    [code] = store.issue_codes(db_engine, presale.id, CodeKind.SINGLE_USE, 1)
    [fan] = accounts(db_engine, 1)
    later = datetime.now(UTC) + timedelta(hours=2)
    assert store.redeem_code(db_engine, event_id, code, fan, later).outcome is (
        RedeemOutcome.UNKNOWN_CODE
    )
    assert store.redeem_code(db_engine, other_event, code, fan, datetime.now(UTC)).outcome is (
        RedeemOutcome.UNKNOWN_CODE
    )
    assert store.redeem_code(db_engine, event_id, "NOSUCHCODE", fan, datetime.now(UTC)).outcome is (
        RedeemOutcome.UNKNOWN_CODE
    )


def test_the_audit_counts_the_codes_it_checked_and_names_codes_used_beyond_their_rules(
    db_engine: Engine,
) -> None:
    event_id = make_event(db_engine)
    presale = open_presale(db_engine, event_id, quota=10)
    other = open_presale(db_engine, event_id, quota=10)
    first, second = store.issue_codes(db_engine, presale.id, CodeKind.SINGLE_USE, 2)
    [elsewhere] = store.issue_codes(db_engine, other.id, CodeKind.SINGLE_USE, 1)
    owner, stranger, third = accounts(db_engine, 3)
    for code, fan in ((first, owner), (second, stranger)):
        assert store.redeem_code(db_engine, event_id, code, fan, datetime.now(UTC)).outcome \
            is RedeemOutcome.GRANTED
    with db_engine.connect() as conn:
        clean = presale_codes(conn, event_id)
    assert clean.violations == 0 and clean.status == "pass"
    assert clean.figures["codes_checked"] == 2 and clean.figures["accounts_let_in"] == 2
    assert clean.figures["codes_issued"] == 3 and clean.figures["presales"] == 2
    with db_engine.begin() as conn:  # what a broken redemption would leave behind
        conn.execute(sa.text(
            "INSERT INTO presale_access (presale_id, account_id, code) VALUES"
            " (:presale, :third, :first), (:presale_other, :third, :presale_code)"),
            {"presale": presale.id, "third": third, "first": first,
             "presale_other": other.id, "presale_code": second})
    with db_engine.connect() as conn:
        broken = presale_codes(conn, event_id)
    assert broken.status == "fail"
    assert any("single-use code" in e and "not its owner" in e for e in broken.examples), \
        "a single-use code let in an account other than its owner"
    assert any(f"into presale {other.id} by a code of {presale.id}" in e
               for e in broken.examples), "a code opened a presale that is not its own"
    assert elsewhere  # issued, never used: counted, not checked


def test_an_event_without_a_presale_has_nothing_to_check(db_engine: Engine) -> None:
    event_id = make_event(db_engine)
    with db_engine.connect() as conn:
        check = presale_codes(conn, event_id)
    assert check.status == "info" and check.figures["codes_checked"] == 0


def test_the_line_counts_a_locked_tier_only_while_its_presale_is_open(db_engine: Engine) -> None:
    """`line_tickets_left` counts from the stored claims what the partition's
    `tickets_for_line` counts: the front rows (20 seats, GA 5) only inside the window."""
    event_id = make_event(db_engine, rows=4, seats_per_row=10, ga_capacity=5)
    with db_engine.connect() as conn:
        assert store.line_tickets_left(conn, event_id, datetime.now(UTC)) is None
    presale = open_presale(db_engine, event_id, 10)
    with db_engine.begin() as conn:
        assert store.line_tickets_left(conn, event_id, datetime.now(UTC)) == 45
        assert store.line_tickets_left(conn, event_id, presale.ends_at) == 25
        assert store.tier_access(conn, event_id, 1).closed == {"front"}
        seat = conn.execute(sa.text(
            "SELECT s.id FROM seats s JOIN events e ON e.venue_id = s.venue_id"
            " WHERE e.id = :e AND s.category = 'B' LIMIT 1"), {"e": event_id}).scalar_one()
        conn.execute(sa.text("INSERT INTO seat_claims (event_id, seat_id, state)"
                             " VALUES (:e, :s, 'blocked')"), {"e": event_id, "s": seat})
        assert store.line_tickets_left(conn, event_id, presale.ends_at) == 24
