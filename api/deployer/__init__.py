"""The deploy engine: runs the operations the lifecycle records, through job types and Pulumi stacks."""

from api.deployer.engine import DeployEngine

__all__ = ["DeployEngine"]
