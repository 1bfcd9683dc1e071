"""Rate limits on password login and registration, per account name and per client address.

Moving windows from the `limits` library, counted in this process's memory: enough for one lifecycle
process, which is how the platform runs. With several lifecycle replicas each keeps its own counts, so an
attacker gets that many times the allowance; `limits` can count in Redis or Memcached instead, which the
platform does not have.

What is counted, and why:
- every login attempt from an address (`login_attempts_per_address`): bounds the password hashing one
  client can make the server do, whichever names it tries;
- failed logins per account name (`login_failures_per_user`): bounds guessing one account's password
  from many addresses. Names are counted whether or not such a user exists, so the answer (429 or not)
  says nothing about which accounts exist;
- registrations per address (`registrations_per_address`): bounds mass account creation (a name can be
  registered only once, so counting per name would add nothing).

The client address is the connection's, or the one a trusted proxy put in `X-Forwarded-For` (uvicorn
trusts it from `FORWARDED_ALLOW_IPS`, 127.0.0.1 by default, which is where the dashboard runs).
"""

from __future__ import annotations

import math
import time
from typing import Annotated

from fastapi import Depends, Request
from limits import RateLimitItem, parse
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter
from starlette.exceptions import HTTPException

from api.settings import Settings

__all__ = ["Throttle", "ThrottleDep"]


class Throttle:
    """The lifecycle's counters (one per app, in `app.state.throttle`)."""

    def __init__(self, settings: Settings) -> None:
        self._limiter = MovingWindowRateLimiter(MemoryStorage())
        self._login_per_address = parse(settings.login_attempts_per_address)
        self._failures_per_user = parse(settings.login_failures_per_user)
        self._registrations_per_address = parse(settings.registrations_per_address)

    def login_attempt(self, request: Request, username: str) -> None:
        """Counts an attempt from the caller's address; refuses it when the address or the name is over
        its limit. Called before the user is looked up or any password is hashed."""
        self._hit(
            self._login_per_address, "login-address", _address(request), "login attempts from your address"
        )
        self._check(self._failures_per_user, "login-user", username.lower(), "failed logins for this account")

    def login_failed(self, username: str) -> None:
        self._limiter.hit(self._failures_per_user, "login-user", username.lower())

    def registration(self, request: Request) -> None:
        self._hit(
            self._registrations_per_address,
            "register-address",
            _address(request),
            "registrations from your address",
        )

    def _hit(self, item: RateLimitItem, kind: str, key: str, what: str) -> None:
        if not self._limiter.hit(item, kind, key):
            self._refuse(item, kind, key, what)

    def _check(self, item: RateLimitItem, kind: str, key: str, what: str) -> None:
        if not self._limiter.test(item, kind, key):
            self._refuse(item, kind, key, what)

    def _refuse(self, item: RateLimitItem, kind: str, key: str, what: str) -> None:
        reset = self._limiter.get_window_stats(item, kind, key).reset_time
        wait = max(1, math.ceil(reset - time.time()))
        raise HTTPException(
            429,
            detail=f"too many {what} (at most {item.amount} per {_window(item)}): try again in {wait} s",
            headers={"Retry-After": str(wait)},
        )


def _get_throttle(request: Request) -> Throttle:
    throttle: Throttle = request.app.state.throttle
    return throttle


ThrottleDep = Annotated[Throttle, Depends(_get_throttle)]


def _address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _window(item: RateLimitItem) -> str:
    unit = item.GRANULARITY.name
    return unit if item.multiples == 1 else f"{item.multiples} {unit}s"
