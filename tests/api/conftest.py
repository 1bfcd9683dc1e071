"""Fixtures for the lifecycle API: an isolated database per test, on SQLite and on a real PostgreSQL.

`RACETRACK_TEST_DATABASES` (default `sqlite,postgresql`) limits which databases the tests run on.
Every test gets a fresh data directory and a fresh database copied from a migrated template, so tests
never see each other's rows.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from argon2 import PasswordHasher
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import SecretStr

from api.auth import passwords as password_module
from api.auth import primary_token, register_user, subject_for_esc, subject_for_family, subject_for_user
from api.auth.permissions import grant_owner
from api.auth.tokens import issue_token
from api.db import Esc, Job, User, create_db_engine, migrate, session_factory, session_scope
from api.db.repository import ensure_family, upsert_job
from api.lifecycle import create_app
from api.settings import Settings
from tests.api.postgres import PostgresServer
from tests.pub.servers import ServerThread

ADMIN_PASSWORD = "admin-password-for-tests"
API = "/lifecycle/api/v1"
DATABASES = [
    d.strip() for d in os.environ.get("RACETRACK_TEST_DATABASES", "sqlite,postgresql").split(",") if d.strip()
]


@pytest.fixture(autouse=True, scope="session")
def _cheap_password_hashing() -> Iterator[None]:
    """Argon2 with its production cost would dominate the suite's time; tests use a cheap setting."""
    original = password_module._hasher
    password_module._hasher = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    yield
    password_module._hasher = original


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("RACETRACK_") and name != "RACETRACK_TEST_DATABASES":
            monkeypatch.delenv(name)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    # Not under pytest's tmp folder: that one is private to root, and the server runs as `postgres`.
    root = Path(tempfile.mkdtemp(prefix="racetrack-test-postgres-"))
    os.chmod(root, 0o755)
    server = PostgresServer(root)
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def postgres_template(postgres_server: PostgresServer) -> str:
    postgres_server.execute("CREATE DATABASE rt_template")
    engine = create_db_engine(postgres_server.url("rt_template"))
    migrate(engine)
    engine.dispose()
    return "rt_template"


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sqlite-template") / "racetrack.db"
    engine = create_db_engine(f"sqlite:///{path}")
    migrate(engine)
    engine.dispose()
    return path


def fresh_database(request: pytest.FixtureRequest, tmp_path: Path, kind: str) -> Iterator[str]:
    """Yields the URL of a migrated, empty database of `kind` (sqlite or postgresql), dropped afterwards."""
    if kind == "sqlite":
        target = tmp_path / "db" / "racetrack.db"
        target.parent.mkdir()
        shutil.copy(request.getfixturevalue("sqlite_template"), target)
        yield f"sqlite:///{target}"
    elif kind == "postgresql":
        server: PostgresServer = request.getfixturevalue("postgres_server")
        template = request.getfixturevalue("postgres_template")
        name = f"t_{uuid.uuid4().hex[:16]}"
        server.execute(f"CREATE DATABASE {name} TEMPLATE {template}")
        yield server.url(name)
        server.execute(f"DROP DATABASE {name} WITH (FORCE)")
    else:
        raise ValueError(f"unknown database kind {kind!r} in RACETRACK_TEST_DATABASES")


@pytest.fixture(params=DATABASES)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A migrated, empty database of each kind in RACETRACK_TEST_DATABASES."""
    yield from fresh_database(request, tmp_path, request.param)


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return Settings(
        data_dir=tmp_path / "data",
        cache_dir=tmp_path / "cache",
        database_url=database_url,
        admin_password=SecretStr(ADMIN_PASSWORD),
    )


@pytest.fixture
def app(settings: Settings) -> Iterator[FastAPI]:
    # The database was copied from a migrated template; tests calling create_app themselves cover migrating.
    application = create_app(settings, run_migrations=False)
    yield application
    application.state.db_engine.dispose()


class Api:
    """A TestClient that authenticates by header only: cookies are cleared before each request."""

    def __init__(self, client: TestClient, app: FastAPI) -> None:
        self.client = client
        self.app = app

    def request(self, method: str, path: str, token: str | None = None, **kwargs: Any) -> Any:
        self.client.cookies.clear()
        headers = dict(kwargs.pop("headers", {}) or {})
        if token is not None:
            headers["X-Racetrack-Auth"] = token
        url = path if path.startswith("/lifecycle") else API + path
        return self.client.request(method, url, headers=headers, **kwargs)

    def get(self, path: str, token: str | None = None, **kwargs: Any) -> Any:
        return self.request("GET", path, token, **kwargs)

    def post(self, path: str, token: str | None = None, **kwargs: Any) -> Any:
        return self.request("POST", path, token, **kwargs)

    def put(self, path: str, token: str | None = None, **kwargs: Any) -> Any:
        return self.request("PUT", path, token, **kwargs)

    def patch(self, path: str, token: str | None = None, **kwargs: Any) -> Any:
        return self.request("PATCH", path, token, **kwargs)

    def delete(self, path: str, token: str | None = None, **kwargs: Any) -> Any:
        return self.request("DELETE", path, token, **kwargs)


@pytest.fixture
def api(app: FastAPI) -> Iterator[Api]:
    with TestClient(app) as client:
        yield Api(client, app)


@pytest.fixture
def live_api(app: FastAPI) -> Iterator[Api]:
    """The same app served by uvicorn on a loopback port, called over real HTTP (attacks go through
    the whole server: its parsing, its limits, its client addresses)."""
    server = ServerThread(app).start()
    try:
        with httpx.Client(base_url=server.url, trust_env=False, timeout=30) as client:
            yield Api(client, app)  # type: ignore[arg-type]
    finally:
        server.stop()


@dataclass
class World:
    """Creates users, ESCs, families and jobs straight in the database, returning their tokens."""

    app: FastAPI

    @property
    def settings(self) -> Settings:
        settings: Settings = self.app.state.settings
        return settings

    def session(self) -> Any:
        return session_scope(self.app.state.sessions)

    def user(
        self,
        username: str,
        *,
        active: bool = True,
        staff: bool = False,
        superuser: bool = False,
        password: str = "a-good-password-1",
    ) -> str:
        with self.session() as session:
            user = register_user(session, username, password)
            user.is_active, user.is_staff, user.is_superuser = active, staff, superuser
            _, token = primary_token(session, subject_for_user(session, user), self.settings.signing_key())
        return token

    def admin_token(self) -> str:
        with self.session() as session:
            admin = session.query(User).filter_by(username="admin").one()
            _, token = primary_token(session, subject_for_user(session, admin), self.settings.signing_key())
        return token

    def esc(self, name: str) -> tuple[str, str]:
        with self.session() as session:
            esc = Esc(name=name)
            session.add(esc)
            session.flush()
            _, token = issue_token(session, subject_for_esc(session, esc), self.settings.signing_key())
            return esc.id, token

    def family_token(self, name: str) -> str:
        with self.session() as session:
            family = ensure_family(session, name)
            _, token = primary_token(
                session, subject_for_family(session, family), self.settings.signing_key()
            )
        return token

    def job(
        self, name: str, version: str, *, status: str = "running", owner: str | None = None, **fields: Any
    ) -> Job:
        """A job as a finished deploy leaves it; `owner` (a username) owns its family, as a first deployer."""
        with self.session() as session:
            fields.setdefault("internal_name", f"{name}-{version}.internal:7000")
            fields.setdefault("manifest", f"name: {name}\nversion: {version}\n")
            job = upsert_job(session, name=name, version=version, status=status, **fields)
            if owner is not None:
                user = session.query(User).filter_by(username=owner).one()
                grant_owner(session, subject_for_user(session, user), ensure_family(session, name))
            return job


@pytest.fixture
def world(app: FastAPI) -> World:
    return World(app)


@pytest.fixture
def sessions(app: FastAPI) -> Any:
    return session_factory(app.state.db_engine)
