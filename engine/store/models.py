"""The relational schema: catalog, accounts, live inventory, orders and the inventory log.

Postgres is the source of truth, and it guards the invariants itself: a bug in
the engine or a zombie worker must hit a constraint, never oversell. The live
inventory tables carry those guards:

- `seat_claims`: one row per seat that is not available, keyed (event, seat), so
  a seat can have only one live hold, sale or block;
- `ga_inventory`: held + sold never exceed capacity;
- `buyer_tickets`: a buyer never holds or owns more than the event's limit.

Migrations are hand-written in `migrations/versions`; a test checks that they
and these models describe the same schema.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    Double,
    ForeignKey,
    ForeignKeyConstraint,
    Identity,
    Index,
    Integer,
    MetaData,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, TSVECTOR
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

USER_ROLES = ("fan", "organizer", "ops")
EVENT_STATUSES = ("draft", "published", "cancelled")
HOLD_STATUSES = ("active", "released", "expired", "sold")
CLAIM_STATES = ("held", "sold", "blocked")
ORDER_STATUSES = ("pending", "paid", "refunded", "void")
TICKET_STATUSES = ("valid", "used", "void")


def _one_of(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(value) for value in values)})"


def _created() -> Mapped[datetime]:
    return mapped_column(DateTime(timezone=True), server_default=func.now())


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


# ---------------------------------------------------------------- accounts


class User(Base):
    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint(_one_of("role", USER_ROLES), name="role"),
        CheckConstraint("email = lower(email) AND position('@' in email) > 1", name="email"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    email: Mapped[str] = mapped_column(Text, unique=True)
    password_hash: Mapped[str] = mapped_column(Text)
    role: Mapped[str] = mapped_column(Text)
    display_name: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = _created()


class UserSession(Base):
    """A signed-in browser or API client; only the hash of its token is kept."""

    __tablename__ = "sessions"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    token_hash: Mapped[str] = mapped_column(Text, unique=True)
    user_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = _created()
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    revoked: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))


class Organizer(Base):
    __tablename__ = "organizers"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    name: Mapped[str] = mapped_column(Text)
    user_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("users.id", ondelete="SET NULL"), unique=True)
    created_at: Mapped[datetime] = _created()


class Performer(Base):
    __tablename__ = "performers"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    name: Mapped[str] = mapped_column(Text, index=True)
    kind: Mapped[str] = mapped_column(Text, server_default="artist")
    description: Mapped[str] = mapped_column(Text, server_default="")


# ---------------------------------------------------------------- venues


class VenueRow(Base):
    __tablename__ = "venues"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    name: Mapped[str] = mapped_column(Text)
    city: Mapped[str] = mapped_column(Text, index=True)
    country: Mapped[str] = mapped_column(Text, server_default="")
    organizer_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("organizers.id"), index=True)
    capacity: Mapped[int] = mapped_column(Integer)
    seatmap: Mapped[dict[str, Any]] = mapped_column(JSONB)
    created_at: Mapped[datetime] = _created()


class SectionRow(Base):
    __tablename__ = "sections"
    __table_args__ = (
        UniqueConstraint("venue_id", "name"),
        UniqueConstraint("venue_id", "id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    venue_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("venues.id"))
    name: Mapped[str] = mapped_column(Text)
    rank: Mapped[int] = mapped_column(Integer)


class SeatRow(Base):
    __tablename__ = "seats"
    __table_args__ = (
        ForeignKeyConstraint(["venue_id", "section_id"], ["sections.venue_id", "sections.id"]),
        UniqueConstraint("section_id", "row_label", "label"),
        UniqueConstraint("section_id", "row_label", "position"),
        CheckConstraint("position >= 0", name="position"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    venue_id: Mapped[int] = mapped_column(BigInteger, index=True)
    section_id: Mapped[int] = mapped_column(BigInteger)
    row_label: Mapped[str] = mapped_column(Text)
    row_rank: Mapped[int] = mapped_column(Integer)
    position: Mapped[int] = mapped_column(Integer)
    label: Mapped[str] = mapped_column(Text)
    x: Mapped[float] = mapped_column(Double)
    y: Mapped[float] = mapped_column(Double)
    category: Mapped[str] = mapped_column(Text)
    accessible: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))


class GaZoneRow(Base):
    __tablename__ = "ga_zones"
    __table_args__ = (
        UniqueConstraint("venue_id", "name"),
        CheckConstraint("capacity > 0", name="capacity"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    venue_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("venues.id"), index=True)
    name: Mapped[str] = mapped_column(Text)
    capacity: Mapped[int] = mapped_column(Integer)
    category: Mapped[str] = mapped_column(Text)


# ---------------------------------------------------------------- events


class EventRow(Base):
    __tablename__ = "events"
    __table_args__ = (
        CheckConstraint(_one_of("status", EVENT_STATUSES), name="status"),
        CheckConstraint("buyer_limit > 0", name="buyer_limit"),
        CheckConstraint("hold_ttl_seconds > 0", name="hold_ttl_seconds"),
        CheckConstraint("inventory_version >= 0", name="inventory_version"),
        CheckConstraint("length(currency) = 3", name="currency"),
        Index(None, "status", "starts_at"),
        Index(None, "onsale_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    organizer_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("organizers.id"), index=True)
    venue_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("venues.id"), index=True)
    name: Mapped[str] = mapped_column(Text)
    description: Mapped[str] = mapped_column(Text, server_default="")
    category: Mapped[str] = mapped_column(Text)
    starts_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    onsale_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    status: Mapped[str] = mapped_column(Text, server_default="draft")
    currency: Mapped[str] = mapped_column(Text, server_default="EUR")
    buyer_limit: Mapped[int] = mapped_column(Integer, server_default="8")
    hold_ttl_seconds: Mapped[int] = mapped_column(Integer, server_default="600")
    inventory_version: Mapped[int] = mapped_column(BigInteger, server_default="0")
    created_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = _created()


class EventPerformer(Base):
    __tablename__ = "event_performers"

    event_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("events.id", ondelete="CASCADE"), primary_key=True)
    performer_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("performers.id"), primary_key=True, index=True)
    billing_order: Mapped[int] = mapped_column(Integer, server_default="0")


class PriceTierRow(Base):
    __tablename__ = "price_tiers"
    __table_args__ = (
        UniqueConstraint("event_id", "category"),
        UniqueConstraint("event_id", "code"),
        CheckConstraint("price_cents >= 0", name="price_cents"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    event_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("events.id", ondelete="CASCADE"))
    code: Mapped[str] = mapped_column(Text)
    name: Mapped[str] = mapped_column(Text)
    category: Mapped[str] = mapped_column(Text)
    price_cents: Mapped[int] = mapped_column(Integer)


# ---------------------------------------------------------------- live inventory


class HoldRow(Base):
    """Every hold ever granted; `seat_ids`/`prices_cents` keep its exact seats in engine order."""

    __tablename__ = "holds"
    __table_args__ = (
        CheckConstraint(_one_of("status", HOLD_STATUSES), name="status"),
        CheckConstraint("quantity > 0", name="quantity"),
        CheckConstraint("total_cents >= 0", name="total_cents"),
        CheckConstraint(
            "(zone_id IS NULL AND cardinality(seat_ids) = quantity"
            " AND cardinality(prices_cents) = quantity)"
            " OR (zone_id IS NOT NULL AND cardinality(seat_ids) = 0)",
            name="shape",
        ),
        Index(None, "event_id", "expires_at", postgresql_where=text("status = 'active'")),
        Index(None, "event_id", "buyer_id"),
    )

    hold_id: Mapped[str] = mapped_column(Text, primary_key=True)
    event_id: Mapped[int] = mapped_column(BigInteger)  # no FK: hot path (0004)
    request_id: Mapped[str] = mapped_column(Text, index=True)
    buyer_id: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(Text, server_default="active")
    seat_ids: Mapped[list[int]] = mapped_column(ARRAY(BigInteger), server_default="{}")
    prices_cents: Mapped[list[int]] = mapped_column(ARRAY(Integer), server_default="{}")
    zone_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("ga_zones.id"))
    quantity: Mapped[int] = mapped_column(Integer)
    total_cents: Mapped[int] = mapped_column(BigInteger)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = _created()


class SeatClaim(Base):
    """The one live hold, sale or block of a seat for an event; an available seat has no row."""

    __tablename__ = "seat_claims"
    __table_args__ = (
        CheckConstraint(
            "(state = 'held' AND hold_id IS NOT NULL AND order_id IS NULL"
            " AND price_cents IS NOT NULL)"
            " OR (state = 'sold' AND order_id IS NOT NULL AND price_cents IS NOT NULL)"
            " OR (state = 'blocked' AND hold_id IS NULL AND order_id IS NULL)",
            name="state",
        ),
        CheckConstraint("price_cents >= 0", name="price_cents"),
    )

    event_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)  # no FK: hot path (0004)
    seat_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)  # no FK: hot path (0004)
    state: Mapped[str] = mapped_column(Text)
    hold_id: Mapped[str | None] = mapped_column(Text, ForeignKey("holds.hold_id"), index=True)
    order_id: Mapped[str | None] = mapped_column(
        Text, ForeignKey("orders.order_id"), index=True)
    price_cents: Mapped[int | None] = mapped_column(Integer)
    claimed_at: Mapped[datetime] = _created()


class GaInventory(Base):
    __tablename__ = "ga_inventory"
    __table_args__ = (
        CheckConstraint("capacity > 0", name="capacity"),
        CheckConstraint("held >= 0", name="held"),
        CheckConstraint("sold >= 0", name="sold"),
        CheckConstraint("held + sold <= capacity", name="within_capacity"),
    )

    event_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("events.id"), primary_key=True)
    zone_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("ga_zones.id"), primary_key=True)
    capacity: Mapped[int] = mapped_column(Integer)
    held: Mapped[int] = mapped_column(Integer, server_default="0")
    sold: Mapped[int] = mapped_column(Integer, server_default="0")


class BuyerTickets(Base):
    """Tickets a buyer holds or owns for an event; `ticket_limit` is copied from the event."""

    __tablename__ = "buyer_tickets"
    __table_args__ = (
        CheckConstraint("tickets >= 0 AND tickets <= ticket_limit", name="within_limit"),
    )

    event_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)  # no FK: hot path (0004)
    buyer_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    tickets: Mapped[int] = mapped_column(Integer, server_default="0")
    ticket_limit: Mapped[int] = mapped_column(Integer)


# ---------------------------------------------------------------- orders and tickets


class OrderRow(Base):
    __tablename__ = "orders"
    __table_args__ = (
        CheckConstraint(_one_of("status", ORDER_STATUSES), name="status"),
        CheckConstraint("total_cents >= 0", name="total_cents"),
        CheckConstraint("quantity > 0", name="quantity"),
        Index(None, "event_id", "status"),
    )

    order_id: Mapped[str] = mapped_column(Text, primary_key=True)
    event_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("events.id"))
    buyer_id: Mapped[int] = mapped_column(BigInteger, index=True)
    hold_id: Mapped[str] = mapped_column(Text, ForeignKey("holds.hold_id"), unique=True)
    status: Mapped[str] = mapped_column(Text, server_default="pending")
    total_cents: Mapped[int] = mapped_column(BigInteger)
    zone_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("ga_zones.id"))
    quantity: Mapped[int] = mapped_column(Integer)
    payment_ref: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = _created()
    paid_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    refunded_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class OrderLine(Base):
    """One seat (quantity 1) or one general-admission zone (quantity n) of an order."""

    __tablename__ = "order_lines"
    __table_args__ = (
        CheckConstraint("(seat_id IS NULL) <> (zone_id IS NULL)", name="seat_or_zone"),
        CheckConstraint("quantity > 0 AND (seat_id IS NULL OR quantity = 1)", name="quantity"),
        CheckConstraint("price_cents >= 0", name="price_cents"),
    )

    order_id: Mapped[str] = mapped_column(
        Text, ForeignKey("orders.order_id", ondelete="CASCADE"), primary_key=True)
    line_no: Mapped[int] = mapped_column(Integer, primary_key=True)
    seat_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("seats.id"))
    zone_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("ga_zones.id"))
    quantity: Mapped[int] = mapped_column(Integer)
    price_cents: Mapped[int] = mapped_column(BigInteger)
    """What the line costs in total (seat price, or zone price times quantity)."""


class TicketRow(Base):
    __tablename__ = "tickets"
    __table_args__ = (
        CheckConstraint(_one_of("status", TICKET_STATUSES), name="status"),
        CheckConstraint("(seat_id IS NULL) <> (zone_id IS NULL)", name="seat_or_zone"),
        Index("uq_tickets_live_seat", "event_id", "seat_id", unique=True,
              postgresql_where=text("status <> 'void' AND seat_id IS NOT NULL")),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    order_id: Mapped[str] = mapped_column(Text, ForeignKey("orders.order_id"), index=True)
    event_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("events.id"))
    seat_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("seats.id"))
    zone_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("ga_zones.id"))
    secret: Mapped[str] = mapped_column(Text, unique=True)
    status: Mapped[str] = mapped_column(Text, server_default="valid")
    issued_at: Mapped[datetime] = _created()
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


# ---------------------------------------------------------------- catalog read model


class EventListing(Base):
    """One row per event for browse and search, kept current by triggers (0002_catalog_search).

    A read model: never written by application code. It gathers what browse
    filters on (city, performers, price range, tickets left) and a weighted
    tsvector of name, performers, venue and city, so a page of results is one
    indexed query instead of five joins.
    """

    __tablename__ = "event_listings"
    __table_args__ = (
        Index(None, "status", "starts_at", "event_id"),
        Index(None, "status", "category", "starts_at", "event_id"),
        Index(None, "status", "city_key", "starts_at", "event_id"),
        Index(None, "status", "sold_out", "starts_at", "event_id"),
        Index(None, "status", "min_price_cents", "event_id"),
        Index(None, "performer_ids", postgresql_using="gin"),
        Index(None, "search", postgresql_using="gin"),
    )

    event_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("events.id", ondelete="CASCADE"), primary_key=True)
    organizer_id: Mapped[int] = mapped_column(BigInteger, index=True)
    venue_id: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(Text)
    category: Mapped[str] = mapped_column(Text)
    name: Mapped[str] = mapped_column(Text)
    starts_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    onsale_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    currency: Mapped[str] = mapped_column(Text)
    venue_name: Mapped[str] = mapped_column(Text)
    city: Mapped[str] = mapped_column(Text)
    city_key: Mapped[str] = mapped_column(Text)
    """lower(city): what the city filter compares."""
    country: Mapped[str] = mapped_column(Text)
    performer_ids: Mapped[list[int]] = mapped_column(ARRAY(BigInteger), server_default="{}")
    performer_names: Mapped[list[str]] = mapped_column(ARRAY(Text), server_default="{}")
    min_price_cents: Mapped[int | None] = mapped_column(Integer)
    max_price_cents: Mapped[int | None] = mapped_column(Integer)
    capacity: Mapped[int] = mapped_column(Integer, server_default="0")
    seats_claimed: Mapped[int] = mapped_column(Integer, server_default="0")
    ga_taken: Mapped[int] = mapped_column(Integer, server_default="0")
    sold_out: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    """capacity - seats_claimed - ga_taken <= 0; indexed, and flips rarely (HOT updates)."""
    search: Mapped[Any] = mapped_column(TSVECTOR)
    updated_at: Mapped[datetime] = _created()


# ---------------------------------------------------------------- log, requests, fences


class InventoryEventRow(Base):
    """Append-only history of an event's inventory: replaying it rebuilds the state."""

    __tablename__ = "inventory_events"
    __table_args__ = (Index(None, "event_id", "seq"),)

    seq: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    event_id: Mapped[int] = mapped_column(BigInteger)  # no FK: hot path (0004)
    inventory_version: Mapped[int] = mapped_column(BigInteger)
    type: Mapped[str] = mapped_column(Text)
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB)
    created_at: Mapped[datetime] = _created()


class BookingRequest(Base):
    """A fan's request that got a 202; `outcome` is set once the partition decided it."""

    __tablename__ = "booking_requests"
    __table_args__ = (
        Index(None, "event_id", "status"),
        Index(None, "buyer_id"),
    )

    request_id: Mapped[str] = mapped_column(Text, primary_key=True)
    event_id: Mapped[int] = mapped_column(BigInteger)  # no FK: hot path (0004)
    buyer_id: Mapped[int] = mapped_column(BigInteger)
    kind: Mapped[str] = mapped_column(Text)
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))
    status: Mapped[str] = mapped_column(Text)
    outcome: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    created_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = _created()
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class PartitionFence(Base):
    """The newest fencing token seen per partition; older lease holders may not write."""

    __tablename__ = "partition_fences"
    __table_args__ = (CheckConstraint("fencing_token >= 0", name="fencing_token"),)

    partition: Mapped[str] = mapped_column(Text, primary_key=True)
    fencing_token: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[datetime] = _created()



# ---------------------------------------------------------------- ops


class OpsAuditEntry(Base):
    """Every change ops (or the autopilot) made to a sale: who, when, what, old -> new.

    Append-only: rows are inserted, never updated or deleted. One row per
    changed field, so the dashboard shows `new_users_per_minute 600 -> 900`.
    """

    __tablename__ = "ops_audit"
    __table_args__ = (Index(None, "event_id", "id"),)

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    created_at: Mapped[datetime] = _created()
    actor: Mapped[str] = mapped_column(Text)
    """The ops account's email, or `autopilot`."""
    actor_user_id: Mapped[int | None] = mapped_column(BigInteger)
    event_id: Mapped[int | None] = mapped_column(BigInteger)
    action: Mapped[str] = mapped_column(Text)
    field: Mapped[str] = mapped_column(Text)
    old_value: Mapped[Any | None] = mapped_column(JSONB)
    new_value: Mapped[Any | None] = mapped_column(JSONB)
    details: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))


# ---------------------------------------------------------------- notifications

NOTIFICATION_KINDS = ("order_paid", "order_refunded", "waitlist_offer")


class Notification(Base):
    """The outbox: a message to a fan, written in the transaction of the change it tells
    of (tickets issued, an order refunded), sent later by `onsale notifier`.

    One row per order and kind (a re-run writes nothing new); `sent_at` is set once it was
    handed to the mail system; a failed attempt counts and waits before the next."""

    __tablename__ = "notifications"
    __table_args__ = (
        CheckConstraint(_one_of("kind", NOTIFICATION_KINDS), name="kind"),
        UniqueConstraint("kind", "order_id"),
        Index("ix_notifications_due", "next_attempt_at", postgresql_where=text("sent_at IS NULL")),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    kind: Mapped[str] = mapped_column(Text)
    order_id: Mapped[str] = mapped_column(Text)
    user_id: Mapped[int] = mapped_column(BigInteger)
    recipient: Mapped[str] = mapped_column(Text)
    subject: Mapped[str] = mapped_column(Text)
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = _created()
    next_attempt_at: Mapped[datetime] = _created()
    attempts: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    last_error: Mapped[str | None] = mapped_column(Text)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

# ---------------------------------------------------------------- presales

PRESALE_CODE_KINDS = ("single_use", "per_account")


class PresaleRow(Base):
    """A window before (or beside) the general sale open only to holders of its access codes.

    `quota` caps the accounts let in; `redeemed` counts them and is raised only by the
    redemption statement (`engine.store.presales`), which the check keeps within the quota.
    `tier_codes` are the price tiers it unlocks: hidden from and refused to everyone else."""

    __tablename__ = "presales"
    __table_args__ = (
        CheckConstraint("ends_at > starts_at", name="window"),
        CheckConstraint("quota >= 0", name="quota"),
        CheckConstraint("redeemed >= 0 AND redeemed <= quota", name="redeemed"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    event_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("events.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(Text)
    starts_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    ends_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    tier_codes: Mapped[list[str]] = mapped_column(ARRAY(Text))
    quota: Mapped[int] = mapped_column(Integer)
    redeemed: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    created_at: Mapped[datetime] = _created()


class PresaleCode(Base):
    """An access code. `single_use`: binds to the first account that redeems it (`account_id`);
    `per_account`: a shared code every account may redeem once (up to the quota)."""

    __tablename__ = "presale_codes"
    __table_args__ = (CheckConstraint(_one_of("kind", PRESALE_CODE_KINDS), name="kind"),)

    code: Mapped[str] = mapped_column(Text, primary_key=True)
    presale_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("presales.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(Text)
    account_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = _created()


class PresaleAccess(Base):
    """An account let into a presale, with the code it redeemed: one row per account."""

    __tablename__ = "presale_access"

    presale_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("presales.id", ondelete="CASCADE"), primary_key=True)
    account_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    code: Mapped[str] = mapped_column(Text)
    redeemed_at: Mapped[datetime] = _created()


# ---------------------------------------------------------------- sold-out waiting list

WAITING_LIST_STATUSES = ("waiting", "offering", "offered", "taken", "lapsed", "left")


class WaitingListEntry(Base):
    """A fan on an event's sold-out waiting list; `id` is the list order.

    `waiting` -> `offering` (an OfferSeats request is on the partition, `request_id`) ->
    `offered` (a hold for the fan, `hold_id`, until `offer_expires_at`) -> `taken` (sold) or
    `lapsed` (expired or released: the next fan gets the seats). No seats for the offer:
    back to `waiting` at the head."""

    __tablename__ = "waiting_list_entries"
    __table_args__ = (
        CheckConstraint(_one_of("status", WAITING_LIST_STATUSES), name="status"),
        CheckConstraint("quantity > 0", name="quantity"),
        Index("ux_waiting_list_entries_active", "event_id", "account_id", unique=True,
              postgresql_where=text("status IN ('waiting', 'offering', 'offered')")),
        Index(None, "event_id", "status", "id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    event_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("events.id", ondelete="CASCADE"))
    account_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("users.id", ondelete="CASCADE"))
    quantity: Mapped[int] = mapped_column(Integer)
    tier: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(Text, server_default="waiting")
    request_id: Mapped[str | None] = mapped_column(Text)
    hold_id: Mapped[str | None] = mapped_column(Text)
    offer_expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = _created()


TABLE_NAMES = tuple(Base.metadata.tables)
