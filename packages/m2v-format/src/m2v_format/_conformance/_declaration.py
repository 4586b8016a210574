"""Capabilities: the options of the protocol a reader may declare it cannot honour.

A reader may write, as the first line of RESPONSES.jsonl, a declaration (no ``id``)::

    {"reader": {"name": "mylib", "version": "1.2", "unsupported": ["max-length"]}}

A case lists the capabilities it needs in its ``requires`` field; a case that needs one the
reader declares unsupported is judged "not applicable" (``spec/conformance/README.md``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

NORMALIZE_NULL = "normalize-null"
"""The reader follows ``normalize: null`` ("as the model says", rules C3 and L3)."""

MAX_LENGTH = "max-length"
"""The reader honours the request's ``max_length`` (rules I1-I3)."""

CAPABILITIES: tuple[str, ...] = (NORMALIZE_NULL, MAX_LENGTH)
"""Every capability a case may require and a reader may declare unsupported (the schemas'
``capability`` enum lists the same names)."""


@dataclass(frozen=True)
class Declaration:
    """What a reader says about itself in the first line of its responses."""

    name: str | None = None
    version: str | None = None
    unsupported: frozenset[str] = frozenset()

    @classmethod
    def from_document(cls, document: Mapping[str, Any]) -> Declaration:
        """The declaration of a line that ``response.schema.json`` accepts as one."""
        reader: Mapping[str, Any] = document["reader"]
        return cls(
            name=reader.get("name"),
            version=reader.get("version"),
            unsupported=frozenset(reader.get("unsupported", ())),
        )

    def as_json(self) -> dict[str, Any]:
        """The declaration as the JSON report writes it (``unsupported`` in a fixed order)."""
        return {"name": self.name, "version": self.version, "unsupported": self.ordered()}

    def ordered(self) -> list[str]:
        """The unsupported capabilities, in the order of :data:`CAPABILITIES`."""
        return [c for c in CAPABILITIES if c in self.unsupported]

    def describe(self) -> str:
        """One line for the printed report: who the reader is and what it cannot do."""
        who = " ".join(part for part in (self.name, self.version) if part) or "(unnamed)"
        cannot = ", ".join(self.ordered()) or "nothing"
        return f"{who}; declares unsupported: {cannot}"
