"""Did the admission rate hold across a fault? Admitted fans against the setting, over a window.

The probe reads, a few times a second, the room's `admitted_total` counter,
its `new_users_per_minute` setting (which the autopilot may move) and the
length of the line. Over the window, the fans admitted are compared with
what the setting promised (the setting integrated over time); the promise
only holds while someone is waiting, so the seconds with an empty line are
reported too.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

TOLERANCE_SHARE = 0.02


@dataclass(frozen=True)
class AdmissionReading:
    at: float
    """Epoch seconds."""
    admitted_total: int
    per_minute: float
    waiting: int


@dataclass(frozen=True)
class AdmissionWindow:
    seconds: float
    admitted: int
    expected: float
    line_empty_seconds: float

    @property
    def deviation(self) -> float:
        return 0.0 if self.expected <= 0 else (self.admitted - self.expected) / self.expected

    @property
    def within_tolerance(self) -> bool:
        return abs(self.deviation) <= TOLERANCE_SHARE

    @property
    def judged(self) -> bool:
        """Only a line that never emptied shows the rate: with nobody waiting, nobody is let in."""
        return self.line_empty_seconds == 0

    def to_json(self) -> dict[str, float | int | bool | None]:
        return {"seconds": round(self.seconds, 1), "admitted": self.admitted,
                "expected": round(self.expected, 1), "deviation": round(self.deviation, 4),
                "within_2_percent": self.within_tolerance if self.judged else None,
                "line_empty_seconds": round(self.line_empty_seconds, 1)}


def window(readings: Sequence[AdmissionReading], start: float, end: float
           ) -> AdmissionWindow | None:
    """The readings from `start` to `end` (epoch seconds) judged; None if too few."""
    inside = [r for r in sorted(readings, key=lambda r: r.at) if start <= r.at <= end]
    if len(inside) < 2:
        return None
    expected = empty = 0.0
    for before, after in zip(inside, inside[1:], strict=False):
        span = after.at - before.at
        expected += before.per_minute / 60.0 * span
        if before.waiting == 0:
            empty += span
    return AdmissionWindow(inside[-1].at - inside[0].at,
                           inside[-1].admitted_total - inside[0].admitted_total, expected, empty)
