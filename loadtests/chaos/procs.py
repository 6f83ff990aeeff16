"""The local stack's processes, and which of them holds a lease.

`onsale up` starts every service as `python -m api.launcher.cli <service>` with the
stack's `ONSALE_DATA_DIR` in its environment, so the processes of one stack are
found in /proc by that pair, whatever else runs on the machine (other stacks,
other engineers' tests). A `processes.json` in the data directory, when
`onsale up` writes one, is read first. Lease holders are named in Redis: a
partition lease's value starts with `<host>:<pid>:`, the autopilot's with
`autopilot-<host>-<pid>-`, the admission controller's with `controller-<pid>-`.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

from redis import Redis

from workers.keys import Keys, text
from workers.ops_counters import OpsKeys

SERVICE_COMMANDS = {
    "api": "api", "worker": "worker", "payments-worker": "payments-worker",
    "notifier": "notifier", "admission-controller": "admission-controller",
    "autopilot": "autopilot",
}


@dataclass(frozen=True)
class StackProcess:
    pid: int
    service: str


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError:
        return b""


def _service_of(argv: list[str]) -> str | None:
    for index, arg in enumerate(argv[:-1]):
        if arg in ("api.launcher.cli", "api.cli") and index > 0 and argv[index - 1] == "-m":
            service = argv[index + 1]
            return service if service in SERVICE_COMMANDS else None
    return None


def stack_processes(data_dir: Path) -> list[StackProcess]:
    """Every live service process of the stack whose data directory is `data_dir`."""
    wanted = f"ONSALE_DATA_DIR={data_dir.resolve()}".encode()
    wanted_raw = f"ONSALE_DATA_DIR={data_dir}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        argv = [part.decode(errors="replace") for part in _read(entry / "cmdline").split(b"\0")
                if part]
        service = _service_of(argv)
        if service is None:
            continue
        environ = _read(entry / "environ").split(b"\0")
        if wanted in environ or wanted_raw in environ:
            found.append(StackProcess(int(entry.name), service))
    return sorted(found, key=lambda process: process.pid)


def pids_of(data_dir: Path, service: str) -> list[int]:
    """Live pids of one service: from processes.json when the stack writes one, else /proc."""
    listed = _listed(data_dir, service)
    if listed:
        return listed
    return [process.pid for process in stack_processes(data_dir) if process.service == service]


def _listed(data_dir: Path, service: str) -> list[int]:
    """`processes.json` ({"api-1": pid, "worker-2": pid, "redis": pid, ...}; null: down)."""
    return sorted(pid for name, pid in listed_processes(data_dir).items()
                  if re.fullmatch(rf"{re.escape(service)}(-\d+)?", name) and alive(pid))


def listed_processes(data_dir: Path) -> dict[str, int]:
    """Name -> pid of every running process `processes.json` lists (empty without one)."""
    with contextlib.suppress(OSError, ValueError, TypeError, AttributeError):
        table = json.loads((data_dir / "processes.json").read_text())
        return {str(name): int(pid) for name, pid in table.items() if pid is not None}
    return {}


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    status = _read(Path(f"/proc/{pid}/status"))
    return b"State:\tZ" not in status


def partition_holder(redis: Redis, keys: Keys, partition: str) -> tuple[int, int] | None:
    """(pid, fencing token) of the partition's lease holder, or None when nobody holds it."""
    value = redis.get(keys.lease(partition))
    if not value:
        return None
    owner, _, token = text(value).rpartition("|")
    parts = owner.split(":")
    if len(parts) < 3 or not parts[-2].isdigit():
        return None
    return int(parts[-2]), int(token)


def controller_holder(redis: Redis, prefix: str, event_id: int) -> int | None:
    """Pid of the admission controller leading the room (`controller-<pid>-<random>`)."""
    from waitingroom.keys import RoomKeys

    value = redis.get(RoomKeys(prefix, event_id).controller_lease)
    if not value:
        return None
    parts = text(value).split("-")
    return int(parts[1]) if len(parts) == 3 and parts[1].isdigit() else None


def autopilot_holder(redis: Redis, keys: OpsKeys, event_id: int) -> int | None:
    value = redis.get(keys.autopilot_lease(event_id))
    if not value:
        return None
    parts = text(value).rsplit("-", 2)
    return int(parts[1]) if len(parts) == 3 and parts[1].isdigit() else None
