"""Kubernetes resources for job stacks."""
