"""The payment gateway port. The partition consumer never calls one: payments run on their
own queue.

Implementations live in `workers.gateways`, which picks one by name
(`ONSALE_PAYMENT_GATEWAY`).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Protocol


class PaymentStatus(str, Enum):
    AUTHORIZED = "authorized"
    DECLINED = "declined"
    CAPTURED = "captured"
    VOIDED = "voided"
    REFUNDED = "refunded"


@dataclass(frozen=True)
class PaymentResult:
    status: PaymentStatus
    reference: str
    code: str | None = None
    message: str | None = None


class GatewayTimeout(Exception):
    """The gateway did not answer in time; the outcome of the call is unknown."""


class PaymentGateway(Protocol):
    def tokenize(self, card_number: str) -> str:
        """A token standing for the card at the gateway, taken by the API when the fan pays:
        the card number itself is never stored or queued, only the token."""
        ...

    def authorize(self, amount_cents: int, payment_token: str,
                  idempotency_key: str) -> PaymentResult:
        ...

    def capture(self, reference: str, idempotency_key: str) -> PaymentResult:
        ...

    def void(self, reference: str, idempotency_key: str) -> PaymentResult:
        ...

    def refund(self, reference: str, amount_cents: int, idempotency_key: str) -> PaymentResult:
        """Give back `amount_cents` of a captured payment."""
        ...
