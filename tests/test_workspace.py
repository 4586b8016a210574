"""Workspace-wide invariants: one version, exact internal pins, one-way imports, slim runtime."""

from __future__ import annotations

import ast
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGES = REPO / "packages"
ROLES = ("format", "infer", "distill", "train", "grpc")

# Which first-party packages each package may import (spec of the dependency direction).
ALLOWED_INTERNAL: dict[str, set[str]] = {
    "m2v_format": set(),
    "m2v_infer": {"m2v_format"},
    "m2v_distill": {"m2v_format", "m2v_infer"},
    "m2v_train": {"m2v_format", "m2v_infer"},
    "m2v_grpc": {"m2v_format", "m2v_infer"},
}
HEAVY = {"torch", "transformers", "sklearn", "grpc", "sentence_transformers", "model2vec"}
RUNTIME = ("m2v_format", "m2v_infer")


def _pyproject(role: str) -> dict[str, object]:
    return tomllib.loads((PACKAGES / f"m2v-{role}" / "pyproject.toml").read_text())


def _imports(source_dir: Path) -> list[tuple[Path, int, str]]:
    found: list[tuple[Path, int, str]] = []
    for path in sorted(source_dir.rglob("*.py")):
        if "_generated" in path.parts:
            continue
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Import):
                found += [(path, node.lineno, alias.name.split(".")[0]) for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                found.append((path, node.lineno, node.module.split(".")[0]))
    return found


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
