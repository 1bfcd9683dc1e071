import random
from collections.abc import Callable
from http import HTTPMethod
from typing import Any

from racetrack_job_wrapper.endpoint_config import EndpointConfig


class JobWithEndpoints:
    def perform(self, x: float, y: float) -> float:
        """Adds two numbers."""
        return x + y

    def auxiliary_endpoints(self) -> dict[str, Callable]:
        """Extra POST endpoints: /api/v1/explain."""
        return {"/explain": self.explain}

    def explain(self, x: float, y: float) -> dict[str, float]:
        """How much each argument adds to the result."""
        return {"x_importance": x / (x + y), "y_importance": y / (x + y)}

    def auxiliary_endpoints_v2(self) -> list[EndpointConfig]:
        """Endpoints with a method and path parameters: /api/v1/multiply/{factor}, /api/v1/random."""
        return [
            EndpointConfig("/multiply/{factor}", HTTPMethod.POST, self.multiply),
            EndpointConfig("/random", HTTPMethod.GET, self.random),
        ]

    def multiply(self, factor: float, value: float) -> float:
        """Multiplies the value in the body by the factor in the path."""
        return factor * value

    def random(self, start: float, end: float) -> float:
        """A random number between the start and end query parameters."""
        return random.uniform(start, end)

    def docs_input_examples(self) -> dict[str, Any]:
        return {
            "/perform": {"x": 40, "y": 2},
            "/explain": {"x": 1, "y": 3},
            "/multiply/{factor}": {"value": 2},
        }
