"""Plain constants the harness shares with the journeys; importing this never imports Locust
(Locust monkey-patches whichever process imports it with gevent)."""

from __future__ import annotations

DEFAULT_PASSWORD = "surge-fan-password"
"""The password of every account `onsale surge` makes (throwaway accounts on a test stack)."""
TEST_CARD_OK = "4242424242424242"
TEST_CARD_DECLINED = "4000000000000002"
TEST_CARD_NO_FUNDS = "4000000000009995"
