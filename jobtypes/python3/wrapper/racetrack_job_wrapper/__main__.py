"""Command line of the wrapper, as the job image runs it.

python -m racetrack_job_wrapper run job.py [ClassName]    serve the job class on port 7000
python -m racetrack_job_wrapper check job.py [ClassName]  build-time check: file exists and compiles
python -m racetrack_job_wrapper proxy                     serve a docker-proxy job (see proxy.py)
"""

from __future__ import annotations

import argparse
import os
import sys

from .loader import EntrypointError, check_entrypoint_file


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="racetrack_job_wrapper")
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="serve a job class")
    run.add_argument("entrypoint_path")
    run.add_argument("entrypoint_class", nargs="?")
    run.add_argument("--port", type=int, default=int(os.environ.get("JOB_PORT", "7000")))
    run.add_argument("--host", default=os.environ.get("JOB_HOST", "0.0.0.0"))
    check = commands.add_parser("check", help="check the entrypoint file without running it")
    check.add_argument("entrypoint_path")
    check.add_argument("entrypoint_class", nargs="?")
    proxy = commands.add_parser("proxy", help="serve a docker-proxy job")
    proxy.add_argument("--port", type=int, default=int(os.environ.get("JOB_PORT", "7000")))
    proxy.add_argument("--host", default=os.environ.get("JOB_HOST", "0.0.0.0"))
    args = parser.parse_args(argv)

    if args.command == "check":
        try:
            check_entrypoint_file(args.entrypoint_path)
        except EntrypointError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        print(f"entrypoint {args.entrypoint_path} found and compiles")
        return 0

    from .server import serve_entrypoint, serve_proxy

    if args.command == "run":
        serve_entrypoint(args.entrypoint_path, args.entrypoint_class, port=args.port, host=args.host)
    else:
        serve_proxy(port=args.port, host=args.host)
    return 0


if __name__ == "__main__":
    sys.exit(main())
