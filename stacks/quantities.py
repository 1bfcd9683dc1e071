"""Kubernetes resource quantities (`256Mi`, `1Gi`, `500m`, `2`) as numbers Docker understands."""

from __future__ import annotations

import re

from core.errors import InvalidInput

__all__ = ["memory_bytes", "nano_cpus"]

_MEMORY = re.compile(r"^(\d+(?:\.\d+)?)(Ki|Mi|Gi|Ti|k|M|G|T)?$")
_FACTORS = {
    None: 1,
    "k": 10**3,
    "M": 10**6,
    "G": 10**9,
    "T": 10**12,
    "Ki": 2**10,
    "Mi": 2**20,
    "Gi": 2**30,
    "Ti": 2**40,
}
_CPU = re.compile(r"^(\d+(?:\.\d+)?)(m)?$")


def memory_bytes(quantity: str) -> int:
    match = _MEMORY.match(quantity.strip())
    if not match:
        raise InvalidInput(
            f"memory quantity {quantity!r} is not valid: use a number with Ki, Mi, Gi (e.g. 256Mi)"
        )
    return int(float(match.group(1)) * _FACTORS[match.group(2)])


def nano_cpus(quantity: str) -> int:
    match = _CPU.match(quantity.strip())
    if not match:
        raise InvalidInput(
            f"cpu quantity {quantity!r} is not valid: use cores (e.g. 1, 0.5) or millicores (e.g. 500m)"
        )
    cores = float(match.group(1)) / (1000 if match.group(2) else 1)
    return int(cores * 1e9)
