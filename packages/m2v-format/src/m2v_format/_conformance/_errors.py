"""The conformance runner's errors: one family under :class:`m2v_format.M2VError`."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from m2v_format._errors import M2VError


class ConformanceError(M2VError):
    """The conformance runner cannot do its job (m2v-conformance's family)."""

    code = "conformance-error"


class SuiteError(ConformanceError):
    """The suite folder, a case file or the known-failures list is invalid.

    Attributes:
        problems: every problem found, one line each (the message joins them).
    """

    code = "invalid-suite"

    def __init__(self, problems: Sequence[str], *, path: str | Path | None = None) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(self.problems), path=path)
