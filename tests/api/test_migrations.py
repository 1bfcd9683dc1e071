"""Migrations: an empty database goes to head and back to base, on each database kind."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import inspect

from api.db import Base, create_db_engine, downgrade, migrate
from tests.api.conftest import DATABASES


@pytest.fixture(params=DATABASES)
def empty_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'empty.db'}"
        return
    server = request.getfixturevalue("postgres_server")
    name = f"m_{uuid.uuid4().hex[:16]}"
    server.execute(f"CREATE DATABASE {name}")
    yield server.url(name)
    server.execute(f"DROP DATABASE {name} WITH (FORCE)")


def test_empty_database_upgrades_to_head_and_back_to_base(empty_database_url: str) -> None:
    engine = create_db_engine(empty_database_url)
    try:
        assert inspect(engine).get_table_names() == []
        migrate(engine)
        tables = set(inspect(engine).get_table_names())
        assert set(Base.metadata.tables) <= tables
        columns = {c["name"] for c in inspect(engine).get_columns("jobs")}
        assert {"status", "internal_name", "last_call_time", "infrastructure_target", "manifest"} <= columns
        downgrade(engine)
        assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
        migrate(engine)  # and up again: the downgrade left nothing behind that blocks it
        assert set(Base.metadata.tables) <= set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_models_and_migrations_agree(empty_database_url: str) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    engine = create_db_engine(empty_database_url)
    try:
        migrate(engine)
        with engine.connect() as connection:
            diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
        assert diff == [], f"models differ from the migrations; write a migration: {diff}"
    finally:
        engine.dispose()


def _deploy_grants(engine) -> set[tuple[str, str | None, str | None]]:
    """(username, family name, granted_by) of every deploy_job grant held by a user."""
    from sqlalchemy import text

    with engine.connect() as connection:
        rows = connection.execute(
            text(
                "SELECT u.username, f.name, p.granted_by FROM permissions p"
                " JOIN auth_subjects s ON s.id = p.subject_id JOIN users u ON u.id = s.user_id"
                " LEFT JOIN job_families f ON f.id = p.job_family_id WHERE p.scope = 'deploy_job'"
            )
        ).all()
    return {(r[0], r[1], r[2]) for r in rows}


def test_upgrading_gives_families_to_their_deployers_instead_of_deploy_job_for_all(
    empty_database_url: str,
) -> None:
    from api.auth import Scope, grant, register_user, subject_for_user
    from api.db import create_db_engine, session_factory, session_scope
    from api.db.repository import create_deployment, ensure_family

    engine = create_db_engine(empty_database_url)
    try:
        migrate(engine, "0002")
        with session_scope(session_factory(engine)) as session:
            for name in ("alice@example.com", "bob@example.com"):
                user = register_user(session, name, "a-good-password-1")
                # what registration granted before 0003
                grant(session, subject_for_user(session, user), Scope.deploy_job, granted_by="registration")
            ensure_family(session, "adder")
            for status in ("failed", "done", "done"):
                create_deployment(
                    session, kind="deploy", status=status, job_name="adder", deployed_by="alice@example.com"
                )
            create_deployment(
                session, kind="deploy", status="failed", job_name="adder", deployed_by="bob@example.com"
            )
        migrate(engine)
        assert _deploy_grants(engine) == {
            ("alice@example.com", "adder", "0003: deployed this family before owners existed")
        }
        downgrade(engine, "0002")
        assert _deploy_grants(engine) == {
            ("alice@example.com", None, "registration"),
            ("bob@example.com", None, "registration"),
        }
    finally:
        engine.dispose()
