"""`onsale verify-draw EVENT [--host URL] [--receipt TOKEN ...]`: check a sale's draw over HTTP.

Uses public data only: the draw report (`GET /events/{id}/draw`) and the room's
public key (`GET /.well-known/jwks.json`). It recomputes the order from the
revealed seed, checks the seed against the commitment and the join times,
and checks each given receipt's signature, join time and place. Prints OK, or
every discrepancy with its code; exits 0 when the draw checks out, 1 when it
does not, 2 when the report cannot be fetched.
"""

from __future__ import annotations

import argparse
import json
import sys
import urllib.error
import urllib.request
from collections.abc import Sequence
from typing import Any

from waitingroom.draw import Anomaly, check_draw, check_receipt
from waitingroom.receipts import ReceiptInvalidError, verify_receipt

DEFAULT_HOST = "http://127.0.0.1:8080"
TIMEOUT_SECONDS = 30.0


def verify(
    report: dict[str, Any], jwks: dict[str, Any], event_id: int, receipts: Sequence[str]
) -> list[Anomaly]:
    """Every discrepancy between the report, the seed it reveals and the receipts."""
    problems = check_draw(report)
    for token in receipts:
        try:
            claims = verify_receipt(token, jwks, event_id)
        except ReceiptInvalidError as exc:
            problems.append(Anomaly("receipt_invalid", str(exc)))
            continue
        problems.extend(check_receipt(report, claims))
    return problems


def _get_json(url: str) -> dict[str, Any]:
    with urllib.request.urlopen(url, timeout=TIMEOUT_SECONDS) as response:  # noqa: S310
        body: dict[str, Any] = json.load(response)
        return body


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="onsale verify-draw", description="Recompute a sale's draw from public data."
    )
    parser.add_argument("event", type=int, help="event id")
    parser.add_argument("--host", default=DEFAULT_HOST, help=f"API base URL ({DEFAULT_HOST})")
    parser.add_argument(
        "--receipt", action="append", default=[], metavar="TOKEN", help="a fan's receipt to check"
    )
    args = parser.parse_args(argv)
    base = args.host.rstrip("/")
    if not base.startswith(("http://", "https://")):
        print("verify-draw: --host must be an http(s) URL", file=sys.stderr)
        return 2
    try:
        report = _get_json(f"{base}/events/{args.event}/draw")
        jwks = _get_json(f"{base}/.well-known/jwks.json")
    except (urllib.error.URLError, OSError, ValueError) as exc:
        print(f"verify-draw: cannot fetch the report: {exc}", file=sys.stderr)
        return 2
    problems = verify(report, jwks, args.event, args.receipt)
    _describe(report, len(args.receipt))
    if not problems:
        print("OK")
        return 0
    for problem in problems:
        print(f"DISCREPANCY {problem.code}: {problem.message} {json.dumps(problem.details)}")
    return 1


def _describe(report: dict[str, Any], receipts: int) -> None:
    if report.get("mode") != "shuffle":
        print(f"event {report.get('event_id')}: FIFO line, nothing drawn")
        return
    if report.get("started_at") is None:
        print(f"commitment {report.get('commitment')}; the sale has not started, seed not revealed")
        return
    print(
        f"commitment {report.get('commitment')} = sha256(seed {report.get('seed')}); "
        f"pre-queue of {report.get('prequeue_size')} recomputed; {receipts} receipt(s) checked"
    )
    fifo = report.get("admitted_vs_booking")
    if fifo:
        print(f"admitted vs booking order (FIFO share): {fifo.get('share')}")


if __name__ == "__main__":
    sys.exit(main())
