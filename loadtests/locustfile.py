"""Locust entry point of an on-sale surge: `locust -f loadtests/locustfile.py --event-id ID ...`.

The user classes follow real journeys through the public HTTP API only:
`Fan` (queue -> admitted -> seat map -> reserve -> poll or stream -> pay ->
paid order), `Browser` (browse and search), `Abandoner` (joins, then leaves),
`Bot` (books without admission, joins repeatedly; every refusal is counted
apart), and, when their options are given, `WaitingLister` (joins the sold-out
waiting list and buys or declines the offer; `--waiting-list`) and `PresaleFan`
(redeems a code and buys on the presale event; `--presale-file`). `SurgeShape`
runs the on-sale spike (default) or a steady load (`--load-shape steady`) sized
by --users, --spawn-rate and --run-time. `onsale surge` runs this file headless
and writes the report; see docs/surge.md.
"""

from __future__ import annotations

from typing import Any

from locust import LoadTestShape, events

from loadtests.journeys import (
    metrics,  # noqa: F401  (registers the journey counters)
    timeline,  # noqa: F401  (registers --timeline-file)
)
from loadtests.journeys.common import METRIC, listener  # noqa: F401  (registers the options)
from loadtests.journeys.fan import Fan
from loadtests.journeys.others import Abandoner, Bot, Browser
from loadtests.journeys.presale import PresaleFan
from loadtests.journeys.shapes import plan_for
from loadtests.journeys.waitlist import WaitingLister

__all__ = ["Abandoner", "Bot", "Browser", "Fan", "PresaleFan", "SurgeShape", "WaitingLister"]


@listener(events.init)
def _only_configured_journeys(environment: Any, **_: Any) -> None:
    """WaitingLister and PresaleFan run only when the run prepared what they need; without
    their options the other journeys keep their usual shares (as chaos runs expect)."""
    options = environment.parsed_options
    if options is None:
        return
    left_out: set[type[Any]] = set()
    if not getattr(options, "waiting_list", False):
        left_out.add(WaitingLister)
    if not getattr(options, "presale_file", ""):
        left_out.add(PresaleFan)
    environment.user_classes[:] = [c for c in environment.user_classes if c not in left_out]


class SurgeShape(LoadTestShape):
    """The shape `--load-shape` names (spike by default), sized by -u, -r and -t."""

    use_common_options = True

    def tick(self) -> tuple[int, float] | None:
        assert self.runner is not None
        options = self.runner.environment.parsed_options
        assert options is not None, "the shape runs under locust's command line"
        run_seconds = float(getattr(options, "run_time", None) or 60)
        plan = plan_for(getattr(options, "load_shape", "spike"), int(options.num_users or 1),
                        float(options.spawn_rate or 1), run_seconds)
        return plan.target(self.get_run_time())  # type: ignore[no-untyped-call]  # locust: unannotated
