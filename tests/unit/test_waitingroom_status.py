"""The status answer a fan gets, and the purity of the waiting room's decision logic."""

from __future__ import annotations

import ast
from pathlib import Path

from waitingroom.config import QueueMode, RoomConfig
from waitingroom.permutation import LineOrder
from waitingroom.status import FanState, LineProgress, QueueStatus, build_status

START = 5_000.0
PURE_MODULES = (
    "config",
    "errors",
    "eta",
    "permutation",
    "pow",
    "queue_tickets",
    "rate",
    "status",
    "tokens",
)
FORBIDDEN_IMPORTS = {
    "redis",
    "aiohttp",
    "sqlalchemy",
    "rq",
    "prometheus_client",
    "time",
    "random",
    "secrets",
    "os",
    "datetime",
    "uuid",
    "asyncio",
}


def status_of(
    seq: int,
    state: FanState,
    now: float,
    *,
    started: bool,
    mode: QueueMode = QueueMode.FIFO,
    serving: int = 0,
    paused: bool = False,
    rate: float | None = None,
    admission_token: str | None = None,
    admission_expires_at: float | None = None,
) -> QueueStatus:
    config = RoomConfig(
        opens_at=START - 100,
        sale_starts_at=START,
        mode=mode,
        new_users_per_minute=60,
        paused=paused,
        position_expiry_seconds=60,
    )
    order = LineOrder(10, 99 if mode is QueueMode.SHUFFLE else None) if started else None
    line = LineProgress(serving, order, rate)
    return build_status(
        1,
        config,
        line,
        seq=seq,
        state=state,
        now=now,
        admission_token=admission_token,
        admission_expires_at=admission_expires_at,
    )


def test_waiting_fan_sees_place_people_ahead_and_wait() -> None:
    status = status_of(15, FanState.WAITING, START + 10, started=True, serving=4, rate=2.0)
    assert (status.position, status.people_ahead, status.estimated_wait_seconds) == (15, 10, 5.5)
    assert status.poll_after_seconds is not None and status.poll_after_seconds <= 20
    assert not status.in_prequeue and status.admission_token is None
    assert status.to_json()["position_expiry_seconds"] == 60, "clients of hidden tabs need it"


def test_shuffled_prequeue_has_no_place_before_the_start() -> None:
    status = status_of(3, FanState.WAITING, START - 50, started=False, mode=QueueMode.SHUFFLE)
    assert status.position is None and status.people_ahead is None and status.in_prequeue
    assert status.estimated_wait_seconds is None
    assert status.poll_after_seconds is not None


def test_fifo_prequeue_knows_its_place_and_counts_the_time_to_start() -> None:
    status = status_of(3, FanState.WAITING, START - 50, started=False)
    assert status.position == 3 and status.estimated_wait_seconds == 53.0


def test_shuffled_place_comes_from_the_seeded_order() -> None:
    places = [
        status_of(s, FanState.WAITING, START, started=True, mode=QueueMode.SHUFFLE).position
        for s in range(1, 11)
    ]
    assert sorted(p for p in places if p is not None) == list(range(1, 11))
    assert places != list(range(1, 11))


def test_paused_line_gives_no_estimate_but_keeps_fans_polling() -> None:
    status = status_of(5, FanState.WAITING, START + 1, started=True, paused=True)
    assert status.paused and status.estimated_wait_seconds is None
    assert status.poll_after_seconds is not None and status.poll_after_seconds <= 20


def test_admitted_and_expired_fans_stop_polling() -> None:
    admitted = status_of(
        5,
        FanState.ADMITTED,
        START + 1,
        started=True,
        serving=9,
        admission_token="t",
        admission_expires_at=START + 900,
    )
    assert admitted.poll_after_seconds is None and admitted.admission_token == "t"
    assert admitted.to_json()["state"] == "admitted"
    expired = status_of(5, FanState.EXPIRED, START + 1, started=True, serving=9)
    assert expired.poll_after_seconds is None and expired.people_ahead is None


def test_decision_logic_imports_no_io_clock_or_unseeded_randomness() -> None:
    package = Path(__file__).resolve().parents[2] / "waitingroom"
    for module in PURE_MODULES:
        tree = ast.parse((package / f"{module}.py").read_text())
        imported: set[str] = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                imported |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module:
                imported.add(node.module.split(".")[0])
        assert not imported & FORBIDDEN_IMPORTS, (
            f"waitingroom.{module} must stay pure: {imported & FORBIDDEN_IMPORTS}"
        )
