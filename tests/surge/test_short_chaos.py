"""CI's short chaos run: three faults struck in one small surge on a fresh local stack, audited.

This is `onsale chaos --quick --only api-kill,consumer-kill,payments-kill --report <tmp>`:
SIGKILL of an API process, of the event's active partition consumer mid-batch,
and of the payments worker between an authorization and its capture. It fails
on any violated invariant (audit), any lost or double sale, any request left
without a final state, any money taken without tickets, and any 5xx. About
two and a half minutes here.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.surge

ROOT = Path(__file__).resolve().parents[2]
FAULTS = ("api-kill", "consumer-kill", "payments-kill")
MUST_BE_ZERO = ("lost_sales", "double_sales", "stuck_requests", "money_without_tickets",
                "http_5xx")


def test_short_chaos_run_keeps_every_invariant_and_answers_no_5xx(tmp_path: Path) -> None:
    report = tmp_path / "report"
    run = subprocess.run(
        [sys.executable, "-m", "loadtests.chaos.runner", "--quick", "--only", ",".join(FAULTS),
         "--report", str(report)],
        cwd=tmp_path, capture_output=True, text=True, timeout=420, check=False)
    print(run.stdout[-4000:])
    assert run.returncode == 0, f"chaos failed ({run.returncode}):\n{run.stdout}\n{run.stderr}"
    result = json.loads((report / "chaos.json").read_text())
    assert result["audit_ok"] is True
    assert [fault["name"] for fault in result["faults"]] == list(FAULTS)
    for fault in result["faults"]:
        assert fault["injected_at_s"] is not None, f"{fault['name']} was never struck"
        assert not fault.get("not_struck"), fault["notes"]
        for name in MUST_BE_ZERO:
            assert fault[name] == 0, f"{fault['name']}: {name} = {fault[name]}"
        assert fault["surge"] == "quick"  # --quick: the three strike in one surge
    assert (report / "quick" / "fault.png").is_file()
    assert (report / "quick" / "overview.png").is_file()
    assert (tmp_path / "bench-results" / "chaos.json").is_file()
