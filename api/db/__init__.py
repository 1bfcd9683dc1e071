"""Database: SQLAlchemy tables, sessions, Alembic migrations and repository functions."""

from api.db.auth_models import SUBJECT_KINDS, AuthSubject, AuthToken, Esc, Permission, UsedJobTicket, User
from api.db.base import Base, utcnow
from api.db.registry_models import (
    DEPLOYMENT_KINDS,
    DEPLOYMENT_STATUSES,
    JOB_STATUSES,
    REVISION_STATUSES,
    AsyncJobCall,
    AuditEvent,
    Deployment,
    FamilyRevision,
    Job,
    JobFamily,
    Plugin,
    PublicEndpointRequest,
    Setting,
    TrashJob,
)
from api.db.session import create_db_engine, downgrade, migrate, session_factory, session_scope

__all__ = [
    "AsyncJobCall",
    "AuditEvent",
    "AuthSubject",
    "AuthToken",
    "Base",
    "DEPLOYMENT_KINDS",
    "DEPLOYMENT_STATUSES",
    "Deployment",
    "Esc",
    "FamilyRevision",
    "JOB_STATUSES",
    "Job",
    "JobFamily",
    "Permission",
    "Plugin",
    "PublicEndpointRequest",
    "REVISION_STATUSES",
    "SUBJECT_KINDS",
    "Setting",
    "TrashJob",
    "UsedJobTicket",
    "User",
    "create_db_engine",
    "downgrade",
    "migrate",
    "session_factory",
    "session_scope",
    "utcnow",
]
