"""The project's one error model: every error class of every package, collected and checked.

Rules (see ``m2v_format._errors``): one root, ``M2VError``; a code names exactly one class
(a class that refines a kind for one package inherits the kind's code instead of defining
another); every class is public somewhere; caller mistakes are never format errors.
"""

from __future__ import annotations

import importlib
import pickle
import re
import subprocess
import sys

import pytest
from m2v_format import FormatError, M2VError, UsageError

PACKAGES = ("m2v_format", "m2v_infer", "m2v_distill", "m2v_train", "m2v_grpc")
ERROR_MODULES = (
    "m2v_format._errors",
    "m2v_infer._errors",
    "m2v_distill._errors",
    "m2v_train._errors",
    "m2v_grpc._errors",
)


def _all_error_classes() -> list[type[M2VError]]:
    for module in ERROR_MODULES:
        importlib.import_module(module)
    found: list[type[M2VError]] = []
    pending: list[type[M2VError]] = [M2VError]
    while pending:
        cls = pending.pop()
        if cls.__module__.startswith("m2v_") and cls not in found:
            found.append(cls)
        pending.extend(cls.__subclasses__())
    return found


ERRORS = _all_error_classes()


def _public_names() -> set[tuple[str, str]]:
    names: set[tuple[str, str]] = set()
    for package in PACKAGES:
        module = importlib.import_module(package)
        for name in module.__all__:
            value = getattr(module, name)
            if isinstance(value, type) and issubclass(value, M2VError):
                names.add((value.__module__, value.__qualname__))
    return names


def test_there_is_one_root() -> None:
    assert len(ERRORS) > 60
    for cls in ERRORS:
        assert issubclass(cls, M2VError), cls


def test_a_code_names_exactly_one_class() -> None:
    defined: dict[str, type[M2VError]] = {}
    for cls in ERRORS:
        if "code" in cls.__dict__:
            assert cls.code not in defined, f"{cls} and {defined[cls.code]} share {cls.code!r}"
            defined[cls.code] = cls
        else:  # a refinement keeps the code of the kind it refines
            owner = defined.get(cls.code) or next(
                base for base in cls.__mro__ if "code" in base.__dict__
            )
            assert issubclass(cls, owner), cls
    for code in defined:
        assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", code), code


def test_every_error_class_is_public() -> None:
    public = _public_names()
    hidden = [cls for cls in ERRORS if (cls.__module__, cls.__qualname__) not in public]
    assert not hidden, f"error classes no package exports: {hidden}"


def test_caller_mistakes_are_not_format_errors() -> None:
    for cls in ERRORS:
        if issubclass(cls, UsageError):
            assert not issubclass(cls, FormatError), cls
            assert issubclass(cls, ValueError | TypeError), cls


def test_errors_carry_their_parts_and_survive_pickling() -> None:
    """Worker processes send errors back pickled: code, rule, path and index must survive."""
    from m2v_format import ClassifierError, MissingDependencyError
    from m2v_grpc import InvalidUTF8Error
    from m2v_infer import InvalidInputError

    for error in (
        ClassifierError("bad head", rule="H8", path="/x/classifier.json"),
        MissingDependencyError('needs pyarrow: pip install "m2v-infer[parquet]"'),
        InvalidInputError("text is a int, not a str", index=7),
        InvalidUTF8Error("not UTF-8", index=3),
    ):
        copy = pickle.loads(pickle.dumps(error))
        assert type(copy) is type(error)
        assert (copy.code, copy.rule, copy.path, copy.index, copy.message) == (
            error.code,
            error.rule,
            error.path,
            error.index,
            error.message,
        )
        assert str(copy) == str(error)


@pytest.mark.parametrize(
    ("argv", "code"),
    [
        (["encode", "--model", "/no/such/model", "hello"], "model-not-found"),
        (["info", "/no/such/model"], "model-not-found"),
        (["train", "classify", "--help-not-an-option"], None),
    ],
)
def test_the_dispatcher_prints_error_and_code(argv: list[str], code: str | None) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "m2v_format.cli", *argv], capture_output=True, text=True
    )
    if code is None:  # an argparse usage error
        assert done.returncode == 2
        return
    assert done.returncode == 1
    assert f"error[{code}]: " in done.stderr
    assert "Traceback" not in done.stderr
