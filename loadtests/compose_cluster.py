"""The compose cluster (deploy/cluster/docker-compose.yml) as `make cluster` drives it.

Starts and stops the project, waits until it serves, finds containers by service, and
applies the Docker-level faults: `docker pause` (a zombie: the process is frozen, its
sockets stay open), `docker network disconnect` (a partition: the container is cut off,
then reconnected at the same address), and a SIGKILL with the restart policy switched
off for the moment, so the Redis Cluster promotes a replica before the node comes back.
"""

from __future__ import annotations

import json
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
COMPOSE_FILE = ROOT / "deploy" / "cluster" / "docker-compose.yml"
PROJECT = "onsale-cluster"
NETWORK = f"{PROJECT}_cluster"

# Fixed in the compose file: the services, their counts and the addresses the host uses.
API_SERVICES = ("api-1", "api-2", "api-3")
WORKER_SERVICES = ("worker-1", "worker-2")
REDIS_NODES = {f"redis-{n}": f"172.30.77.{10 + n}" for n in range(1, 7)}
REDIS_PORT = 6379
REDIS_MASTERS = 3
PARTITIONS = 8  # ONSALE_PARTITIONS of the compose file
LB_PORT = 18080
PG_PORT = 15432
ONE_SHOTS = ("volumes-init", "redis-cluster-init", "migrate")
HEALTHCHECKED = ("postgres", *API_SERVICES, *REDIS_NODES)


class ClusterError(RuntimeError):
    pass


@dataclass(frozen=True)
class HostSettings:
    """How a process on the host reaches the cluster (loopback ports, Redis over the bridge)."""

    lb_url: str = f"http://127.0.0.1:{LB_PORT}"
    database_url: str = f"postgresql+psycopg://onsale:onsale@127.0.0.1:{PG_PORT}/onsale"
    redis_url: str = f"redis+cluster://{REDIS_NODES['redis-1']}:{REDIS_PORT}"
    redis_prefix: str = "onsale"

    def environment(self) -> dict[str, str]:
        return {"ONSALE_DATABASE_URL": self.database_url, "ONSALE_REDIS_URL": self.redis_url,
                "ONSALE_REDIS_PREFIX": self.redis_prefix}


def _run(args: Sequence[str], check: bool = True, timeout: float = 600.0) -> str:
    done = subprocess.run(list(args), capture_output=True, text=True, timeout=timeout)
    if check and done.returncode != 0:
        raise ClusterError(f"{' '.join(args)}: exit {done.returncode}: "
                           f"{(done.stderr or done.stdout).strip()[-2000:]}")
    return done.stdout


def compose(*args: str, check: bool = True, timeout: float = 600.0) -> str:
    return _run(["docker-compose", "-p", PROJECT, "-f", str(COMPOSE_FILE), *args],
                check=check, timeout=timeout)


def docker(*args: str, check: bool = True) -> str:
    return _run(["docker", *args], check=check, timeout=120.0)


def up() -> None:
    compose("up", "-d", "--remove-orphans")


def down() -> None:
    compose("down", "--volumes", "--remove-orphans")


def _containers() -> dict[str, str]:
    """Service -> container id, for every container of the project (one per service)."""
    listed = docker("ps", "--all", "--filter", f"label=com.docker.compose.project={PROJECT}",
                    "--format", '{{.ID}} {{.Label "com.docker.compose.service"}}')
    return {service: cid for cid, _, service in
            (line.partition(" ") for line in listed.splitlines()) if service}


def container(service: str) -> str:
    found = _containers().get(service)
    if not found:
        raise ClusterError(f"service {service} has no container")
    return found


def states() -> dict[str, dict[str, Any]]:
    """Service -> Docker's State of its container, with one `docker inspect`."""
    by_id = {cid: service for service, cid in _containers().items()}
    if not by_id:
        return {}
    inspected: list[dict[str, Any]] = json.loads(docker("inspect", *by_id))
    return {by_id[entry["Id"][:12]]: entry["State"] for entry in inspected}


def health(state: dict[str, Any]) -> str:
    checked = state.get("Health")
    return str(checked["Status"]) if isinstance(checked, dict) else str(state.get("Status"))


def lb_ready(lb_url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{lb_url}/readyz", timeout=3) as response:
            return bool(response.status == 200)
    except (OSError, urllib.error.URLError):
        return False


def wait_until_serving(settings: HostSettings, timeout_s: float = 300.0) -> float:
    """Seconds until the one-shots succeeded, every health check passes, the load balancer
    answers /readyz and every partition has a consumer holding its lease."""
    from workers.keys import Keys
    from workers.lease import lease_holder
    from workers.redis_client import sync_client

    started = time.monotonic()
    deadline = started + timeout_s
    waiting: list[str] = []
    while time.monotonic() < deadline:
        waiting = []
        now = states()
        missing = [service for service in (*ONE_SHOTS, *HEALTHCHECKED) if service not in now]
        if missing:
            raise ClusterError(f"no container for {', '.join(missing)}")
        for service in ONE_SHOTS:
            state = now[service]
            if state.get("Status") != "exited":
                waiting.append(f"{service} running")
            elif state.get("ExitCode") != 0:
                raise ClusterError(f"{service} failed (exit {state.get('ExitCode')}): "
                                   f"{compose('logs', '--tail=20', service, check=False)}")
        waiting += [f"{service} {status}" for service in HEALTHCHECKED
                    if (status := health(now[service])) != "healthy"]
        if not waiting and not lb_ready(settings.lb_url):
            waiting.append("load balancer /readyz")
        if not waiting:
            redis = sync_client(settings.redis_url)
            keys = Keys(settings.redis_prefix)
            try:
                waiting += [f"partition p{n} unleased" for n in range(PARTITIONS)
                            if lease_holder(redis, keys, f"p{n}") is None]
            finally:
                redis.close()
        if not waiting:
            return time.monotonic() - started
        time.sleep(2.0)
    raise ClusterError(f"not serving after {timeout_s:.0f} s: {', '.join(waiting)}")


# ---------------------------------------------------------------- Docker-level faults

def pause(service: str) -> None:
    docker("pause", container(service))


def unpause(service: str) -> None:
    docker("unpause", container(service))


def address(service: str) -> str:
    inspected: list[dict[str, Any]] = json.loads(docker("inspect", container(service)))
    return str(inspected[0]["NetworkSettings"]["Networks"][NETWORK]["IPAddress"])


def disconnect(service: str) -> None:
    """Cut the service off the cluster network (note its `address` first to reconnect)."""
    docker("network", "disconnect", NETWORK, container(service))


def reconnect(service: str, ip: str) -> None:
    """Back on the network at the same address, so its open TCP connections can resume."""
    docker("network", "connect", "--ip", ip, "--alias", service, NETWORK, container(service))


def kill_hard(service: str) -> None:
    """SIGKILL, with the restart policy off so Docker does not bring it straight back."""
    docker("update", "--restart=no", container(service))
    docker("kill", container(service))


def restart_killed(service: str) -> None:
    docker("update", "--restart=unless-stopped", container(service))
    docker("start", container(service))


def logs_since(service: str, since_unix: float) -> list[str]:
    done = subprocess.run(["docker", "logs", "--since", f"{since_unix:.3f}", container(service)],
                          capture_output=True, text=True, timeout=60)
    return (done.stdout + done.stderr).splitlines()
