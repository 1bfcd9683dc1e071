"""One router per resource; `ROUTERS` is the order they are included in (specific paths first)."""

from api.lifecycle.routes import (
    async_calls,
    audit,
    can_call,
    deploy,
    escs,
    info,
    job_sessions,
    jobs,
    operations,
    permissions,
    plugins,
    public_endpoints,
    settings,
    tokens,
    users,
)

# async_calls and operations come before jobs: `/job/async/call/{id}` and `/job/all/reconcile` would
# otherwise match `/job/{name}/{version}`.
ROUTERS = [
    info.router,
    users.router,
    tokens.router,
    can_call.router,
    job_sessions.router,
    permissions.router,
    escs.router,
    deploy.router,
    async_calls.router,
    operations.router,
    jobs.router,
    public_endpoints.router,
    audit.router,
    settings.router,
    plugins.router,
]

__all__ = ["ROUTERS"]
