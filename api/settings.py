"""All settings of the platform's processes, in one typed object.

Values come from `RACETRACK_*` environment variables, then from a YAML file named by
`RACETRACK_CONFIG_FILE`, then from the defaults below. Secrets that the platform manages itself
(the token signing key, the Pulumi passphrase) are generated on first use and kept in the data
directory with owner-only permissions, so that no fixed default ever reaches production.
"""

from __future__ import annotations

import dataclasses
import os
import re
import secrets
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import limits
import yaml
from pydantic import Field, SecretStr, ValidationError, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from jobtypes.config import BuildSettings

__all__ = ["BuildCa", "Settings", "get_settings", "managed_secret", "settings_or_exit"]

_DNS_LABEL = re.compile(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?")

# The value of extra_ca_bundle that gives image builds no CA bundle at all.
CA_BUNDLE_OFF = "none"
# Where tools on the host look for their CA bundle, in this order; then the distribution's bundle.
HOST_CA_ENV = ("SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "PIP_CERT", "CURL_CA_BUNDLE")
DISTRIBUTION_CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")


@dataclass(frozen=True)
class BuildCa:
    """The CA bundle image builds trust (`path`, None for none) and where that choice came from."""

    path: Path | None
    source: str

    def describe(self) -> str:
        """E.g. `/etc/ssl/certs/ca-certificates.crt (from SSL_CERT_FILE)`, for build errors and logs."""
        return f"{self.path} ({self.source})" if self.path else f"none ({self.source})"


def host_ca_bundle(environ: Mapping[str, str] | None = None) -> BuildCa:
    """What the host trusts: the file named by the first CA variable that names one, else the
    distribution's bundle where it exists."""
    environ = os.environ if environ is None else environ
    for name in HOST_CA_ENV:
        value = environ.get(name, "")
        if value and Path(value).is_file():
            return BuildCa(Path(value), f"from {name}")
    if DISTRIBUTION_CA_BUNDLE.is_file():
        return BuildCa(DISTRIBUTION_CA_BUNDLE, "the distribution's bundle")
    return BuildCa(None, "the host names no CA bundle")


def _default_data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "racetrack"


def _default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "racetrack"


class _YamlFileSource(PydanticBaseSettingsSource):
    """Reads the YAML file named by RACETRACK_CONFIG_FILE (keys are the field names)."""

    def __call__(self) -> dict[str, Any]:
        path = os.environ.get("RACETRACK_CONFIG_FILE")
        if not path:
            return {}
        with open(path, encoding="utf-8") as handle:
            data = yaml.safe_load(handle) or {}
        if not isinstance(data, dict):
            raise ValueError(f"config file {path} must hold a mapping of setting names to values")
        return data

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:  # pragma: no cover
        return None, field_name, False


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="RACETRACK_", env_file=".env", extra="ignore")

    # Where everything the platform keeps lives: database, Pulumi state, logs, generated secrets.
    data_dir: Path = Field(default_factory=_default_data_dir)
    # Heavy build outputs (Pulumi CLI, providers), shared by every checkout on the machine.
    cache_dir: Path = Field(default_factory=_default_cache_dir)
    database_url: str | None = None  # default: SQLite file in data_dir

    lifecycle_host: str = "127.0.0.1"
    lifecycle_port: int = 7002
    dashboard_port: int = 7003
    pub_port: int = 7005
    # URLs that users see; defaults point at the local ports.
    lifecycle_url: str | None = None
    pub_url: str | None = None
    dashboard_url: str | None = None

    # false: the lifecycle runs without its deploy engine (a registry only): deploys fail at once and say so.
    deploy_engine: bool = True
    auth_required: bool = True
    auth_key: SecretStr | None = None  # JWT signing key; generated into data_dir when unset
    admin_username: str = "admin"
    admin_password: SecretStr | None = None
    secure_cookie: bool = False
    # Seconds a user's token works after it was issued (90 days); 0: until revoked. ESC and job family
    # tokens do not expire (revoke or regenerate them instead).
    user_token_lifetime: float = Field(default=90 * 24 * 3600.0, ge=0)
    # Largest request bodies, in bytes: of any lifecycle route, of a deploy that uploads the job's folder,
    # and of an async call's body or of the answer pub keeps for it.
    max_request_body: int = Field(default=1024 * 1024, ge=1024)
    max_deploy_body: int = Field(default=128 * 1024 * 1024, ge=1024)
    max_async_body: int = Field(default=16 * 1024 * 1024, ge=1024)
    # Rate limits ("N per [M] second|minute|hour|day"): see api/lifecycle/throttle.py for what each counts.
    login_attempts_per_address: str = "30 per minute"
    login_failures_per_user: str = "10 per 15 minutes"
    registrations_per_address: str = "10 per hour"
    internal_token: SecretStr | None = None  # pub's token for asking the lifecycle; generated when unset

    # Pulumi engine.
    pulumi_version: str = "3.276.0"
    pulumi_backend_url: str | None = None  # default: file:// backend in data_dir
    pulumi_passphrase: SecretStr | None = None  # generated into data_dir when unset

    # Images and builds.
    base_image_python: str = "racetrack/base-python:bookworm"
    base_image_golang: str = "racetrack/base-golang:bookworm"
    # Python 3.13 on Debian trixie, for jobs asking for it (python_version / debian_version): built
    # from base_image_python by the first job build that needs it (jobtypes/baseimages.py), then kept.
    base_image_python_trixie: str = "racetrack/base-python:trixie"
    # A plain Debian bookworm: the runtime of golang jobs that set system_dependencies.
    base_image_debian: str = "racetrack/base-minimal:bookworm"
    # The CA bundle image builds trust (pip, apt, git, go): unset, what the host trusts (host_ca_bundle),
    # so builds behind a TLS-intercepting proxy work as the host does; a file; or "none" for no bundle.
    extra_ca_bundle: str | None = None
    # Job image builds (jobtypes/): a Docker CLI whose `build` speaks BuildKit (DOCKER_BUILDKIT=1),
    # the time one image may take, and the repository prefix of job images.
    docker_build_cli: str = "/usr/bin/docker"
    image_build_timeout: float = 1800.0
    job_image_prefix: str = "racetrack"
    # Images a job's own Dockerfile (docker-proxy) may use in FROM, COPY --from and mounts: shell
    # patterns over the name as written or as Docker reads it (docker.io/library/python). The
    # platform's own images (jobs', the platform's) are refused whatever this says.
    job_dockerfile_allowed_images: list[str] = Field(default_factory=lambda: ["*"])
    # Host names or networks (CIDR) on internal addresses (loopback, private, link-local) that job
    # sources may be fetched from: an internal git server, e.g. ["git.corp.example", "10.1.0.0/16"].
    allowed_internal_hosts: list[str] = Field(default_factory=list)
    default_infrastructure_target: str = "docker"
    docker_network: str = "racetrack"
    # The pub URL that job containers use to call other jobs; default: pub on the Docker host.
    job_pub_url: str | None = None
    # Limits of a Docker job container whose manifest's `resources` set none (memory_max, cpu_max).
    job_memory_max: str = "1Gi"
    job_cpu_max: str = "1"
    job_pids_limit: int = 1024  # processes and threads one job container may run
    job_ready_timeout: float = 300.0  # seconds a new job container has to answer /live and /ready
    monitor_interval: float = 30.0  # seconds between checks that each job's container runs
    # Seconds between the monitor's attempts to bring back a lost job (all its containers gone) by
    # reconciling its family; the first comes as soon as it is found lost. 0: only by hand.
    monitor_reconcile_interval: float = 60.0
    # Seconds a replaced or removed job container keeps serving after the registry stops naming it, so
    # that pub, which re-reads addresses at the latest when its cached answer expires, has moved on
    # before it stops. Default: pub_auth_cache_ttl + 5.
    job_drain_seconds: float | None = None
    # Settings of the Kubernetes target (namespace, registry, ingress_class, pub_image, kubeconfig,
    # context, render_dir, ...); see stacks/kubernetes/program.py for the accepted keys.
    kubernetes_settings: dict[str, Any] = Field(default_factory=dict)
    # Settings of infrastructure targets added by plugins (stacks/target.py), by target name.
    infrastructure_target_settings: dict[str, dict[str, Any]] = Field(default_factory=dict)

    # Each job's pages are served to browsers from a host of its own, <job>.<jobs_domain>, at pub's
    # port and scheme (docs/security.md); *.localhost reaches this machine in browsers and curl.
    jobs_domain: str = "jobs.localhost"
    job_session_ttl: float = 3600.0  # seconds a browser session on a job's host lasts
    # Pub gateway.
    pub_host: str = "127.0.0.1"
    pub_auth_cache_ttl: float = 10.0  # seconds an auth decision is reused
    pub_auth_cache_ttl_max: float = 600.0  # seconds it may be reused while the lifecycle is down
    pub_auth_negative_cache_ttl: float = 1.0  # seconds a refusal (401/403/404/503) is reused
    pub_job_timeout: float = 600.0  # seconds a job may take to answer (read timeout)
    pub_job_connect_timeout: float = 5.0
    pub_lifecycle_timeout: float = 5.0  # seconds for one can-call-job or async-call request
    pub_max_keepalive_connections: int = 256  # idle connections kept open per job
    pub_async_poll_timeout: float = 30.0  # long-poll duration of /pub/async/task/{id}/poll
    pub_async_retry_interval: float = 10.0  # wait before the one retry of a call that could not connect
    pub_async_heartbeat: float = 5.0  # an owner refreshes an ongoing task this often; 3 missed = dead owner
    async_call_retention: float = 4 * 3600.0
    # Sidecar form: pub guards one job at a fixed address (set by the deploy engine on Kubernetes).
    pub_sidecar_target: str | None = None  # "host:port" of the job, e.g. "127.0.0.1:7000"
    pub_sidecar_job_name: str | None = None
    pub_sidecar_job_version: str | None = None
    pub_sidecar_port: int | None = None  # default: pub_port (the Kubernetes program sets RACETRACK_PUB_PORT)

    @field_validator("login_attempts_per_address", "login_failures_per_user", "registrations_per_address")
    @classmethod
    def _rate_limit(cls, value: str) -> str:
        try:
            limits.parse(value)
        except ValueError as exc:
            raise ValueError(f"{value!r} is not a rate limit (accepted: e.g. '30 per minute')") from exc
        return value

    @field_validator("job_memory_max", "job_cpu_max")
    @classmethod
    def _a_quantity(cls, value: str, info: ValidationInfo) -> str:
        from core.errors import InvalidInput
        from stacks.quantities import memory_bytes, nano_cpus

        try:
            (memory_bytes if info.field_name == "job_memory_max" else nano_cpus)(value)
        except InvalidInput as exc:
            raise ValueError(f"RACETRACK_{str(info.field_name).upper()}: {exc.message}") from exc
        return value

    @field_validator("extra_ca_bundle", mode="before")
    @classmethod
    def _a_ca_bundle_file(cls, value: Any) -> str | None:
        if value is None or not str(value).strip():
            return None
        text = str(value).strip()
        if text.lower() == CA_BUNDLE_OFF:
            return CA_BUNDLE_OFF
        if not Path(text).expanduser().is_file():
            raise ValueError(
                f"{text} is not a file. Set RACETRACK_EXTRA_CA_BUNDLE to a PEM CA bundle, "
                f"to {CA_BUNDLE_OFF} to give image builds no CA bundle, or leave it unset for the host's"
            )
        return str(Path(text).expanduser())

    @field_validator("jobs_domain")
    @classmethod
    def _a_domain_name(cls, value: str) -> str:
        domain = value.strip().strip(".").lower()
        if not domain or not all(_DNS_LABEL.fullmatch(label) for label in domain.split(".")):
            raise ValueError(
                f"jobs_domain {value!r} is not a domain name: set RACETRACK_JOBS_DOMAIN to e.g. "
                "jobs.localhost (one machine) or jobs.example.com (a wildcard DNS name for pub)"
            )
        return domain

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return init_settings, env_settings, dotenv_settings, _YamlFileSource(settings_cls)

    # Derived values -----------------------------------------------------------------------

    def build_ca(self) -> BuildCa:
        """The CA bundle that image builds get: the setting's file, none, or the host's."""
        if self.extra_ca_bundle == CA_BUNDLE_OFF:
            return BuildCa(None, f"RACETRACK_EXTRA_CA_BUNDLE={CA_BUNDLE_OFF}")
        if self.extra_ca_bundle:
            return BuildCa(Path(self.extra_ca_bundle), "setting extra_ca_bundle")
        return host_ca_bundle()

    @property
    def cluster_dir(self) -> Path:
        """The local Kubernetes cluster's state (`make cluster`): its kubeconfig, registry address, etcd,
        containerd and the images' files, which the cluster's own scripts keep, not the platform."""
        return self.data_dir / "cluster"

    @property
    def effective_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'racetrack.db'}"

    @property
    def effective_lifecycle_url(self) -> str:
        return self.lifecycle_url or f"http://{self.lifecycle_host}:{self.lifecycle_port}/lifecycle"

    @property
    def effective_pub_url(self) -> str:
        return self.pub_url or f"http://{self.lifecycle_host}:{self.pub_port}/pub"

    @property
    def effective_dashboard_url(self) -> str:
        return self.dashboard_url or f"http://{self.lifecycle_host}:{self.dashboard_port}/dashboard"

    @property
    def effective_jobs_url(self) -> str:
        """scheme://<jobs domain>[:port]: pub's scheme and port, e.g. http://jobs.localhost:7005."""
        pub = urlsplit(self.effective_pub_url)
        port = f":{pub.port}" if pub.port else ""
        return f"{pub.scheme}://{self.jobs_domain}{port}"

    def job_url(self, name: str) -> str:
        """Where browsers open a job's pages: its own origin, e.g. http://adder.jobs.localhost:7005."""
        jobs = urlsplit(self.effective_jobs_url)
        return f"{jobs.scheme}://{name}.{jobs.netloc}"

    @property
    def effective_pulumi_backend_url(self) -> str:
        return self.pulumi_backend_url or f"file://{self.data_dir / 'pulumi-state'}"

    @property
    def pulumi_root(self) -> Path:
        return self.cache_dir / "pulumi" / f"v{self.pulumi_version}"

    @property
    def pulumi_home(self) -> Path:
        return self.cache_dir / "pulumi-home"

    @property
    def user_token_max_age(self) -> timedelta | None:
        return timedelta(seconds=self.user_token_lifetime) if self.user_token_lifetime else None

    def serves_https(self, public_url: str) -> bool:
        """Whether what is served at `public_url` is reached over HTTPS: its cookies are then Secure and
        named with the `__Host-` prefix (RACETRACK_SECURE_COOKIE=true says so when the URL cannot)."""
        return self.secure_cookie or public_url.lower().startswith("https://")

    def build_settings(self) -> BuildSettings:
        """What job types and image builds are configured with (they read no settings themselves)."""
        ca = self.build_ca()
        return dataclasses.replace(
            BuildSettings.of(self), extra_ca_bundle=ca.path, ca_bundle_source=ca.source
        )

    def signing_key(self) -> str:
        if self.auth_key is not None:
            return self.auth_key.get_secret_value()
        return managed_secret(self.data_dir, "auth_key")

    @property
    def effective_job_drain_seconds(self) -> float:
        return self.pub_auth_cache_ttl + 5 if self.job_drain_seconds is None else self.job_drain_seconds

    def installation_id(self) -> str:
        """This installation's name for what it starts (a label on job containers), generated once."""
        return managed_secret(self.data_dir, "installation_id", generate=lambda: secrets.token_hex(8))

    def pulumi_secret_passphrase(self) -> str:
        if self.pulumi_passphrase is not None:
            return self.pulumi_passphrase.get_secret_value()
        return managed_secret(self.data_dir, "pulumi_passphrase")


def managed_secret(data_dir: Path, name: str, *, generate: Callable[[], str] | None = None) -> str:
    """Returns the secret stored as `data_dir/secrets/name`, generating it on first use.

    The file is created with mode 0600 atomically (O_EXCL), so two processes starting together
    agree on one value.
    """
    data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    folder = data_dir / "secrets"
    folder.mkdir(exist_ok=True, mode=0o700)
    path = folder / name
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text(encoding="utf-8").strip()
    value = generate() if generate else secrets.token_urlsafe(32)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(value)
    return value


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()


def settings_or_exit() -> Settings:
    """`get_settings()` for a process's start: a bad setting ends it with what to change, no traceback."""
    try:
        return get_settings()
    except ValidationError as exc:
        for error in exc.errors():
            where = ".".join(str(part) for part in error["loc"])
            message = str(error["msg"]).removeprefix("Value error, ")
            print(f"racetrack: bad setting {where}: {message}", file=sys.stderr)
        raise SystemExit(2) from None
