"""Drop the foreign keys the partition consumer pays for on every decision but that guard
no booking invariant.

Every batch commit inserts holds, seat claims, buyer counters, log rows and request
outcomes; each row checked its event (and each claim its seat) against the catalog.
Events are never deleted (cancelling is a status) and the engine only uses seat ids of
the event's own venue, so these checks cost ~20 % of a commit (measured: 209-262 ->
177-180 us per decision, docs/benchmarks.md) and protect nothing the engine can get
wrong. The invariant guards stay: one live claim per (event, seat), GA held + sold <=
capacity, tickets per buyer <= limit, and claims pointing at real holds and orders.

Revision ID: 0004_hot_path_fks
Revises: 0003_ops_audit
"""

from __future__ import annotations

from alembic import op

revision = "0004_hot_path_fks"
down_revision = "0003_ops_audit"
branch_labels = None
depends_on = None

# (table, constraint, local column, referenced table.column)
_DROPPED = (
    ("holds", "fk_holds_event_id_events", "event_id", "events", "id"),
    ("seat_claims", "fk_seat_claims_event_id_events", "event_id", "events", "id"),
    ("seat_claims", "fk_seat_claims_seat_id_seats", "seat_id", "seats", "id"),
    ("buyer_tickets", "fk_buyer_tickets_event_id_events", "event_id", "events", "id"),
    ("inventory_events", "fk_inventory_events_event_id_events", "event_id", "events", "id"),
    ("booking_requests", "fk_booking_requests_event_id_events", "event_id", "events", "id"),
)


def upgrade() -> None:
    for table, name, _column, _target, _target_column in _DROPPED:
        op.drop_constraint(name, table, type_="foreignkey")


def downgrade() -> None:
    for table, name, column, target, target_column in _DROPPED:
        op.create_foreign_key(name, table, target, [column], [target_column])
