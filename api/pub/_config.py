"""Pub's view of the settings, resolved once at startup, and the environment that hands them to the Go
gateway (api/pub/gateway reads RACETRACK_* variables, never the settings file)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from api.errors import InvalidInput
from api.settings import Settings, managed_secret

__all__ = ["PubConfig", "SidecarTarget", "gateway_env"]


@dataclass(frozen=True, slots=True)
class SidecarTarget:
    """The one job a sidecar guards: calls go to `address` whatever the lifecycle says its address is."""

    address: str  # "host:port"
    job_name: str
    job_version: str | None  # None: whatever exact version the lifecycle resolves


@dataclass(frozen=True, slots=True)
class PubConfig:
    """Everything pub needs, with secrets resolved; build it with `PubConfig.from_settings`.

    **Parameters:** see `api.settings.Settings` (fields `pub_*`, `async_call_retention`, `max_async_body`).
    """

    lifecycle_url: str
    internal_token: str
    auth_cache_ttl: float = 10.0
    auth_cache_ttl_max: float = 600.0
    auth_negative_cache_ttl: float = 1.0
    job_timeout: float = 600.0
    job_connect_timeout: float = 5.0
    lifecycle_timeout: float = 5.0
    max_keepalive_connections: int = 256
    async_poll_timeout: float = 30.0
    async_retry_interval: float = 10.0
    async_heartbeat: float = 5.0
    async_retention: float = 4 * 3600.0
    async_max_body: int = 16 * 1024 * 1024
    sidecar: SidecarTarget | None = None
    # scheme://<jobs domain>[:port]; None: the gateway's default, http://jobs.localhost:<its port>
    jobs_url: str | None = None
    secure_cookies: bool = False  # browsers reach pub over HTTPS
    dashboard_url: str | None = None  # where a browser without a session on a job's host opens the job

    def __repr__(self) -> str:  # the internal token never reaches a log
        return (
            f"PubConfig(lifecycle_url={self.lifecycle_url!r}, sidecar={self.sidecar!r}, internal_token='***')"
        )

    @classmethod
    def from_settings(cls, settings: Settings, *, sidecar: bool = False) -> PubConfig:
        if settings.internal_token is not None:
            token = settings.internal_token.get_secret_value()
        else:
            token = managed_secret(settings.data_dir, "internal_token")
        target = None
        if sidecar or settings.pub_sidecar_target:
            if not settings.pub_sidecar_target or not settings.pub_sidecar_job_name:
                raise InvalidInput(
                    "the sidecar form needs RACETRACK_PUB_SIDECAR_TARGET (host:port of the job) and "
                    "RACETRACK_PUB_SIDECAR_JOB_NAME; RACETRACK_PUB_SIDECAR_JOB_VERSION is optional"
                )
            target = SidecarTarget(
                address=settings.pub_sidecar_target,
                job_name=settings.pub_sidecar_job_name,
                job_version=settings.pub_sidecar_job_version,
            )
        return cls(
            lifecycle_url=settings.effective_lifecycle_url.rstrip("/"),
            internal_token=token,
            auth_cache_ttl=settings.pub_auth_cache_ttl,
            auth_cache_ttl_max=settings.pub_auth_cache_ttl_max,
            auth_negative_cache_ttl=settings.pub_auth_negative_cache_ttl,
            job_timeout=settings.pub_job_timeout,
            job_connect_timeout=settings.pub_job_connect_timeout,
            lifecycle_timeout=settings.pub_lifecycle_timeout,
            max_keepalive_connections=settings.pub_max_keepalive_connections,
            async_poll_timeout=settings.pub_async_poll_timeout,
            async_retry_interval=settings.pub_async_retry_interval,
            async_heartbeat=settings.pub_async_heartbeat,
            async_retention=settings.async_call_retention,
            async_max_body=settings.max_async_body,
            sidecar=target,
            jobs_url=settings.effective_jobs_url,
            secure_cookies=settings.serves_https(settings.effective_jobs_url),
            dashboard_url=settings.effective_dashboard_url,
        )


# Variables the launcher sets itself: whatever the caller's environment holds for them must not leak in.
_GATEWAY_VARIABLES = (
    "RACETRACK_PUB_LISTEN",
    "RACETRACK_PUB_HOST",
    "RACETRACK_PUB_PORT",
    "RACETRACK_PUB_SIDECAR_PORT",
    "RACETRACK_PUB_SIDECAR_TARGET",
    "RACETRACK_PUB_SIDECAR_JOB_NAME",
    "RACETRACK_PUB_SIDECAR_JOB_VERSION",
    "RACETRACK_PUB_ASYNC_UPSTREAM",
    "RACETRACK_INTERNAL_TOKEN_FILE",
    "RACETRACK_PUB_JOBS_URL",
    "RACETRACK_PUB_SECURE_COOKIE",
    "RACETRACK_PUB_DASHBOARD_URL",
)


def gateway_env(
    config: PubConfig, listen: list[str], async_upstream: str | None, base: Mapping[str, str]
) -> dict[str, str]:
    """The environment of the Go gateway: `base` (the launcher's own) with pub's resolved settings.

    The internal token travels here, never in argv, where any local user could read it."""
    env = {k: v for k, v in base.items() if k not in _GATEWAY_VARIABLES}
    env.update(
        {
            "RACETRACK_PUB_LISTEN": ",".join(listen),
            "RACETRACK_LIFECYCLE_URL": config.lifecycle_url,
            "RACETRACK_INTERNAL_TOKEN": config.internal_token,
            "RACETRACK_PUB_AUTH_CACHE_TTL": repr(float(config.auth_cache_ttl)),
            "RACETRACK_PUB_AUTH_NEGATIVE_CACHE_TTL": repr(float(config.auth_negative_cache_ttl)),
            "RACETRACK_PUB_AUTH_CACHE_TTL_MAX": repr(float(config.auth_cache_ttl_max)),
            "RACETRACK_PUB_LIFECYCLE_TIMEOUT": repr(float(config.lifecycle_timeout)),
            "RACETRACK_PUB_JOB_TIMEOUT": repr(float(config.job_timeout)),
            "RACETRACK_PUB_JOB_CONNECT_TIMEOUT": repr(float(config.job_connect_timeout)),
            "RACETRACK_PUB_MAX_KEEPALIVE_CONNECTIONS": str(config.max_keepalive_connections),
        }
    )
    if config.jobs_url:
        env["RACETRACK_PUB_JOBS_URL"] = config.jobs_url
    env["RACETRACK_PUB_SECURE_COOKIE"] = "true" if config.secure_cookies else "false"
    if config.dashboard_url:
        env["RACETRACK_PUB_DASHBOARD_URL"] = config.dashboard_url
    if async_upstream:
        env["RACETRACK_PUB_ASYNC_UPSTREAM"] = async_upstream
    if config.sidecar is not None:
        env["RACETRACK_PUB_SIDECAR_TARGET"] = config.sidecar.address
        env["RACETRACK_PUB_SIDECAR_JOB_NAME"] = config.sidecar.job_name
        if config.sidecar.job_version:
            env["RACETRACK_PUB_SIDECAR_JOB_VERSION"] = config.sidecar.job_version
    return env
