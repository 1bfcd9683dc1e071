"""Pub, the authenticating gateway in front of every job, and its sidecar form.

The gateway itself is Go (api/pub/gateway, built by scripts/build-pub.sh into racetrack-pub); this
package is its launcher (`python -m api.pub`, `python -m api.pub --sidecar`) and the async-call
service the gateway hands `/pub/async/` calls to. See docs/pub.md.
"""

from ._app import AsyncService, ServerErrors, create_app
from ._config import PubConfig, SidecarTarget, gateway_env
from ._launcher import BinaryNotFound, find_binary

__all__ = [
    "AsyncService",
    "BinaryNotFound",
    "PubConfig",
    "ServerErrors",
    "SidecarTarget",
    "create_app",
    "find_binary",
    "gateway_env",
]
