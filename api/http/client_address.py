"""The fan's network address, for the per-IP limits: the TCP peer, or, when the peer is one
of our own proxies, what those proxies say in X-Forwarded-For.

Behind a load balancer every request comes from the balancer's address, so a per-IP limit
would count the whole crowd as one client. `ONSALE_TRUSTED_PROXIES` lists the networks our
proxies send from (CIDR or single addresses). Only a request whose peer is in one of them
has its X-Forwarded-For read, right to left: each of our proxies appended the address it
saw, so the first hop from the right that is not one of ours is the client (what a client
writes further left is not to be believed). With no trusted proxies (the default) the
header is ignored: anyone could write it.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence

from aiohttp import web

from api.launcher.settings import parse_networks


class TrustedProxies:
    def __init__(self, networks: Iterable[str] = ()) -> None:
        self._networks = parse_networks(networks)

    def _trusted(self, address: str | None) -> bool:
        if address is None:
            return False
        try:
            parsed = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(parsed in network for network in self._networks)

    def client_of(self, peer: str | None, forwarded_for: Sequence[str]) -> str | None:
        """The client's address given the TCP peer and the X-Forwarded-For header values."""
        if not self._networks or not self._trusted(peer):
            return peer
        nearest = peer  # the closest hop known to be real: our own proxy
        hops = [hop.strip() for value in forwarded_for for hop in value.split(",")]
        for hop in reversed(hops):
            try:
                address = str(ipaddress.ip_address(hop))
            except ValueError:
                return nearest  # our proxy would not write this: stop at what we know
            if not self._trusted(address):
                return address
            nearest = address
        return nearest


TRUSTED_PROXIES_KEY = web.AppKey("trusted_proxies", TrustedProxies)


def client_address(request: web.Request) -> str | None:
    proxies = request.app.get(TRUSTED_PROXIES_KEY)
    if proxies is None:
        return request.remote
    return proxies.client_of(request.remote, request.headers.getall("X-Forwarded-For", []))
