"""`<data_dir>/processes.json`: which process of a running `onsale up` has which pid.

Written by `onsale up` while it runs, rewritten (atomically: a reader never
sees half a file) whenever a process is started, restarted or found dead,
and removed when `onsale up` stops. Fault-injection runs read it to pick the
process to kill; an operator can read it to see what runs.

    {
      "up": 4100,             # the supervisor itself
      "api-1": 4120, "api-2": 4121,   # "api" alone when ONSALE_API_PROCESSES=1
      "worker-1": 4122, "worker-2": 4123,
      "payments-worker": 4124, "notifier": 4125,
      "admission-controller-1": 4126, "admission-controller-2": 4128, "autopilot": 4127,
      "redis": 4101, "postgres": 4102   # embedded servers only, when `onsale up` owns them
    }

A name whose value is null is down and waiting for its restart.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

PROCESSES_FILE = "processes.json"


class ProcessTable:
    """The pids of `onsale up`'s processes, mirrored to a JSON file on every change."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._pids: dict[str, int | None] = {"up": os.getpid()}
        self._lock = threading.Lock()

    @classmethod
    def in_data_dir(cls, data_dir: Path) -> ProcessTable:
        return cls(data_dir.expanduser().resolve() / PROCESSES_FILE)

    def set(self, name: str, pid: int | None) -> None:
        with self._lock:
            self._pids[name] = pid
            self._write()

    def snapshot(self) -> dict[str, int | None]:
        with self._lock:
            return dict(self._pids)

    def remove_file(self) -> None:
        self.path.unlink(missing_ok=True)

    def _write(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        temporary.write_text(json.dumps(self._pids, indent=2) + "\n")
        temporary.replace(self.path)


def read_processes(data_dir: Path) -> dict[str, int | None]:
    """The table a running `onsale up` wrote for `data_dir` ({} when none runs)."""
    try:
        loaded = json.loads((data_dir / PROCESSES_FILE).read_text())
    except (OSError, ValueError):
        return {}
    return {str(name): (int(pid) if pid is not None else None) for name, pid in loaded.items()}
