import copy
import platform
import sys
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Point:
    x: float
    y: float


class Runtime:
    def perform(self, x: float = 1.0) -> dict:
        """Report the runtime; copy.replace is new in Python 3.13."""
        moved = copy.replace(Point(0.0, 0.0), x=x)
        return {
            "python": platform.python_version(),
            "debian": Path("/etc/debian_version").read_text().strip(),
            "point": {"x": moved.x, "y": moved.y},
            "version_info": list(sys.version_info[:2]),
        }
