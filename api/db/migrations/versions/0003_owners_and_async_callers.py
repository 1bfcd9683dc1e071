"""family owners instead of deploy_job for everyone; async calls record their caller

Users no longer get `deploy_job` on every family when they register: a family's deployers are its owner
and those granted. Upgrading removes that registration grant and, so that nobody loses a family they
deploy, grants `deploy_job` on each family to every user who deployed one of its versions (the first of
them is its owner). Async calls get `caller_subject_id`, whose calls only that subject may read; older
calls get none (they are read by id, as before).

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-04 09:00:00
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_OWNER_GRANT = "owner"
_MIGRATION_GRANT = "0003: deployed this family before owners existed"

_permissions = sa.table(
    "permissions",
    sa.column("id", sa.Integer),
    sa.column("subject_id", sa.Integer),
    sa.column("scope", sa.String),
    sa.column("job_family_id", sa.String),
    sa.column("job_id", sa.String),
    sa.column("endpoint", sa.String),
    sa.column("granted_by", sa.String),
    sa.column("create_time", sa.DateTime(timezone=True)),
)


def upgrade() -> None:
    with op.batch_alter_table("async_job_calls", schema=None) as batch_op:
        batch_op.add_column(sa.Column("caller_subject_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_async_job_calls_caller_subject_id_auth_subjects"),
            "auth_subjects",
            ["caller_subject_id"],
            ["id"],
            ondelete="CASCADE",
        )

    connection = op.get_bind()
    # Every user who deployed a version of a family keeps deploying it: a family-wide grant per pair.
    deployers = connection.execute(
        sa.text(
            "SELECT DISTINCT s.id, f.id FROM deployments d"
            " JOIN users u ON u.username = d.deployed_by"
            " JOIN auth_subjects s ON s.user_id = u.id"
            " JOIN job_families f ON f.name = d.job_name"
            " WHERE d.kind = 'deploy' AND d.status = 'done'"
        )
    ).all()
    now = datetime.now(UTC)
    for subject_id, family_id in deployers:
        already = connection.execute(
            sa.select(_permissions.c.id).where(
                _permissions.c.subject_id == subject_id,
                _permissions.c.scope == "deploy_job",
                _permissions.c.job_family_id == family_id,
                _permissions.c.job_id.is_(None),
                _permissions.c.endpoint.is_(None),
            )
        ).first()
        if already is None:
            connection.execute(
                _permissions.insert().values(
                    subject_id=subject_id,
                    scope="deploy_job",
                    job_family_id=family_id,
                    granted_by=_MIGRATION_GRANT,
                    create_time=now,
                )
            )
    connection.execute(
        _permissions.delete().where(
            _permissions.c.scope == "deploy_job",
            _permissions.c.granted_by == "registration",
            _permissions.c.job_family_id.is_(None),
            _permissions.c.job_id.is_(None),
            _permissions.c.endpoint.is_(None),
        )
    )


def downgrade() -> None:
    connection = op.get_bind()
    connection.execute(
        _permissions.delete().where(_permissions.c.granted_by.in_([_OWNER_GRANT, _MIGRATION_GRANT]))
    )
    # Back to the old default: deploy_job on everything for everyone who registered.
    registered = connection.execute(
        sa.select(_permissions.c.subject_id)
        .where(
            _permissions.c.granted_by == "registration",
            _permissions.c.scope == "deploy_new_family",
            _permissions.c.job_family_id.is_(None),
        )
        .distinct()
    ).all()
    for (subject_id,) in registered:
        connection.execute(
            _permissions.insert().values(
                subject_id=subject_id,
                scope="deploy_job",
                granted_by="registration",
                create_time=datetime.now(UTC),
            )
        )

    with op.batch_alter_table("async_job_calls", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_async_job_calls_caller_subject_id_auth_subjects"), type_="foreignkey"
        )
        batch_op.drop_column("caller_subject_id")
