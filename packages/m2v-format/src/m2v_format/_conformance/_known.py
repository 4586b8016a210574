"""Known-failures lists: the cases a reader is expected to fail, with the reason."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path


def read_known_failures(path: Path) -> dict[str, str]:
    """Case ids listed in a known-failures file, with their reason.

    One case id per line.  ``#`` starts a comment; the comment lines right above a block of
    ids (or a comment after an id on its line) give the reason.  A blank line ends a block.
    """
    known: dict[str, str] = {}
    reason: list[str] = []
    previous_was_id = False
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line:
            reason, previous_was_id = [], False
            continue
        if line.startswith("#"):
            if previous_was_id:
                reason = []
            reason.append(line.lstrip("#").strip())
            previous_was_id = False
            continue
        case_id, _, comment = line.partition("#")
        known[case_id.strip()] = comment.strip() or " ".join(reason)
        previous_was_id = True
    return known


def unknown_case_problems(path: Path, known: Iterable[str], case_ids: Iterable[str]) -> list[str]:
    """One problem per id the list at ``path`` names that is no case of the suite."""
    return [f"{path} names unknown case {cid!r}" for cid in sorted(set(known) - set(case_ids))]
