"""`GET /info`: what clients need to know before logging in."""

from __future__ import annotations

from fastapi import APIRouter

from api.lifecycle.deps import SettingsDep
from api.lifecycle.schemas import InfoResponse

router = APIRouter(tags=["info"])

VERSION = "0.1.0"


@router.get("/info", response_model=InfoResponse)
def info(settings: SettingsDep) -> InfoResponse:
    """Service facts, e.g. `{"auth_required": true, "external_pub_url": "http://127.0.0.1:7005/pub"}`."""
    return InfoResponse(
        git_version=VERSION,
        docker_tag=VERSION,
        auth_required=settings.auth_required,
        external_pub_url=settings.effective_pub_url,
        lifecycle_url=settings.effective_lifecycle_url,
        dashboard_url=settings.effective_dashboard_url,
    )
