"""Workspace-wide invariants: one version, exact internal pins, one-way imports, slim runtime,
a private test kit, and test code that never edits sys.path."""

from __future__ import annotations

import ast
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGES = REPO / "packages"
ROLES = ("format", "infer", "distill", "train", "grpc", "testkit")
SHIPPED = ("format", "infer", "distill", "train", "grpc")

# Which first-party packages each package may import (spec of the dependency direction).
ALLOWED_INTERNAL: dict[str, set[str]] = {
    "m2v_format": set(),
    "m2v_infer": {"m2v_format"},
    "m2v_distill": {"m2v_format", "m2v_infer"},
    "m2v_train": {"m2v_format", "m2v_infer"},
    "m2v_grpc": {"m2v_format", "m2v_infer"},
    "m2v_testkit": {"m2v_format"},
}
HEAVY = {"torch", "transformers", "sklearn", "grpc", "sentence_transformers", "model2vec"}
RUNTIME = ("m2v_format", "m2v_infer", "m2v_testkit")  # the slim venv installs these


def _pyproject(role: str) -> dict[str, object]:
    return tomllib.loads((PACKAGES / f"m2v-{role}" / "pyproject.toml").read_text())


def _imports_of(path: Path) -> list[tuple[int, str]]:
    """(line, top-level module) of every absolute import in one file."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name.split(".")[0]) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module.split(".")[0]))
    return found


def _imports(source_dir: Path) -> list[tuple[Path, int, str]]:
    return [
        (path, line, module)
        for path in sorted(source_dir.rglob("*.py"))
        if "_generated" not in path.parts
        for line, module in _imports_of(path)
    ]


@pytest.mark.parametrize("role", ROLES)
def test_package_layout(role: str) -> None:
    root = PACKAGES / f"m2v-{role}"
    for required in (
        "pyproject.toml",
        "README.md",
        f"src/m2v_{role}/__init__.py",
        f"src/m2v_{role}/py.typed",
        "tests",
    ):
        assert (root / required).exists(), f"m2v-{role} lacks {required}"


@pytest.mark.parametrize(
    "module", ["m2v_format", "m2v_infer", "m2v_distill", "m2v_train", "m2v_grpc", "m2v_all"]
)
def test_version_attributes_come_from_the_one_source(module: str) -> None:
    """``__version__`` is the installed metadata's, which is the pyproject's (no literal)."""
    import importlib

    version = _pyproject("format")["project"]["version"]  # type: ignore[index]
    assert importlib.import_module(module).__version__ == version
    init = next(PACKAGES.glob(f"*/src/{module}/__init__.py")).read_text()
    assert f'"{version}"' not in init, f"{module} hard-codes its version"


def test_the_umbrella_has_the_one_version() -> None:
    umbrella = tomllib.loads((PACKAGES / "m2v" / "pyproject.toml").read_text())["project"]
    assert umbrella["version"] == _pyproject("format")["project"]["version"]  # type: ignore[index]


def test_one_version_and_exact_internal_pins() -> None:
    versions = {role: _pyproject(role)["project"]["version"] for role in ROLES}  # type: ignore[index]
    assert len(set(versions.values())) == 1, versions
    version = next(iter(versions.values()))
    for role in ROLES:
        for requirement in _pyproject(role)["project"]["dependencies"]:  # type: ignore[index]
            if requirement.startswith("m2v-"):
                assert requirement.endswith(f"=={version}"), f"m2v-{role}: {requirement} not pinned"


@pytest.mark.parametrize("package", sorted(ALLOWED_INTERNAL))
def test_dependency_direction(package: str) -> None:
    source = PACKAGES / f"m2v-{package.removeprefix('m2v_')}" / "src" / package
    for path, line, module in _imports(source):
        if module.startswith("m2v_") and module != package:
            assert module in ALLOWED_INTERNAL[package], f"{path}:{line} imports {module}"
        if package in RUNTIME:
            assert module not in HEAVY, f"{path}:{line}: runtime package imports {module}"


def test_runtime_import_loads_nothing_heavy() -> None:
    code = (
        "import sys, m2v_format, m2v_infer\n"
        "bad = sorted(m for m in ('torch','transformers','sklearn','grpc','huggingface_hub')"
        " if m in sys.modules)\n"
        "print(','.join(bad))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "", f"importing the runtime loaded: {result.stdout}"


def _test_code() -> list[Path]:
    """Every Python file of the tests, benchmarks and scripts."""
    roots = [REPO / "tests", *PACKAGES.glob("*/tests"), *PACKAGES.glob("*/scripts")]
    return sorted(path for root in roots for path in root.rglob("*.py"))


def _is_sys_path(node: ast.AST) -> bool:
    return (
        isinstance(node, ast.Attribute)
        and node.attr == "path"
        and isinstance(node.value, ast.Name)
        and node.value.id == "sys"
    )


def _edits_sys_path(node: ast.AST) -> bool:
    """``sys.path.insert(...)``, ``.append``, ``.extend``, or an assignment to sys.path."""
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
        return node.func.attr in {"insert", "append", "extend"} and _is_sys_path(node.func.value)
    if isinstance(node, ast.Assign | ast.AugAssign):
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        return any(_is_sys_path(t.value if isinstance(t, ast.Subscript) else t) for t in targets)
    return False


def test_no_test_code_edits_sys_path() -> None:
    """Shared test code lives in m2v_testkit or a conftest fixture, never on sys.path."""
    found = [
        f"{path.relative_to(REPO)}:{node.lineno}"
        for path in _test_code()
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path)))
        if _edits_sys_path(node)
    ]
    assert not found, f"sys.path edited in {found}"


def test_no_test_module_imports_a_sibling_module() -> None:
    """With --import-mode=importlib, importing a file next to a test by name only works when
    something edits sys.path (and is ambiguous across packages): share through m2v_testkit."""
    found = [
        f"{path.relative_to(REPO)}:{line} imports {module}"
        for path in _test_code()
        for line, module in _imports_of(path)
        if module in {p.stem for p in path.parent.glob("*.py")} - {path.stem}
    ]
    assert not found, found


def test_the_testkit_is_private_and_only_a_dev_dependency() -> None:
    testkit = _pyproject("testkit")["project"]
    assert "Private :: Do Not Upload" in testkit["classifiers"]  # type: ignore[index]
    root = tomllib.loads((REPO / "pyproject.toml").read_text())
    assert "m2v-testkit" in root["dependency-groups"]["dev"]
    for role in SHIPPED:
        project: dict[str, Any] = _pyproject(role)["project"]  # type: ignore[assignment]
        requirements = list(project.get("dependencies", []))
        for extra in project.get("optional-dependencies", {}).values():
            requirements += extra
        assert not [r for r in requirements if r.startswith("m2v-testkit")], f"m2v-{role}"
