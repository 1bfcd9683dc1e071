"""The `docker-proxy` job type: the job's own Dockerfile serves `POST /perform` on a port (7004 by
default), and a proxy container made from the python3 wrapper gives it the job endpoints.

The deploy engine runs both containers: the proxy (role `job`, port 7000) gets the user module's
`host:port` in `JOB_USER_MODULE_HOSTNAME`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import Field

from .._base import SWAGGER_UI_DIR, ImageSpec, JobType, JobTypeExtra
from ..python3 import HERE as PYTHON3_DIR

__all__ = ["DockerProxyExtra", "DockerProxyJobType", "USER_MODULE_ADDRESS_ENV"]

HERE = Path(__file__).resolve().parent
USER_MODULE_ADDRESS_ENV = "JOB_USER_MODULE_HOSTNAME"


class DockerProxyExtra(JobTypeExtra):
    """`jobtype_extra` of docker-proxy jobs."""

    dockerfile_path: str = "Dockerfile"
    user_module_port: int = Field(default=7004, ge=1, le=65535)
    proxy_mode: Literal["forward"] = "forward"
    home_page: str = "/docs"
    docs_input_example: dict[str, Any] | None = None

    hints: ClassVar[dict[str, str]] = {
        "dockerfile_path": "the path of your Dockerfile in the job's code, e.g. dockerfile_path: Dockerfile",
        "user_module_port": "the port your container listens on, e.g. user_module_port: 7004",
        "proxy_mode": "only forward mode is supported: your server answers POST /perform",
    }


class DockerProxyJobType(JobType):
    """docker-proxy:<version>: the user's image plus a proxy giving the job endpoints."""

    def __init__(self, version: str) -> None:
        super().__init__(
            name="docker-proxy",
            version=version,
            extra_model=DockerProxyExtra,
            context_dirs=(PYTHON3_DIR, HERE, SWAGGER_UI_DIR),
            description="Your Dockerfile serving POST /perform, fronted by a proxy with the job endpoints.",
        )

    def images(self, extra: JobTypeExtra) -> list[ImageSpec]:
        assert isinstance(extra, DockerProxyExtra)
        return [
            ImageSpec(role="job", source="jobtype", template=HERE / "Dockerfile.j2"),
            ImageSpec(
                role="user-module",
                source="job",
                dockerfile_path=extra.dockerfile_path,
                port=extra.user_module_port,
                address_env=USER_MODULE_ADDRESS_ENV,
            ),
        ]

    def runtime_env(self, extra: JobTypeExtra) -> dict[str, str]:
        assert isinstance(extra, DockerProxyExtra)
        return {"JOB_USER_MODULE_PORT": str(extra.user_module_port)}
