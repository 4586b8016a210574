"""The conformance runner's errors."""

from __future__ import annotations

from collections.abc import Sequence


class SuiteError(Exception):
    """The suite folder, a case file or the known-failures list is invalid."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))
