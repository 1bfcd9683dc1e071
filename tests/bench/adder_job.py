"""The bench's adder job: `python -m tests.bench.adder_job PORT`. A Starlette app served by uvicorn
(uvloop + httptools, as a job wrapper would be), POST /pub/job/adder/0.0.1/api/v1/perform sums numbers."""

from __future__ import annotations

import sys

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

PREFIX = "/pub/job/adder/0.0.1"


async def perform(request: Request) -> JSONResponse:
    payload = await request.json()
    return JSONResponse(sum(payload.get("numbers", [])))


async def live(request: Request) -> JSONResponse:
    return JSONResponse({"live": True})


app = Starlette(
    routes=[Route(PREFIX + "/api/v1/perform", perform, methods=["POST"]), Route(PREFIX + "/live", live)]
)

if __name__ == "__main__":
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=int(sys.argv[1]),
        access_log=False,
        log_level="warning",
        loop="uvloop",
        http="httptools",
    )
