"""What a benchmark prints about the machine it ran on (one description for all of them)."""

from __future__ import annotations

import os
import platform
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path


def describe_machine(*distributions: str) -> str:
    """CPU model, usable cores, RAM, Python and the versions of ``distributions``.

    For example ``"AMD EPYC, 2 cores, 23.5 GiB RAM, Python 3.11.7, numpy 2.4.6"``.
    """
    model = platform.processor() or "unknown CPU"
    memory = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
        total_kb = int(Path("/proc/meminfo").read_text().split()[1])
        memory = f", {total_kb / 2**20:.1f} GiB RAM"
    except (OSError, ValueError, IndexError):
        pass
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    versions = []
    for name in distributions:
        try:
            versions.append(f"{name} {version(name)}")
        except PackageNotFoundError:
            versions.append(f"{name} (not installed)")
    return ", ".join(
        [f"{model}, {cores} cores{memory}", f"Python {platform.python_version()}", *versions]
    )
