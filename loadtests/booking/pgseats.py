"""The seat tables every baseline books into, and the SQL they share.

Each baseline owns a pair of tables named after it, in the benchmark database:

    <name>_seat  one row per seat: section, quality (0 = best), who holds it, a version
    <name>_hold  one row per successful request: the seats it got

`<name>_hold.seat_ids` deliberately has no uniqueness constraint across rows:
the locking strategy alone has to keep a seat from being given twice, and the
audit counts every seat listed by more than one hold, so a broken strategy
shows up as oversold seats instead of as a constraint error.

Two partial indexes on free seats, (section_id, quality) and (quality), keep
"the best free seats" an index scan that stops after a handful of rows.
"""

from __future__ import annotations

import psycopg

from loadtests.booking.contender import Audit
from loadtests.booking.workload import Workload


def table_names(name: str) -> tuple[str, str]:
    """(seat table, hold table) of one baseline."""
    return f"{name}_seat", f"{name}_hold"


def create_and_load(pg_url: str, name: str, workload: Workload) -> None:
    """Drop the baseline's tables and create them afresh with every seat free."""
    seat, hold = table_names(name)
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(f"DROP TABLE IF EXISTS {hold}, {seat}")
        conn.execute(
            f"CREATE TABLE {seat} ("
            " seat_id integer PRIMARY KEY,"
            " section_id integer NOT NULL,"
            " quality integer NOT NULL UNIQUE,"
            " hold_ref text,"
            " version integer NOT NULL DEFAULT 0)"
        )
        conn.execute(
            f"CREATE TABLE {hold} ("
            " request_id text PRIMARY KEY,"
            " buyer_id bigint NOT NULL,"
            " seat_ids integer[] NOT NULL,"
            " decided_at timestamptz NOT NULL DEFAULT clock_timestamp())"
        )
        with conn.cursor() as cur, cur.copy(
                f"COPY {seat} (seat_id, section_id, quality) FROM STDIN") as copy:
            for bench_seat in workload.seats:
                copy.write_row((bench_seat.seat_id, bench_seat.section_id, bench_seat.quality))
        conn.execute(f"CREATE INDEX {seat}_free_in_section ON {seat} (section_id, quality)"
                     " WHERE hold_ref IS NULL")
        conn.execute(f"CREATE INDEX {seat}_free ON {seat} (quality) WHERE hold_ref IS NULL")
        conn.execute(f"VACUUM ANALYZE {seat}")
        conn.execute(f"ANALYZE {hold}")


def audit(pg_url: str, name: str, capacity: int) -> Audit:
    """Sold = distinct seats some hold lists; oversold = extra listings and unknown seats."""
    seat, hold = table_names(name)
    with psycopg.connect(pg_url, autocommit=True) as conn:
        row = conn.execute(
            f"WITH line AS (SELECT unnest(seat_ids) AS seat_id FROM {hold})"
            " SELECT count(*), count(DISTINCT line.seat_id),"
            f"  count(*) FILTER (WHERE NOT EXISTS (SELECT 1 FROM {seat} s"
            "   WHERE s.seat_id = line.seat_id))"
            " FROM line"
        ).fetchone()
    assert row is not None
    listed, distinct, unknown = row
    known_distinct = distinct - unknown
    beyond_capacity = max(0, known_distinct - capacity)
    return Audit(sold=known_distinct, oversold=(listed - distinct) + unknown + beyond_capacity)


def pick_sql(name: str, *, in_section: bool, lock: str) -> str:
    """The best free seats (up to `limit`), optionally locked: lock is '', 'FOR UPDATE' or
    'FOR UPDATE SKIP LOCKED'. Parameters: (section_id,) limit."""
    seat, _ = table_names(name)
    where = "hold_ref IS NULL AND section_id = %(section_id)s" if in_section else "hold_ref IS NULL"
    return (f"SELECT seat_id, version FROM {seat} WHERE {where}"
            f" ORDER BY quality LIMIT %(limit)s {lock}").rstrip()


def hold_best_sql(name: str, *, in_section: bool, lock: str) -> str:
    """Pick, lock, assign and record in one statement; the row locks live for this
    statement's transaction only. Returns one row: (seat_ids, None) when all `limit` seats
    were got, else (None, free) where `free` counts, up to `limit`, the free seats the
    statement's snapshot sees, locked or not: below `limit` means sold out for good.
    Parameters: (section_id,) limit, request_id, buyer_id."""
    seat, hold = table_names(name)
    pick = pick_sql(name, in_section=in_section, lock=lock)
    visible = pick_sql(name, in_section=in_section, lock="")
    return (
        f"WITH picked AS ({pick}),"
        " enough AS (SELECT array_agg(seat_id ORDER BY seat_id) AS ids FROM picked"
        "  HAVING count(*) = %(limit)s),"
        f" taken AS (UPDATE {seat} s SET hold_ref = %(request_id)s, version = s.version + 1"
        "  FROM enough WHERE s.seat_id = ANY(enough.ids) RETURNING s.seat_id),"
        f" recorded AS (INSERT INTO {hold} (request_id, buyer_id, seat_ids)"
        "  SELECT %(request_id)s, %(buyer_id)s, ids FROM enough RETURNING seat_ids)"
        " SELECT got.seat_ids, CASE WHEN got.seat_ids IS NULL"
        f"  THEN (SELECT count(*) FROM ({visible}) AS free) END"
        " FROM (SELECT (SELECT seat_ids FROM recorded) AS seat_ids) AS got"
    )
