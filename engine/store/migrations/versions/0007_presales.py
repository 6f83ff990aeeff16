"""Presales: windows open only to holders of access codes, the codes, and who got in.

Revision ID: 0007_presales
Revises: 0006_notifications
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0007_presales"
down_revision = "0006_notifications"
branch_labels = None
depends_on = None


def upgrade() -> None:
    now = sa.text("now()")
    op.create_table(
        "presales",
        sa.Column("id", sa.BigInteger(), sa.Identity(), nullable=False),
        sa.Column("event_id", sa.BigInteger(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("tier_codes", postgresql.ARRAY(sa.Text()), nullable=False),
        sa.Column("quota", sa.Integer(), nullable=False),
        sa.Column("redeemed", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=now, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_presales"),
        sa.ForeignKeyConstraint(
            ["event_id"], ["events.id"], ondelete="CASCADE", name="fk_presales_event_id_events"
        ),
        sa.CheckConstraint("ends_at > starts_at", name="ck_presales_window"),
        sa.CheckConstraint("quota >= 0", name="ck_presales_quota"),
        sa.CheckConstraint("redeemed >= 0 AND redeemed <= quota", name="ck_presales_redeemed"),
    )
    op.create_index("ix_presales_event_id", "presales", ["event_id"])
    op.create_table(
        "presale_codes",
        sa.Column("code", sa.Text(), nullable=False),
        sa.Column("presale_id", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("account_id", sa.BigInteger(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=now, nullable=False),
        sa.PrimaryKeyConstraint("code", name="pk_presale_codes"),
        sa.ForeignKeyConstraint(
            ["presale_id"],
            ["presales.id"],
            ondelete="CASCADE",
            name="fk_presale_codes_presale_id_presales",
        ),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["users.id"],
            ondelete="SET NULL",
            name="fk_presale_codes_account_id_users",
        ),
        sa.CheckConstraint("kind IN ('single_use', 'per_account')", name="ck_presale_codes_kind"),
    )
    op.create_index("ix_presale_codes_presale_id", "presale_codes", ["presale_id"])
    op.create_table(
        "presale_access",
        sa.Column("presale_id", sa.BigInteger(), nullable=False),
        sa.Column("account_id", sa.BigInteger(), nullable=False),
        sa.Column("code", sa.Text(), nullable=False),
        sa.Column("redeemed_at", sa.DateTime(timezone=True), server_default=now, nullable=False),
        sa.PrimaryKeyConstraint("presale_id", "account_id", name="pk_presale_access"),
        sa.ForeignKeyConstraint(
            ["presale_id"],
            ["presales.id"],
            ondelete="CASCADE",
            name="fk_presale_access_presale_id_presales",
        ),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["users.id"],
            ondelete="CASCADE",
            name="fk_presale_access_account_id_users",
        ),
    )


def downgrade() -> None:
    op.drop_table("presale_access")
    op.drop_table("presale_codes")
    op.drop_table("presales")
