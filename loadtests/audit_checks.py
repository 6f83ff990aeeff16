"""The invariant checks of `onsale audit`, one function each, over one event.

Each check reads Postgres (the source of truth) and, where the fan-facing
state lives there, Redis, and returns a `CheckResult` that names up to
`MAX_EXAMPLES` offending rows. They are written against the history (holds,
orders, the inventory log), not only the live `seat_claims` table, whose
primary key would hide a double claim by construction.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, text

from loadtests.audit_redis import FINAL_ORDER_STATES, OrderRecord, RequestRecord
from loadtests.audit_replay import Replay, count_inversions, fifo_agreement

MAX_EXAMPLES = 5
PASS, FAIL, INFO = "pass", "fail", "info"


@dataclass
class CheckResult:
    name: str
    title: str
    status: str = PASS
    violations: int = 0
    detail: str = ""
    examples: list[str] = field(default_factory=list)
    figures: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.status != FAIL

    def violate(self, count: int, examples: Sequence[str]) -> None:
        if count <= 0:
            return
        self.status = FAIL
        self.violations += count
        room = MAX_EXAMPLES - len(self.examples)
        self.examples.extend(list(examples)[:max(0, room)])

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "title": self.title, "status": self.status,
                "ok": self.ok, "violations": self.violations, "detail": self.detail,
                "examples": self.examples, "figures": self.figures}


def _rows(conn: Connection, sql: str, event_id: int, **params: Any) -> list[Any]:
    return list(conn.execute(text(sql), {"event_id": event_id, **params}))


def seats_once(conn: Connection, event_id: int) -> CheckResult:
    check = CheckResult("seats_once", "no seat held or sold twice")
    twice_held = _rows(conn, """
        SELECT s.seat_id, array_agg(h.hold_id ORDER BY h.hold_id)
        FROM holds h CROSS JOIN LATERAL unnest(h.seat_ids) AS s(seat_id)
        WHERE h.event_id = :event_id AND h.status = 'active'
        GROUP BY s.seat_id HAVING count(*) > 1""", event_id)
    check.violate(len(twice_held), [f"seat {seat} in active holds {', '.join(holds)}"
                                    for seat, holds in twice_held])
    twice_sold = _rows(conn, """
        SELECT l.seat_id, array_agg(o.order_id ORDER BY o.order_id)
        FROM orders o JOIN order_lines l ON l.order_id = o.order_id
        WHERE o.event_id = :event_id AND o.status = 'paid' AND l.seat_id IS NOT NULL
        GROUP BY l.seat_id HAVING count(*) > 1""", event_id)
    check.violate(len(twice_sold), [f"seat {seat} in paid orders {', '.join(orders)}"
                                    for seat, orders in twice_sold])
    held_and_sold = _rows(conn, """
        SELECT s.seat_id, h.hold_id, o.order_id
        FROM holds h CROSS JOIN LATERAL unnest(h.seat_ids) AS s(seat_id)
        JOIN order_lines l ON l.seat_id = s.seat_id
        JOIN orders o ON o.order_id = l.order_id AND o.event_id = h.event_id
        WHERE h.event_id = :event_id AND h.status = 'active' AND o.status = 'paid'""", event_id)
    check.violate(len(held_and_sold), [f"seat {seat} held by {hold} and sold in {order}"
                                       for seat, hold, order in held_and_sold])
    twice_ticketed = _rows(conn, """
        SELECT seat_id, count(*) FROM tickets
        WHERE event_id = :event_id AND status <> 'void' AND seat_id IS NOT NULL
        GROUP BY seat_id HAVING count(*) > 1""", event_id)
    check.violate(len(twice_ticketed), [f"seat {seat} has {n} live tickets"
                                        for seat, n in twice_ticketed])
    held, sold = _rows(conn, """
        SELECT (SELECT coalesce(sum(cardinality(seat_ids)), 0) FROM holds
                WHERE event_id = :event_id AND status = 'active'),
               (SELECT count(*) FROM orders o JOIN order_lines l ON l.order_id = o.order_id
                WHERE o.event_id = :event_id AND o.status = 'paid' AND l.seat_id IS NOT NULL)
        """, event_id)[0]
    check.detail = f"{sold} seats sold, {held} held"
    return check


def log_replay(conn: Connection, event_id: int, replay: Replay) -> CheckResult:
    check = CheckResult("log_replay", "inventory log replays cleanly and matches seat claims")
    check.violate(len(replay.anomalies), replay.anomalies)
    claims = {seat: (state, hold if state == "held" else order if state == "sold" else None)
              for seat, state, hold, order in _rows(conn, """
                  SELECT seat_id, state, hold_id, order_id FROM seat_claims
                  WHERE event_id = :event_id""", event_id)}
    seats = set(claims) | set(replay.seat_state)
    differ = sorted(seat for seat in seats if claims.get(seat) != replay.seat_state.get(seat))
    check.violate(len(differ), [f"seat {seat}: log says {replay.seat_state.get(seat)}, "
                                f"seat_claims says {claims.get(seat)}" for seat in differ])
    version, logged = _rows(conn, """
        SELECT e.inventory_version,
               (SELECT max(inventory_version) FROM inventory_events WHERE event_id = e.id)
        FROM events e WHERE e.id = :event_id""", event_id)[0]
    if logged is not None and logged != version:
        check.violate(1, [f"events.inventory_version {version} but the log ends at {logged}"])
    check.figures = {"log_entries": len(replay.hold_decisions), "claims": len(claims)}
    check.detail = f"{len(claims)} seats claimed"
    return check


def capacity(conn: Connection, event_id: int) -> CheckResult:
    check = CheckResult("capacity", "sold <= capacity per section and GA zone")
    sections = _rows(conn, """
        SELECT sec.id, sec.name, count(st.id),
               (SELECT count(*) FROM orders o JOIN order_lines l ON l.order_id = o.order_id
                JOIN seats s2 ON s2.id = l.seat_id
                WHERE o.event_id = e.id AND o.status = 'paid' AND s2.section_id = sec.id),
               (SELECT count(*) FROM seat_claims c JOIN seats s3 ON s3.id = c.seat_id
                WHERE c.event_id = e.id AND c.state = 'held' AND s3.section_id = sec.id)
        FROM events e JOIN sections sec ON sec.venue_id = e.venue_id
        JOIN seats st ON st.section_id = sec.id
        WHERE e.id = :event_id GROUP BY e.id, sec.id, sec.name ORDER BY sec.id""", event_id)
    per_section = []
    for section_id, name, seats, sold, held in sections:
        per_section.append({"section_id": section_id, "name": name, "capacity": seats,
                            "sold": sold, "held": held})
        if sold > seats or sold + held > seats:
            check.violate(1, [f"section {name}: {sold} sold + {held} held of {seats} seats"])
    stray = _rows(conn, """
        SELECT l.order_id, l.seat_id FROM orders o JOIN order_lines l ON l.order_id = o.order_id
        JOIN events e ON e.id = o.event_id JOIN seats s ON s.id = l.seat_id
        WHERE o.event_id = :event_id AND s.venue_id <> e.venue_id""", event_id)
    check.violate(len(stray), [f"order {order} sold seat {seat} of another venue"
                               for order, seat in stray])
    zones = _rows(conn, """
        SELECT z.id, z.name, z.capacity, g.held, g.sold,
               (SELECT coalesce(sum(o.quantity), 0) FROM orders o
                WHERE o.event_id = e.id AND o.status = 'paid' AND o.zone_id = z.id),
               (SELECT coalesce(sum(h.quantity), 0) FROM holds h
                WHERE h.event_id = e.id AND h.status = 'active' AND h.zone_id = z.id)
        FROM events e JOIN ga_zones z ON z.venue_id = e.venue_id
        LEFT JOIN ga_inventory g ON g.event_id = e.id AND g.zone_id = z.id
        WHERE e.id = :event_id ORDER BY z.id""", event_id)
    per_zone = []
    for zone_id, name, cap, g_held, g_sold, paid, held in zones:
        per_zone.append({"zone_id": zone_id, "name": name, "capacity": cap,
                         "sold": int(paid), "held": int(held)})
        if paid > cap or paid + held > cap:
            check.violate(1, [f"GA zone {name}: {paid} sold + {held} held of {cap}"])
        if g_sold is not None and (g_sold != paid or g_held != held):
            check.violate(1, [f"GA zone {name}: counters say {g_held} held/{g_sold} sold, "
                              f"holds and orders say {held}/{paid}"])
    check.figures = {"sections": per_section, "ga_zones": per_zone}
    sold = sum(s["sold"] for s in per_section) + sum(z["sold"] for z in per_zone)
    total = sum(s["capacity"] for s in per_section) + sum(z["capacity"] for z in per_zone)
    check.detail = f"{sold} of {total} sold"
    return check


def orders_tickets(conn: Connection, event_id: int, orders: Sequence[OrderRecord]) -> CheckResult:
    check = CheckResult("orders_tickets", "every paid order has its tickets, every ticket a "
                        "paid order, a refunded order no seat")
    short = _rows(conn, """
        SELECT o.order_id, o.quantity, count(t.id) FILTER (WHERE t.status <> 'void')
        FROM orders o LEFT JOIN tickets t ON t.order_id = o.order_id
        WHERE o.event_id = :event_id AND o.status = 'paid'
        GROUP BY o.order_id, o.quantity
        HAVING count(t.id) FILTER (WHERE t.status <> 'void') <> o.quantity""", event_id)
    capturing = {o.order_id for o in orders if o.status not in FINAL_ORDER_STATES}
    short = [row for row in short if row[0] not in capturing]  # tickets come with the capture
    check.violate(len(short), [f"paid order {order}: {live} live tickets for {quantity}"
                               for order, quantity, live in short])
    orphans = _rows(conn, """
        SELECT t.id, t.order_id, o.status FROM tickets t
        LEFT JOIN orders o ON o.order_id = t.order_id
        WHERE t.event_id = :event_id AND t.status <> 'void'
          AND (o.order_id IS NULL OR o.status <> 'paid')""", event_id)
    check.violate(len(orphans), [f"ticket {ticket} of order {order} ({status or 'missing'})"
                                 for ticket, order, status in orphans])
    paid_in_db = {row[0] for row in _rows(conn, """
        SELECT order_id FROM orders WHERE event_id = :event_id AND status = 'paid'""", event_id)}
    told_paid = [o.order_id for o in orders if o.status == "paid" and o.order_id not in paid_in_db]
    check.violate(len(told_paid), [f"order {o} shown paid to the fan, not paid in Postgres"
                                   for o in told_paid])
    kept = _rows(conn, """
        SELECT c.seat_id, c.order_id FROM seat_claims c
        JOIN orders o ON o.order_id = c.order_id
        WHERE c.event_id = :event_id AND o.status = 'refunded'""", event_id)
    check.violate(len(kept), [f"seat {seat} still sold to refunded order {order}"
                              for seat, order in kept])
    tickets = _rows(conn, """
        SELECT count(*) FROM tickets WHERE event_id = :event_id AND status <> 'void'""",
                    event_id)[0][0]
    check.figures = {"paid_orders": len(paid_in_db), "tickets": tickets}
    check.detail = f"{len(paid_in_db)} paid orders, {tickets} tickets"
    return check


def requests_final(conn: Connection, event_id: int, requests: Sequence[RequestRecord],
                   orders: Sequence[OrderRecord]) -> CheckResult:
    check = CheckResult("requests_final", "every 202 request reached a final state")
    pending = [r for r in requests if r.status == "pending"]
    check.violate(len(pending), [f"request {r.request_id} ({r.kind}) still pending"
                                 for r in pending])
    stored = {request_id: status for request_id, status in _rows(conn, """
        SELECT request_id, status FROM booking_requests WHERE event_id = :event_id""", event_id)}
    # Rejections change no state and are not written to Postgres (their record is the
    # published status); if one is stored anyway, it must agree with what the fan was told.
    unrecorded = [r for r in requests if r.status not in ("pending", "failed")
                  and stored.get(r.request_id) != r.status
                  and not (r.status == "rejected" and r.request_id not in stored)]
    check.violate(len(unrecorded), [
        f"request {r.request_id}: fan told {r.status}, Postgres has "
        f"{stored.get(r.request_id) or 'nothing'}" for r in unrecorded])
    holds = {hold_id for (hold_id,) in _rows(conn, """
        SELECT hold_id FROM holds WHERE event_id = :event_id""", event_id)}
    rejected_but_held = [r for r in requests
                         if r.kind == "hold" and r.status == "rejected" and r.request_id in holds]
    check.violate(len(rejected_but_held), [
        f"request {r.request_id}: fan told rejected, but it holds seats"
        for r in rejected_but_held])
    unfinished = [o for o in orders if o.status not in FINAL_ORDER_STATES]
    check.violate(len(unfinished), [f"order {o.order_id} still {o.status}" for o in unfinished])
    by_status: dict[str, int] = defaultdict(int)
    for record in requests:
        by_status[f"{record.kind}:{record.status}"] += 1
    orders_by_status: dict[str, int] = defaultdict(int)
    for order in orders:
        orders_by_status[order.status] += 1
    failed = by_status.get("hold:failed", 0) + by_status.get("sell:failed", 0)
    check.figures = {"requests": dict(sorted(by_status.items())),
                     "orders": dict(sorted(orders_by_status.items()))}
    check.detail = (f"{len(requests)} requests, {len(orders)} checkouts"
                    + (f", {failed} failed-retryable" if failed else ""))
    return check


def holds_returned(conn: Connection, event_id: int, expiry_grace_seconds: float | None
                   ) -> CheckResult:
    check = CheckResult("holds_returned", "every expired or released hold returned its seats")
    kept = _rows(conn, """
        SELECT h.hold_id, h.status, c.seat_id FROM holds h
        JOIN seat_claims c ON c.event_id = h.event_id AND c.hold_id = h.hold_id
        WHERE h.event_id = :event_id AND h.status IN ('expired', 'released')""", event_id)
    check.violate(len(kept), [f"{status} hold {hold} still claims seat {seat}"
                              for hold, status, seat in kept])
    unclaimed = _rows(conn, """
        SELECT h.hold_id, s.seat_id FROM holds h
        CROSS JOIN LATERAL unnest(h.seat_ids) AS s(seat_id)
        LEFT JOIN seat_claims c ON c.event_id = h.event_id AND c.seat_id = s.seat_id
        WHERE h.event_id = :event_id AND h.status = 'active'
          AND (c.hold_id IS DISTINCT FROM h.hold_id OR c.state <> 'held')""", event_id)
    check.violate(len(unclaimed), [f"active hold {hold} does not have seat {seat}"
                                   for hold, seat in unclaimed])
    if expiry_grace_seconds is not None:
        overdue = _rows(conn, """
            SELECT hold_id, extract(epoch FROM now() - expires_at) FROM holds
            WHERE event_id = :event_id AND status = 'active'
              AND expires_at < now() - make_interval(secs => :grace)""", event_id,
                        grace=expiry_grace_seconds)
        check.violate(len(overdue), [f"hold {hold} still active {float(late):.1f}s after expiry"
                                     for hold, late in overdue])
    counts = dict(_rows(conn, """
        SELECT status, count(*) FROM holds WHERE event_id = :event_id GROUP BY status""",
                        event_id))
    check.figures = {"holds": counts}
    check.detail = ", ".join(f"{n} {status}" for status, n in sorted(counts.items())) or "no holds"
    return check


def buyer_limits(conn: Connection, event_id: int) -> CheckResult:
    check = CheckResult("buyer_limits", "per-buyer limits held")
    rows = _rows(conn, """
        WITH owned AS (
            SELECT buyer_id, quantity FROM holds WHERE event_id = :event_id AND status = 'active'
            UNION ALL
            SELECT buyer_id, quantity FROM orders WHERE event_id = :event_id AND status = 'paid'
        ), per_buyer AS (SELECT buyer_id, sum(quantity) AS tickets FROM owned GROUP BY buyer_id),
        counters AS (SELECT buyer_id, tickets FROM buyer_tickets WHERE event_id = :event_id)
        SELECT coalesce(p.buyer_id, c.buyer_id), coalesce(p.tickets, 0), c.tickets,
               (SELECT buyer_limit FROM events WHERE id = :event_id)
        FROM per_buyer p FULL JOIN counters c ON c.buyer_id = p.buyer_id""", event_id)
    over = [(buyer, owned, limit) for buyer, owned, _, limit in rows if owned > limit]
    check.violate(len(over), [f"buyer {buyer} holds or owns {owned} (limit {limit})"
                              for buyer, owned, limit in over])
    drift = [(buyer, owned, counted) for buyer, owned, counted, _ in rows
             if owned != (counted or 0)]
    check.violate(len(drift), [f"buyer {buyer}: {owned} in holds and orders, counter says "
                               f"{counted}" for buyer, owned, counted in drift])
    busiest = max((owned for _, owned, _, _ in rows), default=0)
    limit = rows[0][3] if rows else None
    check.figures = {"buyers": len(rows), "most_tickets": busiest, "limit": limit}
    check.detail = f"{len(rows)} buyers, most {busiest}" + (f" of {limit}" if limit else "")
    return check


def queue_order(replay: Replay, requests: Sequence[RequestRecord]) -> CheckResult:
    """Within a partition, the log's hold decisions must follow the queue's enqueue order."""
    check = CheckResult("queue_order", "decisions follow queue order within the partition")
    by_id = {r.request_id: r for r in requests}
    seqs: dict[str, list[int]] = defaultdict(list)
    for _, request_id, _ in replay.hold_decisions:
        record = by_id.get(request_id)
        if record is not None and record.seq:
            seqs[record.partition].append(record.seq)
    compared = 0
    for partition, order in seqs.items():
        compared += len(order)
        inversions = count_inversions(order)
        if inversions:
            check.violate(inversions, [f"partition {partition}: {inversions} pairs of requests "
                                       "decided against their queue order"])
    check.figures = {"decisions_compared": compared}
    check.detail = f"{compared} decisions compared"
    return check


def fifo_share(replay: Replay, places: dict[int, int], has_room: bool,
               minimum: float | None) -> CheckResult:
    check = CheckResult("fifo_share", "admission order vs booking decision order (FIFO share)",
                        status=INFO)
    if not has_room:
        check.detail = "no waiting room for this event"
        return check
    first: dict[int, int] = {}
    for seq, _, buyer in replay.hold_decisions:
        first.setdefault(buyer, seq)
    agreement = fifo_agreement(places, first)
    share = agreement.share
    check.figures = {"fans": agreement.fans, "pairs": agreement.pairs,
                     "discordant_pairs": agreement.discordant_pairs, "share": share,
                     "fans_without_place": len(set(first) - set(places))}
    if share is None:
        check.detail = f"{agreement.fans} fans with a place and a decision: nothing to compare"
        return check
    check.detail = f"{share:.3f} over {agreement.fans} fans"
    if minimum is not None:
        check.status = PASS
        if share < minimum:
            check.violate(1, [f"FIFO share {share:.3f} below the required {minimum:.3f}"])
    return check


def presale_codes(conn: Connection, event_id: int) -> CheckResult:
    """Codes used no more than allowed: a single-use code lets in one account, its owner; a
    code lets into its own presale only; a presale never lets in more accounts than its quota.
    Informational when the event has no presale (nothing to check)."""
    check = CheckResult("presale_codes", "presale codes used no more than allowed")
    presales = _rows(conn, """
        SELECT p.id, p.quota, p.redeemed, count(a.account_id) AS let_in
        FROM presales p LEFT JOIN presale_access a ON a.presale_id = p.id
        WHERE p.event_id = :event_id GROUP BY p.id ORDER BY p.id""", event_id)
    over_quota = [r for r in presales if r.let_in > r.quota]
    check.violate(len(over_quota), [f"presale {r.id}: {r.let_in} accounts let in, quota "
                                    f"{r.quota}" for r in over_quota])
    reused = _rows(conn, """
        SELECT c.code, c.account_id, count(*) AS uses,
               count(*) FILTER (WHERE a.account_id IS DISTINCT FROM c.account_id) AS strangers
        FROM presale_codes c JOIN presales p ON p.id = c.presale_id
        JOIN presale_access a ON a.presale_id = c.presale_id AND a.code = c.code
        WHERE p.event_id = :event_id AND c.kind = 'single_use'
        GROUP BY c.code, c.account_id
        HAVING count(*) > 1 OR count(*) FILTER (
            WHERE a.account_id IS DISTINCT FROM c.account_id) > 0""", event_id)
    check.violate(len(reused), [f"single-use code {r.code[:4]}…: {r.uses} accounts let in, "
                                f"{r.strangers} not its owner" for r in reused])
    foreign = _rows(conn, """
        SELECT a.presale_id, a.account_id, c.presale_id AS code_presale
        FROM presale_access a JOIN presales p ON p.id = a.presale_id
        LEFT JOIN presale_codes c ON c.code = a.code
        WHERE p.event_id = :event_id AND c.presale_id IS DISTINCT FROM a.presale_id""",
                    event_id)
    check.violate(len(foreign), [f"account {r.account_id} let into presale {r.presale_id} by "
                                 f"a code of {r.code_presale or 'no presale'}" for r in foreign])
    codes = _rows(conn, """
        SELECT (SELECT count(*) FROM presale_codes c JOIN presales p ON p.id = c.presale_id
                WHERE p.event_id = :event_id) AS issued,
               (SELECT count(*) FROM presale_codes c JOIN presales p ON p.id = c.presale_id
                WHERE p.event_id = :event_id AND c.kind = 'single_use'
                  AND c.account_id IS NOT NULL) AS bound,
               (SELECT count(DISTINCT a.code) FROM presale_access a
                JOIN presales p ON p.id = a.presale_id WHERE p.event_id = :event_id) AS used
        """, event_id)[0]
    let_in = sum(int(r.let_in) for r in presales)
    check.figures = {"presales": len(presales), "codes_issued": int(codes.issued),
                     "codes_checked": int(codes.used), "single_use_bound": int(codes.bound),
                     "accounts_let_in": let_in,
                     "quota": sum(int(r.quota) for r in presales),
                     "redeemed_counter": sum(int(r.redeemed) for r in presales)}
    if not presales:
        check.status = INFO
        check.detail = "no presale: nothing to check"
        return check
    check.detail = (f"{codes.used} codes checked ({codes.issued} issued), {let_in} accounts "
                    f"let in of a quota of {check.figures['quota']}")
    return check


def waiting_list_offers(conn: Connection, event_id: int, replay: Replay) -> CheckResult:
    """Offers in list order, each to the fan of its entry, and no offer of a seat that was not
    free. List order is seat by seat: no waiting-list offer got a seat of a price category
    that an offer earlier in the list, still standing, could take (its tier's category, or
    any without a tier; not one a presale locks for that fan) unless that fan was at the
    buyer limit. An offer of a seat that was not free also fails `log_replay`.
    Informational when no offer was made (nothing to check)."""
    check = CheckResult("waiting_list_offers", "waiting-list offers in list order, free seats")
    tiers = {str(r.code): str(r.category) for r in _rows(conn, """
        SELECT code, category FROM price_tiers WHERE event_id = :event_id""", event_id)}
    every = set(tiers.values())
    locked_codes = {str(code) for r in _rows(conn, """
        SELECT tier_codes FROM presales WHERE event_id = :event_id""", event_id)
        for code in r.tier_codes}
    # categories every tier of which a presale locks (the engine's rule): code holders only
    locked: dict[str, set[str]] = {}
    for code, category in tiers.items():
        locked.setdefault(category, set()).add(code)
    locked = {category: codes for category, codes in locked.items() if codes <= locked_codes}
    limit = int(conn.execute(text("SELECT buyer_limit FROM events WHERE id = :id"),
                             {"id": event_id}).scalar() or 0)
    seat_ids = sorted({seat for offer in replay.offer_passes for seat in offer.seat_ids})
    category_of = {int(r.id): str(r.category) for r in conn.execute(text(
        "SELECT id, category FROM seats WHERE id = ANY(CAST(:ids AS bigint[]))"),
        {"ids": seat_ids})}
    wrong: list[str] = []
    for offer in replay.offer_passes:
        got = {category_of.get(seat) for seat in offer.seat_ids}
        for passed_id, tier, tickets, unlocked in offer.passed:
            closed = {category for category, codes in locked.items() if codes.isdisjoint(unlocked)}
            could_take = (every if tier is None else {tiers.get(tier)}) - closed
            if tickets <= limit and not got.isdisjoint(could_take):
                wrong.append(f"log #{offer.seq}: offer {offer.offer_id} got seats offer "
                             f"{passed_id}, earlier in the list, could take")
    check.violate(len(wrong), wrong[:10])
    entry_of = {str(r.request_id): (int(r.id), int(r.account_id)) for r in _rows(conn, """
        SELECT id, account_id, request_id FROM waiting_list_entries
        WHERE event_id = :event_id AND request_id IS NOT NULL""", event_id)}
    matched = [(entry_of[request_id], buyer) for _, request_id, buyer in replay.offers
               if request_id in entry_of]
    strangers = [(entry, account, buyer) for (entry, account), buyer in matched
                 if account != buyer]
    check.violate(len(strangers), [f"entry {entry} (account {account}) offered to buyer {buyer}"
                                   for entry, account, buyer in strangers])
    check.violate(len(replay.offer_anomalies), replay.offer_anomalies)
    entries = int(conn.execute(text(
        "SELECT count(*) FROM waiting_list_entries WHERE event_id = :event_id"),
        {"event_id": event_id}).scalar_one())
    check.figures = {"entries": entries, "offers": len(replay.offers),
                     "offers_with_an_entry": len(matched),
                     "served_ahead_of_others": len(replay.offer_passes),
                     "against_list_order": len(wrong),
                     "seats_offered": replay.seats_offered,
                     "seats_offered_while_taken": len(replay.offer_anomalies)}
    if not replay.offers:
        check.status = INFO if check.ok else check.status
        check.detail = f"no offers ({entries} entries): nothing to check"
        return check
    unmatched = len(replay.offers) - len(matched)
    check.detail = (f"{len(replay.offers)} offers ({replay.seats_offered} seats) to "
                    f"{len(matched)} of {entries} entries; {len(replay.offer_passes)} served "
                    f"ahead of an earlier standing offer, {len(wrong)} against the list order"
                    + (f"; {unmatched} offers of no entry's request" if unmatched else ""))
    return check


INTENT_HOLD_ID = re.compile(r"^\d+-t([0-9a-f]{12})q(\d+)_")
"""Hold requests made at admission from a fan's intent (`waitingroom.intents`): the admitting
step's time and the fan's join number are in the id."""
MIN_INTENT_LINE_ORDER_SHARE = 0.99


def intent_holds(replay: Replay, requests: Sequence[RequestRecord], places: dict[int, int],
                 minimum: float = MIN_INTENT_LINE_ORDER_SHARE) -> CheckResult:
    """Holds made from intents follow the line: the share of pairs of such holds decided in
    the order of the fans' places (at least `minimum`), and the time from admission (the
    admitting step, named in the request id) to the held decision."""
    check = CheckResult("intent_holds", "holds from intents in line order")
    decided_at = {r.request_id: r.decided_at for r in requests}
    order: list[int] = []
    waits: list[float] = []
    for _, request_id, buyer in replay.hold_decisions:
        match = INTENT_HOLD_ID.match(request_id)
        if match is None:
            continue
        order.append(places.get(buyer, int(match.group(2))))
        decided = decided_at.get(request_id)
        if decided is not None:
            waits.append(max(0.0, decided - int(match.group(1), 16) / 1000))
    pairs = len(order) * (len(order) - 1) // 2
    discordant = count_inversions(order)
    share = None if pairs == 0 else 1 - discordant / pairs
    waits.sort()
    check.figures = {
        "holds": len(order), "pairs": pairs, "discordant_pairs": discordant, "share": share,
        "admission_to_held_p50_seconds": _quantile(waits, 0.5),
        "admission_to_held_p95_seconds": _quantile(waits, 0.95),
    }
    if share is None:
        check.status = INFO
        check.detail = f"{len(order)} holds from intents: nothing to compare"
        return check
    check.detail = (f"{share:.3f} of {pairs} pairs in line order over {len(order)} holds; "
                    f"admission to held p50 {check.figures['admission_to_held_p50_seconds']:.3f} s")
    if share < minimum:
        check.violate(1, [f"line-order share {share:.3f} below {minimum:.2f}"])
    return check


def _quantile(sorted_values: Sequence[float], q: float) -> float | None:
    if not sorted_values:
        return None
    return sorted_values[min(len(sorted_values) - 1, int(q * len(sorted_values)))]
