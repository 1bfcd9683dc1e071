"""Makes the per-installation Pulumi project for the platform program, in the data directory.

`pulumi stack init` and `pulumi config set` write into the stack's file (`encryptionsalt`, secrets, the
values they set), and that salt belongs to one installation's passphrase. So the tracked files stay as
they are and Pulumi runs in `<data dir>/platform-project/`: a `Pulumi.yaml` pointing at this checkout's
program (rewritten on every run), and `Pulumi.<stack>.yaml`, copied from the tracked one on first use;
settings the tracked file gains later are added to the copy, what the installation set there is kept.

    python scripts/platform_project.py ROOT DATA_DIR STACK    # prints the project directory
"""

from __future__ import annotations

import sys
from pathlib import Path

import yaml


def prepare(root: Path, data_dir: Path, stack: str) -> Path:
    project_dir = data_dir / "platform-project"
    project_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    project = yaml.safe_load((root / "Pulumi.yaml").read_text(encoding="utf-8"))
    main = (root / project.get("main", ".")).resolve()
    project["main"] = str(main)
    options = project.get("runtime", {}).get("options", {})
    if isinstance(options, dict) and options.get("virtualenv"):
        options["virtualenv"] = str((main / options["virtualenv"]).resolve())
    header = f"# Made from {root / 'Pulumi.yaml'} by scripts/platform_project.py on every run.\n"
    text = header + yaml.safe_dump(project, sort_keys=False)
    (project_dir / "Pulumi.yaml").write_text(text, encoding="utf-8")

    tracked = root / f"Pulumi.{stack}.yaml"
    mine = project_dir / f"Pulumi.{stack}.yaml"
    if not mine.exists():
        if tracked.is_file():
            mine.write_text(tracked.read_text(encoding="utf-8"), encoding="utf-8")
    elif tracked.is_file():
        theirs = yaml.safe_load(tracked.read_text(encoding="utf-8")) or {}
        current = yaml.safe_load(mine.read_text(encoding="utf-8")) or {}
        config = current.setdefault("config", {})
        added = {k: v for k, v in (theirs.get("config") or {}).items() if k not in config}
        if added:
            config.update(added)
            mine.write_text(yaml.safe_dump(current, sort_keys=False), encoding="utf-8")
            print(f"platform: {mine} gained {', '.join(sorted(added))} from {tracked}", file=sys.stderr)
    mine.touch()
    mine.chmod(0o600)
    return project_dir


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit("usage: platform_project.py ROOT DATA_DIR STACK")
    print(prepare(Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]))
