import os
import shutil


class EnvJob:
    def perform(self) -> dict:
        """Shows which variables the job sees (the secret only as a length)."""
        return {
            "greeting_style": os.environ.get("GREETING_STYLE"),
            "built_with": os.environ.get("BUILT_WITH"),
            "api_key_length": len(os.environ.get("API_KEY", "")),
            "job_name": os.environ.get("JOB_NAME"),
            "jq_installed": shutil.which("jq") is not None,
        }
