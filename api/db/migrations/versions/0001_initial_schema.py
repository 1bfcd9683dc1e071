"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-28 07:50:00.390965
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "async_job_calls",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("job_name", sa.String(length=128), nullable=False),
        sa.Column("job_version", sa.String(length=128), nullable=False),
        sa.Column("job_path", sa.String(length=1024), nullable=False),
        sa.Column("request_method", sa.String(length=16), nullable=False),
        sa.Column("request_url", sa.String(length=2048), nullable=False),
        sa.Column("request_headers", sa.JSON(), nullable=True),
        sa.Column("request_body", sa.Text(), nullable=True),
        sa.Column("response_status_code", sa.Integer(), nullable=True),
        sa.Column("response_headers", sa.JSON(), nullable=True),
        sa.Column("response_body", sa.Text(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("pub_instance_addr", sa.String(length=256), nullable=True),
        sa.Column("retriable_error", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_async_job_calls")),
    )
    with op.batch_alter_table("async_job_calls", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_async_job_calls_started_at"), ["started_at"], unique=False)

    op.create_table(
        "audit_events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("timestamp", sa.DateTime(timezone=True), nullable=False),
        sa.Column("event_type", sa.String(length=64), nullable=False),
        sa.Column("username_executor", sa.String(length=256), nullable=True),
        sa.Column("username_subject", sa.String(length=256), nullable=True),
        sa.Column("job_name", sa.String(length=128), nullable=True),
        sa.Column("job_version", sa.String(length=128), nullable=True),
        sa.Column("properties", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_events")),
    )
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_audit_events_job_name"), ["job_name"], unique=False)
        batch_op.create_index(batch_op.f("ix_audit_events_timestamp"), ["timestamp"], unique=False)

    op.create_table(
        "deployments",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("phase", sa.String(length=256), nullable=True),
        sa.Column("warnings", sa.Text(), nullable=True),
        sa.Column("build_logs", sa.Text(), nullable=True),
        sa.Column("manifest", sa.Text(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("image_name", sa.String(length=512), nullable=True),
        sa.Column("preview", sa.JSON(), nullable=True),
        sa.Column("job_name", sa.String(length=128), nullable=False),
        sa.Column("job_version", sa.String(length=128), nullable=True),
        sa.Column("deployed_by", sa.String(length=256), nullable=True),
        sa.Column("infrastructure_target", sa.String(length=128), nullable=True),
        sa.Column("revision_number", sa.Integer(), nullable=True),
        sa.Column("parameters", sa.JSON(), nullable=True),
        sa.Column("create_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("update_time", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deployments")),
    )
    with op.batch_alter_table("deployments", schema=None) as batch_op:
        batch_op.create_index("ix_deployments_create_time", ["create_time"], unique=False)
        batch_op.create_index("ix_deployments_job", ["job_name", "job_version"], unique=False)

    op.create_table(
        "escs",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=150), nullable=False),
        sa.Column("created_by", sa.String(length=256), nullable=True),
        sa.Column("create_time", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_escs")),
        sa.UniqueConstraint("name", name=op.f("uq_escs_name")),
    )
    op.create_table(
        "job_families",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("create_time", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_job_families")),
        sa.UniqueConstraint("name", name=op.f("uq_job_families_name")),
    )
    op.create_table(
        "plugins",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("version", sa.String(length=128), nullable=False),
        sa.Column("category", sa.String(length=64), nullable=True),
        sa.Column("url", sa.String(length=1024), nullable=True),
        sa.Column("plugin_manifest", sa.JSON(), nullable=True),
        sa.Column("stored_file", sa.String(length=1024), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("uploaded_by", sa.String(length=256), nullable=True),
        sa.Column("uploaded_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_plugins")),
        sa.UniqueConstraint("name", "version", name="uq_plugins_name_version"),
    )
    op.create_table(
        "settings",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("value", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_settings")),
    )
    op.create_table(
        "trash_jobs",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("version", sa.String(length=128), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=True),
        sa.Column("manifest", sa.Text(), nullable=True),
        sa.Column("image_ref", sa.String(length=512), nullable=True),
        sa.Column("internal_name", sa.String(length=512), nullable=True),
        sa.Column("deployed_by", sa.String(length=256), nullable=True),
        sa.Column("infrastructure_target", sa.String(length=128), nullable=True),
        sa.Column("job_type_version", sa.String(length=128), nullable=True),
        sa.Column("create_time", sa.DateTime(timezone=True), nullable=True),
        sa.Column("delete_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deleted_by", sa.String(length=256), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_trash_jobs")),
    )
    with op.batch_alter_table("trash_jobs", schema=None) as batch_op:
        batch_op.create_index("ix_trash_jobs_name_version", ["name", "version"], unique=False)

    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("username", sa.String(length=150), nullable=False),
        sa.Column("password_hash", sa.Text(), nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("is_staff", sa.Boolean(), nullable=False),
        sa.Column("is_superuser", sa.Boolean(), nullable=False),
        sa.Column("date_joined", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_login", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("username", name=op.f("uq_users_username")),
    )
    op.create_table(
        "auth_subjects",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("esc_id", sa.String(length=36), nullable=True),
        sa.Column("job_family_id", sa.String(length=36), nullable=True),
        sa.Column("name", sa.String(length=150), nullable=True),
        sa.CheckConstraint(
            "(CASE WHEN user_id IS NULL THEN 0 ELSE 1 END"
            " + CASE WHEN esc_id IS NULL THEN 0 ELSE 1 END"
            " + CASE WHEN job_family_id IS NULL THEN 0 ELSE 1 END) <= 1",
            name=op.f("ck_auth_subjects_one_owner"),
        ),
        sa.ForeignKeyConstraint(
            ["esc_id"], ["escs.id"], name=op.f("fk_auth_subjects_esc_id_escs"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["job_family_id"],
            ["job_families.id"],
            name=op.f("fk_auth_subjects_job_family_id_job_families"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_auth_subjects_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_auth_subjects")),
        sa.UniqueConstraint("esc_id", name=op.f("uq_auth_subjects_esc_id")),
        sa.UniqueConstraint("job_family_id", name=op.f("uq_auth_subjects_job_family_id")),
        sa.UniqueConstraint("user_id", name=op.f("uq_auth_subjects_user_id")),
    )
    op.create_table(
        "family_revisions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("family_id", sa.String(length=36), nullable=False),
        sa.Column("target", sa.String(length=128), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("desired_state", sa.JSON(), nullable=False),
        sa.Column("operation", sa.String(length=32), nullable=False),
        sa.Column("created_by", sa.String(length=256), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("summary", sa.JSON(), nullable=True),
        sa.Column("deployment_id", sa.String(length=36), nullable=True),
        sa.ForeignKeyConstraint(
            ["family_id"],
            ["job_families.id"],
            name=op.f("fk_family_revisions_family_id_job_families"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_family_revisions")),
        sa.UniqueConstraint("family_id", "target", "number", name="uq_family_revisions_number"),
    )
    with op.batch_alter_table("family_revisions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_family_revisions_family_id"), ["family_id"], unique=False)

    op.create_table(
        "jobs",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("family_id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("version", sa.String(length=128), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("notice", sa.Text(), nullable=True),
        sa.Column("image_ref", sa.String(length=512), nullable=True),
        sa.Column("internal_name", sa.String(length=512), nullable=True),
        sa.Column("deployed_by", sa.String(length=256), nullable=True),
        sa.Column("create_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("update_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_call_time", sa.DateTime(timezone=True), nullable=True),
        sa.Column("infrastructure_target", sa.String(length=128), nullable=True),
        sa.Column("manifest", sa.Text(), nullable=True),
        sa.Column("job_type_version", sa.String(length=128), nullable=True),
        sa.Column("replicas", sa.Integer(), nullable=False),
        sa.Column("replica_internal_names", sa.JSON(), nullable=True),
        sa.Column("infrastructure_stats", sa.JSON(), nullable=True),
        sa.Column("deployment_id", sa.String(length=36), nullable=True),
        sa.ForeignKeyConstraint(
            ["family_id"],
            ["job_families.id"],
            name=op.f("fk_jobs_family_id_job_families"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_jobs")),
        sa.UniqueConstraint("name", "version", name="uq_jobs_name_version"),
    )
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_jobs_family_id"), ["family_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_jobs_name"), ["name"], unique=False)

    op.create_table(
        "auth_tokens",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("subject_id", sa.Integer(), nullable=False),
        sa.Column("seed", sa.String(length=64), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("expiry_time", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_use_time", sa.DateTime(timezone=True), nullable=True),
        sa.Column("create_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("description", sa.String(length=256), nullable=True),
        sa.ForeignKeyConstraint(
            ["subject_id"],
            ["auth_subjects.id"],
            name=op.f("fk_auth_tokens_subject_id_auth_subjects"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_auth_tokens")),
        sa.UniqueConstraint("seed", name=op.f("uq_auth_tokens_seed")),
    )
    with op.batch_alter_table("auth_tokens", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_auth_tokens_subject_id"), ["subject_id"], unique=False)

    op.create_table(
        "permissions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("subject_id", sa.Integer(), nullable=False),
        sa.Column("scope", sa.String(length=32), nullable=False),
        sa.Column("job_family_id", sa.String(length=36), nullable=True),
        sa.Column("job_id", sa.String(length=36), nullable=True),
        sa.Column("endpoint", sa.String(length=1024), nullable=True),
        sa.Column("granted_by", sa.String(length=256), nullable=True),
        sa.Column("create_time", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["job_family_id"],
            ["job_families.id"],
            name=op.f("fk_permissions_job_family_id_job_families"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["job_id"], ["jobs.id"], name=op.f("fk_permissions_job_id_jobs"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["subject_id"],
            ["auth_subjects.id"],
            name=op.f("fk_permissions_subject_id_auth_subjects"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_permissions")),
    )
    with op.batch_alter_table("permissions", schema=None) as batch_op:
        batch_op.create_index("ix_permissions_subject_scope", ["subject_id", "scope"], unique=False)

    op.create_table(
        "public_endpoint_requests",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("job_id", sa.String(length=36), nullable=False),
        sa.Column("endpoint", sa.String(length=1024), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_by", sa.String(length=256), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["job_id"], ["jobs.id"], name=op.f("fk_public_endpoint_requests_job_id_jobs"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_public_endpoint_requests")),
        sa.UniqueConstraint("job_id", "endpoint", name="uq_public_endpoint_requests_job_endpoint"),
    )
    with op.batch_alter_table("public_endpoint_requests", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_public_endpoint_requests_job_id"), ["job_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("public_endpoint_requests", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_public_endpoint_requests_job_id"))

    op.drop_table("public_endpoint_requests")
    with op.batch_alter_table("permissions", schema=None) as batch_op:
        batch_op.drop_index("ix_permissions_subject_scope")

    op.drop_table("permissions")
    with op.batch_alter_table("auth_tokens", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_auth_tokens_subject_id"))

    op.drop_table("auth_tokens")
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_jobs_name"))
        batch_op.drop_index(batch_op.f("ix_jobs_family_id"))

    op.drop_table("jobs")
    with op.batch_alter_table("family_revisions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_family_revisions_family_id"))

    op.drop_table("family_revisions")
    op.drop_table("auth_subjects")
    op.drop_table("users")
    with op.batch_alter_table("trash_jobs", schema=None) as batch_op:
        batch_op.drop_index("ix_trash_jobs_name_version")

    op.drop_table("trash_jobs")
    op.drop_table("settings")
    op.drop_table("plugins")
    op.drop_table("job_families")
    op.drop_table("escs")
    with op.batch_alter_table("deployments", schema=None) as batch_op:
        batch_op.drop_index("ix_deployments_job")
        batch_op.drop_index("ix_deployments_create_time")

    op.drop_table("deployments")
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audit_events_timestamp"))
        batch_op.drop_index(batch_op.f("ix_audit_events_job_name"))

    op.drop_table("audit_events")
    with op.batch_alter_table("async_job_calls", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_async_job_calls_started_at"))

    op.drop_table("async_job_calls")
