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
