"""Job servers for pub's tests: one Starlette app serving any job name and version under
`/pub/job/{name}/{version}/...`, as the job types' wrappers do, plus a server that breaks connections."""

from __future__ import annotations

import asyncio
import hashlib
import socket
import threading
import time
from collections import Counter

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response, StreamingResponse
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket

P = "/pub/job/{name}/{version}"
ALL = ["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD"]


class JobWorld:
    """State shared by the job server and the tests."""

    def __init__(self) -> None:
        self.pub_url: str | None = None
        self.family_tokens: dict[str, str] = {}  # job name -> its family's AUTH_TOKEN
        self.calls: Counter[str] = Counter()
        self.release = threading.Event()  # lets /stream send its second chunk

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route(P + "/api/v1/perform", self.perform, methods=["POST"]),
                Route(P + "/echo/{rest:path}", self.echo, methods=ALL),
                Route(P + "/echo", self.echo, methods=ALL),
                Route(P + "/stream", self.stream),
                Route(P + "/slow", self.slow, methods=["GET", "POST"]),
                Route(P + "/redirect/{kind}", self.redirect),
                Route(P + "/big", self.big),
                Route(P + "/cookies", self.set_cookies),
                Route(P + "/upload", self.upload, methods=["POST"]),
                Route(P + "/live", lambda r: JSONResponse({"live": True})),
                Route(P + "/health", lambda r: JSONResponse({"service": "job", "live": True})),
                WebSocketRoute(P + "/ws", self.websocket),
            ]
        )

    async def perform(self, request: Request) -> Response:
        name, version = request.path_params["name"], request.path_params["version"]
        self.calls[f"{name} {version} perform"] += 1
        payload = await request.json()
        if name == "python-chain":
            async with httpx.AsyncClient(trust_env=False, timeout=10) as client:
                response = await client.post(
                    f"{self.pub_url}/pub/job/adder/latest/api/v1/perform",
                    json=payload,
                    headers={
                        "X-Racetrack-Auth": self.family_tokens[name],
                        "X-Request-Tracing-Id": request.headers.get("x-request-tracing-id", ""),
                    },
                )
            return JSONResponse(
                {
                    "chained": response.json(),
                    "status": response.status_code,
                    "caller": request.headers.get("x-caller-name"),
                }
            )
        numbers = payload.get("numbers", [])
        return JSONResponse(
            {"result": sum(numbers), "version": version, "caller": request.headers.get("x-caller-name")}
        )

    async def echo(self, request: Request) -> Response:
        self.calls[f"{request.path_params['name']} {request.path_params['version']} echo"] += 1
        body = await request.body()
        return JSONResponse(
            {
                "method": request.method,
                "path": request.url.path,
                "raw_path": request.scope["raw_path"].decode("latin-1"),
                "query": request.url.query,
                "headers": {k: v for k, v in request.headers.items()},
                "header_list": [[k.decode(), v.decode()] for k, v in request.scope["headers"]],
                "body": body.decode("latin-1"),
            },
            headers={"X-Job-Header": "yes", "Set-Cookie": "job=1; Path=/"},
        )

    async def stream(self, request: Request) -> Response:
        release = self.release

        async def chunks():
            yield b"first\n"
            deadline = time.monotonic() + 10
            while not release.is_set() and time.monotonic() < deadline:
                await asyncio.sleep(0.01)
            yield b"second\n"
            yield b"third\n"

        return StreamingResponse(chunks(), media_type="text/plain")

    async def big(self, request: Request) -> Response:
        size = int(request.query_params["size"])
        block = bytes(range(256)) * 256  # 64 KiB
        if request.query_params.get("chunked"):

            async def blocks():
                sent = 0
                while sent < size:
                    part = block[: size - sent]
                    sent += len(part)
                    yield part

            return StreamingResponse(blocks(), media_type="application/octet-stream")
        return Response((block * (size // len(block) + 1))[:size], media_type="application/octet-stream")

    async def upload(self, request: Request) -> Response:
        total = 0
        digest = hashlib.sha256()
        async for part in request.stream():
            total += len(part)
            digest.update(part)
        return JSONResponse({"size": total, "sha256": digest.hexdigest()})

    async def slow(self, request: Request) -> Response:
        name, version = request.path_params["name"], request.path_params["version"]
        self.calls[f"{name} {version} slow"] += 1
        seconds = float(request.query_params.get("seconds", "1"))
        await asyncio.sleep(seconds)
        return JSONResponse({"slept": seconds, "version": version})

    async def redirect(self, request: Request) -> Response:
        name, version = request.path_params["name"], request.path_params["version"]
        kind = request.path_params["kind"]
        if kind == "prefix":
            target = f"/pub/job/{name}/{version}/echo/after"
        elif kind == "root":
            target = "/docs"
        elif kind == "absolute":
            target = f"http://{request.headers['host']}/pub/job/{name}/{version}/echo/abs?x=1"
        else:
            target = "https://example.org/elsewhere"
        return RedirectResponse(target, status_code=307)

    async def set_cookies(self, request: Request) -> Response:
        """Answers Set-Cookie for each name in ?name=...: what a hostile job would try."""
        response = JSONResponse({"set": request.query_params.getlist("name")})
        for name in request.query_params.getlist("name"):
            response.raw_headers.append((b"set-cookie", f"{name}=planted; Path=/; Secure".encode()))
        return response

    async def websocket(self, websocket: WebSocket) -> None:
        await websocket.accept(subprotocol=(websocket.scope.get("subprotocols") or [None])[0])
        caller = websocket.headers.get("x-caller-name")
        await websocket.send_text(f"hello {caller}")
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                return
            if message.get("text") is not None:
                await websocket.send_text("echo " + message["text"])
            else:
                await websocket.send_bytes(b"echo " + message["bytes"])


class BrokenServer:
    """Accepts a connection, reads the request, and closes without answering."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self._stop = False
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        self.sock.settimeout(0.2)
        while not self._stop:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            conn.settimeout(1)
            try:
                conn.recv(65536)
            except OSError:
                pass
            conn.close()

    def close(self) -> None:
        self._stop = True
        self.thread.join(2)
        self.sock.close()
