"""`python -m tests.bench.lifecycle_stub PORT JOB_ADDRESS`: the tests' fake lifecycle with one job
(adder 0.0.1 at JOB_ADDRESS) and one token allowed to call it (`bench-token`)."""

from __future__ import annotations

import sys

import uvicorn

from tests.pub.fake_lifecycle import FakeLifecycle, Grant, Token

TOKEN = "bench-token"
INTERNAL = "bench-internal"

if __name__ == "__main__":
    lifecycle = FakeLifecycle(internal_token=INTERNAL)
    lifecycle.add_job("adder", "0.0.1", sys.argv[2])
    lifecycle.tokens[TOKEN] = Token("User bench", [Grant(job="adder")])
    uvicorn.run(
        lifecycle.app(), host="127.0.0.1", port=int(sys.argv[1]), access_log=False, log_level="warning"
    )
