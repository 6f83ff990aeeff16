"""Standing waiting-list offers: offers the partition keeps until seats come back.

Revision ID: 0009_standing_offers
Revises: 0008_waiting_list
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009_standing_offers"
down_revision = "0008_waiting_list"
branch_labels = None
depends_on = None

_STATUSES_BEFORE = "('waiting', 'offering', 'offered', 'taken', 'lapsed', 'left')"
_STATUSES = "('waiting', 'offering', 'standing', 'offered', 'taken', 'lapsed', 'left')"


def _entry_rules(statuses: str, active: str) -> None:
    op.drop_constraint("ck_waiting_list_entries_status", "waiting_list_entries", type_="check")
    op.create_check_constraint("ck_waiting_list_entries_status", "waiting_list_entries",
                               f"status IN {statuses}")
    op.drop_index("ux_waiting_list_entries_active", "waiting_list_entries")
    op.create_index("ux_waiting_list_entries_active", "waiting_list_entries",
                    ["event_id", "account_id"], unique=True,
                    postgresql_where=sa.text(f"status IN {active}"))


def upgrade() -> None:
    op.create_table(
        "standing_offers",
        sa.Column("offer_id", sa.Text(), nullable=False),
        sa.Column("event_id", sa.BigInteger(), nullable=False),
        sa.Column("hold_id", sa.Text(), nullable=False),
        sa.Column("buyer_id", sa.BigInteger(), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("ttl_seconds", sa.Double(), nullable=False),
        sa.Column("tier", sa.Text(), nullable=True),
        sa.Column("list_order", sa.BigInteger(), nullable=False),
        sa.Column("unlocked_tiers", sa.ARRAY(sa.Text()), server_default="{}", nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"),
                  nullable=False),
        sa.PrimaryKeyConstraint("offer_id", name="pk_standing_offers"),
        sa.ForeignKeyConstraint(["event_id"], ["events.id"], ondelete="CASCADE",
                                name="fk_standing_offers_event_id_events"),
        sa.CheckConstraint("quantity > 0", name="ck_standing_offers_quantity"),
    )
    op.create_index("ix_standing_offers_event_id_list_order", "standing_offers",
                    ["event_id", "list_order"])
    _entry_rules(_STATUSES, "('waiting', 'offering', 'standing', 'offered')")


def downgrade() -> None:
    op.execute("UPDATE waiting_list_entries SET status = 'waiting', request_id = NULL"
               " WHERE status = 'standing'")
    _entry_rules(_STATUSES_BEFORE, "('waiting', 'offering', 'offered')")
    op.drop_table("standing_offers")
