from typing import Any

from racetrack_job_wrapper.call import call_job


class ChainJob:
    """Calls the adder job through pub, then rounds its answer."""

    def perform(self, numbers: list[float]) -> float:
        total = call_job("adder", payload={"numbers": numbers}, version="latest")
        return round(total)

    def docs_input_example(self) -> dict[str, Any]:
        return {"numbers": [0.4, 41.7]}
