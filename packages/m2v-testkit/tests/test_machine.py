"""describe_machine: what every benchmark prints about where it ran."""

from __future__ import annotations

import os
import platform
from importlib.metadata import version

from m2v_testkit import describe_machine


def test_names_cores_python_and_the_asked_versions() -> None:
    text = describe_machine("numpy", "no-such-distribution-m2v")
    assert f"{len(os.sched_getaffinity(0))} cores" in text
    assert f"Python {platform.python_version()}" in text
    assert f"numpy {version('numpy')}" in text
    assert "no-such-distribution-m2v (not installed)" in text
