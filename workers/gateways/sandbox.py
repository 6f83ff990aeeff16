"""The `test` payment gateway: decides by card number the way public payment sandboxes do,
so journeys and load tests exercise every branch without a real processor."""

from __future__ import annotations

import hashlib
import threading

from workers.gateway import GatewayTimeout, PaymentResult, PaymentStatus

TEST_CARDS = {
    "4242424242424242": ("authorized", None, None),
    "4000000000000002": ("declined", "card_declined", "The card was declined."),
    "4000000000009995": ("declined", "insufficient_funds", "The card has insufficient funds."),
    "4000000000000119": ("timeout", "gateway_timeout", "The payment gateway timed out."),
}


TEST_TOKEN_PREFIX = "tok_test_"
_TEST_TOKENS = {TEST_TOKEN_PREFIX + card[-4:]: answer for card, answer in TEST_CARDS.items()}


class TestGateway:
    """Sandbox behaviour by card number; repeated idempotency keys return the first answer.

    Like public sandboxes' test tokens, a token names which test card it stands for (its
    last four digits, which tell the test cards apart) and nothing more, so the API and the
    payments worker need no shared state; any other card's token is declined."""

    __test__ = False  # not a pytest class

    def __init__(self) -> None:
        self._answers: dict[str, PaymentResult] = {}
        self._lock = threading.Lock()
        self.refunds: list[tuple[str, int]] = []
        """(reference, amount) of every refund made, once per idempotency key."""

    def tokenize(self, card_number: str) -> str:
        digits = "".join(ch for ch in card_number if ch.isdigit())
        if digits in TEST_CARDS:
            return TEST_TOKEN_PREFIX + digits[-4:]
        return TEST_TOKEN_PREFIX + "unknown_" + hashlib.sha256(digits.encode()).hexdigest()[:12]

    def authorize(self, amount_cents: int, payment_token: str,
                  idempotency_key: str) -> PaymentResult:
        with self._lock:
            if idempotency_key in self._answers:
                return self._answers[idempotency_key]
        outcome, code, message = _TEST_TOKENS.get(
            payment_token,
            ("declined", "card_declined", "Unknown test card: use 4242 4242 4242 4242."))
        if outcome == "timeout":
            raise GatewayTimeout(message or "gateway timeout")
        reference = "auth_" + hashlib.sha256(idempotency_key.encode()).hexdigest()[:20]
        result = PaymentResult(PaymentStatus(outcome), reference, code, message)
        with self._lock:
            self._answers[idempotency_key] = result
        return result

    def capture(self, reference: str, idempotency_key: str) -> PaymentResult:
        return PaymentResult(PaymentStatus.CAPTURED, reference)

    def void(self, reference: str, idempotency_key: str) -> PaymentResult:
        return PaymentResult(PaymentStatus.VOIDED, reference)

    def refund(self, reference: str, amount_cents: int, idempotency_key: str) -> PaymentResult:
        with self._lock:
            if idempotency_key in self._answers:
                return self._answers[idempotency_key]
            result = PaymentResult(PaymentStatus.REFUNDED, reference)
            self._answers[idempotency_key] = result
            self.refunds.append((reference, amount_cents))
        return result
