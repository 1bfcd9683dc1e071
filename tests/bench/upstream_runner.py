"""Starts the upstream wrapper (PyPI `racetrack-job-runner`) exactly as its CLI does, but bound to
127.0.0.1 instead of 0.0.0.0. Run with the upstream venv's Python:

    python upstream_runner.py PORT ENTRYPOINT_PATH [CLASS]
"""

import sys

import racetrack_job_wrapper.server as server
from racetrack_job_wrapper.main import main

_serve = server.serve_asgi_app


def _serve_on_loopback(app, http_port, http_addr="0.0.0.0", **options):  # type: ignore[no-untyped-def]
    return _serve(app, http_port=http_port, http_addr="127.0.0.1", **options)


server.serve_asgi_app = _serve_on_loopback

if __name__ == "__main__":
    port, *entrypoint = sys.argv[1:]
    sys.argv = ["racetrack_job_wrapper", "run", *entrypoint, "--port", port]
    main()
