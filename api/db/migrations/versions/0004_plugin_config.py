"""plugins keep the configuration staff edit

`PUT /plugin/{name}/{version}/config` stores the plugin's configuration file (YAML text) here, so it
outlives the unpacked plugin folder; the plugin reads it from its `config_path` as upstream plugins do.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02 12:45:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("plugins") as batch:
        batch.add_column(sa.Column("config", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("plugins") as batch:
        batch.drop_column("config")
