"""CI's on-sale surge: 200 users for 30 s against a fresh local stack, then the audit.

This is `onsale surge --users 200 --spawn-rate 50 --duration 30s --report <tmp>`
as CI runs it: exit status 0 means every invariant held (no seat sold twice,
sold <= capacity, tickets match paid orders, every request decided, holds
returned, buyer limits, queue order, no bot got through). About a minute.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.surge

ROOT = Path(__file__).resolve().parents[2]
REPORT_FILES = (
    "summary.md", "summary.json", "audit.txt", "audit.json", "journeys.json", "locust.html",
    "locust_stats.csv", "locust_stats_history.csv", "samples.csv", "places.json",
    "queue.png", "admission_rate.png", "decisions.png", "latency.png", "overview.png",
)


def test_small_surge_holds_every_invariant_and_writes_the_report(tmp_path: Path) -> None:
    report = tmp_path / "report"
    run = subprocess.run(
        [sys.executable, "-m", "loadtests.surge", "--users", "200", "--spawn-rate", "50",
         "--duration", "30s", "--report", str(report)],
        cwd=ROOT, capture_output=True, text=True, timeout=240, check=False)
    print(run.stdout[-4000:])
    assert run.returncode == 0, f"surge failed ({run.returncode}):\n{run.stdout}\n{run.stderr}"
    missing = [name for name in REPORT_FILES if not (report / name).is_file()]
    assert missing == [], f"report files missing: {missing}"
    summary = json.loads((report / "summary.json").read_text())
    counts = summary["journeys"]["counts"]
    assert counts.get("queue.admitted", 0) > 0, "no fan got through the waiting room"
    assert sum(v for k, v in counts.items() if k.startswith("purchase.paid.")) > 0, "nothing sold"
    assert summary["bots_got_through"] == 0
    assert json.loads((report / "audit.json").read_text())["ok"] is True
