"""Pub, the authenticating gateway in front of every job, and its sidecar form.

Start it with `python -m api.pub` (gateway, 127.0.0.1:7005) or `python -m api.pub --sidecar`
(one job at RACETRACK_PUB_SIDECAR_TARGET). See docs/pub.md.
"""

from ._app import Pub, RequestTracing, ServerErrors, create_app
from ._auth import Authorizer, Decision, LifecycleUnreachable
from ._config import PubConfig, SidecarTarget

__all__ = [
    "Authorizer",
    "Decision",
    "LifecycleUnreachable",
    "Pub",
    "PubConfig",
    "RequestTracing",
    "ServerErrors",
    "SidecarTarget",
    "create_app",
]
