"""The compose cluster run's verdict: lost and double sales from an audit and the fans'
own counts, and which Redis node owns a slot after a failover."""

from __future__ import annotations

from typing import Any

from loadtests.cluster_faults import parse_cluster_nodes, slot_master
from loadtests.cluster_run import sale_figures


def audit(**violations: int) -> dict[str, Any]:
    names = ("seats_once", "capacity", "orders_tickets", "requests_final")
    return {"ok": not any(violations.values()), "checks": [
        {"name": name, "ok": not violations.get(name), "violations": violations.get(name, 0),
         "figures": {"paid_orders": 10} if name == "orders_tickets" else {}}
        for name in names]}


def summary(paid_seen: int) -> dict[str, Any]:
    return {"locust": {"requests": 900, "failures": 0},
            "journeys": {"counts": {"purchase.paid.good_card": paid_seen - 1,
                                    "purchase.paid.after_decline": 1,
                                    "purchase.declined.test_decline": 3}}}


def test_a_clean_surge_lost_nothing_and_sold_nothing_twice() -> None:
    figures = sale_figures(audit(), summary(paid_seen=10))
    assert (figures["audit_ok"], figures["lost_sales"], figures["double_sales"]) == (True, 0, 0)
    assert figures["surge_requests"] == 900


def test_a_paid_order_fans_saw_that_postgres_lacks_is_a_lost_sale() -> None:
    figures = sale_figures(audit(), summary(paid_seen=12))
    assert figures["lost_sales"] == 2
    assert not figures["audit_ok"]


def test_a_seat_sold_twice_or_past_capacity_is_a_double_sale() -> None:
    figures = sale_figures(audit(seats_once=1, capacity=2), summary(paid_seen=10))
    assert figures["double_sales"] == 3
    assert figures["failed_checks"] == ["capacity", "seats_once"]


NODES = """\
a1 172.30.77.11:6379@16379 master,fail - 0 0 1 disconnected
b2 172.30.77.12:6379@16379 myself,master - 0 0 2 connected 5461-10922
c3 172.30.77.13:6379@16379 master - 0 0 3 connected 10923-16383
d4 172.30.77.15:6379@16379 master - 0 0 7 connected 0-5460 [5460->-b2]
e5 172.30.77.14:6379@16379 slave c3 0 0 3 connected
"""


def test_a_promoted_replica_owns_the_failed_masters_slots() -> None:
    nodes = parse_cluster_nodes(NODES)
    owner = slot_master(nodes, 100)
    assert owner is not None and owner.ip == "172.30.77.15"
    assert slot_master(nodes, 16383) is not None
    assert [node.node_id for node in nodes if "slave" in node.flags] == ["e5"]
