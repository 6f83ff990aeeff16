"""The ops audit log: who changed which sale setting, when, old -> new.

Revision ID: 0003_ops_audit
Revises: 0002_catalog_search
Create Date: 2024-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0003_ops_audit"
down_revision = "0002_catalog_search"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ops_audit",
        sa.Column("id", sa.BigInteger(), sa.Identity(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"),
                  nullable=False),
        sa.Column("actor", sa.Text(), nullable=False),
        sa.Column("actor_user_id", sa.BigInteger(), nullable=True),
        sa.Column("event_id", sa.BigInteger(), nullable=True),
        sa.Column("action", sa.Text(), nullable=False),
        sa.Column("field", sa.Text(), nullable=False),
        sa.Column("old_value", postgresql.JSONB(), nullable=True),
        sa.Column("new_value", postgresql.JSONB(), nullable=True),
        sa.Column("details", postgresql.JSONB(), server_default=sa.text("'{}'::jsonb"),
                  nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_ops_audit"),
    )
    op.create_index("ix_ops_audit_event_id_id", "ops_audit", ["event_id", "id"])


def downgrade() -> None:
    op.drop_table("ops_audit")
