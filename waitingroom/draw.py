"""A draw anyone can check: the seed commitment, the recomputed order and its anomalies.

A shuffled sale draws its pre-queue order from a seed (`waitingroom.permutation`).
The seed is generated when the room is configured and only its SHA-256 (the
commitment) is public until the sale starts; once the shuffle has happened the
seed itself is published. Anyone can then check that the seed matches the
commitment, recompute the order from (prequeue size, seed), and compare it
with the order the room publishes and with the join times on fans' receipts.

Everything here is pure: the report is built from what the room stored, and
`check_draw` is what both the server (its own anomalies) and `onsale
verify-draw` (from public JSON alone) run.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from waitingroom.permutation import LineOrder

MAX_PUBLISHED_ORDER = 200_000
"""Longer pre-queues publish no explicit order (the verifier recomputes it from the seed)."""
CLOCK_SKEW_SECONDS = 1.0
"""API processes stamp joins with their own clocks: differences this small are not anomalies."""
SEED_BITS = 256


def commitment_of(seed: str) -> str:
    """The public commitment to a seed: SHA-256 of its decimal text, hex."""
    return hashlib.sha256(seed.encode()).hexdigest()


def drawn_order(prequeue_size: int, seed: int) -> list[int]:
    """Join sequence numbers in place order: element i is the seq at place i + 1."""
    order = LineOrder(prequeue_size, seed)
    return [order.seq_at(place) for place in range(1, prequeue_size + 1)]


@dataclass(frozen=True, slots=True)
class Anomaly:
    code: str
    message: str
    details: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "details": self.details}


@dataclass(frozen=True, slots=True)
class DrawRecord:
    """What the room stored about one event's draw (the seed only once the sale started)."""

    event_id: int
    mode: str
    sale_starts_at: float
    commitment: str | None
    committed_at: float | None
    started_at: float | None
    prequeue_size: int | None
    seed: str | None
    """The committed seed, published only after the shuffle (`started_at` set)."""
    applied_seed: str | None
    """The seed the line actually uses (the state hash's), to compare with the committed one."""
    join_times: Mapping[int, float]
    """seq -> join time of the pre-queue (and the fans just after it)."""


def build_report(record: DrawRecord, fifo: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The public fairness report of one sale (GET /events/{id}/draw)."""
    started = record.started_at is not None
    shuffled = record.mode == "shuffle"
    revealed = started and shuffled and record.seed is not None
    order: list[int] | None = None
    if revealed and record.prequeue_size and record.prequeue_size <= MAX_PUBLISHED_ORDER:
        order = drawn_order(record.prequeue_size, int(record.applied_seed or record.seed or 0))
    report: dict[str, Any] = {
        "event_id": record.event_id,
        "mode": record.mode,
        "sale_starts_at": record.sale_starts_at,
        "commitment": record.commitment,
        "committed_at": record.committed_at,
        "started_at": record.started_at,
        "prequeue_size": record.prequeue_size,
        "seed": record.seed if revealed else None,
        "order": order,
        "join_times": [[seq, record.join_times[seq]] for seq in sorted(record.join_times)],
        "admitted_vs_booking": dict(fifo) if fifo else None,
    }
    anomalies = check_draw(report)
    if revealed and record.applied_seed not in (None, record.seed):
        anomalies.append(
            Anomaly("seed_not_applied", "the line was shuffled with another seed than committed")
        )
    report["anomalies"] = [anomaly.to_json() for anomaly in anomalies]
    return report


def check_draw(report: Mapping[str, Any]) -> list[Anomaly]:
    """Every discrepancy visible in a published report; an empty list means the draw checks out."""
    anomalies: list[Anomaly] = []
    if report.get("mode") != "shuffle":
        return anomalies
    commitment = report.get("commitment")
    committed_at = _number(report.get("committed_at"))
    started_at = _number(report.get("started_at"))
    sale_starts_at = _number(report.get("sale_starts_at"))
    if not isinstance(commitment, str):
        anomalies.append(Anomaly("no_commitment", "the room published no seed commitment"))
    elif committed_at is not None and sale_starts_at is not None and committed_at > sale_starts_at:
        anomalies.append(
            Anomaly(
                "committed_late",
                "the seed was committed after the sale start",
                {"committed_at": committed_at, "sale_starts_at": sale_starts_at},
            )
        )
    if started_at is None:
        return anomalies
    seed = report.get("seed")
    size = report.get("prequeue_size")
    if not isinstance(seed, str) or not seed.isdigit():
        anomalies.append(Anomaly("seed_not_revealed", "the sale started but no seed is published"))
        return anomalies
    if isinstance(commitment, str) and commitment_of(seed) != commitment:
        anomalies.append(
            Anomaly(
                "seed_mismatch",
                "the published seed does not hash to the commitment",
                {"commitment": commitment, "sha256_of_seed": commitment_of(seed)},
            )
        )
    if not isinstance(size, int) or size < 0:
        anomalies.append(Anomaly("no_prequeue_size", "the pre-queue size is missing"))
        return anomalies
    published = report.get("order")
    if published is not None and size:
        expected = drawn_order(size, int(seed))
        if list(published) != expected:
            pairs = zip(published, expected, strict=False)
            place = next(
                (i + 1 for i, (a, b) in enumerate(pairs) if a != b),
                min(len(published), len(expected)) + 1,
            )
            anomalies.append(
                Anomaly(
                    "order_mismatch",
                    "the published order differs from the one the seed gives",
                    {"first_place": place},
                )
            )
    anomalies.extend(_join_time_anomalies(report.get("join_times") or [], size, started_at))
    return anomalies


def _join_time_anomalies(
    join_times: Sequence[Sequence[Any]], prequeue_size: int, started_at: float
) -> list[Anomaly]:
    """Pre-queue fans joined before the start, later fans after it (within clock skew)."""
    late = [
        int(seq)
        for seq, at in join_times
        if int(seq) <= prequeue_size and float(at) > started_at + CLOCK_SKEW_SECONDS
    ]
    early = [
        int(seq)
        for seq, at in join_times
        if int(seq) > prequeue_size and float(at) < started_at - CLOCK_SKEW_SECONDS
    ]
    found = (
        ("joined_after_start_in_draw", "fans who joined after the start were drawn", late),
        ("joined_before_start_not_drawn", "fans who joined before the start were not", early),
    )
    return [
        Anomaly(code, message, {"seqs": seqs[:20], "count": len(seqs)})
        for code, message, seqs in found
        if seqs
    ]


def check_receipt(report: Mapping[str, Any], claims: Mapping[str, Any]) -> list[Anomaly]:
    """A fan's verified receipt against the report: the join time and the place it gives."""
    seq = int(claims["seq"])
    anomalies: list[Anomaly] = []
    published = {int(s): float(at) for s, at in report.get("join_times") or []}
    joined_at = float(claims["joined_at"])
    if seq in published and abs(published[seq] - joined_at) > 0.001:
        anomalies.append(
            Anomaly(
                "receipt_join_time",
                "the report's join time differs from the receipt's",
                {"seq": seq, "receipt": joined_at, "report": published[seq]},
            )
        )
    seed, size = report.get("seed"), report.get("prequeue_size")
    position = claims.get("position")
    if isinstance(seed, str) and seed.isdigit() and isinstance(size, int):
        expected = LineOrder(size, int(seed)).place_of(seq)
        if position is not None and int(position) != expected:
            anomalies.append(
                Anomaly(
                    "receipt_position",
                    "the receipt's place differs from the one the seed gives",
                    {"seq": seq, "receipt": position, "recomputed": expected},
                )
            )
    return anomalies


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)
