"""Find the runbook a ``call`` node names, the way a walk finds it, without checking it.

Checking a runbook includes its calls (:func:`aiir.validate.checks.call_cycle_findings`), so the runbooks
it calls are read here with the schema alone: checking them in full would check their calls
again, without end when they form a cycle.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from pathlib import Path

from aiir.errors import LoadError
from aiir.formats.includes import resolved
from aiir.formats.loader import load_file
from aiir.formats.paths import LeavesFolder, beneath
from aiir.formats.schema import Runbook, is_path
from aiir.validate.checks import Resolve


def find(runbook_id: str, directories: Sequence[Path]) -> Path | None:
    """Where :class:`aiir.engine.walk.RunbookSource` finds ``runbook_id``: a file named after it in
    each directory in turn, else the first file in each directory that declares that id; a
    path (``shared/evidence.yaml``) is taken relative to each directory in turn."""
    if is_path(runbook_id):
        found = (_beneath(d, runbook_id) for d in directories)
        return next((p for p in found if p is not None and p.is_file()), None)
    for directory in directories:
        candidate = _beneath(directory, f"{runbook_id}.yaml")
        if candidate is not None and candidate.is_file():
            return candidate
    for directory in directories:
        for path in sorted(directory.glob("*.yaml")):
            if _beneath(directory, path.name) and _id_of(*_version(path)) == runbook_id:
                return path
    return None


def _beneath(directory: Path, name: str) -> Path | None:
    """``directory / name``, or None when a symbolic link leads it out of ``directory``."""
    try:
        return beneath(directory, name)
    except LeavesFolder:  # the call's own check names it
        return None


def resolver(
    directories: Sequence[Path], first: Mapping[str, tuple[str, Runbook]] | None = None
) -> Resolve:
    """Runbook id -> (where, runbook): ``first`` (id -> key, runbook), then ``directories``."""
    ahead = dict(first or {})

    def resolve(runbook_id: str) -> tuple[str, Runbook] | None:
        if runbook_id in ahead:
            return ahead[runbook_id]
        path = find(runbook_id, directories)
        runbook = _runbook_of(*_version(path)) if path is not None else None
        return (str(path.resolve()), runbook) if path is not None and runbook else None

    return resolve


def _version(path: Path) -> tuple[Path, int, int]:
    """A cache key for this version of the file."""
    try:
        stat = path.stat()
    except OSError:
        return path.resolve(), 0, 0
    return path.resolve(), stat.st_mtime_ns, stat.st_size


@functools.lru_cache(maxsize=1024)
def _id_of(path: Path, mtime_ns: int, size: int) -> str | None:
    try:
        data = load_file(path).data
    except LoadError:
        return None
    return data["id"] if isinstance(data, dict) and isinstance(data.get("id"), str) else None


@functools.lru_cache(maxsize=1024)
def _runbook_of(path: Path, mtime_ns: int, size: int) -> Runbook | None:
    from aiir.formats.modeling import ValidationError

    try:
        return Runbook.model_validate(resolved(load_file(path)).data)
    except (LoadError, ValidationError):  # reported where that runbook is checked
        return None
