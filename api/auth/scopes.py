"""Permission scopes, as upstream Racetrack names them."""

from __future__ import annotations

from enum import StrEnum

__all__ = ["Scope", "DEFAULT_USER_SCOPES", "DEPLOYER_SCOPES"]


class Scope(StrEnum):
    read_job = "read_job"
    deploy_job = "deploy_job"
    deploy_new_family = "deploy_new_family"
    delete_job = "delete_job"
    call_job = "call_job"
    call_admin_api = "call_admin_api"
    full_access = "full_access"  # covers every other scope


# Granted on all jobs when a user registers (upstream's default).
DEFAULT_USER_SCOPES = (Scope.read_job, Scope.call_job, Scope.deploy_new_family, Scope.deploy_job)
# Granted on a job to whoever deployed it.
DEPLOYER_SCOPES = (Scope.read_job, Scope.call_job, Scope.deploy_job, Scope.delete_job)
