"""The child side of a benchmark that runs each configuration in a process of its own.

The parent starts ``python bench.py --child KIND ARG...``; the child runs
``children[KIND](*args)`` and prints its JSON-serialisable result as the last line.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any


def _value(text: str) -> int | float | str:
    """A command-line argument back as the int, float or string it was."""
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            continue
    return text


def child_main(children: Mapping[str, Callable[..., Any]], arguments: Sequence[str]) -> int:
    """Run ``children[arguments[0]]`` on the rest of ``arguments``; print its result as JSON."""
    kind, *rest = arguments
    print(json.dumps(children[kind](*(_value(text) for text in rest))))
    return 0
