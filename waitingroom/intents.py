"""A fan's intent: what they want held at their turn, stated while waiting.

The room keeps it opaque: the hold params of the booking pipeline's best-available request
(quantity, section_id, tier, max_price_cents, split_ok), validated by the API with the
pipeline's own parser, and the account that stated it. At admission the controller names
the hold request (`hold_request_prefix` + the fan's join number) in the same script that
admits the fan, and its admission hook enqueues that request on the event's partition in
line order.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(frozen=True, slots=True)
class FanIntent:
    buyer_id: int
    hold_params: dict[str, Any]
    hold_request_id: str | None
    """Set once the fan was admitted and the hold request named."""

    def to_stored(self) -> str:
        return json.dumps({"buyer_id": self.buyer_id, "hold": self.hold_params},
                          sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_stored(cls, stored: str | bytes, hold_request_id: str | None) -> FanIntent:
        fields = json.loads(stored)
        return cls(int(fields["buyer_id"]), dict(fields["hold"]), hold_request_id)

    def to_json(self) -> dict[str, Any]:
        return {**self.hold_params, "hold_request_id": self.hold_request_id}


@dataclass(frozen=True, slots=True)
class AdmittedIntent:
    """A fan admitted with an intent, as the controller hands it to its admission hook."""

    seq: int
    hold_request_id: str
    intent: FanIntent


class IntentHoldPort(Protocol):
    """Where the holds of fans admitted with an intent go (the booking pipeline; the
    composition root supplies it, since waitingroom/ may not import workers/)."""

    async def hold_request_ids(self, event_id: int, bases: Sequence[str]) -> list[str]:
        """The request id each base id becomes on the event's partition (a job id in the
        partition's hash slot), computed before the admitting script so the script can
        record the id the fan's poll will name."""
        ...

    async def enqueue(self, event_id: int, admitted: list[AdmittedIntent]) -> None:
        """Enqueue the holds, in the given (line) order."""
        ...


def hold_request_prefix(event_id: int, now: float) -> str:
    """Request ids of one controller step: `<event>-t<ms, 12 hex>q<seq>_`, unique per
    admission (a fan is admitted once per join number) and shaped like every request id
    (event first, then its time, which request recovery reads). The `_` ends the join
    number before the characters that steer the id into the partition's slot."""
    return f"{event_id}-t{int(now * 1000):012x}q"
