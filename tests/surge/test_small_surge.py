"""CI's on-sale surge: 200 users for 60 s against a fresh local stack, then the audits.

This is `onsale surge --users 200 --spawn-rate 50 --duration 60s --report <tmp>` as CI
runs it: exit status 0 means every invariant held on both events, the on-sale and the
presale (no seat sold twice, sold <= capacity, tickets match paid orders, every request
decided, holds returned, buyer limits, presale codes used no more than allowed,
waiting-list offers in list order and of free seats only, queue order, holds from intents
in line order, no bot got through). It also checks that the run exercised the line's
features rather than passing their checks for want of data: a waiting-list offer made and
bought, a presale code redeemed and a presale ticket sold, holds from intents compared.
About 80 s.
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
    "summary.md", "summary.json", "audit.txt", "audit.json", "presale-audit.txt",
    "presale-audit.json", "journeys.json", "locust.html", "locust_stats.csv",
    "locust_stats_history.csv", "samples.csv", "places.json", "queue.png",
    "admission_rate.png", "decisions.png", "latency.png", "overview.png",
)


def test_small_surge_holds_every_invariant_and_exercises_the_line_features(
    tmp_path: Path,
) -> None:
    report = tmp_path / "report"
    run = subprocess.run(
        [sys.executable, "-m", "loadtests.surge", "--users", "200", "--spawn-rate", "50",
         "--duration", "60s", "--report", str(report)],
        cwd=ROOT, capture_output=True, text=True, timeout=300, check=False)
    print(run.stdout[-6000:])
    assert run.returncode == 0, f"surge failed ({run.returncode}):\n{run.stdout}\n{run.stderr}"
    missing = [name for name in REPORT_FILES if not (report / name).is_file()]
    assert missing == [], f"report files missing: {missing}"
    summary = json.loads((report / "summary.json").read_text())
    counts = summary["journeys"]["counts"]
    assert counts.get("queue.admitted", 0) > 0, "no fan got through the waiting room"
    assert sum(v for k, v in counts.items() if k.startswith("purchase.paid.")) > 0, "nothing sold"
    assert summary["bots_got_through"] == 0
    audits = [json.loads((report / name).read_text())
              for name in ("audit.json", "presale-audit.json")]
    for audit in audits:
        failed = [c["name"] for c in audit["checks"] if c["status"] == "fail"]
        assert audit["ok"] is True and failed == [], f"event {audit['event_id']}: {failed}"

    features = summary["features"]
    users = features["users_per_journey"]
    assert users.get("WaitingLister", 0) > 0 and users.get("PresaleFan", 0) > 0, users
    waiting_list = features["waiting_list"]
    assert waiting_list["offers_seen"] >= 1 and waiting_list["offers_bought"] >= 1, \
        f"no waiting-list offer made and bought: {waiting_list}"
    assert waiting_list["audit_offers"] >= 1, "the list-order check saw no offer"
    presale = features["presale"]
    assert presale["codes_redeemed"] >= 1 and presale["tickets_sold"] >= 1, \
        f"no presale code redeemed and ticket sold: {presale}"
    assert presale["audit_codes_checked"] >= 1, "the presale_codes check saw no code"
    intents = features["intents"]
    assert intents["audit_holds"] >= 2, f"too few holds from intents to compare: {intents}"
