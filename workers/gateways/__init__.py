"""Payment gateway adapters by name: `ONSALE_PAYMENT_GATEWAY` picks one, `make_gateway` builds it.

Adding a gateway is one module here (a class with the methods of
`workers.gateway.PaymentGateway`) plus one line in `GATEWAYS`. The launcher's
composition roots are the only callers of `make_gateway`; everything else receives
the gateway built.
"""

from __future__ import annotations

from collections.abc import Callable

from workers.gateway import PaymentGateway
from workers.gateways import sandbox

GATEWAYS: dict[str, Callable[[], PaymentGateway]] = {
    "test": sandbox.TestGateway,
}


def make_gateway(name: str) -> PaymentGateway:
    """The gateway `name` stands for; ValueError naming the known ones if none."""
    factory = GATEWAYS.get(name)
    if factory is None:
        raise ValueError(f"no payment gateway named {name!r}; known: {', '.join(GATEWAYS)}")
    return factory()
