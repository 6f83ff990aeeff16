"""Where a contender's CPU goes: per process group, over a run's measured window.

On a 2-core machine every contender shares the cores with its own clients, Postgres and
Redis, so decisions/s alone cannot say whether a design was bound by CPU (both cores
busy) or by the latency of its round trips (cores idle). A sampler thread reads the
CPU time of every relevant process from Linux `/proc` ten times a second; the harness
then takes the difference over the measured window and divides by the decisions made.

Groups: `clients` (the harness's client processes), `server` (the contender's own
processes the harness started: onsale's worker, vanilla RQ's worker), `postgres` and
`redis` (every process of those servers on this machine, so anything else they serve
at the time counts too: run benchmarks on a quiet machine). The harness process
itself, idle while the clients run, is left out.

Off Linux (no `/proc`) the sampler records nothing and the figures are absent.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

SAMPLE_INTERVAL_SECONDS = 0.1
GROUPS = ("clients", "server", "postgres", "redis")
_PROC = Path("/proc")


@dataclass(frozen=True)
class ProcessCpu:
    pid: int
    parent: int
    name: str
    """The kernel's short name (`comm`)."""
    cpu_seconds: float
    """User + system time so far."""


Snapshot = tuple[float, dict[int, tuple[str, float]]]
"""(monotonic time, pid -> (group, cpu seconds)) for the processes of interest."""


@dataclass(frozen=True)
class CpuFigures:
    """CPU of each group over a window: cores kept busy, and microseconds per decision."""

    seconds: float
    cores: dict[str, float]
    us_per_decision: dict[str, float]

    @property
    def total_cores(self) -> float:
        return sum(self.cores.values())

    @property
    def total_us_per_decision(self) -> float:
        return sum(self.us_per_decision.values())

    def entry(self) -> dict[str, object]:
        return {"window_s": round(self.seconds, 2),
                "cores": {g: round(c, 2) for g, c in self.cores.items()},
                "cores_total": round(self.total_cores, 2),
                "us_per_decision": {g: round(u) for g, u in self.us_per_decision.items()},
                "us_per_decision_total": round(self.total_us_per_decision)}

    def line(self) -> str:
        parts = ", ".join(f"{g} {self.us_per_decision[g]:.0f}" for g in GROUPS
                          if g in self.us_per_decision)
        return (f"CPU per decision (us): {parts}; total {self.total_us_per_decision:.0f}, "
                f"{self.total_cores:.2f} of {os.cpu_count() or '?'} cores busy")


def _parse_stat(pid: int, stat: str, ticks: int) -> ProcessCpu:
    name = stat[stat.index("(") + 1:stat.rindex(")")]
    fields = stat[stat.rindex(")") + 2:].split()
    return ProcessCpu(pid, int(fields[1]), name, (int(fields[11]) + int(fields[12])) / ticks)


def process_cpu(pid: int) -> ProcessCpu:
    """One process's CPU so far (Linux); OSError if it is gone."""
    return _parse_stat(pid, (_PROC / str(pid) / "stat").read_text(), os.sysconf("SC_CLK_TCK"))


def read_processes() -> list[ProcessCpu]:
    """Every process's CPU so far (Linux); processes that end meanwhile are skipped."""
    ticks = os.sysconf("SC_CLK_TCK")
    found: list[ProcessCpu] = []
    for entry in _PROC.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        found.append(_parse_stat(int(entry.name), stat, ticks))
    return found


def classify(processes: list[ProcessCpu], harness_pid: int,
             client_pids: set[int]) -> dict[int, tuple[str, float]]:
    """Each process of interest with its group: servers by name, the rest by descent."""
    parents = {p.pid: p.parent for p in processes}
    groups: dict[int, tuple[str, float]] = {}
    for process in processes:
        if process.name.startswith("postgres"):
            group = "postgres"
        elif process.name.startswith("redis-server"):
            group = "redis"
        elif process.pid in client_pids:
            group = "clients"
        elif process.pid != harness_pid and _descends_from(process.pid, harness_pid, parents):
            group = "server"
        else:
            continue
        groups[process.pid] = (group, process.cpu_seconds)
    return groups


def _descends_from(pid: int, ancestor: int, parents: dict[int, int]) -> bool:
    seen = 0
    while pid in parents and seen < 64:
        pid = parents[pid]
        if pid == ancestor:
            return True
        seen += 1
    return False


def window_figures(snapshots: list[Snapshot], start: float, end: float,
                   decisions_per_s: float) -> CpuFigures | None:
    """CPU between the first and last snapshot inside [start, end]. A process seen only in
    the later snapshot (started meanwhile) counts from zero."""
    inside = [s for s in snapshots if start <= s[0] <= end]
    if len(inside) < 2 or decisions_per_s <= 0:
        return None
    (first_at, first), (last_at, last) = inside[0], inside[-1]
    seconds = last_at - first_at
    if seconds <= 0:
        return None
    used = dict.fromkeys(GROUPS, 0.0)
    for pid, (group, cpu) in last.items():
        before = first.get(pid)
        used[group] += cpu - (before[1] if before is not None else 0.0)
    cores = {g: used[g] / seconds for g in GROUPS}
    return CpuFigures(seconds, cores, {g: c / decisions_per_s * 1e6 for g, c in cores.items()})


def combine_cpu(parts: list[tuple[CpuFigures, float]]) -> CpuFigures | None:
    """Several windows' figures as one: (figures, decisions/s of that window) each."""
    if not parts:
        return None
    seconds = sum(cpu.seconds for cpu, _ in parts)
    decisions = sum(cpu.seconds * rate for cpu, rate in parts)
    used = {g: sum(cpu.cores.get(g, 0.0) * cpu.seconds for cpu, _ in parts) for g in GROUPS}
    return CpuFigures(seconds, {g: used[g] / seconds for g in GROUPS},
                      {g: used[g] / decisions * 1e6 for g in GROUPS})


class CpuSampler:
    """Snapshots in a daemon thread while a run is under way (`with CpuSampler(...)`)."""

    def __init__(self, client_pids: Callable[[], set[int]],
                 interval_s: float = SAMPLE_INTERVAL_SECONDS):
        self._client_pids = client_pids
        self._interval = interval_s
        self._harness = os.getpid()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="cpu-sampler", daemon=True)
        self.snapshots: list[Snapshot] = []

    def __enter__(self) -> CpuSampler:
        if _PROC.is_dir():
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5.0)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                taken = classify(read_processes(), self._harness, self._client_pids())
            except (OSError, ValueError):
                taken = {}
            self.snapshots.append((time.monotonic(), taken))
            self._stop.wait(self._interval)
