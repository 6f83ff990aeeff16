"""Every Redis key the booking pipeline uses, built in one place.

Redis Cluster runs a script or a MULTI block only when all its keys hash to one slot, so
the keys are laid out by who touches them together:

- A partition's scripts (enqueue, pop, publish, lease) touch only keys in the slot of the
  tag `{p:<partition>}`: its queue (RQ's `rq:queue:<prefix>:{p:<partition>}:booking`, so
  RQ's registries of that queue share it), in-flight list, counters, lease, fence, stats
  and the idempotency records of requests sent to it.
- RQ's job hash is `rq:job:<id>`, and RQ refuses braces in ids, so a booking request's id
  ends with four characters that put `rq:job:<id>` in its partition's slot
  (`workers.slots`). The request's status record is tagged with that job key,
  `{prefix}:req:{rq:job:<id>}`, so it shares the job's slot whatever the id looks like.
- Event keys the partition scripts do not touch (availability stream, orders, the
  dashboard's counters) carry `{ev:<id>}`; they are written with single-key commands.
- `rq:queues` (RQ's list of queues) is one global set: queues are registered in it when a
  consumer starts, never inside a partition's script.
"""

from __future__ import annotations

from dataclasses import dataclass

from workers.slots import job_id_in_slot, key_slot, tag_slot

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


def partition_slot(partition: str) -> int:
    """The hash slot of every key a partition's scripts touch."""
    return tag_slot(f"p:{partition}")


def job_id_for_partition(base: str, partition: str) -> str:
    """`base` made an RQ job id whose job key `rq:job:<id>` is in the partition's slot:
    `base` itself if it is one already (so an id made by this function is kept as it is)."""
    slot = partition_slot(partition)
    if key_slot(RQ_JOB_PREFIX + base) == slot:
        return base
    return job_id_in_slot(base, slot, RQ_JOB_PREFIX)


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
        """The status record: tagged with the request's RQ job key, so it shares its slot."""
        return f"{self.prefix}:req:{{{RQ_JOB_PREFIX}{request_id}}}"

    def request_pattern(self, event_id: int) -> str:
        """A SCAN pattern for the status records of one event's requests."""
        return f"{self.prefix}:req:{{{RQ_JOB_PREFIX}{event_id}-*}}"

    @staticmethod
    def request_id_of(record_key: str) -> str:
        """The request id inside a status record's key (inverse of `request`)."""
        return record_key.rsplit("{" + RQ_JOB_PREFIX, 1)[1].rstrip("}")

    def idempotency(self, partition: str, event_id: int, buyer_id: int, key: str) -> str:
        """Per partition: the enqueue script checks it with the partition's queue. A retry
        after ops pinned the event to another partition is a new request."""
        return f"{self.prefix}:{{p:{partition}}}:idem:{event_id}:{buyer_id}:{key}"

    def availability_stream(self, event_id: int) -> str:
        return f"{self.prefix}:{{ev:{event_id}}}:availability"

    def availability_channel(self, event_id: int) -> str:
        return f"{self.prefix}:{{ev:{event_id}}}:availability:live"

    def payments_queue_name(self) -> str:
        """Tagged, so RQ's keys of this queue (queue, registries) share one slot."""
        return f"{self.prefix}:{{payments}}"

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
