"""HMAC signatures for the dashboard's own small cookies (CSRF secret, flash messages)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

__all__ = ["Signer"]


class Signer:
    """Signs short strings with a key derived from the platform's signing key and a purpose.

    A signature made for one purpose (`csrf`) is worthless for another (`flash`).
    """

    def __init__(self, key: str, purpose: str) -> None:
        self._key = hashlib.sha256(f"racetrack-dashboard:{purpose}:{key}".encode()).digest()

    def mac(self, value: str) -> str:
        digest = hmac.new(self._key, value.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).decode().rstrip("=")

    def verify(self, value: str, mac: str) -> bool:
        return hmac.compare_digest(self.mac(value), mac)

    def dumps(self, data: Any) -> str:
        raw = base64.urlsafe_b64encode(json.dumps(data, separators=(",", ":")).encode()).decode()
        return f"{raw}.{self.mac(raw)}"

    def loads(self, signed: str | None) -> Any:
        if not signed or "." not in signed:
            return None
        raw, mac = signed.rsplit(".", 1)
        if not self.verify(raw, mac):
            return None
        try:
            return json.loads(base64.urlsafe_b64decode(raw.encode()))
        except ValueError:
            return None
