import time
from pathlib import Path


class ModelJob:
    """Fails on purpose: its model file is not in the repository."""

    def __init__(self) -> None:
        time.sleep(2)  # stands for loading a large library first: the failure comes a little later
        model = Path("model.bin")
        if not model.is_file():
            raise FileNotFoundError(f"model file {model} is missing: add it to the job's repository")
        self.weights = model.read_bytes()

    def perform(self, x: float) -> float:
        return x * len(self.weights)
