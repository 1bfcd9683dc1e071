"""Secret values inside recorded desired state, encrypted at rest.

Revisions keep everything needed to apply them again, secret variables included; those values are
sealed with a key the platform generates into its data directory, so the database never holds them
in plaintext.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet, InvalidToken

from api.errors import PlatformError
from api.settings import managed_secret

__all__ = ["Sealer"]

SEALED = "__sealed__"


class Sealer:
    def __init__(self, data_dir: Path) -> None:
        key = managed_secret(data_dir, "state_key", generate=lambda: Fernet.generate_key().decode())
        self._fernet = Fernet(key.encode())

    def seal(self, value: dict[str, str]) -> dict[str, str]:
        if not value:
            return {}
        return {SEALED: self._fernet.encrypt(json.dumps(value).encode()).decode()}

    def unseal(self, value: dict[str, Any]) -> dict[str, str]:
        if SEALED not in value:
            return dict(value)
        try:
            unsealed: dict[str, str] = json.loads(self._fernet.decrypt(value[SEALED].encode()))
        except InvalidToken as exc:
            raise PlatformError(
                "recorded secrets cannot be decrypted: the data directory's state_key changed"
            ) from exc
        return unsealed
