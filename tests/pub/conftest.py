"""Fixtures: a fake lifecycle, a job server with a few jobs, and pub (the Go gateway in front of the
async service), all on real sockets."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace

import httpx
import pytest

from api.pub import PubConfig

from .fake_lifecycle import FakeLifecycle, Grant, Token
from .jobs import JobWorld
from .servers import GatewayServer, ServerThread

ALICE = "token-alice"  # User alice: call_job on everything
BOB = "token-bob"  # User bob: no call_job at all
ESC = "token-esc"  # ESC billing: call_job on adder's /api/v1/perform only
CHAIN = "token-chain"  # Job family python-chain: call_job on adder
INTERNAL = "internal-secret"


@dataclass
class World:
    lifecycle: FakeLifecycle
    lifecycle_server: ServerThread
    jobs: JobWorld
    job_server: ServerThread
    pub_server: GatewayServer
    config: PubConfig

    @property
    def pub(self) -> str:
        return self.pub_server.url

    def client(self, **kwargs) -> httpx.Client:
        return httpx.Client(base_url=self.pub, trust_env=False, timeout=10, **kwargs)


def base_config(lifecycle_url: str, **overrides) -> PubConfig:
    config = PubConfig(
        lifecycle_url=lifecycle_url,
        internal_token=INTERNAL,
        auth_cache_ttl=0.5,
        auth_cache_ttl_max=30,
        auth_negative_cache_ttl=0.2,
        job_timeout=5,
        job_connect_timeout=2,
        lifecycle_timeout=2,
        async_poll_timeout=3,
        async_retry_interval=0.2,
        async_heartbeat=0.3,
    )
    return replace(config, **overrides)


@pytest.fixture
def start_pub() -> Iterator[Callable[..., GatewayServer]]:
    started: list[GatewayServer] = []

    def start(config: PubConfig) -> GatewayServer:
        server = GatewayServer(config)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def world(start_pub) -> Iterator[World]:
    lifecycle = FakeLifecycle(internal_token=INTERNAL)
    lifecycle_server = ServerThread(lifecycle.app()).start()
    jobs = JobWorld()
    job_server = ServerThread(jobs.app()).start()
    for version in ("0.0.1", "0.0.2", "1.0.0", "1.2.0", "2.0.0-rc1"):
        lifecycle.add_job("adder", version, job_server.address)
    lifecycle.add_job("python-chain", "0.1.0", job_server.address)
    lifecycle.tokens.update(
        {
            ALICE: Token("User alice", [Grant()]),
            BOB: Token("User bob", []),
            ESC: Token("ESC billing", [Grant(job="adder", endpoint="/api/v1/perform")]),
            CHAIN: Token("Job family python-chain", [Grant(job="adder")]),
        }
    )
    jobs.family_tokens["python-chain"] = CHAIN
    config = base_config(f"{lifecycle_server.url}/lifecycle")
    pub_server = start_pub(config)
    jobs.pub_url = pub_server.url
    yield World(lifecycle, lifecycle_server, jobs, job_server, pub_server, config)
    job_server.stop()
    lifecycle_server.stop()
