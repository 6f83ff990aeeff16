"""Which address a per-IP limit counts: the peer, or behind our proxies, X-Forwarded-For."""

from __future__ import annotations

import pytest

from api.http.client_address import TrustedProxies
from api.launcher.settings import parse_networks

PROXIES = TrustedProxies(["10.0.0.0/8", "192.0.2.7"])


def test_without_trusted_proxies_the_header_is_ignored() -> None:
    assert TrustedProxies().client_of("203.0.113.9", ["198.51.100.1"]) == "203.0.113.9"


def test_a_peer_that_is_not_our_proxy_is_the_client_whatever_it_writes() -> None:
    assert PROXIES.client_of("203.0.113.9", ["198.51.100.1"]) == "203.0.113.9"


def test_behind_our_proxies_the_first_untrusted_hop_from_the_right_is_the_client() -> None:
    # The client claimed 1.1.1.1; our edge saw 198.51.100.1; an inner proxy relayed.
    header = ["1.1.1.1, 198.51.100.1", "192.0.2.7"]
    assert PROXIES.client_of("10.1.2.3", header) == "198.51.100.1"


def test_ipv6_clients_and_proxies() -> None:
    proxies = TrustedProxies(["fd00::/8"])
    assert proxies.client_of("fd00::1", ["2001:db8::5"]) == "2001:db8::5"


@pytest.mark.parametrize(("header", "expected"), [
    ([], "10.1.2.3"),                                  # no header: the proxy itself
    (["10.9.9.9"], "10.9.9.9"),                        # only our own hops: the farthest
    (["198.51.100.1, not-an-ip"], "10.1.2.3"),          # garbage where our proxy writes
    (["garbage, 198.51.100.1"], "198.51.100.1"),       # garbage the client wrote: not read
])
def test_odd_headers(header: list[str], expected: str) -> None:
    assert PROXIES.client_of("10.1.2.3", header) == expected


def test_bad_networks_are_named() -> None:
    with pytest.raises(ValueError, match="'10.0.0.0/33'"):
        parse_networks(["10.0.0.0/8", "10.0.0.0/33"])
