"""Initial schema: accounts, catalog, live inventory with its guards, orders, log, fences.

Revision ID: 0001
Revises:
Create Date: 2024-11-21

Hand-written and frozen: later changes go in new revisions. Names follow the
naming convention of engine.store.models so later revisions can refer to them.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

BIGINT = sa.BigInteger()
TIMESTAMPTZ = sa.DateTime(timezone=True)


def _id() -> sa.Column[int]:
    return sa.Column("id", BIGINT, sa.Identity(), nullable=False)


def _created(name: str = "created_at") -> sa.Column[object]:
    return sa.Column(name, TIMESTAMPTZ, server_default=sa.text("now()"), nullable=False)


def _text(name: str, nullable: bool = False, default: str | None = None) -> sa.Column[str]:
    return sa.Column(name, sa.Text(), nullable=nullable, server_default=default)


def _int(name: str, default: str | None = None, big: bool = False) -> sa.Column[int]:
    return sa.Column(name, BIGINT if big else sa.Integer(), nullable=False,
                     server_default=default)


def _fk(column: str, target: str, name: str, ondelete: str | None = None
        ) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint([column], [target], name=name, ondelete=ondelete)


def _check(expression: str, name: str) -> sa.CheckConstraint:
    return sa.CheckConstraint(expression, name=name)


def upgrade() -> None:
    _accounts()
    _catalog()
    _inventory()
    _orders()
    _log_requests_fences()


def _accounts() -> None:
    op.create_table(
        "users", _id(), _text("email"), _text("password_hash"), _text("role"),
        _text("display_name"), _created(),
        sa.PrimaryKeyConstraint("id", name="pk_users"),
        sa.UniqueConstraint("email", name="uq_users_email"),
        _check("role IN ('fan', 'organizer', 'ops')", "ck_users_role"),
        _check("email = lower(email) AND position('@' in email) > 1", "ck_users_email"),
    )
    op.create_table(
        "sessions", _id(), _text("token_hash"), sa.Column("user_id", BIGINT, nullable=False),
        _created(), sa.Column("expires_at", TIMESTAMPTZ, nullable=False),
        sa.Column("revoked", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_sessions"),
        sa.UniqueConstraint("token_hash", name="uq_sessions_token_hash"),
        _fk("user_id", "users.id", "fk_sessions_user_id_users", ondelete="CASCADE"),
    )
    op.create_index("ix_sessions_user_id", "sessions", ["user_id"])
    op.create_table(
        "organizers", _id(), _text("name"), sa.Column("user_id", BIGINT, nullable=True),
        _created(),
        sa.PrimaryKeyConstraint("id", name="pk_organizers"),
        sa.UniqueConstraint("user_id", name="uq_organizers_user_id"),
        _fk("user_id", "users.id", "fk_organizers_user_id_users", ondelete="SET NULL"),
    )
    op.create_table(
        "performers", _id(), _text("name"), _text("kind", default="artist"),
        _text("description", default=""),
        sa.PrimaryKeyConstraint("id", name="pk_performers"),
    )
    op.create_index("ix_performers_name", "performers", ["name"])


def _catalog() -> None:
    op.create_table(
        "venues", _id(), _text("name"), _text("city"), _text("country", default=""),
        sa.Column("organizer_id", BIGINT, nullable=True), _int("capacity"),
        sa.Column("seatmap", postgresql.JSONB(), nullable=False), _created(),
        sa.PrimaryKeyConstraint("id", name="pk_venues"),
        _fk("organizer_id", "organizers.id", "fk_venues_organizer_id_organizers"),
    )
    op.create_index("ix_venues_city", "venues", ["city"])
    op.create_index("ix_venues_organizer_id", "venues", ["organizer_id"])
    op.create_table(
        "sections", _id(), _int("venue_id", big=True), _text("name"), _int("rank"),
        sa.PrimaryKeyConstraint("id", name="pk_sections"),
        sa.UniqueConstraint("venue_id", "name", name="uq_sections_venue_id_name"),
        sa.UniqueConstraint("venue_id", "id", name="uq_sections_venue_id_id"),
        _fk("venue_id", "venues.id", "fk_sections_venue_id_venues"),
    )
    op.create_table(
        "seats", _id(), _int("venue_id", big=True), _int("section_id", big=True),
        _text("row_label"), _int("row_rank"), _int("position"), _text("label"),
        sa.Column("x", sa.Double(), nullable=False), sa.Column("y", sa.Double(), nullable=False),
        _text("category"),
        sa.Column("accessible", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_seats"),
        sa.ForeignKeyConstraint(["venue_id", "section_id"], ["sections.venue_id", "sections.id"],
                                name="fk_seats_venue_id_section_id_sections"),
        sa.UniqueConstraint("section_id", "row_label", "label",
                            name="uq_seats_section_id_row_label_label"),
        sa.UniqueConstraint("section_id", "row_label", "position",
                            name="uq_seats_section_id_row_label_position"),
        _check("position >= 0", "ck_seats_position"),
    )
    op.create_index("ix_seats_venue_id", "seats", ["venue_id"])
    op.create_table(
        "ga_zones", _id(), _int("venue_id", big=True), _text("name"), _int("capacity"),
        _text("category"),
        sa.PrimaryKeyConstraint("id", name="pk_ga_zones"),
        sa.UniqueConstraint("venue_id", "name", name="uq_ga_zones_venue_id_name"),
        _check("capacity > 0", "ck_ga_zones_capacity"),
        _fk("venue_id", "venues.id", "fk_ga_zones_venue_id_venues"),
    )
    op.create_index("ix_ga_zones_venue_id", "ga_zones", ["venue_id"])
    op.create_table(
        "events", _id(), _int("organizer_id", big=True), _int("venue_id", big=True),
        _text("name"), _text("description", default=""), _text("category"),
        sa.Column("starts_at", TIMESTAMPTZ, nullable=False),
        sa.Column("onsale_at", TIMESTAMPTZ, nullable=False),
        _text("status", default="draft"), _text("currency", default="EUR"),
        _int("buyer_limit", default="8"), _int("hold_ttl_seconds", default="600"),
        _int("inventory_version", default="0", big=True), _created(), _created("updated_at"),
        sa.PrimaryKeyConstraint("id", name="pk_events"),
        _check("status IN ('draft', 'published', 'cancelled')", "ck_events_status"),
        _check("buyer_limit > 0", "ck_events_buyer_limit"),
        _check("hold_ttl_seconds > 0", "ck_events_hold_ttl_seconds"),
        _check("inventory_version >= 0", "ck_events_inventory_version"),
        _check("length(currency) = 3", "ck_events_currency"),
        _fk("organizer_id", "organizers.id", "fk_events_organizer_id_organizers"),
        _fk("venue_id", "venues.id", "fk_events_venue_id_venues"),
    )
    op.create_index("ix_events_organizer_id", "events", ["organizer_id"])
    op.create_index("ix_events_venue_id", "events", ["venue_id"])
    op.create_index("ix_events_status_starts_at", "events", ["status", "starts_at"])
    op.create_index("ix_events_onsale_at", "events", ["onsale_at"])
    op.create_table(
        "event_performers", _int("event_id", big=True), _int("performer_id", big=True),
        _int("billing_order", default="0"),
        sa.PrimaryKeyConstraint("event_id", "performer_id", name="pk_event_performers"),
        _fk("event_id", "events.id", "fk_event_performers_event_id_events", ondelete="CASCADE"),
        _fk("performer_id", "performers.id", "fk_event_performers_performer_id_performers"),
    )
    op.create_index("ix_event_performers_performer_id", "event_performers", ["performer_id"])
    op.create_table(
        "price_tiers", _id(), _int("event_id", big=True), _text("code"), _text("name"),
        _text("category"), _int("price_cents"),
        sa.PrimaryKeyConstraint("id", name="pk_price_tiers"),
        sa.UniqueConstraint("event_id", "category", name="uq_price_tiers_event_id_category"),
        sa.UniqueConstraint("event_id", "code", name="uq_price_tiers_event_id_code"),
        _check("price_cents >= 0", "ck_price_tiers_price_cents"),
        _fk("event_id", "events.id", "fk_price_tiers_event_id_events", ondelete="CASCADE"),
    )


def _inventory() -> None:
    op.create_table(
        "holds", _text("hold_id"), _int("event_id", big=True), _text("request_id"),
        _int("buyer_id", big=True), _text("status", default="active"),
        sa.Column("seat_ids", postgresql.ARRAY(BIGINT), server_default="{}", nullable=False),
        sa.Column("prices_cents", postgresql.ARRAY(sa.Integer()), server_default="{}",
                  nullable=False),
        sa.Column("zone_id", BIGINT, nullable=True), _int("quantity"),
        _int("total_cents", big=True), sa.Column("expires_at", TIMESTAMPTZ, nullable=False),
        _created(), _created("updated_at"),
        sa.PrimaryKeyConstraint("hold_id", name="pk_holds"),
        _check("status IN ('active', 'released', 'expired', 'sold')", "ck_holds_status"),
        _check("quantity > 0", "ck_holds_quantity"),
        _check("total_cents >= 0", "ck_holds_total_cents"),
        _check("(zone_id IS NULL AND cardinality(seat_ids) = quantity"
               " AND cardinality(prices_cents) = quantity)"
               " OR (zone_id IS NOT NULL AND cardinality(seat_ids) = 0)", "ck_holds_shape"),
        _fk("event_id", "events.id", "fk_holds_event_id_events"),
        _fk("zone_id", "ga_zones.id", "fk_holds_zone_id_ga_zones"),
    )
    op.create_index("ix_holds_request_id", "holds", ["request_id"])
    op.create_index("ix_holds_event_id_buyer_id", "holds", ["event_id", "buyer_id"])
    op.create_index("ix_holds_event_id_expires_at", "holds", ["event_id", "expires_at"],
                    postgresql_where=sa.text("status = 'active'"))
    op.create_table(
        "ga_inventory", _int("event_id", big=True), _int("zone_id", big=True),
        _int("capacity"), _int("held", default="0"), _int("sold", default="0"),
        sa.PrimaryKeyConstraint("event_id", "zone_id", name="pk_ga_inventory"),
        _check("capacity > 0", "ck_ga_inventory_capacity"),
        _check("held >= 0", "ck_ga_inventory_held"),
        _check("sold >= 0", "ck_ga_inventory_sold"),
        _check("held + sold <= capacity", "ck_ga_inventory_within_capacity"),
        _fk("event_id", "events.id", "fk_ga_inventory_event_id_events"),
        _fk("zone_id", "ga_zones.id", "fk_ga_inventory_zone_id_ga_zones"),
    )
    op.create_table(
        "buyer_tickets", _int("event_id", big=True), _int("buyer_id", big=True),
        _int("tickets", default="0"), _int("ticket_limit"),
        sa.PrimaryKeyConstraint("event_id", "buyer_id", name="pk_buyer_tickets"),
        _check("tickets >= 0 AND tickets <= ticket_limit", "ck_buyer_tickets_within_limit"),
        _fk("event_id", "events.id", "fk_buyer_tickets_event_id_events"),
    )


def _orders() -> None:
    op.create_table(
        "orders", _text("order_id"), _int("event_id", big=True), _int("buyer_id", big=True),
        _text("hold_id"), _text("status", default="pending"), _int("total_cents", big=True),
        sa.Column("zone_id", BIGINT, nullable=True), _int("quantity"),
        _text("payment_ref", nullable=True), _created(), _created("updated_at"),
        sa.Column("paid_at", TIMESTAMPTZ, nullable=True),
        sa.Column("refunded_at", TIMESTAMPTZ, nullable=True),
        sa.PrimaryKeyConstraint("order_id", name="pk_orders"),
        sa.UniqueConstraint("hold_id", name="uq_orders_hold_id"),
        _check("status IN ('pending', 'paid', 'refunded', 'void')", "ck_orders_status"),
        _check("total_cents >= 0", "ck_orders_total_cents"),
        _check("quantity > 0", "ck_orders_quantity"),
        _fk("event_id", "events.id", "fk_orders_event_id_events"),
        _fk("hold_id", "holds.hold_id", "fk_orders_hold_id_holds"),
        _fk("zone_id", "ga_zones.id", "fk_orders_zone_id_ga_zones"),
    )
    op.create_index("ix_orders_buyer_id", "orders", ["buyer_id"])
    op.create_index("ix_orders_event_id_status", "orders", ["event_id", "status"])
    op.create_table(
        "order_lines", _text("order_id"), _int("line_no"),
        sa.Column("seat_id", BIGINT, nullable=True), sa.Column("zone_id", BIGINT, nullable=True),
        _int("quantity"), _int("price_cents", big=True),
        sa.PrimaryKeyConstraint("order_id", "line_no", name="pk_order_lines"),
        _check("(seat_id IS NULL) <> (zone_id IS NULL)", "ck_order_lines_seat_or_zone"),
        _check("quantity > 0 AND (seat_id IS NULL OR quantity = 1)", "ck_order_lines_quantity"),
        _check("price_cents >= 0", "ck_order_lines_price_cents"),
        _fk("order_id", "orders.order_id", "fk_order_lines_order_id_orders", ondelete="CASCADE"),
        _fk("seat_id", "seats.id", "fk_order_lines_seat_id_seats"),
        _fk("zone_id", "ga_zones.id", "fk_order_lines_zone_id_ga_zones"),
    )
    op.create_table(
        "seat_claims", _int("event_id", big=True), _int("seat_id", big=True), _text("state"),
        _text("hold_id", nullable=True), _text("order_id", nullable=True),
        sa.Column("price_cents", sa.Integer(), nullable=True), _created("claimed_at"),
        sa.PrimaryKeyConstraint("event_id", "seat_id", name="pk_seat_claims"),
        _check("(state = 'held' AND hold_id IS NOT NULL AND order_id IS NULL"
               " AND price_cents IS NOT NULL)"
               " OR (state = 'sold' AND order_id IS NOT NULL AND price_cents IS NOT NULL)"
               " OR (state = 'blocked' AND hold_id IS NULL AND order_id IS NULL)",
               "ck_seat_claims_state"),
        _check("price_cents >= 0", "ck_seat_claims_price_cents"),
        _fk("event_id", "events.id", "fk_seat_claims_event_id_events"),
        _fk("seat_id", "seats.id", "fk_seat_claims_seat_id_seats"),
        _fk("hold_id", "holds.hold_id", "fk_seat_claims_hold_id_holds"),
        _fk("order_id", "orders.order_id", "fk_seat_claims_order_id_orders"),
    )
    op.create_index("ix_seat_claims_hold_id", "seat_claims", ["hold_id"])
    op.create_index("ix_seat_claims_order_id", "seat_claims", ["order_id"])
    op.create_table(
        "tickets", _id(), _text("order_id"), _int("event_id", big=True),
        sa.Column("seat_id", BIGINT, nullable=True), sa.Column("zone_id", BIGINT, nullable=True),
        _text("secret"), _text("status", default="valid"), _created("issued_at"),
        sa.Column("used_at", TIMESTAMPTZ, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_tickets"),
        sa.UniqueConstraint("secret", name="uq_tickets_secret"),
        _check("status IN ('valid', 'used', 'void')", "ck_tickets_status"),
        _check("(seat_id IS NULL) <> (zone_id IS NULL)", "ck_tickets_seat_or_zone"),
        _fk("order_id", "orders.order_id", "fk_tickets_order_id_orders"),
        _fk("event_id", "events.id", "fk_tickets_event_id_events"),
        _fk("seat_id", "seats.id", "fk_tickets_seat_id_seats"),
        _fk("zone_id", "ga_zones.id", "fk_tickets_zone_id_ga_zones"),
    )
    op.create_index("ix_tickets_order_id", "tickets", ["order_id"])
    op.create_index("uq_tickets_live_seat", "tickets", ["event_id", "seat_id"], unique=True,
                    postgresql_where=sa.text("status <> 'void' AND seat_id IS NOT NULL"))


def _log_requests_fences() -> None:
    op.create_table(
        "inventory_events", sa.Column("seq", BIGINT, sa.Identity(), nullable=False),
        _int("event_id", big=True), _int("inventory_version", big=True), _text("type"),
        sa.Column("payload", postgresql.JSONB(), nullable=False), _created(),
        sa.PrimaryKeyConstraint("seq", name="pk_inventory_events"),
        _fk("event_id", "events.id", "fk_inventory_events_event_id_events"),
    )
    op.create_index("ix_inventory_events_event_id_seq", "inventory_events", ["event_id", "seq"])
    op.create_table(
        "booking_requests", _text("request_id"), _int("event_id", big=True),
        _int("buyer_id", big=True), _text("kind"),
        sa.Column("payload", postgresql.JSONB(), server_default=sa.text("'{}'::jsonb"),
                  nullable=False),
        _text("status"), sa.Column("outcome", postgresql.JSONB(), nullable=True),
        _created(), _created("updated_at"),
        sa.Column("decided_at", TIMESTAMPTZ, nullable=True),
        sa.PrimaryKeyConstraint("request_id", name="pk_booking_requests"),
        _fk("event_id", "events.id", "fk_booking_requests_event_id_events"),
    )
    op.create_index("ix_booking_requests_event_id_status", "booking_requests",
                    ["event_id", "status"])
    op.create_index("ix_booking_requests_buyer_id", "booking_requests", ["buyer_id"])
    op.create_table(
        "partition_fences", _text("partition"), _int("fencing_token", big=True),
        _created("updated_at"),
        sa.PrimaryKeyConstraint("partition", name="pk_partition_fences"),
        _check("fencing_token >= 0", "ck_partition_fences_fencing_token"),
    )


def downgrade() -> None:
    for table in (
        "partition_fences", "booking_requests", "inventory_events", "tickets", "seat_claims",
        "order_lines", "orders", "buyer_tickets", "ga_inventory", "holds", "price_tiers",
        "event_performers", "events", "ga_zones", "seats", "sections", "venues", "performers",
        "organizers", "sessions", "users",
    ):
        op.drop_table(table)
