"""The public draw: a report built from honest data checks out; any tampering is named."""

from __future__ import annotations

from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from api.launcher.verify_draw import verify
from waitingroom.draw import (
    DrawRecord,
    build_report,
    check_draw,
    check_receipt,
    commitment_of,
    drawn_order,
)
from waitingroom.permutation import LineOrder
from waitingroom.receipts import PlaceReceipt, ReceiptInvalidError, sign_receipt, verify_receipt
from waitingroom.tokens import AdmissionSigner

SIGNER = AdmissionSigner(Ed25519PrivateKey.from_private_bytes(bytes(range(32))))
OTHER = AdmissionSigner(Ed25519PrivateKey.from_private_bytes(bytes(range(1, 33))))
STARTS = 1_800_000_000.0
seeds = st.integers(min_value=0, max_value=2**256 - 1)


def record(size: int, seed: int, **changes: Any) -> DrawRecord:
    """An honest shuffled sale: committed an hour early, pre-queue joined before the start."""
    values: dict[str, Any] = {
        "event_id": 42,
        "mode": "shuffle",
        "sale_starts_at": STARTS,
        "commitment": commitment_of(str(seed)),
        "committed_at": STARTS - 3600,
        "started_at": STARTS + 0.2,
        "prequeue_size": size,
        "seed": str(seed),
        "applied_seed": str(seed),
        "join_times": {
            **{seq: STARTS - 100 + seq * 0.01 for seq in range(1, size + 1)},
            **{size + k: STARTS + 1 + k for k in range(1, 4)},
        },
    }
    return DrawRecord(**(values | changes))


def codes(report: dict[str, Any]) -> set[str]:
    return {anomaly.code for anomaly in check_draw(report)}


@settings(max_examples=40, deadline=None)
@given(size=st.integers(min_value=0, max_value=600), seed=seeds)
def test_an_honest_draw_recomputes_and_has_no_anomaly(size: int, seed: int) -> None:
    report = build_report(record(size, seed))
    assert report["anomalies"] == [], "an honest draw must check out"
    assert check_draw(report) == []
    order = report["order"] or []
    assert sorted(order) == list(range(1, size + 1)), "the draw places each pre-queue fan once"
    line = LineOrder(size, seed)
    assert all(line.place_of(seq) == place for place, seq in enumerate(order, start=1))


@settings(max_examples=30, deadline=None)
@given(size=st.integers(min_value=2, max_value=400), seed=seeds, data=st.data())
def test_any_change_to_the_published_order_is_named(
    size: int, seed: int, data: st.DataObject
) -> None:
    report = build_report(record(size, seed))
    i = data.draw(st.integers(min_value=0, max_value=size - 2))
    order = list(report["order"])
    order[i], order[i + 1] = order[i + 1], order[i]
    report["order"] = order
    anomalies = check_draw(report)
    assert [a.code for a in anomalies] == ["order_mismatch"]
    assert anomalies[0].details["first_place"] == i + 1


def test_a_seed_that_does_not_match_the_commitment_is_named() -> None:
    report = build_report(record(50, 7))
    report["seed"] = "8"
    report["order"] = drawn_order(50, 8)
    assert codes(report) == {"seed_mismatch"}


def test_a_late_commitment_and_a_missing_one_are_named() -> None:
    assert "committed_late" in codes(build_report(record(5, 1, committed_at=STARTS + 1)))
    assert "no_commitment" in codes(build_report(record(5, 1, commitment=None)))


def test_the_line_shuffled_with_another_seed_is_named() -> None:
    report = build_report(record(20, 1, applied_seed="2"))
    assert "seed_not_applied" in {a["code"] for a in report["anomalies"]}


def test_join_times_on_the_wrong_side_of_the_start_are_named() -> None:
    honest = record(10, 3)
    times = dict(honest.join_times)
    times[4] = STARTS + 30  # drawn with the pre-queue, though it joined after the start
    times[12] = STARTS - 30  # joined before the start, yet queued behind the draw
    found = codes(build_report(record(10, 3, join_times=times)))
    assert found == {"joined_after_start_in_draw", "joined_before_start_not_drawn"}


def test_before_the_start_the_seed_stays_secret() -> None:
    report = build_report(record(10, 3, started_at=None, prequeue_size=None, join_times={}))
    assert report["seed"] is None and report["order"] is None
    assert report["commitment"] == commitment_of("3")
    assert report["anomalies"] == []


def test_a_fifo_line_draws_nothing() -> None:
    assert build_report(record(10, 3, mode="fifo"))["anomalies"] == []


def test_a_receipt_verifies_with_the_jwks_and_matches_the_draw() -> None:
    size, seed = 30, 99
    report = build_report(record(size, seed))
    seq = 17
    place = LineOrder(size, seed).place_of(seq)
    token = sign_receipt(SIGNER, PlaceReceipt(42, seq, report["join_times"][seq - 1][1], place))
    claims = verify_receipt(token, SIGNER.jwks(), 42)
    assert claims["seq"] == seq and claims["position"] == place
    assert check_receipt(report, claims) == []
    assert verify(report, SIGNER.jwks(), 42, [token]) == []

    lying = sign_receipt(SIGNER, PlaceReceipt(42, seq, 0.0, place % size + 1))
    found = {a.code for a in verify(report, SIGNER.jwks(), 42, [lying])}
    assert found == {"receipt_join_time", "receipt_position"}


def test_a_receipt_from_another_key_or_event_is_refused() -> None:
    token = sign_receipt(OTHER, PlaceReceipt(42, 1, STARTS, 1))
    with pytest.raises(ReceiptInvalidError):
        verify_receipt(token, SIGNER.jwks(), 42)
    mine = sign_receipt(SIGNER, PlaceReceipt(41, 1, STARTS, 1))
    with pytest.raises(ReceiptInvalidError):
        verify_receipt(mine, SIGNER.jwks(), 42)
    with pytest.raises(ReceiptInvalidError):
        verify_receipt("not a token", SIGNER.jwks(), 42)
    assert {a.code for a in verify({}, SIGNER.jwks(), 42, [token])} == {"receipt_invalid"}
