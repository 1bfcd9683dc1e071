"""Authentication and authorization: passwords, recorded JWT tokens, subjects, scopes and permissions."""

from api.auth.permissions import grant, grant_defaults, grant_deployer, has_permission, readable_jobs_clause
from api.auth.scopes import DEFAULT_USER_SCOPES, DEPLOYER_SCOPES, Scope
from api.auth.subjects import ANONYMOUS, Caller, subject_for_esc, subject_for_family, subject_for_user
from api.auth.tokens import authenticate_token, internal_token_valid, issue_token, primary_token, token_string
from api.auth.users import authenticate_password, change_password, ensure_admin, register_user

__all__ = [
    "ANONYMOUS",
    "Caller",
    "DEFAULT_USER_SCOPES",
    "DEPLOYER_SCOPES",
    "Scope",
    "authenticate_password",
    "authenticate_token",
    "change_password",
    "ensure_admin",
    "grant",
    "grant_defaults",
    "grant_deployer",
    "has_permission",
    "internal_token_valid",
    "issue_token",
    "primary_token",
    "readable_jobs_clause",
    "register_user",
    "subject_for_esc",
    "subject_for_family",
    "subject_for_user",
    "token_string",
]
