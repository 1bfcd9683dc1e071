"""Lifecycle API latency with a large registry: 1,000 families, 5,000 jobs, 20,000 deployments.

Measures `GET /job` (the whole list, as a user with the default grants, and as an ESC allowed to read 10
families) and `GET /job/{name}/{version}` (exact and `latest`), in-process through the ASGI app, on SQLite
and (when the server binaries exist) PostgreSQL. Reports median and p95 latency and the database size, and
writes them to docs/benchmarks.md, section "Lifecycle API".
"""

from __future__ import annotations

import os
import platform
import random
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import insert, text

from api.auth import Scope, grant, subject_for_esc
from api.auth.tokens import issue_token
from api.db import AuthSubject, Deployment, Esc, Job, JobFamily, session_scope
from api.db.repository import get_family
from api.lifecycle import create_app
from api.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs" / "benchmarks.md"
FAMILIES, JOBS, DEPLOYMENTS = 1_000, 5_000, 20_000
API = "/lifecycle/api/v1"

MANIFEST = """name: {name}
owner_email: owner@example.com
version: {version}
jobtype: python3:2.15.1
git:
  remote: https://github.com/example/{name}
  directory: .
jobtype_extra:
  entrypoint_path: job.py
  entrypoint_class: Job
runtime_env:
  LOG_LEVEL: info
"""


def _seed(app: Any) -> None:
    rng = random.Random(7)
    now = datetime.now(UTC)
    families = [
        {"id": str(uuid.uuid4()), "name": f"job-{i:04d}", "create_time": now} for i in range(FAMILIES)
    ]
    jobs = []
    for i in range(JOBS):
        family = families[i % FAMILIES]
        version = f"1.{i // FAMILIES}.0"
        jobs.append(
            {
                "id": str(uuid.uuid4()),
                "family_id": family["id"],
                "name": family["name"],
                "version": version,
                "status": rng.choice(["running"] * 8 + ["error", "lost"]),
                "internal_name": f"{family['name']}:7000",
                "deployed_by": f"user{i % 50}@example.com",
                "create_time": now - timedelta(minutes=i),
                "update_time": now,
                "infrastructure_target": "docker",
                "job_type_version": "python3:2.15.1",
                "manifest": MANIFEST.format(name=family["name"], version=version),
                "replicas": 1,
                "image_ref": f"racetrack/job-entrypoint/{family['name']}:{version}",
            }
        )
    deployments = []
    for i in range(DEPLOYMENTS):
        job = jobs[i % JOBS]
        deployments.append(
            {
                "id": str(uuid.uuid4()),
                "kind": "deploy",
                "status": "done",
                "job_name": job["name"],
                "job_version": job["version"],
                "deployed_by": job["deployed_by"],
                "manifest": job["manifest"],
                "build_logs": "step 1/9\nstep 2/9\n" * 20,
                "infrastructure_target": "docker",
                "create_time": now - timedelta(seconds=i),
                "update_time": now,
            }
        )
    with session_scope(app.state.sessions) as session:
        session.execute(insert(JobFamily), families)
        session.execute(
            insert(AuthSubject), [{"kind": "job_family", "job_family_id": f["id"]} for f in families]
        )
        session.execute(insert(Job), jobs)
        for start in range(0, DEPLOYMENTS, 5_000):
            session.execute(insert(Deployment), deployments[start : start + 5_000])


def _tokens(app: Any, client: TestClient) -> dict[str, str]:
    settings: Settings = app.state.settings
    user = client.post(
        f"{API}/users/register", json={"username": "bench@example.com", "password": "bench-pass-42"}
    )
    assert user.status_code == 201, user.text
    admin = client.post(f"{API}/users/login", json={"username": "admin", "password": "bench-admin-password"})
    client.patch(
        f"{API}/users/bench@example.com",
        json={"is_active": True},
        headers={"X-Racetrack-Auth": admin.json()["token"]},
    )
    user_token = client.post(
        f"{API}/users/login", json={"username": "bench@example.com", "password": "bench-pass-42"}
    ).json()["token"]
    with session_scope(app.state.sessions) as session:
        esc = Esc(name="bench-esc")
        session.add(esc)
        session.flush()
        subject = subject_for_esc(session, esc)
        for i in range(10):
            grant(session, subject, Scope.read_job, family=get_family(session, f"job-{i * 97:04d}"))
        _, esc_token = issue_token(session, subject, settings.signing_key())
    client.cookies.clear()
    return {"user": user_token, "esc": esc_token}


def _measure(call: Callable[[int], Any], count: int) -> dict[str, float]:
    call(0)  # warm-up
    samples = []
    for i in range(count):
        start = time.perf_counter()
        call(i)
        samples.append((time.perf_counter() - start) * 1000)
    samples.sort()
    return {
        "median": statistics.median(samples),
        "p95": samples[max(0, int(len(samples) * 0.95) - 1)],
        "n": float(count),
    }


def _database_size(app: Any, url: str) -> int:
    if url.startswith("sqlite"):
        path = Path(url.removeprefix("sqlite:///"))
        with app.state.db_engine.connect() as connection:
            connection.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
        return sum(p.stat().st_size for p in path.parent.glob(path.name + "*"))
    with app.state.db_engine.connect() as connection:
        return int(connection.execute(text("SELECT pg_database_size(current_database())")).scalar_one())


def bench_database(kind: str, url: str, data_dir: Path, list_count: int, get_count: int) -> dict[str, Any]:
    settings = Settings(data_dir=data_dir, database_url=url, admin_password=SecretStr("bench-admin-password"))
    app = create_app(settings)
    started = time.perf_counter()
    _seed(app)
    seed_seconds = time.perf_counter() - started
    rng = random.Random(11)
    results: dict[str, Any] = {"database": kind, "seed_seconds": seed_seconds}
    with TestClient(app) as client:
        tokens = _tokens(app, client)
        user = {"X-Racetrack-Auth": tokens["user"]}
        esc = {"X-Racetrack-Auth": tokens["esc"]}

        def list_all(_: int) -> None:
            response = client.get(f"{API}/job", headers=user)
            assert response.status_code == 200 and len(response.json()) == JOBS

        def list_filtered(_: int) -> None:
            response = client.get(f"{API}/job", headers=esc)
            assert response.status_code == 200 and len(response.json()) == 50

        def get_exact(_: int) -> None:
            family = rng.randrange(FAMILIES)
            response = client.get(
                f"{API}/job/job-{family:04d}/1.{rng.randrange(JOBS // FAMILIES)}.0", headers=user
            )
            assert response.status_code == 200

        def get_latest(_: int) -> None:
            response = client.get(f"{API}/job/job-{rng.randrange(FAMILIES):04d}/latest", headers=user)
            assert response.status_code in (200, 404)  # a family whose versions are all in error or lost

        results["list_all"] = _measure(list_all, list_count)
        results["list_filtered"] = _measure(list_filtered, list_count * 5)
        results["get_exact"] = _measure(get_exact, get_count)
        results["get_latest"] = _measure(get_latest, get_count)
    results["db_bytes"] = _database_size(app, url)
    app.state.db_engine.dispose()
    return results


def _table(rows: list[dict[str, Any]]) -> str:
    lines = ["| database | request | median ms | p95 ms | samples |", "| --- | --- | ---: | ---: | ---: |"]
    labels = {
        "list_all": "`GET /job` as a user (all 5,000 jobs)",
        "list_filtered": "`GET /job` as an ESC reading 10 families (50 jobs)",
        "get_exact": "`GET /job/{name}/{version}` exact",
        "get_latest": "`GET /job/{name}/latest`",
    }
    for row in rows:
        for key, label in labels.items():
            figures = row[key]
            lines.append(
                f"| {row['database']} | {label} | {figures['median']:.1f} | {figures['p95']:.1f} | "
                f"{int(figures['n'])} |"
            )
    lines.append("")
    lines.append("| database | size after seeding | seeding time |")
    lines.append("| --- | ---: | ---: |")
    for row in rows:
        lines.append(
            f"| {row['database']} | {row['db_bytes'] / 1024 / 1024:.1f} MiB | {row['seed_seconds']:.1f} s |"
        )
    return "\n".join(lines)


def write_section(body: str, path: Path = DOCS, title: str = "Lifecycle API") -> None:
    """Replaces (or adds) the `## <title>` section of docs/benchmarks.md."""
    text_ = path.read_text(encoding="utf-8") if path.exists() else "# Benchmarks\n"
    section = f"## {title}\n\n{body.strip()}\n"
    start = text_.find(f"## {title}\n")
    if start == -1:
        text_ = text_.rstrip() + "\n\n" + section
    else:
        end = text_.find("\n## ", start + 1)
        text_ = text_[:start] + section + (text_[end:] if end != -1 else "")
    path.write_text(text_, encoding="utf-8")


def run(duration: float | None = None) -> list[dict[str, Any]]:
    """Seeds and measures each database; `duration` (seconds) scales the number of samples."""
    scale = max(0.2, (duration or 5.0) / 5.0)
    list_count, get_count = max(5, int(20 * scale)), max(20, int(300 * scale))
    rows = []
    with tempfile.TemporaryDirectory(prefix="racetrack-lifecycle-bench-") as tmp:
        rows.append(
            bench_database(
                "SQLite", f"sqlite:///{tmp}/sqlite/racetrack.db", Path(tmp) / "d1", list_count, get_count
            )
        )
        if os.environ.get("RACETRACK_BENCH_POSTGRES", "1") != "0":
            from tests.api.postgres import PostgresServer

            root = Path(tempfile.mkdtemp(prefix="racetrack-bench-postgres-"))
            os.chmod(root, 0o755)
            server = PostgresServer(root)
            try:
                server.start()
                server.execute("CREATE DATABASE bench")
                rows.append(
                    bench_database(
                        "PostgreSQL 15", server.url("bench"), Path(tmp) / "d2", list_count, get_count
                    )
                )
            finally:
                server.stop()
    body = _table(rows)
    print(body, flush=True)
    header = (
        f"Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {platform.machine()} with {os.cpu_count()} CPUs "
        "shared with other work (load average {load:.1f} at the end; figures vary by run), by "
        "`python -m tests.bench --only lifecycle`. "
        f"Registry: {FAMILIES:,} families, {JOBS:,} jobs (5 versions each, ~300-byte manifests), "
        f"{DEPLOYMENTS:,} deployments (with build logs). Requests go in-process through the ASGI app "
        "(FastAPI + SQLAlchemy + the database; no network); each one authenticates its token "
        "(JWT + recorded-token lookup) and applies permission filtering. The PostgreSQL server runs with "
        "fsync off (a throwaway test server)."
    )
    write_section(header.replace("{load:.1f}", f"{os.getloadavg()[0]:.1f}") + "\n\n" + body)
    return rows


if __name__ == "__main__":
    run()
