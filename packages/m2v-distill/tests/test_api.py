"""The public surface: ``__all__`` is exactly what is exported, and importing is light."""

from __future__ import annotations

import subprocess
import sys

import m2v_distill


def test_all_names_exist_and_are_the_public_api() -> None:
    assert sorted(m2v_distill.__all__) == m2v_distill.__all__
    for name in m2v_distill.__all__:
        assert hasattr(m2v_distill, name), name
    public = {name for name in vars(m2v_distill) if not name.startswith("_")}
    assert public <= set(m2v_distill.__all__) | {"annotations"}
    assert {"distill", "distill_from_model", "evaluate", "DistillError"} <= set(m2v_distill.__all__)


def test_every_public_callable_has_a_docstring() -> None:
    for name in m2v_distill.__all__:
        value = getattr(m2v_distill, name)
        if callable(value):
            assert value.__doc__, name


def test_import_does_not_load_torch_or_transformers() -> None:
    code = (
        "import sys, m2v_distill\n"
        "heavy = {'torch', 'transformers', 'sklearn'} & set(sys.modules)\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
