"""The decider after an event's sale ended: its holds released first, then refusals without
reloading, seat labels kept."""

from __future__ import annotations

from engine.commands import SellHold
from engine.events import HoldReleased, OrderRefunded
from engine.inventory import EventInventory
from tests.support.venues import grid_venue, setup_for
from workers.booking_requests import BookingRequest
from workers.decider import BatchDecider


class CountingLoader:
    """A fake of the consumer's inventory loader that counts its loads."""

    def __init__(self, inventory: EventInventory) -> None:
        self.inventory = inventory
        self.loads = 0

    def __call__(self, event_id: int) -> EventInventory | None:
        self.loads += 1
        return self.inventory if event_id == self.inventory.setup.event_id else None


def hold(request_id: str, event_id: int, quantity: int = 2) -> BookingRequest:
    return BookingRequest(request_id, event_id, buyer_id=1, kind="hold",
                          params={"quantity": quantity}, enqueued_at=0.0)


def test_a_closed_event_refuses_its_requests_without_loading_it_again() -> None:
    inventory = EventInventory(setup_for(grid_venue()))
    event_id = inventory.setup.event_id
    loader = CountingLoader(inventory)
    decider = BatchDecider(loader)
    assert [o.status for o in decider.decide([hold("a", event_id)], now=1.0).outcomes] == ["held"]

    decider.close(event_id)
    later = decider.decide([hold("b", event_id), hold("c", event_id)], now=2.0)

    assert [o.status for o in later.outcomes] == ["rejected", "rejected"]
    assert {o.result["error"]["code"] for o in later.outcomes} == {"invalid_request"}
    released = later.events_by_event[event_id]
    assert [(type(e), e.hold_id) for e in released] == [(HoldReleased, "a")], \
        "the live hold is released, before the requests, and nothing else is written"
    assert decider.decide([hold("d", event_id)], now=3.0).events_by_event == {}, "once"
    assert loader.loads == 1
    assert decider.venue(event_id) is inventory.setup.venue, \
        "a hold decided just before still gets its seat labels"


def test_forgetting_memory_forgets_closed_events_too() -> None:
    inventory = EventInventory(setup_for(grid_venue()))
    decider = BatchDecider(CountingLoader(inventory))
    decider.close(inventory.setup.event_id)
    decider.forget()
    assert decider.closed == {} and decider.inventory(inventory.setup.event_id) is inventory


def test_an_ended_event_loaded_for_closing_releases_its_holds() -> None:
    """After a restart the event is not in memory: the consumer loads it whatever its status
    and hands it over to be closed."""
    inventory = EventInventory(setup_for(grid_venue()))
    event_id = inventory.setup.event_id
    BatchDecider(CountingLoader(inventory)).decide([hold("a", event_id)], now=1.0)
    decider = BatchDecider(CountingLoader(inventory))
    decider.close(event_id, inventory)
    decision = decider.decide([], now=2.0)
    assert [type(e) for e in decision.events_by_event[event_id]] == [HoldReleased]
    assert decider.inventory(event_id) is None


def sold_and_held(event_id: int) -> tuple[EventInventory, BatchDecider]:
    """Buyer 1's hold `a` sold as order `a-o`, buyer 1's hold `b` still live."""
    inventory = EventInventory(setup_for(grid_venue()))
    decider = BatchDecider(CountingLoader(inventory))
    decider.decide([hold("a", event_id), hold("b", event_id, quantity=1)], now=1.0)
    inventory.decide(SellHold("a", "a-o", buyer_id=1), now=1.5)
    return inventory, decider


def test_closing_a_cancelled_event_refunds_its_sales_after_releasing_its_holds() -> None:
    event_id = EventInventory(setup_for(grid_venue())).setup.event_id
    inventory, decider = sold_and_held(event_id)
    decider.close(event_id, refund=True)
    decision = decider.decide([], now=2.0)
    assert [type(e) for e in decision.events_by_event[event_id]] == [HoldReleased, OrderRefunded]
    assert decision.refunded_orders == ["a-o"]
    assert decision.hold_endings == {"b": "cancelled", "a": "refunded"}, \
        "the sold hold's request says its order was refunded"
    assert inventory.state().sales == () and inventory.state().holds == ()
    assert decider.decide([], now=3.0).refunded_orders == [], "once"


def test_closing_without_a_cancellation_keeps_the_sales() -> None:
    event_id = EventInventory(setup_for(grid_venue())).setup.event_id
    inventory, decider = sold_and_held(event_id)
    decider.close(event_id)
    decision = decider.decide([], now=2.0)
    assert [type(e) for e in decision.events_by_event[event_id]] == [HoldReleased]
    assert decision.refunded_orders == []
    assert [sale.order_id for sale in inventory.state().sales] == ["a-o"]
