"""Users: registration, password login, password change and the first admin."""

from __future__ import annotations

import os
import secrets
import sys
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from api.auth.passwords import check_password_policy, dummy_hash, hash_password, needs_rehash, verify_password
from api.auth.permissions import grant_defaults
from api.auth.subjects import subject_for_user
from api.db import User, utcnow
from api.errors import AlreadyExists, InvalidInput, Unauthenticated
from api.settings import Settings

__all__ = [
    "register_user",
    "authenticate_password",
    "change_password",
    "ensure_admin",
    "check_username",
    "WRONG_CREDENTIALS",
]

WRONG_CREDENTIALS = "wrong username or password"  # the same for unknown names and wrong passwords


def check_username(username: str) -> None:
    if not 3 <= len(username) <= 150:
        raise InvalidInput("username: wrong length (accepted: 3 to 150 characters)")
    if any(ch.isspace() or not ch.isprintable() for ch in username):
        raise InvalidInput(
            "username: contains whitespace (accepted: an e-mail address or a name without spaces)"
        )


def register_user(session: Session, username: str, password: str) -> User:
    """Creates an inactive user with upstream's default grants; staff activate it later."""
    check_username(username)
    check_password_policy(password)
    if session.scalar(select(User).where(func.lower(User.username) == username.lower())) is not None:
        raise AlreadyExists(f"user {username} already exists")
    user = User(username=username, password_hash=hash_password(password), is_active=False)
    session.add(user)
    session.flush()
    grant_defaults(session, subject_for_user(session, user))
    return user


def authenticate_password(session: Session, username: str, password: str) -> User:
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        verify_password(dummy_hash(), password)  # same time as a wrong password, so names do not leak
        raise Unauthenticated(WRONG_CREDENTIALS)
    if not verify_password(user.password_hash, password):
        raise Unauthenticated(WRONG_CREDENTIALS)
    if not user.is_active:
        raise Unauthenticated(
            f"user {username} is inactive: wait till a Racetrack admin activates the account"
        )
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    user.last_login = utcnow()
    return user


def change_password(session: Session, user: User, old_password: str, new_password: str) -> None:
    if not verify_password(user.password_hash, old_password):
        raise Unauthenticated("old password is wrong")
    check_password_policy(new_password)
    user.password_hash = hash_password(new_password)


def _store_generated_password(data_dir: Path, password: str) -> Path:
    folder = data_dir / "secrets"
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = folder / "admin_password"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(password)
    os.chmod(path, 0o600)
    return path


def ensure_admin(session: Session, settings: Settings) -> User | None:
    """Creates the first admin (staff, superuser) unless a user of that name exists.

    The password is RACETRACK_ADMIN_PASSWORD, or a generated one printed once and stored in
    data_dir/secrets/admin_password (mode 600). Returns the user when it was created.
    """
    username = settings.admin_username
    if session.scalar(select(User).where(User.username == username)) is not None:
        return None
    if settings.admin_password is not None:
        password = settings.admin_password.get_secret_value()
        generated = False
    else:
        password = secrets.token_urlsafe(18)
        generated = True
    admin = User(
        username=username,
        password_hash=hash_password(password),
        is_active=True,
        is_staff=True,
        is_superuser=True,
    )
    session.add(admin)
    session.flush()
    grant_defaults(session, subject_for_user(session, admin))
    if generated:
        path = _store_generated_password(settings.data_dir, password)
        print(
            f"Created Racetrack admin {username!r} with password: {password}  (also stored in {path})",
            file=sys.stderr,
            flush=True,
        )
    return admin
