"""Faults `make cluster` injects into the compose cluster during a surge.

Each fault targets what serves the surge's event: the partition worker holding the
event's partition lease, or the Redis master owning that partition's hash slot. It runs
in a thread while Locust runs, and returns its figures (what was hit, how long the
takeover or failover took). The invariant audit after the surge decides whether anything
was lost or sold twice.

- `worker_pause`: `docker pause` of the active worker (SIGSTOP-like: frozen, sockets
  open) past its lease; the standby takes over; after `docker unpause` the zombie must
  write and publish nothing (its Postgres commit is fenced, its publish script checks
  the lease).
- `worker_partition`: `docker network disconnect` of the active worker, then reconnect
  at the same address.
- `redis_master_kill`: SIGKILL of the master owning the partition's slot; its replica is
  promoted; the old master is started again and rejoins as a replica.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from redis import Redis

from loadtests import compose_cluster as cc

POLL_SECONDS = 0.1
LEASE_LOST = re.compile(r"lease lost|StaleFence|fenc", re.IGNORECASE)


@dataclass(frozen=True)
class FaultTarget:
    event_id: int
    settings: cc.HostSettings


Fault = Callable[[FaultTarget], dict[str, Any]]


# ---------------------------------------------------------------- partition workers

def event_partition(redis: Redis, prefix: str, event_id: int) -> str:
    from workers.keys import Keys, text
    from workers.partitions import partition_for

    pins = {int(k): text(v) for k, v in redis.hgetall(Keys(prefix).partition_pins()).items()}
    return partition_for(event_id, cc.PARTITIONS, pins)


def _holder(redis: Redis, prefix: str, partition: str) -> tuple[str, int] | None:
    """(worker service, fencing token) of the partition's lease; owners start with the
    container's hostname, which the compose file sets to the service name."""
    from workers.keys import Keys
    from workers.lease import lease_holder

    held = lease_holder(redis, Keys(prefix), partition)
    if held is None:
        return None
    owner, token, _ = held
    return owner.split(":", 1)[0], token


def _wait_for_new_holder(redis: Redis, prefix: str, partition: str, old: str,
                         timeout_s: float) -> tuple[str, int] | None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            held = _holder(redis, prefix, partition)
        except Exception:  # noqa: BLE001 (the cluster client may be refreshing its slot map)
            held = None
        if held is not None and held[0] != old:
            return held
        time.sleep(POLL_SECONDS)
    return None


def _worker_fault(target: FaultTarget, kind: str, hold_s: float) -> dict[str, Any]:
    from workers.redis_client import sync_client

    redis = sync_client(target.settings.redis_url)
    prefix = target.settings.redis_prefix
    try:
        partition = event_partition(redis, prefix, target.event_id)
        held = _holder(redis, prefix, partition)
        if held is None:
            raise cc.ClusterError(f"partition {partition} has no lease holder")
        active, token = held
        started = time.monotonic()
        ip = cc.address(active)
        if kind == "pause":
            cc.pause(active)
        else:
            cc.disconnect(active)
        try:
            taken = _wait_for_new_holder(redis, prefix, partition, active, hold_s + 20)
            takeover_s = time.monotonic() - started if taken else None
            time.sleep(max(0.0, hold_s - (time.monotonic() - started)))
        finally:
            healed_at = time.time()
            if kind == "pause":
                cc.unpause(active)
            else:
                cc.reconnect(active, ip)
        faulted_s = time.monotonic() - started
        time.sleep(5.0)  # the zombie wakes up: it must notice, and write nothing
        after = _holder(redis, prefix, partition)
        zombie_log = [line for line in cc.logs_since(active, healed_at) if partition in line]
    finally:
        redis.close()
    return {
        "fault": f"docker {'pause' if kind == 'pause' else 'network disconnect'} of the "
                 f"active partition worker",
        "partition": partition,
        "active_worker": active,
        "token_before": token,
        "standby_worker": taken[0] if taken else None,
        "token_after": taken[1] if taken else None,
        "takeover_s": round(takeover_s, 2) if takeover_s is not None else None,
        "faulted_s": round(faulted_s, 2),
        # A later lease of the old worker's, with a newer token, is a fresh start (the
        # workers balance partitions), not the zombie writing.
        "holder_after_heal": after[0] if after else None,
        "token_after_heal": after[1] if after else None,
        "zombie_log_after_heal": [_message(line)[:160] for line in zombie_log][:6],
        "zombie_saw_lease_lost": any(LEASE_LOST.search(line) for line in zombie_log),
    }


def _message(log_line: str) -> str:
    """The message of a JSON log line as `docker logs` prints it (else the line)."""
    try:
        parsed = json.loads(log_line[log_line.index("{"):])
    except ValueError:
        return log_line
    return str(parsed.get("message", log_line)) if isinstance(parsed, dict) else log_line


def worker_pause(target: FaultTarget) -> dict[str, Any]:
    return _worker_fault(target, "pause", hold_s=10.0)


def worker_partition(target: FaultTarget) -> dict[str, Any]:
    return _worker_fault(target, "disconnect", hold_s=10.0)


# ---------------------------------------------------------------- Redis Cluster

@dataclass(frozen=True)
class ClusterNode:
    node_id: str
    ip: str
    flags: frozenset[str]
    master_id: str
    slots: tuple[tuple[int, int], ...]

    @property
    def is_live_master(self) -> bool:
        return "master" in self.flags and not self.flags & {"fail", "fail?", "noaddr"}


def parse_cluster_nodes(text: str) -> list[ClusterNode]:
    """`CLUSTER NODES` output as nodes (slot ranges only; importing/migrating skipped)."""
    nodes = []
    for line in text.strip().splitlines():
        fields = line.split()
        if len(fields) < 8:
            continue
        ranges = []
        for item in fields[8:]:
            if item.startswith("["):
                continue
            low, _, high = item.partition("-")
            ranges.append((int(low), int(high or low)))
        nodes.append(ClusterNode(
            node_id=fields[0], ip=fields[1].split(":", 1)[0], flags=frozenset(fields[2].split(",")),
            master_id=fields[3], slots=tuple(ranges)))
    return nodes


def slot_master(nodes: list[ClusterNode], slot: int) -> ClusterNode | None:
    for node in nodes:
        if node.is_live_master and any(low <= slot <= high for low, high in node.slots):
            return node
    return None


def _nodes_seen_from(ip: str) -> list[ClusterNode]:
    """One node's `CLUSTER NODES`, read raw (redis-py would parse it into its own shape)."""
    client = Redis(host=ip, port=cc.REDIS_PORT, socket_timeout=1.0, socket_connect_timeout=1.0)
    try:
        connection = client.connection_pool.get_connection("CLUSTER")
        try:
            connection.send_command("CLUSTER", "NODES")  # type: ignore[no-untyped-call]
            raw = connection.read_response()
        finally:
            client.connection_pool.release(connection)
    finally:
        client.close()
    return parse_cluster_nodes(raw.decode() if isinstance(raw, bytes) else str(raw))


def _service_of(ip: str) -> str:
    return next(name for name, node_ip in cc.REDIS_NODES.items() if node_ip == ip)


def _survivors(dead_ip: str) -> Iterator[str]:
    return (ip for ip in cc.REDIS_NODES.values() if ip != dead_ip)


def wait_cluster_whole(timeout_s: float = 60.0) -> bool:
    """True once every node sees 3 live masters, each with a connected replica."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            views = [_nodes_seen_from(ip) for ip in cc.REDIS_NODES.values()]
        except Exception:  # noqa: BLE001 (a node still starting)
            views = []
        if views and all(_whole(nodes) for nodes in views):
            return True
        time.sleep(0.5)
    return False


def _whole(nodes: list[ClusterNode]) -> bool:
    masters = [node for node in nodes if node.is_live_master and node.slots]
    replicas = {node.master_id for node in nodes
                if "slave" in node.flags and not node.flags & {"fail", "fail?"}}
    return len(masters) == cc.REDIS_MASTERS and all(m.node_id in replicas for m in masters)


def redis_master_kill(target: FaultTarget) -> dict[str, Any]:
    from workers.keys import Keys
    from workers.redis_client import sync_client
    from workers.slots import key_slot

    redis = sync_client(target.settings.redis_url)
    try:
        partition = event_partition(redis, target.settings.redis_prefix, target.event_id)
    finally:
        redis.close()
    slot = key_slot(Keys(target.settings.redis_prefix).lease(partition))
    master = slot_master(_nodes_seen_from(cc.REDIS_NODES["redis-1"]), slot) \
        or slot_master(_nodes_seen_from(cc.REDIS_NODES["redis-2"]), slot)
    if master is None:
        raise cc.ClusterError(f"no master serves slot {slot}")
    killed = _service_of(master.ip)
    started = time.monotonic()
    cc.kill_hard(killed)
    promoted: ClusterNode | None = None
    while promoted is None and time.monotonic() - started < 60:
        for ip in _survivors(master.ip):
            try:
                owner = slot_master(_nodes_seen_from(ip), slot)
            except Exception:  # noqa: BLE001
                continue
            if owner is not None and owner.ip != master.ip:
                promoted = owner
                break
        else:
            time.sleep(POLL_SECONDS)
    failover_s = time.monotonic() - started
    time.sleep(3.0)
    cc.restart_killed(killed)
    whole = wait_cluster_whole()
    return {
        "fault": "SIGKILL of the Redis master owning the partition's slot",
        "partition": partition,
        "slot": slot,
        "killed_master": killed,
        "promoted_replica": _service_of(promoted.ip) if promoted else None,
        "failover_s": round(failover_s, 2) if promoted else None,
        "cluster_whole_again": whole,
    }


FAULTS: dict[str, Fault] = {
    "worker_pause": worker_pause,
    "worker_partition": worker_partition,
    "redis_master_kill": redis_master_kill,
}
