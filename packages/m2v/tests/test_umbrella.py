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
    assert set(project["optional-dependencies"]["all"]) >= {
        r for key, extra in project["optional-dependencies"].items() if key != "all" for r in extra
    } - {
        "m2v-format[hub]==0.1.0",
        "m2v-infer[hub]==0.1.0",
        "m2v-infer[ray]==0.1.0",
        "m2v-infer[langchain]==0.1.0",
    }
