"""`python -m tests.bench [--duration S] [--only NAME]`: runs `run()` of every tests/bench/*_bench.py."""

from __future__ import annotations

import argparse
import importlib
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.bench")
    parser.add_argument("--duration", type=float, default=None, help="seconds per measurement (default: each bench's)")
    parser.add_argument("--only", help="run only the bench whose module name contains this")
    args = parser.parse_args()
    for path in sorted(Path(__file__).parent.glob("*_bench.py")):
        if args.only and args.only not in path.stem:
            continue
        module = importlib.import_module(f"tests.bench.{path.stem}")
        print(f"== {path.stem}", flush=True)
        if args.duration is None:
            module.run()
        else:
            module.run(duration=args.duration)


if __name__ == "__main__":
    main()
