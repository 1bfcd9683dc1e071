"""Permission scopes, as upstream Racetrack names them."""

from __future__ import annotations

from core.protocol import Scope

__all__ = ["Scope", "DEFAULT_USER_SCOPES", "OWNER_SCOPES", "DEPLOYER_SCOPES"]


# Granted on all jobs when a user registers. Upstream also grants deploy_job on everything; here a family's
# deployers are its owner (who deployed it first, granted OWNER_SCOPES on it) and those granted, so that
# nobody replaces someone else's job, takes over its name or has its secrets and family token handed over.
DEFAULT_USER_SCOPES = (Scope.read_job, Scope.call_job, Scope.deploy_new_family)
# Granted on a family to whoever deploys it first.
OWNER_SCOPES = (Scope.deploy_job,)
# Granted on a job to whoever deployed it.
DEPLOYER_SCOPES = (Scope.read_job, Scope.call_job, Scope.deploy_job, Scope.delete_job)
