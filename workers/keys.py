"""Every Redis key the booking pipeline uses, built in one place.

Event-scoped keys carry the hash tag `{ev:<id>}` and partition-scoped keys
`{p:<name>}`, so in Redis Cluster each lands on one shard with its neighbours.
RQ's own keys (`rq:queue:...`, `rq:job:...`) follow RQ's layout; the queue name
embeds the partition tag so RQ's queue list shares the partition's slot.
"""

from __future__ import annotations

from dataclasses import dataclass

RQ_QUEUE_PREFIX = "rq:queue:"
RQ_JOB_PREFIX = "rq:job:"
RQ_QUEUES_SET = "rq:queues"


def text(value: bytes | str) -> str:
    """A Redis reply as text (our clients answer bytes)."""
    return value.decode() if isinstance(value, bytes) else value


def rq_finished_registry(queue_name: str) -> str:
    return f"rq:finished:{queue_name}"


def rq_failed_registry(queue_name: str) -> str:
    return f"rq:failed:{queue_name}"


@dataclass(frozen=True)
class Keys:
    prefix: str

    # -- partitions
    def queue_name(self, partition: str) -> str:
        return f"{self.prefix}:{{p:{partition}}}:booking"

    def queue(self, partition: str) -> str:
        return RQ_QUEUE_PREFIX + self.queue_name(partition)

    def inflight(self, partition: str) -> str:
        """The batch being decided; re-run by the next lease holder after a crash."""
        return f"{self.prefix}:{{p:{partition}}}:inflight"

    def enqueued_count(self, partition: str) -> str:
        return f"{self.prefix}:{{p:{partition}}}:enqueued"

    def dequeued_count(self, partition: str) -> str:
        return f"{self.prefix}:{{p:{partition}}}:dequeued"

    def lease(self, partition: str) -> str:
        return f"{self.prefix}:{{p:{partition}}}:lease"

    def fence(self, partition: str) -> str:
        return f"{self.prefix}:{{p:{partition}}}:fence"

    def results_channel(self, partition: str) -> str:
        return f"{self.prefix}:{{p:{partition}}}:results"

    def results_pattern(self) -> str:
        return f"{self.prefix}:{{p:*}}:results"

    def partition_pins(self) -> str:
        return f"{self.prefix}:partition-pins"

    def workers(self) -> str:
        return f"{self.prefix}:workers"

    def partition_stats(self, partition: str) -> str:
        return f"{self.prefix}:{{p:{partition}}}:stats"

    # -- requests and events
    def request(self, request_id: str) -> str:
        event_id = request_id.split("-", 1)[0]
        return f"{self.prefix}:{{ev:{event_id}}}:req:{request_id}"

    def idempotency(self, event_id: int, buyer_id: int, key: str) -> str:
        return f"{self.prefix}:{{ev:{event_id}}}:idem:{buyer_id}:{key}"

    def availability_stream(self, event_id: int) -> str:
        return f"{self.prefix}:{{ev:{event_id}}}:availability"

    def availability_channel(self, event_id: int) -> str:
        return f"{self.prefix}:{{ev:{event_id}}}:availability:live"

    def payments_queue_name(self) -> str:
        return f"{self.prefix}:payments"

    def authorized_orders(self) -> str:
        """Orders authorized and not yet captured or voided (order id -> when authorized): the
        payments worker's settle sweep finds the ones whose capture or void went missing."""
        return f"{self.prefix}:payments:authorized"

    def order(self, order_id: str) -> str:
        event_id = order_id.split("-", 1)[0]
        return f"{self.prefix}:{{ev:{event_id}}}:order:{order_id}"

    def order_channel(self, order_id: str) -> str:
        event_id = order_id.split("-", 1)[0]
        return f"{self.prefix}:{{ev:{event_id}}}:order:{order_id}:live"
