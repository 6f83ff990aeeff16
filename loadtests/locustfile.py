"""Locust entry point of an on-sale surge: `locust -f loadtests/locustfile.py --event-id ID ...`.

The user classes follow real journeys through the public HTTP API only:
`Fan` (queue -> admitted -> seat map -> reserve -> poll or stream -> pay ->
paid order), `Browser` (browse and search), `Abandoner` (joins, then leaves)
and `Bot` (books without admission, joins repeatedly; every refusal is
counted apart). `SurgeShape` runs the on-sale spike (default) or a steady
load (`--load-shape steady`) sized by --users, --spawn-rate and --run-time.
`onsale surge` runs this file headless and writes the report; see docs/surge.md.
"""

from __future__ import annotations

from locust import LoadTestShape

from loadtests.journeys import (
    metrics,  # noqa: F401  (registers the journey counters)
    timeline,  # noqa: F401  (registers --timeline-file)
)
from loadtests.journeys.common import METRIC  # noqa: F401  (registers the command-line options)
from loadtests.journeys.fan import Fan
from loadtests.journeys.others import Abandoner, Bot, Browser
from loadtests.journeys.shapes import plan_for

__all__ = ["Abandoner", "Bot", "Browser", "Fan", "SurgeShape"]


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
