"""Alembic environment: the database URL comes from api.settings unless the caller passes an engine."""

from __future__ import annotations

from alembic import context

from api.db import auth_models, registry_models  # noqa: F401  (registers the tables)
from api.db.base import Base
from api.db.session import create_db_engine
from api.settings import get_settings

config = context.config
target_metadata = Base.metadata


def run_migrations_online() -> None:
    engine = config.attributes.get("engine")
    owns_engine = engine is None
    if engine is None:
        engine = create_db_engine(get_settings().effective_database_url)
    try:
        with engine.connect() as connection:
            context.configure(
                connection=connection,
                target_metadata=target_metadata,
                render_as_batch=connection.dialect.name == "sqlite",
                compare_type=True,
            )
            with context.begin_transaction():
                context.run_migrations()
            connection.commit()
    finally:
        if owns_engine:
            engine.dispose()


if context.is_offline_mode():
    raise SystemExit("offline (SQL script) migrations are not supported; run them against a database")
run_migrations_online()
