from __future__ import annotations

import sys
from pathlib import Path

# The runtime wrapper is a package of the job image; tests import it from its source folder.
WRAPPER_DIR = Path(__file__).resolve().parents[2] / "jobtypes" / "python3" / "wrapper"
if str(WRAPPER_DIR) not in sys.path:
    sys.path.insert(0, str(WRAPPER_DIR))
