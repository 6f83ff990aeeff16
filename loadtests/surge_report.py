"""The surge's progress line while Locust runs, and the report folder afterwards.

Report folder (see docs/surge.md):

    summary.md / summary.json   parameters, headline figures, verdict, the audit table
    audit.txt / audit.json      `onsale audit` of the surge event
    presale-audit.txt / .json   `onsale audit` of the presale event
    journeys.json               journey counters and timings (loadtests/journeys/metrics.py)
    locust.html, locust_*.csv   Locust's own report and CSV (stats, history, failures)
    queue.png admission_rate.png decisions.png latency.png overview.png
    samples.csv                 the sampler's once-a-second readings
    places.json                 account -> join number seen (re-audit with --positions)
    locust.log, stack.log       output of Locust and of the local stack
"""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from loadtests.audit import AuditResult
from loadtests.audit_redis import RequestRecord
from loadtests.surge_plots import write_plots
from loadtests.surge_sampler import Sampler

PRINT_EVERY_SECONDS_TTY = 2.0
PRINT_EVERY_SECONDS_LOG = 5.0


class Progress:
    """One line every few seconds: Locust's view (users, req/s, failures) and the stack's."""

    def __init__(self, history_csv: Path, duration: int, sampler: Sampler, interactive: bool):
        self._history = history_csv
        self._duration = duration
        self._sampler = sampler
        self._every = PRINT_EVERY_SECONDS_TTY if interactive else PRINT_EVERY_SECONDS_LOG
        self._offset = 0
        self._header: list[str] | None = None
        self._locust: dict[str, str] = {}
        self._last_print = -1e9
        self._clock_start: float | None = None

    def _read_new_rows(self) -> None:
        if not self._history.exists():
            return
        with self._history.open() as handle:
            handle.seek(self._offset)
            chunk = handle.read()
        complete = chunk[:chunk.rfind("\n") + 1]
        self._offset += len(complete.encode())
        lines = complete.splitlines()
        if self._header is None and lines:
            self._header = next(csv.reader([lines[0]]))
            lines = lines[1:]
        for row in csv.reader(lines):
            record = dict(zip(self._header or [], row, strict=False))
            if record.get("Name") == "Aggregated":
                self._locust = record

    def tick(self) -> None:
        import time

        now = time.monotonic()
        if self._clock_start is None:
            self._clock_start = now
        if now - self._last_print < self._every:
            return
        self._last_print = now
        self._read_new_rows()
        print(self.line(now - self._clock_start), flush=True)

    def line(self, elapsed: float) -> str:
        stats = self._locust
        sample = self._sampler.latest
        parts = [f"{elapsed:5.0f}s/{self._duration}s",
                 f"users {stats.get('User Count', '0'):>5}",
                 f"req/s {float(stats.get('Requests/s') or 0):7.1f}",
                 f"failures {stats.get('Total Failure Count', '0'):>4}"]
        if sample is not None:
            parts += [f"| line {sample.queue_length:>5}",
                      f"admitted {sample.admitted_total:>5}",
                      f"active {sample.active_sessions:>5}",
                      f"| decisions {sample.decisions:>6}",
                      f"held {sample.held:>5}", f"sold {sample.sold:>5}"]
        return "  ".join(parts)

    def done(self) -> None:
        self._read_new_rows()


@dataclass(frozen=True)
class Verdict:
    ok: bool
    ran: bool
    text: str


def _locust_totals(stats_csv: Path) -> dict[str, Any]:
    if not stats_csv.exists():
        return {}
    rows = {}
    with stats_csv.open() as handle:
        for row in csv.DictReader(handle):
            rows[(row.get("Type"), row.get("Name"))] = row
    total = rows.get(("", "Aggregated")) or rows.get((None, "Aggregated")) or {}
    metrics = {name: {"count": int(row["Request Count"]), "p50_ms": row.get("50%"),
                      "p95_ms": row.get("95%"), "p99_ms": row.get("99%"),
                      "failures": int(row["Failure Count"])}
               for (kind, name), row in rows.items() if kind == "METRIC"}
    return {"requests": int(total.get("Request Count") or 0),
            "failures": int(total.get("Failure Count") or 0),
            "requests_per_second": round(float(total.get("Requests/s") or 0), 1),
            "p50_ms": total.get("50%"), "p95_ms": total.get("95%"), "metrics": metrics}


def _count(counts: dict[str, int], prefix: str) -> int:
    return sum(v for k, v in counts.items() if k.startswith(prefix))


def feature_figures(journeys: dict[str, Any], audit: AuditResult,
                    presale_audit: AuditResult | None) -> dict[str, Any]:
    """What the surge showed of the line's features, from the journeys' side and the audit's:
    fans per journey, the waiting list's offers, the presale's codes, intents' holds."""
    counts: dict[str, int] = journeys.get("counts", {})
    offers = audit.check("waiting_list_offers").figures
    intents = audit.check("intent_holds").figures
    codes = presale_audit.check("presale_codes").figures if presale_audit else {}
    return {
        "users_per_journey": {k.removeprefix("users."): v for k, v in counts.items()
                              if k.startswith("users.")},
        "waiting_list": {
            "joined_on_arrival": counts.get("waitlist.joined.arrival", 0),
            "joined_after_sold_out": counts.get("waitlist.joined.after_sold_out", 0),
            "offers_seen": counts.get("waitlist.offered", 0),
            "offers_bought": counts.get("waitlist.offer_bought", 0),
            "offers_declined": counts.get("waitlist.offer_declined", 0),
            "still_waiting_at_end": counts.get("waitlist.still_waiting_at_end", 0),
            "holds_abandoned": counts.get("fan.abandoned_hold", 0),
            "audit_offers": offers.get("offers", 0),
            "audit_seats_offered": offers.get("seats_offered", 0),
            "audit_entries": offers.get("entries", 0),
            "audit_served_ahead_of_others": offers.get("served_ahead_of_others", 0),
            "audit_against_list_order": offers.get("against_list_order", 0),
        },
        "presale": {
            "codes_redeemed": counts.get("presale.code.granted", 0),
            "wrong_codes_refused": counts.get("presale.refused_as_expected.invalid_code", 0),
            "used_codes_refused": counts.get("presale.refused_as_expected.code_used", 0),
            "rate_limited": counts.get("presale.rate_limited", 0),
            "guesses_refused": counts.get("presale.guess.invalid_code", 0),
            "guesser_rate_limited": counts.get("presale.guess.rate_limited", 0),
            "admitted": counts.get("presale.queue.admitted", 0),
            "paid_orders": _count(counts, "presale.purchase.paid."),
            "tickets_sold": counts.get("presale.purchase.tickets", 0),
            "audit_codes_checked": codes.get("codes_checked", 0),
            "audit_accounts_let_in": codes.get("accounts_let_in", 0),
            "audit_codes_issued": codes.get("codes_issued", 0),
        },
        "intents": {
            "stated": counts.get("intent.stated", 0),
            "held_at_admission": counts.get("intent.held", 0),
            "audit_holds": intents.get("holds", 0),
            "audit_line_order_share": intents.get("share"),
            "audit_admission_to_held_p50_seconds": intents.get("admission_to_held_p50_seconds"),
            "audit_admission_to_held_p95_seconds": intents.get("admission_to_held_p95_seconds"),
        },
    }


def write_report(report: Path, *, args: dict[str, Any], host: str, event_id: int,
                 seats_note: str, rate_per_minute: float, sampler: Sampler,
                 requests: Sequence[RequestRecord], audit: AuditResult,
                 locust_rc: int, presale: Any = None,
                 presale_audit: AuditResult | None = None) -> Verdict:
    """`presale` (a `surge_setup.SurgePresale`) and `presale_audit`: the presale event."""
    (report / "audit.txt").write_text(audit.table() + "\n")
    (report / "audit.json").write_text(json.dumps(audit.to_json(), indent=2))
    if presale_audit is not None:
        (report / "presale-audit.txt").write_text(presale_audit.table() + "\n")
        (report / "presale-audit.json").write_text(json.dumps(presale_audit.to_json(), indent=2))
    sampler.write_csv(report / "samples.csv")
    (report / "places.json").write_text(json.dumps({str(k): v for k, v in
                                                    sorted(sampler.places.items())}))
    write_plots(report, sampler.samples, requests, sampler.started_epoch,
                rate_per_minute / 60.0, report / "locust_stats_history.csv")
    journeys_path = report / "journeys.json"
    journeys = json.loads(journeys_path.read_text()) if journeys_path.exists() else {}
    locust = _locust_totals(report / "locust_stats.csv")
    counts = journeys.get("counts", {})
    bots_through = int(journeys.get("bots_got_through") or 0)
    ran = locust_rc in (0, 1) and bool(locust.get("requests")) and bool(journeys)
    ok = audit.ok and (presale_audit is None or presale_audit.ok) and bots_through == 0
    features = feature_figures(journeys, audit, presale_audit)
    last = sampler.latest
    summary = {
        "parameters": {k: (str(v) if isinstance(v, Path) else v) for k, v in args.items()},
        "host": host, "event_id": event_id, "event": seats_note,
        "admissions_per_minute": rate_per_minute, "locust_exit_code": locust_rc,
        "locust": locust, "journeys": journeys,
        "final_sample": None if last is None else last.__dict__,
        "audit_ok": audit.ok, "bots_got_through": bots_through, "ok": ok and ran,
        "features": features,
        "presale": None if presale is None else {
            "event_id": presale.event.event_id, "presale_id": presale.presale_id,
            "tier": presale.tier, "codes": presale.codes,
            "audit_ok": None if presale_audit is None else presale_audit.ok},
    }
    (report / "summary.json").write_text(json.dumps(summary, indent=2, default=str))
    headline = [
        f"users {args.get('users')} (spawn {args.get('spawn_rate')}/s, {args.get('duration')}s, "
        f"{args.get('shape')}), event {event_id}: {seats_note}",
        f"requests {locust.get('requests', 0)}, failures {locust.get('failures', 0)}, "
        f"{locust.get('requests_per_second', 0)} req/s, p50 {locust.get('p50_ms')} ms, "
        f"p95 {locust.get('p95_ms')} ms",
        f"fans admitted {counts.get('queue.admitted', 0)}, held "
        f"{counts.get('reserve.held', 0)}, paid orders "
        f"{sum(v for k, v in counts.items() if k.startswith('purchase.paid.'))}, "
        f"purchase success {_share(journeys.get('purchase_success_rate'))}",
        f"bots refused {sum(v for k, v in counts.items() if k.startswith('bot.refused.'))}, "
        f"got through {bots_through}",
        "time in queue p50/p95 " + _timing(journeys, "time_in_queue_ms")
        + ", request-to-decision p50/p95 " + _timing(journeys, "request_to_decision_ms"),
        f"intents stated {counts.get('intent.stated', 0)}, held at admission "
        f"{counts.get('intent.held', 0)}, admission-to-held p50/p95 "
        + _timing(journeys, "admission_to_held_ms")
        + f"; audit: {audit.check('intent_holds').detail}",
        "fans per journey: " + ", ".join(
            f"{name} {n}" for name, n in sorted(features["users_per_journey"].items())),
        _waiting_list_line(features["waiting_list"], audit),
    ]
    if presale is not None:
        headline.append(_presale_line(features["presale"], presale, presale_audit))
    if last is not None:
        headline.append(f"sold {last.sold}, held {last.held}, decisions {last.decisions}")
    verdict_line = ("PASS: every invariant held" if ok and ran else
                    "FAIL: the surge did not run (see locust.log / stack.log)" if not ran else
                    "FAIL: invariants violated")
    audits = [audit] if presale_audit is None else [audit, presale_audit]
    text = "\n".join([verdict_line, *("  " + line for line in headline),
                      *("\n" + a.table() for a in audits)])
    (report / "summary.md").write_text(_markdown(verdict_line, headline, audits))
    return Verdict(ok=ok, ran=ran, text=text)


def _waiting_list_line(figures: dict[str, Any], audit: AuditResult) -> str:
    return (f"waiting list: joined {figures['joined_on_arrival']} on arrival + "
            f"{figures['joined_after_sold_out']} after sold_out, offers seen "
            f"{figures['offers_seen']}, bought {figures['offers_bought']}, declined (lapsed) "
            f"{figures['offers_declined']}, still waiting at the end "
            f"{figures['still_waiting_at_end']} ({figures['holds_abandoned']} holds abandoned "
            f"at checkout); audit: {audit.check('waiting_list_offers').detail}")


def _presale_line(figures: dict[str, Any], presale: Any,
                  presale_audit: AuditResult | None) -> str:
    audit_detail = ("not audited" if presale_audit is None
                    else presale_audit.check("presale_codes").detail)
    return (f"presale (event {presale.event.event_id}, tier {presale.tier}): codes redeemed "
            f"{figures['codes_redeemed']} of {presale.codes}, wrong codes refused "
            f"{figures['wrong_codes_refused']}, used codes refused "
            f"{figures['used_codes_refused']}, guesses refused {figures['guesses_refused']} "
            f"then rate-limited {figures['guesser_rate_limited']}, code holders rate-limited "
            f"{figures['rate_limited']}, "
            f"admitted {figures['admitted']}, presale tickets sold {figures['tickets_sold']} "
            f"in {figures['paid_orders']} orders; audit: {audit_detail}")


def _share(value: Any) -> str:
    return "n/a" if value is None else f"{100 * float(value):.1f}%"


def _timing(journeys: dict[str, Any], name: str) -> str:
    timing = journeys.get("timings_ms", {}).get(name) or {}
    if not timing.get("count"):
        return "n/a"
    return f"{timing['p50']:.0f}/{timing['p95']:.0f} ms"


def _markdown(verdict: str, headline: list[str], audits: Sequence[AuditResult]) -> str:
    lines = [f"# Surge report: {verdict}", "", *(f"- {line}" for line in headline)]
    for index, audit in enumerate(audits):
        lines += ["", f"## Audit of {'the presale ' if index else ''}event {audit.event_id}", "",
                  "| check | result | violations | detail |", "|---|---|---|---|"]
        for check in audit.checks:
            lines.append(f"| {check.name} | {check.status} | {check.violations} | "
                         f"{check.detail} |")
    lines += ["", "## Plots", "", "![overview](overview.png)", "",
              "Files: locust.html (Locust's report), locust_stats.csv, "
              "locust_stats_history.csv, journeys.json, samples.csv, audit.json, "
              "presale-audit.json.", ""]
    return "\n".join(lines)
