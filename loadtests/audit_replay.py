"""The audit's pure parts: replaying the inventory log seat by seat, and order statistics.

No I/O: the audit reads rows and hands them here, so these rules are tested
without Postgres. A replay does not trust the engine: it re-derives every
seat's state from the log alone and names each step that was impossible
(a seat held while held or sold, sold by a hold that did not have it, ...).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, assert_never

from engine.events import EventType

AVAILABLE = ("available", None)


@dataclass(frozen=True, slots=True)
class OfferPass:
    """A waiting-list offer served while offers earlier in the list still stood: allowed only
    if none of them could take a seat it got (the inventory's rule, seat by seat)."""

    seq: int
    offer_id: str
    seat_ids: tuple[int, ...]
    passed: tuple[tuple[str, str | None, int, frozenset[str]], ...]
    """(offer id, tier, its fan's tickets if it were served, the presale tiers its fan was
    let into) of each earlier standing offer: one whose fan would be over the buyer limit
    could take nothing, nor seats of a category a presale locks for that fan."""


@dataclass(frozen=True, slots=True)
class _Standing:
    list_order: int
    tier: str | None
    buyer_id: int
    quantity: int
    unlocked_tiers: frozenset[str]


@dataclass
class Replay:
    """What the log says each seat ended as, and every impossible step on the way."""

    seat_state: dict[int, tuple[str, str | None]] = field(default_factory=dict)
    """seat id -> ("held", hold id) | ("sold", order id) | ("blocked", None); absent = available."""
    anomalies: list[str] = field(default_factory=list)
    hold_decisions: list[tuple[int, str, int]] = field(default_factory=list)
    """(log seq, request id, buyer id) of every SeatsHeld / HoldRejected, in log order."""
    offers: list[tuple[int, str, int]] = field(default_factory=list)
    """(log seq, offer id, buyer id) of every SeatsOffered (waiting-list offers), in log order."""
    offer_passes: list[OfferPass] = field(default_factory=list)
    """Offers served ahead of earlier standing ones, for the audit's list-order rule."""
    standing: dict[str, _Standing] = field(default_factory=dict)
    """Standing offers not yet served or withdrawn, by offer id."""
    tickets: dict[int, int] = field(default_factory=dict)
    """Tickets held or bought per buyer, as the log says so far."""
    seats_offered: int = 0
    offer_anomalies: list[str] = field(default_factory=list)
    """The offers that named a seat that was not free (also in `anomalies`)."""

    def note_hold_decision(self, seq: int, payload: Mapping[str, Any]) -> None:
        self.hold_decisions.append(
            (seq, str(payload.get("request_id")), int(payload.get("buyer_id") or 0)))

    def note_offer(self, seq: int, payload: Mapping[str, Any]) -> None:
        offer_id = str(payload.get("request_id"))
        self.offers.append((seq, offer_id, int(payload.get("buyer_id") or 0)))
        mine = self.standing.pop(offer_id, None)
        if mine is None:
            return
        passed = tuple(
            (other_id, other.tier, self.tickets.get(other.buyer_id, 0) + other.quantity,
             other.unlocked_tiers)
            for other_id, other in self.standing.items() if other.list_order < mine.list_order)
        if passed:
            self.offer_passes.append(OfferPass(
                seq, offer_id, tuple(int(s) for s in payload.get("seat_ids") or ()), passed))

    def note_tickets(self, payload: Mapping[str, Any], sign: int) -> None:
        buyer = int(payload.get("buyer_id") or 0)
        count = int(payload.get("quantity") or len(payload.get("seat_ids") or ()))
        self.tickets[buyer] = self.tickets.get(buyer, 0) + sign * count

    def give_back(self, seq: int, seats: list[int], owner: tuple[str, str | None],
                  step: str) -> None:
        """Seats become available again; each must have been in `owner`'s hands."""
        for seat in seats:
            if self._state(seat) != owner:
                self.anomalies.append(f"log #{seq}: {step} returned seat {seat}, which was "
                                      f"{_describe(self._state(seat))}")
                continue
            self._set(seat, AVAILABLE)

    def _state(self, seat_id: int) -> tuple[str, str | None]:
        return self.seat_state.get(seat_id, AVAILABLE)

    def _set(self, seat_id: int, state: tuple[str, str | None]) -> None:
        if state == AVAILABLE:
            self.seat_state.pop(seat_id, None)
        else:
            self.seat_state[seat_id] = state


def replay_log(rows: Iterable[tuple[int, str, Mapping[str, Any]]]) -> Replay:
    """Apply (seq, type, payload) rows in seq order; see `Replay`."""
    replay = Replay()
    sold_by_hold: dict[str, str] = {}
    withdrawn: set[str] = set()
    for seq, kind, payload in rows:
        try:
            event_type = EventType(kind)
        except ValueError:
            replay.anomalies.append(f"log #{seq}: unknown event type {kind!r}")
            continue
        seats = [int(s) for s in payload.get("seat_ids") or ()]
        match event_type:
            case EventType.SEATS_HELD:
                replay.note_hold_decision(seq, payload)
                replay.note_tickets(payload, +1)
                hold_id = str(payload["hold_id"])
                for seat in seats:
                    if replay._state(seat) != AVAILABLE:
                        replay.anomalies.append(
                            f"log #{seq}: seat {seat} held by {hold_id} while "
                            f"{_describe(replay._state(seat))}")
                    replay._set(seat, ("held", hold_id))
            case EventType.SEATS_OFFERED:  # a waiting-list offer: only free seats
                replay.note_offer(seq, payload)
                replay.seats_offered += len(seats)
                hold_id = str(payload["hold_id"])
                if str(payload.get("request_id")) in withdrawn:
                    replay.anomalies.append(f"log #{seq}: offer {payload.get('request_id')} "
                                            "served after it was withdrawn")
                replay.note_tickets(payload, +1)
                for seat in seats:
                    if replay._state(seat) != AVAILABLE:
                        anomaly = (f"log #{seq}: seat {seat} offered by {hold_id} while "
                                   f"{_describe(replay._state(seat))}")
                        replay.anomalies.append(anomaly)
                        replay.offer_anomalies.append(anomaly)
                    replay._set(seat, ("held", hold_id))
            case EventType.HOLD_REJECTED:
                replay.note_hold_decision(seq, payload)
            case EventType.HOLD_RELEASED | EventType.HOLD_EXPIRED:
                replay.note_tickets(payload, -1)
                hold_id = str(payload["hold_id"])
                replay.give_back(seq, seats, ("held", hold_id), f"{kind} of {hold_id}")
            case EventType.SEATS_SOLD:
                hold_id, order_id = str(payload["hold_id"]), str(payload["order_id"])
                if hold_id in sold_by_hold:
                    replay.anomalies.append(f"log #{seq}: hold {hold_id} sold twice "
                                            f"({sold_by_hold[hold_id]}, {order_id})")
                sold_by_hold[hold_id] = order_id
                for seat in seats:
                    if replay._state(seat) != ("held", hold_id):
                        replay.anomalies.append(
                            f"log #{seq}: seat {seat} sold by {hold_id} while "
                            f"{_describe(replay._state(seat))}")
                    replay._set(seat, ("sold", order_id))
            case EventType.ORDER_REFUNDED:
                replay.note_tickets(payload, -1)
                order_id = str(payload["order_id"])
                replay.give_back(seq, seats, ("sold", order_id), f"refund of {order_id}")
            case EventType.SEATS_BLOCKED:
                for seat in seats:
                    if replay._state(seat) != AVAILABLE:
                        replay.anomalies.append(f"log #{seq}: seat {seat} blocked while "
                                                f"{_describe(replay._state(seat))}")
                    replay._set(seat, ("blocked", None))
            case EventType.SEATS_UNBLOCKED:
                for seat in seats:
                    if replay._state(seat) != ("blocked", None):
                        replay.anomalies.append(
                            f"log #{seq}: seat {seat} unblocked while "
                            f"{_describe(replay._state(seat))}")
                    replay._set(seat, AVAILABLE)
            case EventType.TIERS_LOCKED:
                pass  # no seat changes state (the seats refused because of it are not logged)
            case EventType.STANDING_OFFER_PLACED:
                offer_id = str(payload.get("request_id"))
                withdrawn.discard(offer_id)
                replay.standing[offer_id] = _Standing(
                    int(payload.get("list_order") or 0), payload.get("tier"),
                    int(payload.get("buyer_id") or 0), int(payload.get("quantity") or 0),
                    frozenset(str(code) for code in payload.get("unlocked_tiers") or ()))
            case EventType.STANDING_OFFER_WITHDRAWN:
                withdrawn.add(str(payload.get("request_id")))
                replay.standing.pop(str(payload.get("request_id")), None)
            case _:
                assert_never(event_type)
    return replay


def _describe(state: tuple[str, str | None]) -> str:
    kind, owner = state
    return kind if owner is None else f"{kind} ({owner})"


def count_inversions(values: Sequence[int]) -> int:
    """Pairs i < j with values[i] > values[j], in O(n log n) (merge sort)."""
    items = list(values)
    buffer = [0] * len(items)
    inversions = 0
    width = 1
    while width < len(items):
        for start in range(0, len(items), 2 * width):
            middle = min(start + width, len(items))
            end = min(start + 2 * width, len(items))
            left, right, out = start, middle, start
            while left < middle and right < end:
                if items[left] <= items[right]:
                    buffer[out] = items[left]
                    left += 1
                else:
                    buffer[out] = items[right]
                    inversions += middle - left
                    right += 1
                out += 1
            buffer[out:out + middle - left] = items[left:middle]
            out += middle - left
            buffer[out:out + end - right] = items[right:end]
        items, buffer = buffer, items
        width *= 2
    return inversions


@dataclass(frozen=True, slots=True)
class OrderAgreement:
    """How far one order (decisions) agrees with another (places in line)."""

    fans: int
    pairs: int
    discordant_pairs: int

    @property
    def share(self) -> float | None:
        """Concordant pairs / all pairs: 1.0 is strict FIFO, about 0.5 is a random order."""
        if self.pairs == 0:
            return None
        return 1.0 - self.discordant_pairs / self.pairs


def fifo_agreement(place_by_buyer: Mapping[int, int],
                   first_decision_by_buyer: Mapping[int, int]) -> OrderAgreement:
    """Compare the waiting-room order with the order of each fan's first booking decision.

    Only fans with both a known place and a decision count. Fans are sorted by
    decision; every pair whose places are the other way round is discordant.
    """
    both = [(decision, place_by_buyer[buyer])
            for buyer, decision in first_decision_by_buyer.items() if buyer in place_by_buyer]
    both.sort()
    places = [place for _, place in both]
    fans = len(places)
    return OrderAgreement(fans, fans * (fans - 1) // 2, count_inversions(places))
