"""One policy for tests whose data set is missing: fail, saying how to fetch it, or skip.

A test (or fixture) that needs real data gets it through :func:`require_testdata`, or
wraps its loading in :func:`needs_testdata`.  When the data cannot be fetched (no network,
no cache) the test FAILS with a message naming the command that fetches it, so a missing
cache never passes silently.  Setting ``M2V_TESTDATA_MISSING=skip`` turns those failures
into skips, for machines that knowingly run without the data.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Literal, NoReturn

from m2v_testkit._testdata import FETCH_COMMAND, FetchError, dataset_path

MISSING_ENV = "M2V_TESTDATA_MISSING"
"""The environment variable that selects the policy: unset or ``fail`` (default), ``skip``."""

MissingPolicy = Literal["fail", "skip"]


class InvalidPolicyError(ValueError):
    """``M2V_TESTDATA_MISSING`` holds something other than ``fail`` or ``skip``."""


def missing_policy() -> MissingPolicy:
    """The policy in force: ``"fail"`` unless ``M2V_TESTDATA_MISSING=skip``.

    Raises:
        InvalidPolicyError: the variable is set to another value.
    """
    value = os.environ.get(MISSING_ENV, "").strip().lower()
    if value in ("", "fail"):
        return "fail"
    if value == "skip":
        return "skip"
    raise InvalidPolicyError(f"{MISSING_ENV}={value!r}: expected 'fail' (the default) or 'skip'")


def missing_message(error: FetchError) -> str:
    """What a test reports when its data set is missing: why, and the command to fetch it."""
    return (
        f"test data {error.dataset!r} is not available: {error.reason}\n"
        f"fetch it with: {FETCH_COMMAND} {error.dataset}\n"
        f"(or set {MISSING_ENV}=skip to skip the tests that need it)"
    )


def report_missing(error: FetchError) -> NoReturn:
    """Fail the running test with :func:`missing_message` (skip it if the policy says so)."""
    import pytest  # only tests call this; the testkit itself does not depend on pytest

    if missing_policy() == "skip":
        pytest.skip(missing_message(error))
    pytest.fail(missing_message(error), pytrace=False)


@contextlib.contextmanager
def needs_testdata() -> Iterator[None]:
    """Report a :class:`FetchError` raised inside with :func:`report_missing`."""
    try:
        yield
    except FetchError as error:
        report_missing(error)


def require_testdata(name: str) -> Path:
    """:func:`dataset_path` for tests: a data set that cannot be fetched fails the test."""
    try:
        return dataset_path(name)
    except FetchError as error:
        report_missing(error)
