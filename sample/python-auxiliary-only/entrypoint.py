from collections import Counter
from typing import Callable, Dict


class TextTools:
    """A job of auxiliary endpoints only: there is no perform method."""

    def auxiliary_endpoints(self) -> Dict[str, Callable]:
        return {
            "/upper": self.upper,
            "/count": self.count,
        }

    def upper(self, text: str) -> str:
        """Return the text in upper case."""
        return text.upper()

    def count(self, text: str) -> Dict[str, int]:
        """Count the words of the text."""
        return dict(Counter(text.split()))

    def docs_input_examples(self) -> Dict[str, Dict]:
        return {
            "/upper": {"text": "racetrack"},
            "/count": {"text": "to be or not to be"},
        }
