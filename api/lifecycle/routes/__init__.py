"""One router per resource; `ROUTERS` is the order they are included in (specific paths first)."""

from api.lifecycle.routes import (
    async_calls,
    audit,
    can_call,
    deploy,
    escs,
    info,
    jobs,
    permissions,
    plugins,
    public_endpoints,
    settings,
    tokens,
    users,
)

# async_calls comes before jobs: `/job/async/call/{id}` would otherwise match `/job/{name}/{version}`.
ROUTERS = [
    info.router,
    users.router,
    tokens.router,
    can_call.router,
    permissions.router,
    escs.router,
    deploy.router,
    async_calls.router,
    jobs.router,
    public_endpoints.router,
    audit.router,
    settings.router,
    plugins.router,
]

__all__ = ["ROUTERS"]
