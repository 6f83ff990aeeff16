"""Build a small on-sale event in the test database, and drive a partition consumer."""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine

from engine.pricing import PriceTier
from engine.store.catalog import create_event, create_organizer, create_venue


def grid_seatmap(rows: int = 4, seats_per_row: int = 10, ga_capacity: int = 0) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "name": "Test Hall",
        "city": "Testville",
        "sections": [{
            "name": "Stalls",
            "rank": 1,
            "rows": [
                {"label": chr(65 + r), "rank": r + 1,
                 "seats": [{"label": str(n + 1), "x": 10.0 + 20 * n, "y": 10.0 + 20 * r,
                            "category": "A" if r < 2 else "B"}
                           for n in range(seats_per_row)]}
                for r in range(rows)
            ],
        }],
        "ga_zones": [],
    }
    if ga_capacity:
        doc["ga_zones"] = [{"name": "Floor", "capacity": ga_capacity, "category": "GA"}]
    return doc


def make_event(engine: Engine, *, rows: int = 4, seats_per_row: int = 10, ga_capacity: int = 0,
               buyer_limit: int = 8, hold_ttl_seconds: int = 600) -> int:
    now = datetime.now(UTC)
    with engine.begin() as conn:
        organizer = create_organizer(conn, "Test Promotions")
        venue = create_venue(conn, grid_seatmap(rows, seats_per_row, ga_capacity), organizer)
        return create_event(
            conn, organizer_id=organizer, venue_id=venue, name="Test Night", category="concert",
            starts_at=now + timedelta(days=30), onsale_at=now - timedelta(minutes=1),
            price_tiers=[PriceTier("front", "Front", "A", 9000),
                         PriceTier("back", "Back", "B", 5000),
                         PriceTier("floor", "Floor", "GA", 4000)],
            status="published", buyer_limit=buyer_limit, hold_ttl_seconds=hold_ttl_seconds)


@contextmanager
def consumers_running(redis: Any, keys: Any, engine: Engine, partitions: Iterable[str],
                      owner: str, on_batch: Any = None) -> Iterator[None]:
    """A partition consumer thread per partition, all under one owner id, as one
    `onsale worker` process runs them; stopped (current batch finished, lease released)
    when the block ends."""
    from workers.consumer import ConsumerConfig, PartitionConsumer
    from workers.pg_store import PostgresBookingStore

    stop = threading.Event()
    threads = []
    for partition in partitions:
        consumer = PartitionConsumer(redis, keys, partition, owner,
                                     PostgresBookingStore(engine), ConsumerConfig(),
                                     on_batch=on_batch)
        thread = threading.Thread(target=consumer.run, args=(stop,), daemon=True)
        thread.start()
        threads.append(thread)
    try:
        yield
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=5)
