"""A partition consumer that crashes while holding its lease token must not keep counting
as held: otherwise every worker thinks the partition is served and none takes it (seen
on the compose cluster after a worker partition: one partition undecided for minutes)."""

from __future__ import annotations

import threading
from typing import Any, cast

from workers.consumer import ConsumerConfig, PartitionConsumer
from workers.keys import Keys
from workers.supervisor import PartitionSupervisor


class CrashingLease:
    token: int | None = 7

    def release(self) -> None:
        raise ConnectionError("Redis away")  # the release itself may fail too


class CrashingConsumer:
    partition = "p3"
    yielded = False

    def __init__(self, stop: threading.Event):
        self.lease = CrashingLease()
        self._stop = stop

    def run(self, stop: threading.Event, **_: Any) -> None:
        self._stop.set()  # one round is enough
        raise RuntimeError("lease lost while re-running")


def test_a_crashed_consumer_no_longer_counts_as_holding_its_partition() -> None:
    supervisor = PartitionSupervisor(cast(Any, None), Keys("t"), cast(Any, None), "w1", 8,
                                     ConsumerConfig())
    stop = threading.Event()
    consumer = CrashingConsumer(stop)
    supervisor._consumers["p3"] = cast(PartitionConsumer, consumer)
    supervisor._serve(cast(PartitionConsumer, consumer), stop)
    assert consumer.lease.token is None
    assert supervisor.held() == []
    assert supervisor.may_acquire()
