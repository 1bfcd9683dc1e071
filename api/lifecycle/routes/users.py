"""Users: login (sets the auth cookie), logout, registration, token check, password change, staff admin."""

from __future__ import annotations

from urllib.parse import quote

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import func, select

from api.auth import (
    Caller,
    authenticate_password,
    change_password,
    primary_token,
    register_user,
    subject_for_user,
)
from api.auth.passwords import MAX_PASSWORD_LENGTH
from api.auth.tokens import regenerate_token
from api.auth.users import WRONG_CREDENTIALS
from api.db import User
from api.db.repository import record_audit
from api.errors import Forbidden, NotFound, Unauthenticated
from api.lifecycle.deps import LoggedIn, SessionDep, SettingsDep, StaffCaller, UserCaller, login_cookie
from api.lifecycle.errors import error_responses
from api.lifecycle.schemas import MessageResponse, ts
from api.lifecycle.throttle import ThrottleDep

router = APIRouter(prefix="/users", tags=["users"], responses=error_responses(400, 401, 403, 422))

COOKIE_MAX_AGE = 31 * 24 * 3600


class Credentials(BaseModel):
    model_config = ConfigDict(extra="forbid")
    username: str = Field(min_length=1, max_length=150)
    password: str = Field(min_length=1, max_length=MAX_PASSWORD_LENGTH)


class PasswordChange(BaseModel):
    model_config = ConfigDict(extra="forbid")
    old_password: str = Field(max_length=MAX_PASSWORD_LENGTH)
    new_password: str = Field(max_length=MAX_PASSWORD_LENGTH)


class LoginResponse(BaseModel):
    username: str
    token: str


class TokenResponse(BaseModel):
    token: str


class NewTokenResponse(BaseModel):
    """Upstream's answer to a token regeneration (its dashboard reads `new_token`)."""

    new_token: str


class PasswordChanged(BaseModel):
    message: str
    new_token: str = Field(description="the caller's new token: a password change revokes the old ones")


class AuthInfo(BaseModel):
    username: str
    subject_type: str
    is_staff: bool
    is_superuser: bool


class UserOut(BaseModel):
    id: int
    username: str
    is_active: bool
    is_staff: bool
    is_superuser: bool
    date_joined: int | None
    last_login: int | None


class UserUpdate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"is_active": True}, {"is_active": False}, {"is_staff": False}]},
    )
    is_active: bool | None = None
    is_staff: bool | None = None


def _user_out(user: User) -> UserOut:
    return UserOut(
        id=user.id,
        username=user.username,
        is_active=user.is_active,
        is_staff=user.is_staff,
        is_superuser=user.is_superuser,
        date_joined=ts(user.date_joined),
        last_login=ts(user.last_login),
    )


@router.post("/login", response_model=LoginResponse, responses=error_responses(429))
def login(
    body: Credentials,
    request: Request,
    response: Response,
    session: SessionDep,
    settings: SettingsDep,
    throttle: ThrottleDep,
) -> LoginResponse:
    """Checks username and password; returns the user's token and sets it as the `X-Racetrack-Auth` cookie.

    Attempts are rate-limited per client address and failures per account name (429 with Retry-After)."""
    throttle.login_attempt(request, body.username)
    try:
        user = authenticate_password(session, body.username, body.password)
    except Unauthenticated as exc:
        if exc.message == WRONG_CREDENTIALS:
            throttle.login_failed(body.username)
        raise
    subject = subject_for_user(session, user)
    _, token = primary_token(
        session, subject, settings.signing_key(), user_token_lifetime=settings.user_token_max_age
    )
    name, secure = login_cookie(settings)
    response.set_cookie(
        name, quote(token), max_age=COOKIE_MAX_AGE, path="/", httponly=True, samesite="lax", secure=secure
    )
    return LoginResponse(username=user.username, token=token)


@router.get("/logout", response_model=MessageResponse)
def logout(response: Response, settings: SettingsDep) -> MessageResponse:
    """Clears the auth cookie (the token itself stays valid; regenerate it to revoke it)."""
    name, secure = login_cookie(settings)
    response.delete_cookie(name, path="/", httponly=True, samesite="lax", secure=secure)
    return MessageResponse(message="logged out")


@router.post("/register", response_model=UserOut, status_code=201, responses=error_responses(409, 429))
def register(body: Credentials, request: Request, session: SessionDep, throttle: ThrottleDep) -> UserOut:
    """Creates an inactive account; a Racetrack admin has to activate it before it can log in.

    Registrations are rate-limited per client address (429 with Retry-After)."""
    throttle.registration(request)
    user = register_user(session, body.username, body.password)
    record_audit(session, "user_registered", executor=user.username, subject=user.username)
    return _user_out(user)


@router.get("/validate_user_auth", response_model=AuthInfo)
def validate_user_auth(caller: LoggedIn) -> AuthInfo:
    """Says whose token this is (used by `racetrack login <token>`)."""
    return AuthInfo(
        username=caller.name,
        subject_type=caller.kind,
        is_staff=caller.is_staff,
        is_superuser=caller.is_superuser,
    )


@router.put("/change_password", response_model=PasswordChanged, responses=error_responses(429))
def put_password(
    body: PasswordChange,
    request: Request,
    caller: UserCaller,
    session: SessionDep,
    settings: SettingsDep,
    throttle: ThrottleDep,
) -> PasswordChanged:
    """Changes the caller's password and revokes their tokens (whoever took the old password may hold
    one); the answer carries the new token. Wrong old passwords count as failed logins (rate limits)."""
    user = session.get(User, caller.user_id)
    if user is None:
        raise NotFound("user not found")
    throttle.login_attempt(request, user.username)
    try:
        change_password(session, user, body.old_password, body.new_password)
    except Unauthenticated:
        throttle.login_failed(user.username)
        raise
    _, token = regenerate_token(session, subject_for_user(session, user), settings.signing_key())
    record_audit(session, "password_changed", executor=user.username, subject=user.username)
    return PasswordChanged(message="password changed; your earlier tokens no longer work", new_token=token)


@router.get("", response_model=list[UserOut])
def list_users(_: StaffCaller, session: SessionDep) -> list[UserOut]:
    """All users (staff only)."""
    return [_user_out(u) for u in session.scalars(select(User).order_by(User.username))]


def _target_user(session: SessionDep, caller: StaffCaller, username: str) -> User:
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        raise NotFound(f"user {username} was not found")
    if user.is_superuser and not caller.is_superuser:
        raise Forbidden(f"User {caller.name} may not change superuser {username}")
    return user


def _is_administrator(user: User) -> bool:
    return user.is_active and user.is_staff and user.is_superuser


def _keep_an_administrator(session: SessionDep, caller: Caller, user: User, body: UserUpdate) -> None:
    """Refuses changes that would lock everyone out: nobody deactivates themselves, and the last active
    staff superuser is neither deactivated nor demoted (only the database could bring one back)."""
    losing_access = body.is_active is False or body.is_staff is False
    if losing_access and _is_administrator(user):
        others = session.scalar(
            select(func.count(User.id)).where(
                User.id != user.id,
                User.is_active.is_(True),
                User.is_staff.is_(True),
                User.is_superuser.is_(True),
            )
        )
        if not others:
            raise Forbidden(
                f"User {user.username} is the last active staff superuser: make another user one before "
                "deactivating or demoting this one"
            )
    if body.is_active is False and user.id == caller.user_id:
        raise Forbidden(
            f"User {caller.name} may not deactivate their own account: ask another administrator to do it"
        )


@router.patch("/{username}", response_model=UserOut, responses=error_responses(404))
def update_user(username: str, body: UserUpdate, caller: StaffCaller, session: SessionDep) -> UserOut:
    """Activates or deactivates a user (staff); granting or removing staff needs a superuser.

    Refused: deactivating yourself, and deactivating or demoting the last active staff superuser."""
    user = _target_user(session, caller, username)
    if body.is_staff is not None and body.is_staff != user.is_staff and not caller.is_superuser:
        raise Forbidden(f"User {caller.name} is not a superuser: only superusers change the staff flag")
    _keep_an_administrator(session, caller, user, body)
    if body.is_active is not None:
        user.is_active = body.is_active
    if body.is_staff is not None:
        user.is_staff = body.is_staff
    record_audit(
        session,
        "user_updated",
        executor=caller.name,
        subject=username,
        properties=body.model_dump(exclude_none=True),
    )
    return _user_out(user)


@router.post("/{username}/token/regenerate", response_model=MessageResponse, responses=error_responses(404))
def regenerate_user_token(
    username: str, caller: StaffCaller, session: SessionDep, settings: SettingsDep
) -> MessageResponse:
    """Revokes every token of a user and issues a new one (staff). The new token is not in the answer:
    only its owner sees it, on their dashboard Profile page (after logging in again)."""
    user = _target_user(session, caller, username)
    regenerate_token(session, subject_for_user(session, user), settings.signing_key())
    record_audit(session, "user_token_regenerated", executor=caller.name, subject=username)
    return MessageResponse(
        message=f"the tokens of {username} were revoked; their new token is on their Profile page"
    )
