"""Property-based fuzzing of the lifecycle API from its own OpenAPI document (schemathesis).

Every operation gets generated requests, valid and invalid, sent as the superuser (so the fuzzer gets past
authentication) with pub's internal token. No response may be a server error, use an undocumented status
code or content type, or break its documented schema. Each operation runs against a fresh database.
A stateful phase then chains linked operations as the admin and checks that the admin survives it.
"""

from __future__ import annotations

import itertools
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, settings
from pydantic import SecretStr
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from api.db import User
from api.lifecycle import create_app
from api.lifecycle.deps import expected_internal_token
from api.settings import Settings
from tests.api.conftest import DATABASES, World, fresh_database

# The fuzz run is bounded to stay under two minutes: by default it runs on SQLite only. PostgreSQL-specific
# refusals (NUL bytes, integer ranges) are covered on both databases by test_admin_resources.py; set
# RACETRACK_TEST_FUZZ_DATABASES=sqlite,postgresql to fuzz both.
FUZZ_DATABASES = [
    kind
    for kind in os.environ.get("RACETRACK_TEST_FUZZ_DATABASES", "sqlite").split(",")
    if kind.strip() in DATABASES
]


@pytest.fixture(params=FUZZ_DATABASES)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    yield from fresh_database(request, tmp_path, request.param)


CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


class _CurrentApp:
    """An ASGI app forwarding to the test's app, so the schema loads once and each test has its own DB."""

    target: Any = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await self.target(scope, receive, send)


def _openapi_document() -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        app = create_app(
            Settings(
                data_dir=Path(tmp),
                database_url=f"sqlite:///{tmp}/schema.db",
                admin_password=SecretStr("schema-only-app-password"),
            )
        )
        document = app.openapi()
        app.state.db_engine.dispose()
    return document


CURRENT = _CurrentApp()
schema = schemathesis.openapi.from_dict(_openapi_document())
schema.app = CURRENT


@schema.parametrize()
@settings(
    max_examples=8,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.filter_too_much,
        HealthCheck.function_scoped_fixture,
    ],
)
def test_api_conforms_to_its_openapi(case: Any, app: FastAPI, world: World) -> None:
    if CURRENT.target is not app:
        CURRENT.target = app
        world.job("adder", "1.0.0")
        app.state.fuzz_headers = {
            "X-Racetrack-Auth": world.admin_token(),
            "X-Racetrack-Internal-Auth": expected_internal_token(app.state.settings),
        }
    # Schemathesis waits 10 s for an answer by default; on a busy machine a call that is merely slow must not
    # count as hanging (the stateful test below allows as much).
    case.call_and_validate(headers=app.state.fuzz_headers, checks=CHECKS, timeout=120)


@pytest.mark.slow  # 25 sequences of 8 calls, each sequence on a fresh app and database: minutes of CPU
def test_stateful_run_as_the_admin_leaves_the_admin_in_charge(tmp_path: Path, sqlite_template: Path) -> None:
    """Sequences of linked calls (GET /users, then PATCH /users/{username} with a name it listed, ...) made
    as the admin must not lock the platform out: the admin is still active and staff after each one.
    Each sequence starts from a fresh database, so Hypothesis can replay and shrink a failing one."""
    runs = itertools.count()

    # The operations that manage users, tokens, ESCs and permissions: the ones that can take access away.
    access = schema.include(tag=["users", "tokens", "escs", "permissions"])

    class AdminWorkflow(access.as_state_machine()):  # type: ignore[misc, valid-type]
        def setup(self) -> None:
            folder = tmp_path / f"run-{next(runs)}"
            folder.mkdir()
            shutil.copy(sqlite_template, folder / "racetrack.db")
            self.app = create_app(
                Settings(
                    data_dir=folder / "data",
                    database_url=f"sqlite:///{folder / 'racetrack.db'}",
                    admin_password=SecretStr("fuzzed-admin-password-1"),
                ),
                run_migrations=False,
            )
            CURRENT.target = self.app
            self.world = World(self.app)
            self.world.job("adder", "1.0.0")
            self.internal = expected_internal_token(self.app.state.settings)

        def get_call_kwargs(self, case: Any) -> dict[str, Any]:
            # The admin's current token: a step may have regenerated (revoked) the previous one.
            token = self.world.admin_token()
            headers = {"X-Racetrack-Auth": token, "X-Racetrack-Internal-Auth": self.internal}
            return {"headers": headers, "timeout": 120}  # a busy machine must not make a step flaky

        def validate_response(self, response: Any, case: Any, **kwargs: Any) -> None:
            case.validate_response(response, checks=CHECKS)

        def teardown(self) -> None:
            with self.world.session() as session:
                admin = session.query(User).filter_by(username="admin").one()
                state = (admin.is_active, admin.is_staff, admin.is_superuser)
            self.app.state.db_engine.dispose()
            assert state == (True, True, True), "the admin lost active, staff or superuser"

    AdminWorkflow.run(
        settings=settings(
            max_examples=25,
            stateful_step_count=8,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
    )
