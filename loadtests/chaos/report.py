"""The chaos report: per fault, the surge plots with the fault marked and a timeline of what
fans saw; overall, chaos.md (the table and each fault's notes) and chaos.json."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from loadtests.chaos import table  # noqa: E402
from loadtests.chaos.recovery import SecondStats, dense, percentile  # noqa: E402
from loadtests.surge_plots import Mark, draw_marks  # noqa: E402

FAULT_PLOT = "fault.png"


def fault_plot(path: Path, series: Sequence[SecondStats], started_at: float,
               marks: Sequence[Mark], title: str) -> None:
    """Requests and failures per second, and the p99 of each second, with the fault marked."""
    last = max((second.t for second in series), default=0)
    seconds = dense(series, 0, last + 1)
    t = [second.t for second in seconds]
    figure, (load, latency) = plt.subplots(2, 1, figsize=(10, 6), dpi=100, sharex=True)
    load.plot(t, [second.requests for second in seconds], label="requests / s")
    load.plot(t, [second.failures for second in seconds], label="failed / s", color="tab:red")
    load.set_ylabel("per second")
    load.set_title(title)
    latency.plot(t, [percentile(second.response_ms, 0.99) if second.response_ms else None
                     for second in seconds], label="p99 response (ms)")
    latency.set_ylabel("ms")
    latency.set_yscale("symlog", linthresh=100)
    latency.set_xlabel("seconds since Locust started")
    for ax in (load, latency):
        ax.grid(True, alpha=0.3)
        ax.legend(loc="upper right", fontsize="small")
        draw_marks(ax, marks, started_at)
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)


def _notes_md(entry: Mapping[str, Any]) -> list[str]:
    lines = [f"### {entry['name']}: {table.verdict(entry)}", "", entry.get("what", ""), ""]
    for note in entry.get("notes", []):
        lines.append(f"- {note}")
    details = {k: v for k, v in entry.items() if k not in {n for n, _ in table.COLUMNS}
               and k not in ("notes", "what", "name")}
    if details:
        lines += ["", "```", json.dumps(details, indent=2, default=str), "```"]
    if not entry.get("skipped"):
        lines += ["", f"![{entry['name']}]({entry['name']}/{FAULT_PLOT})",
                  f"![{entry['name']} surge]({entry['name']}/overview.png)"]
    return [*lines, ""]


def write_summary(report: Path, entries: Sequence[Mapping[str, Any]], command: str,
                  extra: Mapping[str, Any]) -> dict[str, Any]:
    audit_ok = all(entry.get("audit_ok") is not False for entry in entries)
    result = {"faults": list(entries), "audit_ok": audit_ok,
              "ok": all(table.verdict(entry) != "FAIL" for entry in entries),
              "command": command, **extra}
    (report / "chaos.json").write_text(json.dumps(result, indent=2, default=str))
    lines = [f"# Chaos report: {'PASS' if result['ok'] else 'FAIL'}", "",
             f"`{command}`", "", table.markdown(entries), "",
             "Recovery: seconds from the end of the fault until p99 and throughput are back "
             "to their pre-fault level with no failed request (docs/reliability.md).", "",
             "## Each fault", ""]
    for entry in entries:
        lines += _notes_md(entry)
    (report / "chaos.md").write_text("\n".join(lines))
    return result
