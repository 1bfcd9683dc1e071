class StaticJob:
    def perform(self) -> str:
        return "see /api/v1/manifest and /api/v1/static/"

    def static_endpoints(self) -> dict:
        """Paths served with GET: a file, a file with its MIME type, or a whole folder."""
        return {
            "/manifest": "job.yaml",
            "/readme": ("README.md", "text/markdown"),
            "/static/": "static",
        }
