"""The public API is ``__all__``, documented, and importing it loads nothing heavy."""

from __future__ import annotations

import inspect
import subprocess
import sys

import m2v_testkit


def test_public_names_are_all() -> None:
    public = {name for name in dir(m2v_testkit) if not name.startswith("_")}
    assert public == set(m2v_testkit.__all__)


def test_every_function_and_class_has_a_docstring() -> None:
    for name in m2v_testkit.__all__:
        value = getattr(m2v_testkit, name)
        if inspect.isfunction(value) or inspect.isclass(value):
            assert inspect.getdoc(value), f"m2v_testkit.{name} has no docstring"


def test_no_public_name_looks_like_a_test_to_pytest() -> None:
    """Test modules import these names: pytest must not collect them as tests."""
    assert not [name for name in m2v_testkit.__all__ if name.lower().startswith("test")]


def test_importing_the_testkit_loads_nothing_heavy() -> None:
    code = (
        "import sys, m2v_testkit\n"
        "heavy = ('torch', 'transformers', 'sklearn', 'grpc', 'pytest', 'm2v_infer')\n"
        "print(','.join(sorted(m for m in heavy if m in sys.modules)))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == ""
