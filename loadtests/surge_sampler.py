"""What `onsale surge` watches while Locust runs: the line, admissions, decisions, sales.

A thread reads Redis (the room's state: O(1) reads) and Postgres (two
indexed counts) once a second, and the room's members hash every few
seconds, keeping the first place seen per account: the members hash forgets a
place when its session ends, and the audit's FIFO share needs them all.
Also the stand-in admission controller, for a stack that runs none.
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import logging
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from redis import Redis
from sqlalchemy import Engine, text

from waitingroom.keys import RoomKeys

log = logging.getLogger("onsale.surge")

SAMPLE_SECONDS = 1.0
MEMBERS_EVERY_SAMPLES = 2

_COUNTS = text("""
    SELECT (SELECT count(*) FROM booking_requests WHERE event_id = :event_id),
           (SELECT count(*) FROM seat_claims WHERE event_id = :event_id AND state = 'sold')
           + (SELECT coalesce(sum(sold), 0) FROM ga_inventory WHERE event_id = :event_id),
           (SELECT count(*) FROM seat_claims WHERE event_id = :event_id AND state = 'held')
           + (SELECT coalesce(sum(held), 0) FROM ga_inventory WHERE event_id = :event_id)""")


@dataclass(frozen=True)
class Sample:
    t: float
    """Seconds since the sampler started."""
    queue_length: int
    joined: int
    serving: int
    admitted_total: int
    active_sessions: int
    decisions: int
    sold: int
    held: int


class Sampler:
    def __init__(self, redis: Redis, engine: Engine, prefix: str, event_id: int):
        self._redis = redis
        self._engine = engine
        self._keys = RoomKeys(prefix, event_id)
        self._event_id = event_id
        self.samples: list[Sample] = []
        self.places: dict[int, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="surge-sampler", daemon=True)
        self._started = 0.0
        self.started_epoch = 0.0

    def start(self) -> None:
        self._started = time.monotonic()
        self.started_epoch = time.time()
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
        with contextlib.suppress(Exception):
            self._snapshot_members()

    @property
    def latest(self) -> Sample | None:
        return self.samples[-1] if self.samples else None

    def _run(self) -> None:
        count = 0
        while not self._stop.wait(SAMPLE_SECONDS if count else 0):
            try:
                self.samples.append(self._sample())
                if count % MEMBERS_EVERY_SAMPLES == 0:
                    self._snapshot_members()
            except Exception as exc:  # a slow or restarting store must not end the surge
                log.warning("sampling failed: %s", exc)
            count += 1

    def _sample(self) -> Sample:
        now = time.time()
        with self._redis.pipeline(transaction=False) as pipe:
            pipe.hmget(self._keys.state, "joined", "serving", "admitted_total")
            pipe.hlen(self._keys.seen)
            pipe.zcount(self._keys.sessions, f"({now!r}", "+inf")
            (joined, serving, admitted), waiting, active = pipe.execute()
        with self._engine.connect() as conn:
            decisions, sold, held = conn.execute(_COUNTS, {"event_id": self._event_id}).one()
        return Sample(t=round(time.monotonic() - self._started, 2), queue_length=int(waiting),
                      joined=int(joined or 0), serving=int(serving or 0),
                      admitted_total=int(admitted or 0), active_sessions=int(active),
                      decisions=int(decisions), sold=int(sold), held=int(held))

    def _snapshot_members(self) -> None:
        for account, seq in self._redis.hscan_iter(self._keys.members, count=5000):
            self.places.setdefault(int(account), int(seq))

    def write_csv(self, path: Path) -> None:
        with path.open("w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(Sample.__dataclass_fields__))
            writer.writeheader()
            for sample in self.samples:
                writer.writerow(asdict(sample))


class StandInController:
    """Runs `waitingroom.main.serve` in a thread when the stack has no admission controller."""

    def __init__(self, redis_url: str, prefix: str):
        self._redis_url = redis_url
        self._prefix = prefix
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._run, name="surge-controller", daemon=True)
        self._ready = threading.Event()

    def start(self) -> None:
        self._thread.start()
        self._ready.wait(5)

    def _run(self) -> None:
        from waitingroom.main import serve
        from workers.redis_client import async_client

        async def main() -> None:
            self._loop = asyncio.get_running_loop()
            self._stop = asyncio.Event()
            self._ready.set()
            await serve(self._redis_url, self._prefix, self._stop, connect=async_client)

        asyncio.run(main())

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(timeout=10)


def controller_running(redis: Redis, prefix: str, event_id: int, wait_seconds: float) -> bool:
    """Whether some admission controller takes the event's lease within `wait_seconds`."""
    deadline = time.monotonic() + wait_seconds
    lease = RoomKeys(prefix, event_id).controller_lease
    while time.monotonic() < deadline:
        if redis.exists(lease):
            return True
        time.sleep(0.2)
    return False
