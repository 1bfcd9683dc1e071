"""Rendering a preview (the plan of a deploy or rollback) like `pulumi preview`.

The plan comes from the server as
`{"steps": [{"op", "urn", "type", "name", "diffs", "changes": {prop: {"old", "new"}}}], "summary": {...}}`;
secrets arrive as "[secret]" and any value the client sent as a secret is masked again here.
"""

from __future__ import annotations

import json
from typing import Any

import typer

__all__ = ["SECRET", "mask_secrets", "render_plan", "plan_has_changes"]

SECRET = "[secret]"
_OPS = {
    "create": ("+", "create", "green"),
    "update": ("~", "update", "yellow"),
    "replace": ("-/+", "replace", "magenta"),
    "create-replacement": ("-/+", "replace", "magenta"),
    "delete-replaced": ("-/+", "replace", "magenta"),
    "delete": ("-", "delete", "red"),
    "read": (">", "read", "cyan"),
}
_UNCHANGED = {"same", "refresh", "read-replacement", "discard", "discard-replaced", "import"}


def mask_secrets(value: Any, secrets: set[str]) -> Any:
    """A copy of value where any string holding a secret value is replaced by "[secret]"."""
    if not secrets:
        return value
    if isinstance(value, str):
        return SECRET if any(s and s in value for s in secrets) else value
    if isinstance(value, dict):
        return {k: mask_secrets(v, secrets) for k, v in value.items()}
    if isinstance(value, list):
        return [mask_secrets(v, secrets) for v in value]
    return value


def _fmt(value: Any, width: int = 70) -> str:
    text = value if value == SECRET else json.dumps(value, sort_keys=True, default=str)
    return text if len(text) <= width else text[: width - 1] + "…"


def _summary(plan: dict[str, Any]) -> dict[str, int]:
    summary = plan.get("summary")
    counts: dict[str, int] = {}
    if isinstance(summary, dict):
        for key, value in summary.items():
            if isinstance(value, int):
                counts[key] = value
        return counts
    for step in plan.get("steps") or []:
        op = str(step.get("op", ""))
        key = _OPS.get(op, (None, op, None))[1]
        counts[key] = counts.get(key, 0) + 1
    return counts


def plan_has_changes(plan: dict[str, Any]) -> bool:
    counts = _summary(plan)
    return any(counts.get(k, 0) for k in ("create", "update", "replace", "delete")) or any(
        str(s.get("op")) in _OPS for s in plan.get("steps") or []
    )


_MISSING = object()


def _change_lines(prop: str, old: Any, new: Any, depth: int = 0) -> list[str]:
    """Lines for one changed property; mappings are compared key by key (one env var, not the whole env)."""
    if isinstance(old, dict) and isinstance(new, dict) and depth < 2:
        lines: list[str] = []
        for key in sorted(set(old) | set(new), key=str):
            before, after = old.get(key, _MISSING), new.get(key, _MISSING)
            if before != after:
                lines += _change_lines(f"{prop}.{key}", before, after, depth + 1)
        return lines or [typer.style(f"        ~ {prop}: (reordered)", fg="yellow")]
    if old is _MISSING:
        return [typer.style(f"        + {prop}: {_fmt(new)}", fg="green")]
    if new is _MISSING:
        return [typer.style(f"        - {prop}: {_fmt(old)}", fg="red")]
    return [typer.style(f"        ~ {prop}: {_fmt(old)} -> {_fmt(new)}", fg="yellow")]


def render_plan(plan: dict[str, Any], *, show_unchanged: bool = False) -> list[str]:
    """The plan as text lines (styled; typer.echo strips the styles off a pipe)."""
    lines: list[str] = []
    steps = [s for s in plan.get("steps") or [] if isinstance(s, dict)]
    shown = 0
    for step in steps:
        op = str(step.get("op", ""))
        if op in _UNCHANGED and not show_unchanged:
            continue
        symbol, word, colour = _OPS.get(op, (" ", op or "same", None))
        kind = str(step.get("type", ""))
        name = str(step.get("name") or str(step.get("urn", "")).rsplit("::", 1)[-1])
        lines.append(typer.style(f"  {symbol:<3} {word:<8} {kind}  {name}", fg=colour))
        shown += 1
        raw_changes = step.get("changes")
        changes: dict[str, Any] = raw_changes if isinstance(raw_changes, dict) else {}
        diffs = [str(d) for d in step.get("diffs") or []]
        for prop in sorted(set(diffs) | set(changes)):
            change = changes.get(prop)
            if isinstance(change, dict):
                lines += _change_lines(prop, change.get("old", _MISSING), change.get("new", _MISSING))
            else:
                lines.append(typer.style(f"        ~ {prop}", fg="yellow"))
    if not shown:
        lines.append("  no changes")
    counts = _summary(plan)
    parts = []
    for key, symbol in (("create", "+"), ("update", "~"), ("replace", "-/+"), ("delete", "-")):
        if counts.get(key):
            parts.append(f"{symbol} {counts[key]} to {key}")
    unchanged = counts.get("same", counts.get("unchanged", 0))
    if unchanged:
        parts.append(f"{unchanged} unchanged")
    lines.append("")
    lines.append("Resources: " + (", ".join(parts) if parts else "no changes"))
    return lines
