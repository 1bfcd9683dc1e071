import random


class MetricsJob:
    def __init__(self) -> None:
        self.calls = 0

    def perform(self) -> float:
        """Returns a random number and counts the calls."""
        self.calls += 1
        return random.random()

    def metrics(self) -> list[dict]:
        """Extra Prometheus metrics, read at each scrape of /metrics."""
        return [
            {
                "name": "job_metrics_perform_calls",
                "description": "Calls of perform so far",
                "value": self.calls,
            },
            {
                "name": "job_metrics_zero",
                "description": "A labelled constant",
                "value": 0,
                "labels": {"color": "blue"},
            },
        ]
