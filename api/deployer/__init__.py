"""The deploy engine: runs the operations the lifecycle records, through job types and Pulumi stacks."""

from typing import Any

__all__ = ["DeployEngine"]


def __getattr__(name: str) -> Any:
    # Loaded on first use: the engine brings in Pulumi and Docker clients, which the lifecycle's routes
    # (reading api.deployer.targets) do not need.
    if name == "DeployEngine":
        from api.deployer.engine import DeployEngine

        return DeployEngine
    raise AttributeError(name)
