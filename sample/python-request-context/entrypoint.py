import logging
from typing import Any, Dict, Optional

logger = logging.getLogger(__name__)


class Greeter:
    def perform(self) -> Dict[str, Any]:
        """Greet whoever called: pub names the caller in the X-Caller-Name header."""
        caller = self.get_caller_name()
        logger.info("perform was called by %s", caller)
        return {"greeting": f"Hello, {caller or 'stranger'}!", "caller": caller}

    def get_caller_name(self) -> Optional[str]:
        # The wrapper gives the job object `request_context`, the request being served.
        request = getattr(self, "request_context").get()
        return request.headers.get("X-Caller-Name")
