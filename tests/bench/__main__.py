"""`python -m tests.bench [--duration S] [--only NAME] [--concurrency N ...]`: runs `run()` of every
tests/bench/*_bench.py, e.g. `python -m tests.bench --only pub --duration 60 --concurrency 64`."""

from __future__ import annotations

import argparse
import importlib
import inspect
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.bench")
    parser.add_argument(
        "--duration", type=float, default=None, help="seconds per measurement (default: each bench's)"
    )
    parser.add_argument("--only", help="run only the bench whose module name contains this")
    parser.add_argument(
        "--concurrency",
        type=int,
        action="append",
        help="concurrency level(s) for benches that take them (repeatable)",
    )
    args = parser.parse_args()
    for path in sorted(Path(__file__).parent.glob("*_bench.py")):
        if args.only and args.only not in path.stem:
            continue
        module = importlib.import_module(f"tests.bench.{path.stem}")
        print(f"== {path.stem}", flush=True)
        kwargs: dict[str, object] = {}
        if args.duration is not None:
            kwargs["duration"] = args.duration
        if args.concurrency and "concurrencies" in inspect.signature(module.run).parameters:
            kwargs["concurrencies"] = tuple(args.concurrency)
        module.run(**kwargs)


if __name__ == "__main__":
    main()
