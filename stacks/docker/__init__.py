"""Docker resources for job stacks: containers and networks on the local Docker engine."""

from stacks.docker.resources import Container, Image, Network

__all__ = ["Container", "Image", "Network"]
