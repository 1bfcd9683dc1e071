"""A preview as data: which resources a change would create, update, replace or delete, and how.

The engine reports a preview as a stream of step events; `PlanCollector` folds them into one step
per resource, keeping the properties that change with their old and new values. Secret values never
appear: the engine sends them masked, and anything still marked secret is shown as `[secret]`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from pulumi import automation as auto

__all__ = ["PlanStep", "Plan", "PlanCollector"]

SECRET = "[secret]"
# The engine splits a replacement into several steps; users see one.
_USER_OP = {
    "create": "create",
    "update": "update",
    "delete": "delete",
    "replace": "replace",
    "create-replacement": "replace",
    "delete-replaced": "replace",
    "discard-replaced": "replace",
    "import": "create",
    "import-replacement": "replace",
    "read": "read",
    "refresh": "refresh",
}
_HIDDEN_TYPES = ("pulumi:pulumi:Stack", "pulumi:providers:")


@dataclass
class PlanStep:
    op: str
    urn: str
    type: str
    name: str
    diffs: list[str] = field(default_factory=list)
    changes: dict[str, dict[str, Any]] = field(default_factory=dict)


@dataclass
class Plan:
    steps: list[PlanStep]

    @property
    def summary(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for step in self.steps:
            counts[step.op] = counts.get(step.op, 0) + 1
        return counts

    def to_dict(self) -> dict[str, Any]:
        return {"steps": [asdict(step) for step in self.steps], "summary": self.summary}


class PlanCollector:
    """Pass `collector.on_event` as `on_event` to a preview, then read `collector.plan()`."""

    def __init__(self) -> None:
        self._steps: dict[str, PlanStep] = {}
        self._refreshing: set[str] = set()

    def on_event(self, event: auto.EngineEvent) -> None:
        outputs = event.res_outputs_event
        if outputs is not None and outputs.metadata.urn in self._refreshing:
            self._on_refreshed(outputs.metadata)
            return
        pre = event.resource_pre_event
        if pre is not None and pre.metadata.op.value == "refresh":
            self._refreshing.add(pre.metadata.urn)  # what it found comes with the step's outputs (above)
            return
        if pre is None:
            return
        meta = pre.metadata
        op = _USER_OP.get(meta.op.value)
        if op is None or meta.type.startswith(_HIDDEN_TYPES):
            return
        step = self._steps.get(meta.urn)
        if step is None:
            step = PlanStep(op=op, urn=meta.urn, type=_display_type(meta), name=meta.urn.rsplit("::", 1)[-1])
            self._steps[meta.urn] = step
        if meta.old is None or meta.new is None:
            return  # a create or a delete: no property changes to show
        old = _inputs(meta.old)
        new = _inputs(meta.new)
        # `keys` are the properties forcing a replacement, `diffs` those the provider says changed.
        keys = set(meta.keys or []) | set(meta.diffs or []) | set((meta.detailed_diff or {}).keys())
        if not keys:
            keys = {k for k in set(old) | set(new) if old.get(k) != new.get(k)}
        for key in sorted(k for k in keys if not k.startswith("__")):
            top = key.split(".", 1)[0].split("[", 1)[0]
            if top.startswith("__"):
                continue
            if top not in step.diffs:
                step.diffs.append(top)
            step.changes[top] = {"old": _mask(old.get(top)), "new": _mask(new.get(top))}

    def _on_refreshed(self, meta: Any) -> None:
        """Drift: a resource gone from the infrastructure, or whose observed outputs changed."""
        if meta.type.startswith(_HIDDEN_TYPES):
            return
        name = meta.urn.rsplit("::", 1)[-1]
        if meta.op.value == "same":
            return
        if meta.new is None or meta.op.value == "delete":
            self._steps[meta.urn] = PlanStep(op="delete", urn=meta.urn, type=_display_type(meta), name=name)
            return
        old = dict((meta.old.outputs if meta.old else None) or {})
        new = dict(meta.new.outputs or {})
        changed = sorted(
            k for k in set(old) | set(new) if not k.startswith("__") and old.get(k) != new.get(k)
        )
        if changed:
            self._steps[meta.urn] = PlanStep(
                op="update",
                urn=meta.urn,
                type=_display_type(meta),
                name=name,
                diffs=changed,
                changes={k: {"old": _mask(old.get(k)), "new": _mask(new.get(k))} for k in changed},
            )

    def plan(self) -> Plan:
        return Plan(steps=list(self._steps.values()))


def _display_type(meta: Any) -> str:
    if meta.type == "pulumi-python:dynamic:Resource":
        provider = (_inputs(meta.new) or _inputs(meta.old)).get("__provider")
        return "racetrack:docker:resource" if provider else str(meta.type)
    return str(meta.type)


def _inputs(state: Any) -> dict[str, Any]:
    if state is None:
        return {}
    return dict(state.inputs or {})


def _mask(value: Any) -> Any:
    if isinstance(value, dict):
        if value.get("4dabf18193072939515e22adb298388d") == "1b47061264138c4ac30d75fd1eb44270":
            return SECRET
        return {k: _mask(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_mask(v) for v in value]
    return value
