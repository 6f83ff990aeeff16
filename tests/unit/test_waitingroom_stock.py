"""The line's stock forecast and admission cap (pure): warnings are honest, admission stays near
the stock."""

from __future__ import annotations

import math

from hypothesis import given
from hypothesis import strategies as st

from waitingroom.config import RoomConfig
from waitingroom.rate import AdmissionPlan, Limit, cap_by_stock
from waitingroom.status import FanState, LineProgress, build_status
from waitingroom.stock import (
    ADMISSION_MARGIN_FANS,
    ADMISSION_MARGIN_SHARE,
    PRIOR_TICKETS_PER_TAKER,
    StockFigures,
    StockOutlook,
    admission_cap,
    forecast,
    tickets_per_admitted_fan,
)

counts = st.integers(min_value=0, max_value=10**7)


@st.composite
def figures(draw: st.DrawFn) -> StockFigures:
    holds = draw(counts)
    return StockFigures(
        tickets_left=draw(counts),
        admitted_fans=draw(counts),
        holds=holds,
        held_tickets=draw(st.integers(min_value=holds, max_value=holds * 8 + 1)),
    )


@given(figures())
def test_tickets_per_fan_is_positive_and_bounded_by_what_takers_take(stock: StockFigures) -> None:
    per_fan = tickets_per_admitted_fan(stock)
    per_taker_measured = stock.held_tickets / stock.holds if stock.holds else 0.0
    assert 0 < per_fan <= max(PRIOR_TICKETS_PER_TAKER, per_taker_measured) + 1e-9


@given(figures(), counts, counts)
def test_more_people_ahead_never_improves_the_outlook(
    stock: StockFigures, ahead: int, more: int
) -> None:
    near, far = forecast(stock, ahead), forecast(stock, ahead + more)
    if near.outlook is StockOutlook.LIKELY_SOLD_OUT:
        assert far.outlook is StockOutlook.LIKELY_SOLD_OUT


@given(figures(), counts)
def test_sold_out_when_and_only_when_no_ticket_is_left(stock: StockFigures, ahead: int) -> None:
    outlook = forecast(stock, ahead).outlook
    assert (outlook is StockOutlook.SOLD_OUT) == (stock.tickets_left == 0)


@given(figures(), counts)
def test_warning_means_those_ahead_are_expected_to_take_what_is_left(
    stock: StockFigures, ahead: int
) -> None:
    result = forecast(stock, ahead)
    expected = ahead * tickets_per_admitted_fan(stock)
    if result.outlook is StockOutlook.LIKELY_SOLD_OUT:
        assert stock.tickets_left - expected < 1
    if result.outlook is StockOutlook.AVAILABLE:
        assert stock.tickets_left - expected >= 1


def test_unknown_stock_forecasts_nothing_and_caps_nothing() -> None:
    assert forecast(None, 10).outlook is StockOutlook.UNKNOWN
    assert admission_cap(None, 5) is None


@given(figures(), counts, counts)
def test_admission_cap_never_runs_far_past_the_stock(
    stock: StockFigures, active: int, extra: int
) -> None:
    cap = admission_cap(stock, active)
    assert cap is not None and cap >= 0
    if stock.tickets_left == 0:
        assert cap == 0
    servable = stock.tickets_left / tickets_per_admitted_fan(stock)
    limit = math.ceil(servable * (1 + ADMISSION_MARGIN_SHARE)) + ADMISSION_MARGIN_FANS
    assert active + cap <= max(limit, active)
    # more fans already admitted never allows more admissions
    assert admission_cap(stock, active + extra) <= cap  # type: ignore[operator]


@given(st.integers(0, 10**4), st.none() | st.integers(0, 10**4))
def test_cap_by_stock_only_lowers_the_budget(budget: int, cap: int | None) -> None:
    plan = cap_by_stock(AdmissionPlan(budget, float(budget), Limit.RATE), cap)
    assert plan.budget <= budget
    if cap is not None:
        assert plan.budget <= cap
        if cap == 0 and budget > 0:
            assert plan.limited_by is Limit.SOLD_OUT


@given(figures(), st.integers(1, 10**6), st.integers(0, 10**6), st.floats(0, 2e9))
def test_a_waiting_fan_sees_sold_out_and_the_waiting_list_exactly_when_nothing_is_free(
    stock: StockFigures, seq: int, serving: int, now: float
) -> None:
    config = RoomConfig(sale_starts_at=0.0, opens_at=0.0)
    line = LineProgress(serving, None, None, stock)
    status = build_status(1, config, line, seq=seq, state=FanState.WAITING, now=now)
    sold_out = stock.tickets_left == 0
    assert (status.state is FanState.SOLD_OUT) == sold_out
    assert (status.waiting_list == "waiting_list_available") == sold_out
    assert status.stock.tickets_left == stock.tickets_left
