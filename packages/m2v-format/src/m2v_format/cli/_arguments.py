"""Argument types shared by every ``m2v`` subcommand (``type=`` callables for argparse)."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")

NONE_WORDS = ("none", "null", "off")
"""Words a ``--option`` accepts for "no value" where ``None`` means something."""


def positive_int(text: str) -> int:
    """An integer >= 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be an integer >= 1, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be an integer >= 1, got {value}")
    return value


def finite_float(text: str) -> float:
    """A finite number."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number, got {text!r}") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise argparse.ArgumentTypeError(f"must be a finite number, got {text!r}")
    return value


def or_none(parse: Callable[[str], T]) -> Callable[[str], T | None]:
    """``parse``, or ``None`` for the words ``none``, ``null`` and ``off`` (any case)."""

    def parse_or_none(text: str) -> T | None:
        if text.strip().lower() in NONE_WORDS:
            return None
        try:
            return parse(text)
        except argparse.ArgumentTypeError as error:
            raise argparse.ArgumentTypeError(f"{error} (or 'none')") from None

    parse_or_none.__name__ = f"{getattr(parse, '__name__', 'value')}_or_none"
    return parse_or_none
