"""Schemathesis over /openapi.json, all four phases, on a bounded budget: no operation answers
a 5xx, and every error is in the error shape.

The same command as the long run in docs/security.md (`st run` with every phase: the
documented examples, the coverage phase's boundary and invalid values, random fuzzing, and
stateful sequences that follow the document's links), here with few examples per operation
and a time cap. It runs as a subprocess against `live_server` (the app served by ApiRunner
over the e2e Postgres and Redis), signed in as ops so the signed-in operations are reached.
Left out: POST /auth/logout (it would revoke the run's session) and the event streams (a
valid subscription stays open until the request times out).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import Engine

from tests.e2e.conftest import LiveServer
from tests.support.catalog_http import make_listed_event, quick_account, unique_city

pytestmark = pytest.mark.e2e

EXAMPLES_PER_OPERATION = 8
TIME_BUDGET_SECONDS = 30
HOOKS = "tests.support.schemathesis_hooks"  # the `error_shape` check
REPOSITORY = Path(__file__).resolve().parents[2]


def schemathesis_command(url: str, authorization: str, *, examples: int, seconds: int,
                         seed: int | None = 1) -> list[str]:
    """The `st run` command line, for this test and for a long run by hand."""
    command = [
        sys.executable, "-m", "schemathesis.cli", "run", f"{url}/openapi.json",
        "--phases", "examples,coverage,fuzzing,stateful",
        "--checks", "not_a_server_error,error_shape",
        "--max-examples", str(examples), "--max-time", str(seconds),
        "--header", f"Authorization: {authorization}",
        "--exclude-path", "/auth/logout", "--exclude-path-regex", r"/stream$|\}/events$",
        "--request-timeout", "10", "--workers", "1", "--suppress-health-check", "all",
    ]
    return command + (["--seed", str(seed)] if seed is not None else [])



def test_all_phases_find_no_5xx_and_no_error_outside_the_shape(
        live_server: LiveServer, engine: Engine) -> None:
    make_listed_event(engine, city=unique_city())  # something to find
    authorization = quick_account(engine, "ops")["Authorization"]
    command = schemathesis_command(live_server.url, authorization,
                                   examples=EXAMPLES_PER_OPERATION, seconds=TIME_BUDGET_SECONDS)
    environment = {**os.environ, "SCHEMATHESIS_HOOKS": HOOKS, "NO_COLOR": "1",
                   "PYTHONPATH": os.pathsep.join(filter(None, [str(REPOSITORY),
                                                               os.environ.get("PYTHONPATH")]))}
    run = subprocess.run(command, capture_output=True, text=True, env=environment,
                         timeout=TIME_BUDGET_SECONDS * 4, check=False)

    report = run.stdout[-6000:] + run.stderr[-2000:]
    assert run.returncode == 0, report
    for phase in ("Examples", "Coverage", "Fuzzing", "Stateful"):
        assert f"✅ {phase}" in run.stdout, f"the {phase} phase did not run to a pass:\n{report}"
    tally = re.search(r"(\d+) generated, (\d+) passed\n", run.stdout)
    assert tally is not None and tally[1] == tally[2], report  # nothing failed or errored
    assert int(tally[1]) > 100, f"too few cases for all 46 operations:\n{report}"
