from typing import Any


class AdderModel:
    def perform(self, numbers: list[float]) -> float:
        """
        Add numbers.
        :param numbers: the numbers to add
        :return: their sum
        """
        return sum(numbers)

    def docs_input_example(self) -> dict[str, Any]:
        """An example input, shown on the Swagger page."""
        return {"numbers": [40, 2]}
