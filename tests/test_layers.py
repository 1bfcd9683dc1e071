"""The project's import layers: core < jobtypes < stacks < api, and client on its own.

A module may import its own layer and those below it; the client imports only itself (and
third-party packages: it is installed on machines without the server). Every import counts,
also those inside functions. platform/ (the bootstrap program) and tests are outside the layers.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LAYERS = {"core": 0, "jobtypes": 1, "stacks": 2, "api": 3}
# platform/ is no package (`import platform` is the standard library's), so it is not listed.
PROJECT = {*LAYERS, "client", "tests"}


def imported_packages(source: str, package: str) -> set[str]:
    """The project's top-level packages a module's source imports (`package`: the module's own)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            # A relative import stays inside the module's own top-level package.
            found.add(package if node.level else (node.module or "").split(".")[0])
    return found & PROJECT


def forbidden_imports(source: str, package: str) -> set[str]:
    """The project packages `package`'s module may not import, of those it does import."""
    imported = imported_packages(source, package) - {package}
    if package == "client" or package not in LAYERS:
        return imported
    return {name for name in imported if LAYERS.get(name, len(LAYERS)) > LAYERS[package]}


def violations(root: Path) -> list[str]:
    found = []
    for package in (*LAYERS, "client"):
        for path in sorted((root / package).rglob("*.py")):
            bad = forbidden_imports(path.read_text(encoding="utf-8"), package)
            if bad:
                found.append(f"{path.relative_to(root)} imports {', '.join(sorted(bad))}")
    return found


def test_no_module_imports_a_layer_above_its_own() -> None:
    modules = sum(1 for package in (*LAYERS, "client") for _ in (ROOT / package).rglob("*.py"))
    assert modules > 100  # the walk found the code, not an empty folder
    assert violations(ROOT) == []


def test_the_checker_flags_upward_imports(tmp_path: Path) -> None:
    planted = {
        "core/bad.py": "import jobtypes\n",
        "jobtypes/bad.py": "def lazy():\n    from api.settings import get_settings\n",
        "stacks/bad.py": "from api import errors\n",
        "client/bad.py": "from core.protocol import AUTH_HEADER\n",
        "api/bad.py": "import client.main\n",
        "stacks/good.py": "from .errors import StackError\nfrom core import errors\nimport jobtypes, yaml\n",
        "api/good.py": "import core, jobtypes, stacks, httpx\n",
    }
    for name, text in planted.items():
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_text(text)
    assert violations(tmp_path) == [
        "core/bad.py imports jobtypes",
        "jobtypes/bad.py imports api",
        "stacks/bad.py imports api",
        "api/bad.py imports client",
        "client/bad.py imports core",
    ]


def test_no_other_installed_distribution_provides_our_top_level_names() -> None:
    """The packages keep their short names (see docs/architecture.md, "Layers"); this is the guard
    that the environment they are installed in holds no other distribution claiming one of them."""
    from importlib.metadata import packages_distributions

    owners = packages_distributions()
    for name in (*LAYERS, "client"):
        others = set(owners.get(name, [])) - {"racetrack-pulumi", "racetrack_pulumi"}
        assert not others, f"top-level package {name!r} is also installed by {sorted(others)}"
