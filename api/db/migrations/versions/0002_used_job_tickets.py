"""used job tickets: each ticket opens a job's pages once

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02 09:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "used_job_tickets",
        sa.Column("ticket_id", sa.String(length=64), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("ticket_id", name=op.f("pk_used_job_tickets")),
    )
    with op.batch_alter_table("used_job_tickets", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_used_job_tickets_expires_at"), ["expires_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("used_job_tickets", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_used_job_tickets_expires_at"))
    op.drop_table("used_job_tickets")
