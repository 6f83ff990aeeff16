"""Whether a process still runs, for supervisors that did not start it (no waitpid)."""

from __future__ import annotations

import os
from pathlib import Path


def process_alive(pid: int) -> bool:
    """A zombie counts as gone: in a container whose init does not reap, it stays forever."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True  # no procfs (macOS): the signal probe is all we have
    return stat.rpartition(")")[2].split()[0] != "Z"
