"""Keys one partition script touches share one Redis Cluster hash slot (STYLE.md rule 5)."""

from __future__ import annotations

import os

import pytest
from redis.crc import key_slot as redis_py_key_slot

from workers.booking_requests import event_of, new_request_id
from workers.keys import RQ_JOB_PREFIX, Keys, job_id_for_partition, partition_slot
from workers.redis_client import _node_url, is_cluster_url
from workers.slots import SLOTS, job_id_in_slot, key_slot


def test_our_slot_function_is_redis_pys() -> None:
    for key in ("rq:job:42-abc", "onsale:{p:p3}:booking", "a{}b{c}", "{", "x{y"):
        assert key_slot(key) == redis_py_key_slot(key.encode()), key


@pytest.mark.parametrize("slot", [0, 1, 5461, 10922, SLOTS - 1])
def test_a_job_id_can_be_steered_into_any_slot(slot: int) -> None:
    for _ in range(50):
        job_id = job_id_in_slot(f"7-{os.urandom(8).hex()}", slot, RQ_JOB_PREFIX)
        assert key_slot(RQ_JOB_PREFIX + job_id) == slot


def test_every_key_of_a_partition_script_is_in_the_partition_slot() -> None:
    """Enqueue, pop and publish touch these together: one slot, or Redis Cluster refuses."""
    keys = Keys("onsale")
    for partition in ("p0", "p5", "ev42"):
        request_id = job_id_for_partition(new_request_id(42), partition)
        assert event_of(request_id) == 42, "the event stays readable from the id"
        together = [keys.queue(partition), keys.inflight(partition),
                    keys.enqueued_count(partition), keys.dequeued_count(partition),
                    keys.lease(partition), keys.fence(partition),
                    keys.partition_stats(partition), keys.idempotency(partition, 42, 1, "k"),
                    f"rq:finished:{keys.queue_name(partition)}",
                    f"rq:failed:{keys.queue_name(partition)}",
                    RQ_JOB_PREFIX + request_id, keys.request(request_id)]
        assert {key_slot(key) for key in together} == {partition_slot(partition)}
        assert Keys.request_id_of(keys.request(request_id)) == request_id


def test_a_cluster_is_chosen_by_the_url_scheme() -> None:
    assert is_cluster_url("redis+cluster://127.0.0.1:7000")
    assert not is_cluster_url("redis://127.0.0.1:6379/0")
    assert _node_url("redis+cluster://127.0.0.1:7000/") == "redis://127.0.0.1:7000"
    with pytest.raises(ValueError):
        _node_url("redis+cluster://127.0.0.1:7000/3")


def test_an_id_already_in_the_slot_is_kept() -> None:
    """Callers may make the id first (to wait for its decision): enqueue keeps it."""
    steered = job_id_for_partition(new_request_id(9), "p2")
    assert job_id_for_partition(steered, "p2") == steered
