"""A real Redis Cluster on loopback: 3 masters and 3 replicas, for tests and the failover bench.

Six `redis-server --cluster-enabled yes` processes in a temporary directory, joined with
`redis-cli --cluster create ... --cluster-replicas 1`. Nothing else on the machine is touched:
the ports are free ones found at start (each with its bus port, +10000), and `stop` ends only
the processes this module started.
"""

from __future__ import annotations

import ctypes
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import redis

NODES = 6
REPLICAS_PER_MASTER = 1
READY_TIMEOUT_SECONDS = 30.0
NODE_TIMEOUT_MS = 5000
"""cluster-node-timeout: how long a master may be unreachable before its replica takes
over. Generous by default, so a busy test machine does not fail masters over by itself."""


class ClusterUnavailable(Exception):
    """redis-server or redis-cli is not installed: the cluster cannot be started here."""


def _port_free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _killed_with_us() -> Callable[[], None] | None:
    """On Linux, a pre-exec hook so a node is killed when the process that started it dies:
    a test run killed mid-way leaves no cluster behind."""
    if not sys.platform.startswith("linux"):
        return None
    libc = ctypes.CDLL(None, use_errno=True)
    set_parent_death_signal = 1  # PR_SET_PDEATHSIG

    def hook() -> None:
        libc.prctl(set_parent_death_signal, int(signal.SIGKILL))

    return hook


def _free_ports(count: int) -> list[int]:
    """`count` ports whose cluster bus port (+10000) is free too."""
    ports: list[int] = []
    for _ in range(200):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        if port + 10000 < 65536 and port not in ports and _port_free(port + 10000):
            ports.append(port)
            if len(ports) == count:
                return ports
    raise ClusterUnavailable("no free loopback ports for a Redis Cluster")


@dataclass
class LocalCluster:
    ports: list[int]
    directory: Path
    node_timeout_ms: int = NODE_TIMEOUT_MS
    processes: dict[int, subprocess.Popen[bytes]] = field(default_factory=dict)

    @property
    def url(self) -> str:
        """The onsale Redis URL of this cluster (any node bootstraps the client)."""
        return f"redis+cluster://127.0.0.1:{self.ports[0]}"

    def node(self, port: int) -> redis.Redis:
        return redis.Redis(host="127.0.0.1", port=port, socket_timeout=5)

    def start_node(self, port: int) -> None:
        node_dir = self.directory / str(port)
        node_dir.mkdir(exist_ok=True)
        self.processes[port] = subprocess.Popen(
            ["redis-server", "--port", str(port), "--bind", "127.0.0.1",
             "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
             "--cluster-node-timeout", str(self.node_timeout_ms), "--appendonly", "yes",
             "--appendfsync", "everysec", "--save", "", "--dir", str(node_dir),
             "--daemonize", "no", "--protected-mode", "no"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, preexec_fn=_killed_with_us())

    def kill_node(self, port: int) -> None:
        process = self.processes.pop(port)
        process.kill()
        process.wait(timeout=10)

    def master_of_slot(self, slot: int) -> int:
        """The port of the master serving `slot` now."""
        for start, end, master, *_ in self.node(self._live_port()).cluster("SLOTS"):
            if start <= slot <= end:
                return int(master[1])
        raise LookupError(slot)

    def replicas_of(self, master_port: int) -> list[int]:
        raw = self.node(master_port).execute_command("ROLE")  # type: ignore[no-untyped-call]
        return [int(replica[1]) for replica in raw[2]]

    def _live_port(self) -> int:
        return next(port for port in self.ports if port in self.processes)

    def wait_ready(self, timeout: float = READY_TIMEOUT_SECONDS) -> None:
        """Until every live node says cluster_state:ok and agrees that every slot is served."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                if all(self._node_ok(port) for port in self.processes):
                    return
            except redis.RedisError:
                pass
            if time.monotonic() > deadline:
                raise ClusterUnavailable("Redis Cluster did not reach cluster_state:ok")
            time.sleep(0.1)

    def _node_ok(self, port: int) -> bool:
        info = self.node(port).cluster("INFO")
        if isinstance(info, bytes | str):  # unparsed: "field:value" lines
            raw = info.decode() if isinstance(info, bytes) else info
            info = dict(line.split(":", 1) for line in raw.split() if ":" in line)
        fields = {str(k): str(v) for k, v in info.items()}
        return fields.get("cluster_state") == "ok" and fields.get("cluster_slots_ok") == "16384"

    def stop(self) -> None:
        for port in list(self.processes):
            self.kill_node(port)
        shutil.rmtree(self.directory, ignore_errors=True)


def start_cluster(node_timeout_ms: int = NODE_TIMEOUT_MS) -> LocalCluster:
    """Start six nodes and join them; raises ClusterUnavailable without redis-server."""
    for program in ("redis-server", "redis-cli"):
        if shutil.which(program) is None:
            raise ClusterUnavailable(f"{program} is not on PATH (Debian: apt-get install "
                                     "redis-server)")
    cluster = LocalCluster(_free_ports(NODES), Path(tempfile.mkdtemp(prefix="onsale-cluster-")),
                           node_timeout_ms)
    try:
        for port in cluster.ports:
            cluster.start_node(port)
        for port in cluster.ports:
            _wait_answers(cluster.node(port))
        subprocess.run(
            ["redis-cli", "--cluster", "create",
             *(f"127.0.0.1:{port}" for port in cluster.ports),
             "--cluster-replicas", str(REPLICAS_PER_MASTER), "--cluster-yes"],
            check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=60)
        cluster.wait_ready()
        _wait_replicas_linked(cluster)
    except BaseException:
        cluster.stop()
        raise
    return cluster


def _wait_answers(node: redis.Redis, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            node.ping()
            return
        except redis.ConnectionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def _wait_replicas_linked(cluster: LocalCluster, timeout: float = 20.0) -> None:
    """Each replica's link to its master is up, so a failover finds it in sync."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        roles = [cluster.node(port).execute_command("ROLE")  # type: ignore[no-untyped-call]
                 for port in cluster.ports]
        replicas = [role for role in roles if role[0] in (b"slave", "slave")]
        if len(replicas) == NODES // 2 and all(
                role[3] in (b"connected", "connected") for role in replicas):
            return
        time.sleep(0.1)
    raise ClusterUnavailable("Redis Cluster replicas did not link to their masters")
