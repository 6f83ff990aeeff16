"""The surge's pure parts: load shapes, a fan's choices, durations and the loopback rule."""

from __future__ import annotations

import argparse
import random

import pytest

from loadtests.journeys.choices import read_seat_map, reservation_body, tickets_wanted
from loadtests.journeys.shapes import OnSaleSpike, SteadyLoad, plan_for
from loadtests.surge import parse_duration
from loadtests.surge_setup import admission_rate_for, seatmap_for
from loadtests.surge_stack import StackError, check_loopback


def test_spike_sends_most_fans_in_the_first_seconds_then_trickles_and_stops() -> None:
    spike = OnSaleSpike(users=200, spawn_rate=50, run_seconds=30)
    assert spike.target(0) == (160, 50)  # the rush: 80% at the full spawn rate
    assert spike.target(3)[0] == 160
    users_midway, rate = spike.target(3.2 + 7.5)  # halfway through the trickle
    assert 160 < users_midway < 200 and rate < 50
    assert spike.target(29)[0] == 200
    assert spike.target(30) is None, "the run is bounded in time"


def test_steady_holds_the_population_and_every_plan_is_bounded() -> None:
    assert SteadyLoad(10, 2, 5).target(4) == (10, 2)
    assert SteadyLoad(10, 2, 5).target(5) is None
    assert plan_for("spike", 0, 0, 0).target(0) == (1, 0.1)


def test_seat_map_reading_is_lenient_and_bodies_are_valid() -> None:
    doc = {"sections": [{"rows": [{"seats": [
        {"seat_id": 1, "status": "available"}, {"seat_id": 2, "status": "sold"},
        {"id": 3, "state": "available"}]}]}],
        "ga_zones": [{"id": 9, "capacity": 50, "available": 4}]}
    view = read_seat_map(doc)
    assert view.available_seats == [1, 3] and view.zones == {9: 4}
    rng = random.Random(1)
    kinds = set()
    for _ in range(200):
        body = reservation_body(view, rng)
        (kind,) = body
        kinds.add(kind)
        assert 1 <= tickets_wanted(body) <= 4
        if kind == "seats":
            assert set(body["seats"]) <= {1, 3}
        if kind == "general_admission":
            assert body[kind]["zone_id"] == 9 and body[kind]["quantity"] <= 4
    assert kinds == {"best_available", "seats", "general_admission"}
    assert reservation_body(read_seat_map(None), rng).keys() == {"best_available"}


@pytest.mark.parametrize(("text", "seconds"),
                         [("30", 30), ("30s", 30), ("2m", 120), ("1h30m", 5400), ("1m5s", 65)])
def test_durations(text: str, seconds: int) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "0s", "soon", "5x"])
def test_bad_durations_are_refused(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError):
        parse_duration(text)


@pytest.mark.parametrize("url", ["http://127.0.0.1:8080/", "http://localhost:1",
                                 "http://127.3.2.1", "http://[::1]:8080"])
def test_loopback_hosts_are_accepted(url: str) -> None:
    assert check_loopback(url) == url.rstrip("/")


@pytest.mark.parametrize("url", ["http://10.0.0.5:8080", "http://example.com",
                                 "http://192.168.1.2", "ftp://127.0.0.1", "127.0.0.1:8080"])
def test_anything_else_is_refused(url: str) -> None:
    with pytest.raises(StackError):
        check_loopback(url)


def test_generated_hall_and_admission_rate_fit_the_run() -> None:
    doc = seatmap_for(240, "t")
    seats = sum(len(r["seats"]) for s in doc["sections"] for r in s["rows"])
    assert 190 <= seats + doc["ga_zones"][0]["capacity"] <= 280
    assert admission_rate_for(200, 30) == 1000  # 200 fans in 12 s
    assert admission_rate_for(1, 3600) == 60
