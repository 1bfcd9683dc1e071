"""Password hashing (argon2id via argon2-cffi) and the password policy."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from api.errors import InvalidInput

__all__ = [
    "hash_password",
    "verify_password",
    "needs_rehash",
    "check_password_policy",
    "dummy_hash",
    "MAX_PASSWORD_LENGTH",
]

_hasher = PasswordHasher()

# Checked by the request schemas before any user is looked up: a huge password must not cost hashing time.
MAX_PASSWORD_LENGTH = 256

# A few of the most common passwords; a leaked-password list would be better, this catches the worst.
_COMMON = frozenset(
    {
        "password",
        "password1",
        "12345678",
        "123456789",
        "1234567890",
        "qwertyuiop",
        "iloveyou",
        "admin123",
        "administrator",
        "letmein1",
        "welcome1",
        "qwerty123",
        "11111111",
        "00000000",
        "abcdefgh",
        "passw0rd",
        "sunshine",
        "princess",
        "football",
        "baseball",
        "racetrack",
    }
)


def hash_password(password: str) -> str:
    return _hasher.hash(password)


_dummy: tuple[PasswordHasher, str] | None = None


def dummy_hash() -> str:
    """A hash made with the current hasher's cost. Verifying against it when a user does not exist costs
    what a wrong password of an existing user costs, so the answer time does not tell which names exist."""
    global _dummy
    if _dummy is None or _dummy[0] is not _hasher:
        _dummy = (_hasher, _hasher.hash("not-a-real-password-used-for-timing"))
    return _dummy[1]


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    return _hasher.check_needs_rehash(password_hash)


def check_password_policy(password: str) -> None:
    if len(password) < 8:
        raise InvalidInput("password: too short (accepted: at least 8 characters)")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise InvalidInput(f"password: too long (accepted: at most {MAX_PASSWORD_LENGTH} characters)")
    if password.isdigit():
        raise InvalidInput("password: only digits (accepted: a password that is not entirely numeric)")
    if password.lower() in _COMMON:
        raise InvalidInput("password: too common (accepted: a password that is not on common-password lists)")
