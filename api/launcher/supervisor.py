"""The process supervisor behind `onsale up`.

It starts every service listed in `SERVICES` as a child process running an
`onsale` subcommand, restarts a child that dies (with exponential backoff, so
a child that cannot start does not spin), and on SIGINT/SIGTERM stops them
all: SIGTERM first, SIGKILL for whatever is still running after a grace period.
Every (re)start and death is mirrored to `<data_dir>/processes.json`
(api/launcher/process_table.py), so fault-injection runs know which pid to kill.

Children run in their own process group, so a Ctrl-C in the terminal reaches
only the supervisor, which then stops them in order. On Linux they also get
SIGTERM if the supervisor itself dies, so a killed `onsale up` leaves no
orphans serving stale configuration.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from types import FrameType
from typing import Any

from api.launcher.process_table import ProcessTable
from api.launcher.settings import Settings, child_environment

log = logging.getLogger(__name__)

STOP_GRACE_SECONDS = 10.0
RESTART_BACKOFF_FIRST_SECONDS = 0.5
RESTART_BACKOFF_MAX_SECONDS = 30.0
STABLE_AFTER_SECONDS = 30.0  # a child that ran this long starts its backoff afresh
READY_WARNING_AFTER_SECONDS = 60.0
TICK_SECONDS = 0.2


def _one(settings: Settings) -> int:
    return 1


@dataclass(frozen=True)
class Service:
    """One kind of child process: an `onsale` subcommand and how many copies to run."""

    name: str
    command: tuple[str, ...]
    replicas: Callable[[Settings], int] = field(default=_one)


# Everything `onsale up` runs. A new long-running process (e.g. the admission
# controller) is one more line here plus its subcommand in api/launcher/cli.py.
SERVICES: tuple[Service, ...] = (
    Service("api", ("api",), replicas=lambda settings: settings.api_processes),
    Service("worker", ("worker",), replicas=lambda settings: settings.workers),
    Service("payments-worker", ("payments-worker",)),
    Service("notifier", ("notifier",)),
    # Two: one holds each room's lease, the other stands by and takes over when the lease
    # expires (2 s), before a restarted process could (measured by `onsale chaos`).
    Service("admission-controller", ("admission-controller",), replicas=lambda settings: 2),
    Service("autopilot", ("autopilot",)),
)


@dataclass
class Child:
    """One running (or waiting to restart) copy of a service."""

    service: Service
    index: int
    replicas: int
    process: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0
    restart_at: float = 0.0
    failures_in_a_row: int = 0
    spawns: int = 0

    @property
    def name(self) -> str:
        return self.service.name if self.replicas == 1 else f"{self.service.name}-{self.index}"


def public_urls(settings: Settings) -> dict[str, str]:
    host = settings.host if settings.host not in ("0.0.0.0", "::", "") else "127.0.0.1"
    base = f"http://{host}:{settings.port}"
    return {
        "Box office (home page)": f"{base}/",
        "Organizer backoffice": f"{base}/organizer",
        "Ops dashboard": f"{base}/ops",
        "Metrics": f"{base}/metrics",
        "API docs": f"{base}/docs",
        "Readiness": f"{base}/readyz",
    }


class Supervisor:
    def __init__(
        self,
        settings: Settings,
        services: Sequence[Service] = SERVICES,
        *,
        stop_grace_seconds: float = STOP_GRACE_SECONDS,
        announce: Callable[[str], None] = print,
        processes: ProcessTable | None = None,
    ) -> None:
        self.settings = settings
        self.processes = processes
        self.stop_grace_seconds = stop_grace_seconds
        self.announce = announce
        self.children = [
            Child(service, index, count)
            for service in services
            for count in [service.replicas(settings)]
            for index in range(1, count + 1)
        ]
        self._stop_requested = threading.Event()
        self._force = False
        self._environment = {**child_environment(settings), "PYTHONUNBUFFERED": "1"}
        self._before_exec = _die_with_parent_hook()

    def request_stop(self, signum: int | None = None, frame: FrameType | None = None) -> None:
        """Signal handler: the first signal stops gracefully, a second one kills at once."""
        if self._stop_requested.is_set():
            self._force = True
        self._stop_requested.set()

    def run(self, started: float | None = None) -> int:
        """Supervise until SIGINT/SIGTERM; `started` (monotonic) is when `onsale up` began."""
        previous = {
            signum: signal.signal(signum, self.request_stop)
            for signum in (signal.SIGINT, signal.SIGTERM)
        }
        started = time.monotonic() if started is None else started
        try:
            for child in self.children:
                self._spawn(child)
            self._watch(started)
        finally:
            self._stop_all()
            for signum, handler in previous.items():
                signal.signal(signum, handler)
        return 0

    def _watch(self, started: float) -> None:
        ready = False
        warned = False
        while not self._stop_requested.wait(TICK_SECONDS):
            now = time.monotonic()
            for child in self.children:
                self._tend(child, now)
            if not ready:
                ready = _is_ready(self.settings)
                if ready:
                    self._announce_ready(now - started)
                elif not warned and now - started > READY_WARNING_AFTER_SECONDS:
                    warned = True
                    log.warning(
                        "API not ready after %.0fs; see %s",
                        now - started,
                        public_urls(self.settings)["Readiness"],
                    )

    def _tend(self, child: Child, now: float) -> None:
        if child.process is None:
            if now >= child.restart_at:
                self._spawn(child)
            return
        code = child.process.poll()
        if code is None:
            return
        ran_seconds = now - child.started_at
        if ran_seconds >= STABLE_AFTER_SECONDS:
            child.failures_in_a_row = 0
        child.failures_in_a_row += 1
        delay = min(
            RESTART_BACKOFF_MAX_SECONDS,
            RESTART_BACKOFF_FIRST_SECONDS * 2 ** (child.failures_in_a_row - 1),
        )
        log.warning(
            "%s (pid %d) exited with code %s after %.1fs; restarting in %.1fs",
            child.name,
            child.process.pid,
            code,
            ran_seconds,
            delay,
        )
        child.process = None
        child.restart_at = now + delay
        self._list(child)

    def _spawn(self, child: Child) -> None:
        command = [sys.executable, "-m", "api.launcher.cli", *child.service.command]
        child.process = subprocess.Popen(
            command,
            env=self._environment,
            process_group=0,
            preexec_fn=self._before_exec,
        )
        child.started_at = time.monotonic()
        child.spawns += 1
        self._list(child)
        if child.spawns == 1:
            log.info("started %s (pid %d)", child.name, child.process.pid)
        else:
            log.info(
                "restarted %s (pid %d, restart #%d)",
                child.name,
                child.process.pid,
                child.spawns - 1,
            )

    def _list(self, child: Child) -> None:
        if self.processes is not None:
            self.processes.set(child.name, child.process.pid if child.process else None)

    def _stop_all(self) -> None:
        running = [child for child in self.children if child.process is not None]
        for child in running:
            assert child.process is not None
            with contextlib.suppress(ProcessLookupError):
                child.process.terminate()
        deadline = time.monotonic() + self.stop_grace_seconds
        while running and time.monotonic() < deadline and not self._force:
            running = [child for child in running if child.process and child.process.poll() is None]
            time.sleep(0.05)
        for child in running:
            assert child.process is not None
            if child.process.poll() is None:
                log.warning(
                    "%s (pid %d) did not stop in time; killing it", child.name, child.process.pid
                )
                with contextlib.suppress(ProcessLookupError):
                    child.process.kill()
        for child in self.children:
            if child.process is not None:
                code = child.process.wait()
                log.info("%s stopped (exit code %s)", child.name, code)
                child.process = None

    def _announce_ready(self, elapsed_seconds: float) -> None:
        lines = [f"onsale is up (ready in {elapsed_seconds:.1f}s). Ctrl-C stops everything."]
        width = max(len(label) for label in public_urls(self.settings))
        for label, url in public_urls(self.settings).items():
            lines.append(f"  {label:<{width}}  {url}")
        self.announce("\n".join(lines))


def _is_ready(settings: Settings) -> bool:
    try:
        with urllib.request.urlopen(public_urls(settings)["Readiness"], timeout=0.5) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError, ValueError):
        return False


def _die_with_parent_hook() -> Callable[[], None] | None:
    """A pre-exec hook asking Linux to SIGTERM the child when the supervisor dies.

    libc is loaded here, in the parent: between fork and exec only the prctl call runs.
    """
    if not sys.platform.startswith("linux"):
        return None
    import ctypes

    pr_set_pdeathsig = 1
    libc: Any = ctypes.CDLL(None, use_errno=True)

    def before_exec() -> None:
        libc.prctl(pr_set_pdeathsig, int(signal.SIGTERM))

    return before_exec
