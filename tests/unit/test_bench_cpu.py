"""The booking bench's CPU figures: which process counts for whom, and the window's arithmetic.

Invariant: a contender is charged for its clients, the processes it started and the
database servers, never for the harness itself or unrelated processes.
"""

from __future__ import annotations

import pytest

from loadtests.booking.cpu import ProcessCpu, classify, window_figures

HARNESS = 100


def test_processes_are_grouped_by_server_name_then_by_descent() -> None:
    processes = [
        ProcessCpu(HARNESS, 1, "python", 9.0),
        ProcessCpu(101, HARNESS, "python", 1.0),  # a client process
        ProcessCpu(102, HARNESS, "python", 2.0),  # the contender's worker
        ProcessCpu(103, 102, "python", 0.5),  # a process the worker started
        ProcessCpu(200, 1, "postgres", 3.0),
        ProcessCpu(201, 200, "postgres: walwriter", 0.1),
        ProcessCpu(300, 1, "redis-server", 4.0),
        ProcessCpu(400, 1, "bash", 7.0),  # not ours
    ]
    groups = classify(processes, HARNESS, client_pids={101})
    assert {pid: group for pid, (group, _) in groups.items()} == {
        101: "clients", 102: "server", 103: "server", 200: "postgres", 201: "postgres",
        300: "redis"}


def test_window_figures_count_cpu_between_the_first_and_last_snapshot_inside() -> None:
    snapshots = [
        (0.5, {101: ("clients", 0.0)}),  # before the window: ignored
        (1.0, {101: ("clients", 1.0), 200: ("postgres", 2.0)}),
        (2.0, {101: ("clients", 1.5), 200: ("postgres", 2.2), 102: ("server", 0.3)}),
        (3.0, {101: ("clients", 2.0), 200: ("postgres", 2.4), 102: ("server", 0.6)}),
        (9.0, {101: ("clients", 9.0)}),  # after it: ignored
    ]
    cpu = window_figures(snapshots, start=1.0, end=3.0, decisions_per_s=1000.0)
    assert cpu is not None
    assert cpu.seconds == 2.0
    assert cpu.cores == pytest.approx({"clients": 0.5, "server": 0.3, "postgres": 0.2,
                                       "redis": 0.0})
    assert cpu.us_per_decision["clients"] == pytest.approx(500.0)
    assert cpu.total_cores == pytest.approx(1.0)
    assert cpu.total_us_per_decision == pytest.approx(1000.0)
    assert "clients 500" in cpu.line() and "1.00 of" in cpu.line()


def test_no_figures_without_two_snapshots_or_decisions() -> None:
    one = [(1.0, {101: ("clients", 1.0)})]
    assert window_figures(one, 0.0, 5.0, 100.0) is None
    two = one + [(2.0, {101: ("clients", 2.0)})]
    assert window_figures(two, 0.0, 5.0, 0.0) is None
