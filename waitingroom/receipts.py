"""Receipts of a place in line: Ed25519 JWTs anyone can check with the room's JWKS.

A receipt names the event, the fan's join sequence number, the join time and,
once the order is known (FIFO, or after a shuffled sale's draw), the place.
It carries no account id: a fan may publish it to prove where they stood,
and the public draw report lists join times by sequence number only.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import jwt
from jwt.algorithms import OKPAlgorithm

from waitingroom.tokens import ALGORITHM, ISSUER, AdmissionSigner

RECEIPT_TYPE = "queue_receipt"


@dataclass(frozen=True, slots=True)
class PlaceReceipt:
    event_id: int
    seq: int
    joined_at: float
    position: int | None

    def claims(self) -> dict[str, Any]:
        return {
            "typ": RECEIPT_TYPE,
            "event": self.event_id,
            "seq": self.seq,
            "joined_at": self.joined_at,
            "position": self.position,
        }


def sign_receipt(signer: AdmissionSigner, receipt: PlaceReceipt) -> str:
    return signer.sign_claims(receipt.claims())


class ReceiptInvalidError(ValueError):
    """The receipt is not signed by any key of the JWKS, or is not a receipt."""


def verify_receipt(token: str, jwks: Mapping[str, Any], event_id: int) -> dict[str, Any]:
    """The claims of a receipt for `event_id` signed by a `jwks` key, else ReceiptInvalidError."""
    try:
        kid = jwt.get_unverified_header(token).get("kid")
    except jwt.InvalidTokenError:
        raise ReceiptInvalidError("not a JWT") from None
    for key in jwks.get("keys", []):
        if key.get("kid") != kid or key.get("kty") != "OKP":
            continue
        public_key = OKPAlgorithm.from_jwk(json.dumps(key))
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                public_key,  # type: ignore[arg-type]
                algorithms=[ALGORITHM],
                issuer=ISSUER,
                options={"verify_exp": False, "require": ["iss", "event", "seq", "joined_at"]},
            )
        except jwt.InvalidTokenError as exc:
            raise ReceiptInvalidError(f"bad signature or claims: {exc}") from None
        if claims.get("typ") != RECEIPT_TYPE or claims.get("event") != event_id:
            raise ReceiptInvalidError("not a receipt for this event")
        return claims
    raise ReceiptInvalidError(f"no key {kid!r} in the JWKS")
