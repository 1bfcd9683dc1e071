"""Serving a job class from one's own program: `serve_job_class(Job)` runs it on port 7000."""

from .server import serve_job_class

__all__ = ["serve_job_class"]
