"""What fans and ops see, assembled from one Redis read without further I/O.

`LineSnapshot` is the event-wide part (config + the state hash) that every
join and controller step reads in the same round trip. `LineProgress` is the
part of it a status poll needs (serving position, order of places, measured
rate): the status script reads only those fields of the state hash
(`LineProgress.STATE_FIELDS`). `build_status` turns the room's config, the
line's progress and one fan's state into the answer to a poll.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any

from waitingroom.config import QueueMode, RoomConfig
from waitingroom.eta import estimated_wait_seconds, people_ahead, poll_interval_seconds
from waitingroom.permutation import LineOrder
from waitingroom.rate import RateMeter
from waitingroom.stock import (
    StockFigures,
    StockForecast,
    StockOutlook,
    forecast,
    tickets_per_admitted_fan,
)


class FanState(str, Enum):
    WAITING = "waiting"
    ADMITTED = "admitted"
    EXPIRED = "expired"
    """Lost the place: stopped polling, left, session over (purchase, token expiry), or skipped."""
    SOLD_OUT = "sold_out"
    """Still holding a place, but no ticket is free: nobody is admitted until seats come back
    (expired or released holds); the waiting list is offered."""


WAITING_LIST_AVAILABLE = "waiting_list_available"
"""What a sold-out answer offers until the waiting list is built: a placeholder state."""


@dataclass(frozen=True, slots=True)
class LineProgress:
    """How far the line has moved: what a fan's status needs of the event-wide state."""

    serving_position: int
    """Every place up to here has been admitted or skipped."""
    order: LineOrder | None
    """None until the sale starts."""
    measured_per_second: float | None
    """The measured serving rate (places per second); None until measured."""
    stock: StockFigures | None = None
    """None until the event's partition publishes its tickets left."""

    STATE_FIELDS = ("serving", "started_at", "prequeue_size", "seed", "rate",
                    *StockFigures.STATE_FIELDS)
    """The state hash fields it is read from, in the order `from_state_fields` takes them."""

    @classmethod
    def from_state_fields(cls, values: Sequence[str | None]) -> LineProgress:
        """Parse the `STATE_FIELDS` values (None where the hash has no such field)."""
        serving, started_at, prequeue_size, seed, rate = values[:5]
        order = None
        if started_at is not None:
            order = LineOrder(int(prequeue_size or "0"), int(seed) if seed else None)
        stock = StockFigures.from_state_fields(tuple(values[5:]))
        return cls(int(serving or "0"), order, float(rate) if rate else None, stock)

    @property
    def started(self) -> bool:
        return self.order is not None

    def place_of(self, seq: int, mode: QueueMode) -> int | None:
        """The fan's place, or None while a shuffled pre-queue has no order yet."""
        if self.order is not None:
            return self.order.place_of(seq)
        return seq if mode is QueueMode.FIFO else None


@dataclass(frozen=True, slots=True)
class LineSnapshot:
    config: RoomConfig
    joined: int
    """Join sequence numbers handed out so far (also the last place taken)."""
    serving_position: int
    """Every place up to here has been admitted or skipped."""
    order: LineOrder | None
    """None until the sale starts."""
    rate: RateMeter
    credit: float
    credit_at: float | None
    admitted_total: int
    skipped_total: int
    stock: StockFigures | None = None

    @classmethod
    def parse(cls, config: RoomConfig, state: Mapping[str, str]) -> LineSnapshot:
        order = None
        if "started_at" in state:
            seed = state.get("seed")
            order = LineOrder(int(state.get("prequeue_size", "0")), int(seed) if seed else None)
        rate = state.get("rate")
        mark_at = state.get("rate_mark_at")
        return cls(
            config=config,
            joined=int(state.get("joined", "0")),
            serving_position=int(state.get("serving", "0")),
            order=order,
            rate=RateMeter(
                float(rate) if rate else None,
                float(mark_at) if mark_at else None,
                int(state.get("rate_mark_serving", "0")),
            ),
            credit=float(state.get("credit", "0")),
            credit_at=float(state["credit_at"]) if "credit_at" in state else None,
            admitted_total=int(state.get("admitted_total", "0")),
            skipped_total=int(state.get("skipped_total", "0")),
            stock=StockFigures.from_state_fields(
                tuple(state.get(name) for name in StockFigures.STATE_FIELDS)
            ),
        )

    @property
    def started(self) -> bool:
        return self.order is not None

    @property
    def progress(self) -> LineProgress:
        return LineProgress(self.serving_position, self.order, self.rate.per_second, self.stock)

    def place_of(self, seq: int) -> int | None:
        """The fan's place, or None while a shuffled pre-queue has no order yet."""
        return self.progress.place_of(seq, self.config.mode)


@dataclass(frozen=True, slots=True)
class QueueStatus:
    event_id: int
    state: FanState
    position: int | None
    """Place in line (1-based); None in a shuffled pre-queue before the start."""
    people_ahead: int | None
    serving_position: int
    estimated_wait_seconds: float | None
    poll_after_seconds: float | None
    """None once polling is pointless (admitted or expired)."""
    in_prequeue: bool
    paused: bool
    sale_starts_at: float
    position_expiry_seconds: float
    """A fan who does not poll for this long loses the place (clients of hidden tabs need it)."""
    admission_token: str | None = None
    admission_expires_at: float | None = None
    stock: StockForecast = StockForecast(StockOutlook.UNKNOWN, None, None, None)
    waiting_list: str | None = None
    """`waiting_list_available` when sold out."""
    hold_request_id: str | None = None
    """Admitted with an intent: the hold request made for the fan at admission."""

    def to_json(self) -> dict[str, Any]:
        return {
            "event_id": self.event_id,
            "state": self.state.value,
            "position": self.position,
            "people_ahead": self.people_ahead,
            "serving_position": self.serving_position,
            "estimated_wait_seconds": self.estimated_wait_seconds,
            "poll_after_seconds": self.poll_after_seconds,
            "in_prequeue": self.in_prequeue,
            "paused": self.paused,
            "sale_starts_at": self.sale_starts_at,
            "admission_token": self.admission_token,
            "admission_expires_at": self.admission_expires_at,
            "position_expiry_seconds": self.position_expiry_seconds,
            "stock": self.stock.outlook.value,
            "tickets_left": self.stock.tickets_left,
            "tickets_wanted_ahead": self.stock.tickets_wanted_ahead,
            "waiting_list": self.waiting_list,
            "hold_request_id": self.hold_request_id,
        }


@dataclass(frozen=True, slots=True)
class JoinResult:
    ticket: str
    created: bool
    """False when the account already held a live place and got it back."""
    status: QueueStatus

    def to_json(self) -> dict[str, Any]:
        return {"ticket": self.ticket, "created": self.created, **self.status.to_json()}


@dataclass(frozen=True, slots=True)
class QueueSummary:
    """The same for every fan of the event: cacheable for a second."""

    event_id: int
    serving_position: int
    joined: int
    waiting: int
    """Fans holding a place not yet served (some may have walked away and not been skipped yet)."""
    active_sessions: int
    measured_per_second: float | None
    new_users_per_minute: float
    max_active_users: int
    paused: bool
    started: bool
    opens_at: float
    sale_starts_at: float
    admitted_total: int
    skipped_total: int
    stock: StockFigures | None = None

    def to_json(self) -> dict[str, Any]:
        sold_out = self.stock is not None and self.stock.sold_out
        return {
            "event_id": self.event_id,
            "state": StockOutlook.SOLD_OUT.value if sold_out else "open",
            "tickets_left": None if self.stock is None else self.stock.tickets_left,
            "tickets_per_admitted_fan": None if self.stock is None else round(
                tickets_per_admitted_fan(self.stock), 3),
            "waiting_list": WAITING_LIST_AVAILABLE if sold_out else None,
            "serving_position": self.serving_position,
            "queue_length": self.waiting,
            "joined": self.joined,
            "active_sessions": self.active_sessions,
            "admission_rate_per_second": self.measured_per_second,
            "new_users_per_minute": self.new_users_per_minute,
            "max_active_users": self.max_active_users,
            "paused": self.paused,
            "started": self.started,
            "opens_at": self.opens_at,
            "sale_starts_at": self.sale_starts_at,
            "admitted_total": self.admitted_total,
            "skipped_total": self.skipped_total,
        }


def build_status(
    event_id: int,
    config: RoomConfig,
    line: LineProgress,
    *,
    seq: int,
    state: FanState,
    now: float,
    admission_token: str | None = None,
    admission_expires_at: float | None = None,
    hold_request_id: str | None = None,
) -> QueueStatus:
    place = line.place_of(seq, config.mode)
    ahead: int | None = None
    wait: float | None = None
    poll: float | None = None
    if state is FanState.WAITING and line.stock is not None and line.stock.sold_out:
        state = FanState.SOLD_OUT
    if state is FanState.WAITING or state is FanState.SOLD_OUT:
        ahead = None if place is None else people_ahead(place, line.serving_position)
        wait = estimated_wait_seconds(
            ahead if ahead is not None else 0,
            measured_per_second=line.measured_per_second,
            configured_per_second=config.admissions_per_second,
            paused=config.paused,
            seconds_to_start=config.sale_starts_at - now,
        )
        poll = poll_interval_seconds(
            wait,
            position_expiry_seconds=config.position_expiry_seconds,
            jitter_seed=seq * 1_000_003 + int(now),
        )
        if place is None or state is FanState.SOLD_OUT:
            wait = None  # nobody is admitted while nothing is free
    elif state is FanState.ADMITTED:
        ahead, wait = 0, 0.0
    outlook = forecast(line.stock, ahead if state is not FanState.ADMITTED else 0)
    return QueueStatus(
        event_id=event_id,
        state=state,
        position=place,
        people_ahead=ahead,
        serving_position=line.serving_position,
        estimated_wait_seconds=None if wait is None else round(wait, 1),
        poll_after_seconds=poll,
        in_prequeue=not line.started,
        paused=config.paused,
        sale_starts_at=config.sale_starts_at,
        position_expiry_seconds=config.position_expiry_seconds,
        admission_token=admission_token,
        admission_expires_at=admission_expires_at,
        stock=outlook,
        waiting_list=WAITING_LIST_AVAILABLE if state is FanState.SOLD_OUT else None,
        hold_request_id=hold_request_id if state is FanState.ADMITTED else None,
    )
