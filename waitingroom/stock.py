"""What the line knows about the stock: tickets left, what each admitted fan takes, the outlook.

The partition that owns an event writes its figures into the room's state hash with
every published batch (`workers.stock_figures`): tickets left (free seats and
general-admission places; held ones are not counted) and, per event, how many
holds fans made and how many tickets those holds took. The room already counts
admitted fans. From those, this module answers, without I/O:

- what one admitted fan is expected to take (`tickets_per_admitted_fan`): the share of
  admitted fans who took seats times the tickets they took, blended with a prior
  until enough fans were admitted to measure it;
- whether a fan with `people_ahead` is likely to find the event sold out at their turn
  (`forecast`);
- how many more fans the controller may admit without running far past the stock
  (`admission_cap`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import Enum

PRIOR_SHARE_TAKING = 1.0
"""Before measuring, assume every admitted fan takes seats (errs towards warning early)."""
PRIOR_TICKETS_PER_TAKER = 2.0
PRIOR_WEIGHT_FANS = 20.0
"""The prior counts as this many admitted fans: measured figures take over after a few dozen."""
ADMISSION_MARGIN_SHARE = 0.1
"""Admit this share more fans than the stock is expected to serve (some walk away)..."""
ADMISSION_MARGIN_FANS = 5
"""...and at least this many more, so a small remainder still reaches the front."""


class StockOutlook(str, Enum):
    UNKNOWN = "unknown"
    """The event's partition has not published a figure yet."""
    AVAILABLE = "available"
    LIKELY_SOLD_OUT = "likely_sold_out"
    """The fans ahead are expected to take every ticket left before this fan's turn."""
    SOLD_OUT = "sold_out"
    """No ticket is free now (held ones may still come back)."""


@dataclass(frozen=True, slots=True)
class StockFigures:
    """An event's measured stock, as the room's state hash holds it."""

    tickets_left: int
    admitted_fans: int
    """Fans admitted so far (the room's `admitted_total`)."""
    holds: int
    """Holds fans made (each one fan taking seats)."""
    held_tickets: int
    """Tickets those holds took."""

    STATE_FIELDS = ("tickets_left", "admitted_total", "stock_holds", "stock_held_tickets")
    """The state hash fields, in the order `from_state_fields` takes them."""

    @classmethod
    def from_state_fields(cls, values: tuple[str | None, ...]) -> StockFigures | None:
        """None while the partition has not published a tickets-left figure."""
        tickets_left, admitted, holds, held_tickets = values
        if tickets_left is None:
            return None
        return cls(
            max(0, int(tickets_left)),
            int(admitted or "0"),
            int(holds or "0"),
            int(held_tickets or "0"),
        )

    @property
    def sold_out(self) -> bool:
        return self.tickets_left <= 0


@dataclass(frozen=True, slots=True)
class StockForecast:
    outlook: StockOutlook
    tickets_left: int | None
    tickets_per_fan: float | None
    """Tickets one admitted fan is expected to take (measured share x quantity)."""
    tickets_wanted_ahead: float | None
    """What the fans ahead are expected to take before this fan's turn."""


def tickets_per_admitted_fan(figures: StockFigures) -> float:
    """Expected tickets per admitted fan: (share who take seats) x (tickets per taker).

    Each factor is a weighted blend of its prior and the measured value, so it moves from
    the prior to the measurement as admissions grow, and stays within [0, max(prior, measured)].
    """
    admitted = max(figures.admitted_fans, 0)
    holds = max(figures.holds, 0)
    share = (holds + PRIOR_WEIGHT_FANS * PRIOR_SHARE_TAKING) / (admitted + PRIOR_WEIGHT_FANS)
    share = min(share, 1.0)  # a fan may hold twice (released, held again): never above one
    tickets = max(figures.held_tickets, 0)
    per_taker = (tickets + PRIOR_WEIGHT_FANS * PRIOR_TICKETS_PER_TAKER) / (
        holds + PRIOR_WEIGHT_FANS
    )
    return share * per_taker


def forecast(figures: StockFigures | None, people_ahead: int | None) -> StockForecast:
    """The outlook of a fan with `people_ahead` in front (None: place not drawn yet)."""
    if figures is None:
        return StockForecast(StockOutlook.UNKNOWN, None, None, None)
    per_fan = tickets_per_admitted_fan(figures)
    if figures.sold_out:
        return StockForecast(StockOutlook.SOLD_OUT, 0, per_fan, None)
    if people_ahead is None:
        return StockForecast(StockOutlook.AVAILABLE, figures.tickets_left, per_fan, None)
    wanted = max(people_ahead, 0) * per_fan
    # The fan's own turn needs at least one ticket left after those ahead took theirs.
    outlook = (
        StockOutlook.LIKELY_SOLD_OUT
        if figures.tickets_left - wanted < 1
        else StockOutlook.AVAILABLE
    )
    return StockForecast(outlook, figures.tickets_left, per_fan, round(wanted, 1))


def admission_cap(figures: StockFigures | None, active_sessions: int) -> int | None:
    """How many more fans may be admitted now; None when the stock is not known.

    Fans already admitted (`active_sessions`) are counted against the stock as if none
    of them had taken seats yet, which errs on the side of admitting fewer: admission
    never runs far past what the tickets left can serve.
    """
    if figures is None:
        return None
    if figures.sold_out:
        return 0
    servable = figures.tickets_left / tickets_per_admitted_fan(figures)  # the prior keeps it > 0
    allowed = math.ceil(servable * (1 + ADMISSION_MARGIN_SHARE)) + ADMISSION_MARGIN_FANS
    return max(0, allowed - max(active_sessions, 0))
