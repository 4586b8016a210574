"""Processes a test started: who their children are, whether they still run, free ports.

Linux ``/proc`` based (the tests that need it run where the project runs: Linux CI).
"""

from __future__ import annotations

import contextlib
import os
import socket
import time
from pathlib import Path


def _stat(pid: int) -> list[str] | None:
    """Fields of /proc/<pid>/stat after the command name; ``None`` if the process is gone."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return None


def children_of(parent: int) -> list[int]:
    """Pids whose parent is ``parent`` now."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            fields = _stat(int(entry.name))
            if fields is not None and int(fields[1]) == parent:
                found.append(int(entry.name))
    return found


def cpu_seconds(*pids: int) -> float:
    """User + system CPU seconds the processes ``pids`` have used so far (gone ones: 0)."""
    ticks = 0
    for pid in pids:
        fields = _stat(pid)
        if fields is not None:
            ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie has exited: it counts as gone)."""
    fields = _stat(pid)
    return fields is not None and fields[0] != "Z"


def still_running(pids: list[int], timeout: float = 15.0) -> list[int]:
    """Wait up to ``timeout`` seconds for every process in ``pids`` to exit; return those
    still running then (an empty list: no orphans)."""
    deadline = time.monotonic() + timeout
    while any(alive(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    return [pid for pid in pids if alive(pid)]


def assert_gone(pids: list[int], timeout: float = 15.0) -> None:
    """Every process in ``pids`` exits within ``timeout`` seconds: no orphans left."""
    left = still_running(pids, timeout)
    assert not left, f"processes still running: {left}"


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now (for servers that take no port 0)."""
    with contextlib.closing(socket.socket()) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
