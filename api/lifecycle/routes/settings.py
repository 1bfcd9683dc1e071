"""Platform settings kept in the database (maintenance mode)."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict

from api.db.repository import maintenance_mode, record_audit, set_setting
from api.lifecycle.deps import LoggedIn, SessionDep, StaffCaller
from api.lifecycle.errors import error_responses

router = APIRouter(prefix="/settings", tags=["settings"], responses=error_responses(401, 403, 422))


class PlatformSettings(BaseModel):
    maintenance_mode: bool


class SettingsUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    maintenance_mode: bool


@router.get("", response_model=PlatformSettings)
def get_platform_settings(_: LoggedIn, session: SessionDep) -> PlatformSettings:
    return PlatformSettings(maintenance_mode=maintenance_mode(session))


@router.put("", response_model=PlatformSettings)
def put_platform_settings(body: SettingsUpdate, caller: StaffCaller, session: SessionDep) -> PlatformSettings:
    """Maintenance mode pauses deploys, deletions and job calls (503) until it is switched off (staff)."""
    set_setting(session, "maintenance_mode", body.maintenance_mode)
    record_audit(
        session,
        "maintenance_mode_changed",
        executor=caller.name,
        properties={"maintenance_mode": body.maintenance_mode},
    )
    return PlatformSettings(maintenance_mode=maintenance_mode(session))
