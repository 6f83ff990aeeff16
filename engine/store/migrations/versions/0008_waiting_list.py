"""The sold-out waiting list, and waiting-list offers in the notifications outbox.

Revision ID: 0008_waiting_list
Revises: 0007_presales
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008_waiting_list"
down_revision = "0007_presales"
branch_labels = None
depends_on = None


def upgrade() -> None:
    now = sa.text("now()")
    op.create_table(
        "waiting_list_entries",
        sa.Column("id", sa.BigInteger(), sa.Identity(), nullable=False),
        sa.Column("event_id", sa.BigInteger(), nullable=False),
        sa.Column("account_id", sa.BigInteger(), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("tier", sa.Text(), nullable=True),
        sa.Column("status", sa.Text(), server_default="waiting", nullable=False),
        sa.Column("request_id", sa.Text(), nullable=True),
        sa.Column("hold_id", sa.Text(), nullable=True),
        sa.Column("offer_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=now, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=now, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_waiting_list_entries"),
        sa.ForeignKeyConstraint(["event_id"], ["events.id"], ondelete="CASCADE",
                                name="fk_waiting_list_entries_event_id_events"),
        sa.ForeignKeyConstraint(["account_id"], ["users.id"], ondelete="CASCADE",
                                name="fk_waiting_list_entries_account_id_users"),
        sa.CheckConstraint(
            "status IN ('waiting', 'offering', 'offered', 'taken', 'lapsed', 'left')",
            name="ck_waiting_list_entries_status"),
        sa.CheckConstraint("quantity > 0", name="ck_waiting_list_entries_quantity"),
    )
    op.create_index("ux_waiting_list_entries_active", "waiting_list_entries",
                    ["event_id", "account_id"], unique=True,
                    postgresql_where=sa.text("status IN ('waiting', 'offering', 'offered')"))
    op.create_index("ix_waiting_list_entries_event_id_status_id", "waiting_list_entries",
                    ["event_id", "status", "id"])
    op.drop_constraint("ck_notifications_kind", "notifications", type_="check")
    op.create_check_constraint(
        "ck_notifications_kind", "notifications",
        "kind IN ('order_paid', 'order_refunded', 'waitlist_offer')")


def downgrade() -> None:
    op.execute("DELETE FROM notifications WHERE kind = 'waitlist_offer'")
    op.drop_constraint("ck_notifications_kind", "notifications", type_="check")
    op.create_check_constraint("ck_notifications_kind", "notifications",
                               "kind IN ('order_paid', 'order_refunded')")
    op.drop_table("waiting_list_entries")
