"""The umbrella package: its extras name every package, at the one version."""

from __future__ import annotations

import tomllib
from pathlib import Path

import m2v_all

ROOT = Path(__file__).resolve().parents[1]


def test_installed_lists_the_packages_at_one_version() -> None:
    found = m2v_all.installed()
    assert {"m2v-format", "m2v-infer"} <= set(found)
    assert set(found.values()) == {m2v_all.__version__}


def test_every_package_is_in_an_extra_and_pinned() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    version = project["version"]
    requirements = project["dependencies"] + [
        r for extra in project["optional-dependencies"].values() for r in extra
    ]
    named = {r.split("[")[0].split("=")[0] for r in requirements}
    assert named == set(m2v_all.PACKAGES)
    assert all(r.endswith(f"=={version}") for r in requirements)
    # ``all`` covers every other extra: each requirement there names a package that
    # ``all`` requires with at least the same extras.
    covered = {_parse(r)[0]: _parse(r)[1] for r in project["optional-dependencies"]["all"]}
    for key, extra in project["optional-dependencies"].items():
        for requirement in extra:
            name, extras = _parse(requirement)
            assert name in covered, (key, requirement)
            assert extras <= covered[name], (key, requirement)


def _parse(requirement: str) -> tuple[str, frozenset[str]]:
    """``"m2v-grpc[http,otel]==0.1.0"`` -> ``("m2v-grpc", {"http", "otel"})``."""
    name, _, rest = requirement.partition("[")
    extras = rest.split("]")[0] if rest else ""
    name = name.split("=")[0]
    return name, frozenset(e.strip() for e in extras.split(",") if e.strip())
