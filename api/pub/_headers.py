"""Reading a call's credentials and building the headers pub forwards to a job."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import unquote

__all__ = ["Incoming", "read_incoming", "AUTH_HEADER", "TRACING_HEADER", "CALLER_HEADER", "HOP_BY_HOP"]

AUTH_HEADER = b"x-racetrack-auth"
TRACING_HEADER = b"x-request-tracing-id"
CALLER_HEADER = b"x-caller-name"
_LEGACY_USER = b"x-racetrack-user-auth"
_LEGACY_ESC = b"x-racetrack-esc-auth"
_COOKIE_NAME = "X-Racetrack-Auth"

# Connection-level headers, never passed on (RFC 9110 section 7.6.1).
HOP_BY_HOP = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"proxy-authenticate",
        b"proxy-authorization",
        b"proxy-connection",
        b"te",
        b"trailer",
        b"trailers",
        b"transfer-encoding",
        b"upgrade",
    }
)
# Headers pub sets itself, or that must not reach a job: credentials stay in pub, and a caller must
# not choose its own caller name, tracing id or forwarding chain.
_NOT_FORWARDED = HOP_BY_HOP | {
    b"host",
    AUTH_HEADER,
    _LEGACY_USER,
    _LEGACY_ESC,
    b"x-racetrack-internal-auth",
    CALLER_HEADER,
    TRACING_HEADER,
    b"x-forwarded-host",
    b"x-forwarded-proto",
    b"x-forwarded-for",
    b"expect",  # uvicorn already answered 100-continue to the caller; the job must not send another
}
_WEBSOCKET_HANDSHAKE = frozenset(
    {b"sec-websocket-key", b"sec-websocket-version", b"sec-websocket-extensions", b"sec-websocket-protocol"}
)


@dataclass(slots=True)
class Incoming:
    """What pub takes from a call's headers."""

    token: str | None
    headers: list[tuple[bytes, bytes]]  # to forward, before pub adds its own
    host: bytes
    forwarded_for: bytes  # an existing X-Forwarded-For chain, or b""
    forwarded_proto: bytes
    sized: bool  # the caller sent Content-Length (kept, so the body is forwarded as framed)


def read_incoming(raw_headers: list[tuple[bytes, bytes]], *, websocket: bool = False) -> Incoming:
    """One pass over the headers: finds the token (header first, then the legacy headers, then the
    cookie) and keeps what may be forwarded, with the auth cookie cut out of `Cookie`."""
    token = legacy_user = legacy_esc = cookie_token = None
    forward: list[tuple[bytes, bytes]] = []
    host = forwarded_for = forwarded_proto = b""
    sized = False
    for name, value in raw_headers:
        if name not in _NOT_FORWARDED:
            if name == b"content-length":
                sized = True
            elif name == b"cookie":
                found, value = _split_cookie(value)
                if found is not None:
                    cookie_token = found
                if not value:
                    continue
            elif websocket and name in _WEBSOCKET_HANDSHAKE:
                continue
            forward.append((name, value))
        elif name == AUTH_HEADER:
            token = value.decode("latin-1")
        elif name == b"host":
            host = value
        elif name == _LEGACY_USER:
            legacy_user = value.decode("latin-1")
        elif name == _LEGACY_ESC:
            legacy_esc = value.decode("latin-1")
        elif name == b"x-forwarded-for":
            forwarded_for = value
        elif name == b"x-forwarded-proto":
            forwarded_proto = value
    return Incoming(
        token=token or legacy_user or legacy_esc or cookie_token or None,
        headers=forward,
        host=host,
        forwarded_for=forwarded_for,
        forwarded_proto=forwarded_proto,
        sized=sized,
    )


def _split_cookie(value: bytes) -> tuple[str | None, bytes]:
    """Returns the auth cookie's value (URL-unquoted) and the Cookie header without it."""
    text = value.decode("latin-1")
    if _COOKIE_NAME not in text:
        return None, value
    token = None
    kept = []
    for part in text.split(";"):
        key, sep, val = part.strip().partition("=")
        if sep and key == _COOKIE_NAME:
            token = unquote(val.strip().strip('"')) or None
        elif part.strip():
            kept.append(part.strip())
    return token, "; ".join(kept).encode("latin-1")
