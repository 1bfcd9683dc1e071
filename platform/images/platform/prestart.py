"""Entry point of the platform image: waits for the database (bounded retry), then runs the command.

The lifecycle upgrades the schema itself when it starts (api/db/session.py `migrate`), so this only
makes sure a fresh PostgreSQL container has finished initialising first.
"""

from __future__ import annotations

import os
import sys
import time


def wait_for_database(url: str, timeout: float) -> None:
    import sqlalchemy

    engine = sqlalchemy.create_engine(url, pool_pre_ping=True)
    deadline = time.monotonic() + timeout
    while True:
        try:
            with engine.connect() as connection:
                connection.execute(sqlalchemy.text("SELECT 1"))
            return
        except Exception as exc:  # noqa: BLE001 - any failure means "not yet"
            if time.monotonic() > deadline:
                sys.exit(f"prestart: the database did not answer within {timeout:.0f} s: {exc}")
            time.sleep(1)
        finally:
            engine.dispose()


def main() -> None:
    url = os.environ.get("RACETRACK_DATABASE_URL")
    if (
        url
        and not url.startswith("sqlite")
        and os.environ.get("RACETRACK_WAIT_FOR_DATABASE", "true") == "true"
    ):
        wait_for_database(url, float(os.environ.get("RACETRACK_DATABASE_WAIT_TIMEOUT", "120")))
    command = sys.argv[1:] or ["python", "-m", "api.lifecycle"]
    os.execvp(command[0], command)


if __name__ == "__main__":
    main()
