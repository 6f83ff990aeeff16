"""`make cluster`: the compose cluster started for real, surged through its load balancer,
audited, and surged again under Docker-level faults.

    python -m loadtests.cluster_run [--users 200] [--spawn-rate 50] [--duration 60s]
                                    [--faults worker_pause,worker_partition,redis_master_kill]
                                    [--fresh] [--up-only]

1. `docker-compose up` of deploy/cluster/docker-compose.yml (`--fresh`: from empty
   volumes), then wait until it serves (one-shots done, health checks green, the load
   balancer's /readyz answers, every partition leased).
2. A baseline surge (`onsale surge --host <load balancer>`), then one surge per fault,
   the fault injected 15 s into Locust's run (loadtests/cluster_faults.py).
3. After each surge, `onsale audit --event ID --json`: lost sales (fans shown a paid order
   Postgres does not have, or a paid order without its tickets) and double sales (a seat
   held or sold twice, a section or GA zone sold past capacity) must be 0.
4. bench-results/cluster.json: the cluster's shape, the baseline's figures, and per fault
   what was hit, how long the takeover or failover took, and the audit's figures.

Exit status: 0 every run passed its audit with nothing lost or sold twice; 1 otherwise;
2 the cluster did not come up.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from loadtests import compose_cluster as cc
from loadtests.cluster_faults import FAULTS, Fault, FaultTarget, wait_cluster_whole
from loadtests.surge import parse_duration

RESULTS_NAME = "cluster"
REPORTS_DIR = Path("bench-results") / "cluster"
AUDIT_SETTLE_SECONDS = 30
FAULT_AT_SECONDS = 15
_EVENT_LINE = re.compile(r"^surge: event (\d+)\b")
_PROGRESS_LINE = re.compile(r"^\s*(\d+)s/\d+s\s")


def sale_figures(audit: Mapping[str, Any], summary: Mapping[str, Any]) -> dict[str, Any]:
    """Lost and double sales of one surge, from its audit and the fans' own counts.

    lost: paid orders fans were shown that Postgres does not hold as paid (fans' count
    minus Postgres's, if positive, plus the audit's orders_tickets violations); double:
    the audit's seats_once and capacity violations.
    """
    checks = {check["name"]: check for check in audit.get("checks", [])}
    orders = checks.get("orders_tickets", {})
    paid_in_postgres = int(orders.get("figures", {}).get("paid_orders", 0))
    counts: Mapping[str, int] = summary.get("journeys", {}).get("counts", {})
    fans_shown_paid = sum(n for name, n in counts.items() if name.startswith("purchase.paid."))
    lost = max(0, fans_shown_paid - paid_in_postgres) + int(orders.get("violations", 0))
    double = sum(int(checks.get(name, {}).get("violations", 0))
                 for name in ("seats_once", "capacity"))
    locust = summary.get("locust", {})
    return {
        "audit_ok": bool(audit.get("ok")) and lost == 0 and double == 0,
        "lost_sales": lost,
        "double_sales": double,
        "surge_requests": int(locust.get("requests", 0)),
        "surge_failures": int(locust.get("failures", 0)),
        "requests_per_s": locust.get("requests_per_second"),
        "p95_ms": locust.get("p95_ms"),
        "fans_shown_paid": fans_shown_paid,
        "paid_orders_in_postgres": paid_in_postgres,
        "failed_checks": sorted(name for name, check in checks.items() if not check.get("ok")),
    }


def _onsale() -> list[str]:
    beside = Path(sys.executable).with_name("onsale")
    found = str(beside) if beside.exists() else shutil.which("onsale")
    if not found:
        raise cc.ClusterError("the `onsale` command is not installed next to this Python")
    return [found]


class FaultRunner(threading.Thread):
    def __init__(self, fault: Fault, target: FaultTarget):
        super().__init__(name="cluster-fault", daemon=True)
        self._fault = fault
        self._target = target
        self.figures: dict[str, Any] = {}

    def run(self) -> None:
        try:
            self.figures = self._fault(self._target)
        except Exception as error:  # noqa: BLE001 (reported in the figures, fails the run)
            self.figures = {"error": f"{type(error).__name__}: {error}"}


def surge_once(name: str, fault: Fault | None, args: argparse.Namespace,
               settings: cc.HostSettings) -> dict[str, Any]:
    report = REPORTS_DIR / name
    shutil.rmtree(report, ignore_errors=True)
    env = {**os.environ, **settings.environment()}
    command = [*_onsale(), "surge", "--host", settings.lb_url, "--users", str(args.users),
               "--spawn-rate", str(args.spawn_rate), "--duration", f"{args.duration}s",
               "--report", str(report)]
    print(f"cluster: {name}: {' '.join(command[1:])}", flush=True)
    started = time.monotonic()
    event_id: int | None = None
    runner: FaultRunner | None = None
    with subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True, bufsize=1) as surge:
        assert surge.stdout is not None
        for line in surge.stdout:
            print(f"  [{name}] {line}", end="", flush=True)
            if event_id is None and (found := _EVENT_LINE.match(line)):
                event_id = int(found.group(1))
            progress = _PROGRESS_LINE.match(line)
            if (fault and runner is None and event_id is not None and progress
                    and int(progress.group(1)) >= FAULT_AT_SECONDS):
                print(f"cluster: {name}: injecting the fault", flush=True)
                runner = FaultRunner(fault, FaultTarget(event_id, settings))
                runner.start()
        surge_exit = surge.wait()
    if runner is not None:
        runner.join(timeout=180)
    result: dict[str, Any] = {"surge_exit": surge_exit, "event_id": event_id}
    if fault is not None:
        result["fault"] = runner.figures if runner else {"error": "the surge ended first"}
    if event_id is None:
        return {**result, "audit_ok": False, "error": "the surge created no event"}
    audit = _audit(event_id, env)
    summary = json.loads((report / "summary.json").read_text()) \
        if (report / "summary.json").exists() else {}
    result.update(sale_figures(audit, summary))
    if fault is not None and "error" in result["fault"]:
        result["audit_ok"] = False
    result["run_s"] = round(time.monotonic() - started, 1)
    print(f"cluster: {name}: audit {'ok' if result['audit_ok'] else 'FAILED'}, "
          f"lost {result['lost_sales']}, double {result['double_sales']}, "
          f"{result['surge_requests']} requests", flush=True)
    return result


def _audit(event_id: int, env: Mapping[str, str]) -> dict[str, Any]:
    done = subprocess.run(
        [*_onsale(), "audit", "--event", str(event_id), "--json",
         "--settle", str(AUDIT_SETTLE_SECONDS)],
        env=dict(env), capture_output=True, text=True, timeout=300)
    try:
        parsed: dict[str, Any] = json.loads(done.stdout)
    except ValueError:
        return {"ok": False, "checks": [], "error": (done.stderr or done.stdout)[-2000:]}
    return parsed


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m loadtests.cluster_run",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument("--spawn-rate", type=float, default=50.0)
    parser.add_argument("--duration", type=parse_duration, default=60,
                        help="Locust's run per surge (default 60s)")
    parser.add_argument("--faults", default=",".join(FAULTS),
                        help=f"comma-separated, or none (default: {','.join(FAULTS)})")
    parser.add_argument("--fresh", action="store_true",
                        help="remove the cluster and its volumes first")
    parser.add_argument("--up-only", action="store_true",
                        help="start the cluster, wait until it serves, and stop there")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    names = [] if args.faults == "none" else [n for n in args.faults.split(",") if n]
    unknown = sorted(set(names) - set(FAULTS))
    if unknown:
        print(f"cluster: unknown faults {unknown}; known: {sorted(FAULTS)}", file=sys.stderr)
        return 2
    settings = cc.HostSettings()
    began = time.monotonic()
    try:
        if args.fresh:
            print("cluster: removing the previous cluster and its volumes", flush=True)
            cc.down()
        print(f"cluster: starting {cc.COMPOSE_FILE.relative_to(cc.ROOT)}", flush=True)
        cc.up()
        startup_s = cc.wait_until_serving(settings)
    except (cc.ClusterError, subprocess.TimeoutExpired) as error:
        print(f"cluster: {error}", file=sys.stderr)
        return 2
    print(f"cluster: serving through {settings.lb_url} after {startup_s:.1f} s", flush=True)
    if args.up_only:
        return 0
    runs: dict[str, dict[str, Any]] = {"baseline": surge_once("baseline", None, args, settings)}
    for name in names:
        try:
            cc.wait_until_serving(settings, timeout_s=120)
        except cc.ClusterError as error:
            runs[name] = {"audit_ok": False, "error": f"not serving before the fault: {error}"}
            continue
        runs[name] = surge_once(name, FAULTS[name], args, settings)
    wait_cluster_whole(timeout_s=30)
    payload = _payload(args, startup_s, runs, time.monotonic() - began)
    from loadtests.benchio import write_results

    path = write_results(RESULTS_NAME, payload)
    print(json.dumps({key: payload[key] for key in (
        "api_replicas", "redis_masters", "surge_requests", "audit_ok", "lost_sales",
        "double_sales", "startup_s", "total_s")}))
    print(f"cluster: figures in {path}; reports in {REPORTS_DIR}; the cluster keeps running "
          "(`make cluster-down` removes it)")
    return 0 if payload["audit_ok"] else 1


def _payload(args: argparse.Namespace, startup_s: float, runs: Mapping[str, dict[str, Any]],
             total_s: float) -> dict[str, Any]:
    baseline = runs["baseline"]
    return {
        "api_replicas": len(cc.API_SERVICES),
        "redis_masters": cc.REDIS_MASTERS,
        "redis_replicas": len(cc.REDIS_NODES) - cc.REDIS_MASTERS,
        "partition_workers": len(cc.WORKER_SERVICES),
        "load_balancer": "HAProxy 2.6 (Debian), leastconn, /readyz checks",
        "surge": {"users": args.users, "spawn_rate": args.spawn_rate,
                  "duration_s": args.duration, "host": cc.HostSettings().lb_url},
        "startup_s": round(startup_s, 1),
        "surge_requests": baseline.get("surge_requests", 0),
        "audit_ok": all(run.get("audit_ok") for run in runs.values()),
        "lost_sales": sum(int(run.get("lost_sales", 0)) for run in runs.values()),
        "double_sales": sum(int(run.get("double_sales", 0)) for run in runs.values()),
        "baseline": baseline,
        "faults": {name: run for name, run in runs.items() if name != "baseline"},
        "total_s": round(total_s, 1),
    }


if __name__ == "__main__":
    sys.exit(main())
