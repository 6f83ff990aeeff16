"""`onsale up` on a machine without Postgres or Redis configured: it starts the
embedded servers, becomes ready, restarts a child that dies, and on SIGINT
stops everything it started (no postgres or redis-server left behind).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

import psutil
import pytest

from api.launcher.embedded import process_alive
from tests.support.servers import free_port

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
READY_TIMEOUT_SECONDS = 90.0
STOP_TIMEOUT_SECONDS = 40.0


def _status(url: str) -> int | None:
    try:
        with urllib.request.urlopen(url, timeout=1) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return exc.code
    except OSError:
        return None


def _wait_until(
    predicate: Callable[[], bool], timeout: float, what: str, up: subprocess.Popen[bytes], log: Path
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        if up.poll() is not None:
            pytest.fail(f"onsale up exited ({up.returncode}) before {what}:\n{log.read_text()}")
        time.sleep(0.2)
    pytest.fail(f"not {what} within {timeout:.0f}s:\n{log.read_text()}")


def _start_up(
    tmp_path: Path, *options: str
) -> tuple[subprocess.Popen[bytes], Path, str, Path]:
    """`onsale up --no-demo` on a fresh data directory and a free port, one partition worker:
    the process, its data directory, its /readyz URL and its log file."""
    data_dir = tmp_path / "data"
    port = free_port()
    environment = {key: value for key, value in os.environ.items() if not key.startswith("ONSALE_")}
    environment.update(ONSALE_DATA_DIR=str(data_dir), ONSALE_PORT=str(port), ONSALE_WORKERS="1")
    log = tmp_path / "up.log"
    with log.open("wb") as output:
        up = subprocess.Popen(
            [sys.executable, "-m", "api.launcher.cli", "up", "--no-demo", *options],
            cwd=ROOT,
            env=environment,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    return up, data_dir, f"http://127.0.0.1:{port}/readyz", log


def _stop_up(up: subprocess.Popen[bytes], log: Path) -> None:
    """Ctrl-C, as a developer stops it; a failure if it does not stop in time."""
    if up.poll() is None:
        up.send_signal(signal.SIGINT)
    try:
        up.wait(STOP_TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired:
        up.kill()
        pytest.fail(f"onsale up did not stop on SIGINT:\n{log.read_text()}")


def _api_child(up: subprocess.Popen[bytes]) -> psutil.Process | None:
    for child in psutil.Process(up.pid).children():
        try:
            if child.cmdline()[-1:] == ["api"] and child.status() != psutil.STATUS_ZOMBIE:
                return child
        except psutil.Error:  # exited (or a zombie) while we looked
            continue
    return None


def test_up_on_embedded_servers_gets_ready_restarts_children_and_stops_clean(
    tmp_path: Path,
) -> None:
    started = time.monotonic()
    up, data_dir, readyz, log = _start_up(tmp_path)
    try:
        _wait_until(lambda: _status(readyz) == 200, READY_TIMEOUT_SECONDS, "ready", up, log)
        print(f"onsale up ready in {time.monotonic() - started:.1f}s")
        state = json.loads((data_dir / "embedded.json").read_text())
        server_pids = [state["postgres_pid"], state["redis_pid"]]
        assert all(process_alive(pid) for pid in server_pids)

        first_api = _api_child(up)
        assert first_api is not None
        first_api.kill()
        _wait_until(
            lambda: (api := _api_child(up)) is not None and api.pid != first_api.pid,
            15,
            "restarting the killed API",
            up,
            log,
        )
        _wait_until(lambda: _status(readyz) == 200, 30, "ready again", up, log)
        children = psutil.Process(up.pid).children(recursive=True)
        _wait_until(lambda: "onsale is up" in log.read_text(), 5, "announced", up, log)
    finally:
        _stop_up(up, log)

    output_text = log.read_text()
    assert up.returncode == 0, output_text
    assert "restarting in" in output_text
    left = [pid for pid in server_pids + [child.pid for child in children] if process_alive(pid)]
    assert left == [], f"processes left running: {left}\n{output_text}"
    strays = [
        process.pid
        for process in psutil.process_iter(["cmdline"])
        if str(data_dir) in " ".join(process.info["cmdline"] or ()) and process_alive(process.pid)
    ]
    assert strays == [], f"processes still using {data_dir}: {strays}"
    assert not (data_dir / "embedded.json").exists()
