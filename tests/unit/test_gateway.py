"""The test payment gateway: cards become tokens at the API, and a token decides like its
card did, the way public sandboxes' test cards and tokens do."""

from __future__ import annotations

import pytest

from workers.gateway import GatewayTimeout, PaymentStatus
from workers.gateways import make_gateway
from workers.gateways.sandbox import TestGateway


def test_a_token_decides_like_its_test_card_and_never_holds_the_number() -> None:
    gateway = TestGateway()
    outcomes = {}
    for card in ("4242 4242 4242 4242", "4000000000000002", "4000 0000 0000 9995",
                 "4111 1111 1111 1111"):
        token = gateway.tokenize(card)
        assert card.replace(" ", "") not in token
        outcomes[card] = gateway.authorize(1000, token, idempotency_key=card)
    assert outcomes["4242 4242 4242 4242"].status is PaymentStatus.AUTHORIZED
    assert outcomes["4000000000000002"].code == "card_declined"
    assert outcomes["4000 0000 0000 9995"].code == "insufficient_funds"
    assert outcomes["4111 1111 1111 1111"].status is PaymentStatus.DECLINED, "not a test card"
    with pytest.raises(GatewayTimeout):
        gateway.authorize(1000, gateway.tokenize("4000000000000119"), idempotency_key="t")


def test_the_same_idempotency_key_gets_the_first_answer() -> None:
    gateway = TestGateway()
    first = gateway.authorize(1000, gateway.tokenize("4242424242424242"), "hold-1:1")
    again = gateway.authorize(1000, gateway.tokenize("4000000000000002"), "hold-1:1")
    assert again == first
    assert gateway.refund("ref", 500, "refund:o") == gateway.refund("ref", 500, "refund:o")
    assert gateway.refunds == [("ref", 500)], "refunded once"


def test_the_gateway_setting_picks_a_registered_gateway_and_refuses_others() -> None:
    from api.launcher.settings import Settings, SettingsError

    assert Settings.from_env({}).payment_gateway == "test"
    assert isinstance(make_gateway(Settings.from_env({}).payment_gateway), TestGateway)
    with pytest.raises(SettingsError, match="ONSALE_PAYMENT_GATEWAY='stripe': must be one of test"):
        Settings.from_env({"ONSALE_PAYMENT_GATEWAY": "stripe"})
    with pytest.raises(ValueError, match="known: test"):
        make_gateway("stripe")
