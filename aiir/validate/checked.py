"""A runbook checked before it is walked: loaded, schema-checked, graph-checked, its calls found as
the walk will find them. Errors refuse it; warnings do not."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

from aiir.errors import LoadError, ValidationFailed
from aiir.formats.findings import schema_findings
from aiir.formats.includes import resolved
from aiir.formats.library import data_dir, profiles_in
from aiir.formats.loader import load_file
from aiir.formats.schema import CallNode, Runbook
from aiir.validate import checks


def load_checked(
    path: Path, profile_folders: tuple[Path, ...] = (), roles: frozenset[str] | None = None
) -> Runbook:
    """Load a runbook and refuse it when validation finds errors (warnings are fine); its
    gateways may use the shipped profiles and those in ``profile_folders`` (a team's own).

    Cached per file version: a drill suite loads the same library many times over.
    """
    folders = profile_folders
    try:
        stat = path.stat()
    except OSError:
        return _load_checked(path, 0, 0, folders, roles)  # load_file reports the missing file
    return _load_checked(path.resolve(), stat.st_mtime_ns, stat.st_size, folders, roles)


@functools.lru_cache(maxsize=256)
def _load_checked(
    path: Path,
    mtime_ns: int,
    size: int,
    folders: tuple[Path, ...],
    roles: frozenset[str] | None = None,
) -> Runbook:
    from aiir.formats.modeling import ValidationError

    doc = resolved(load_file(path))
    try:
        runbook = Runbook.model_validate(doc.data)
    except ValidationError as exc:
        raise ValidationFailed(_lines(schema_findings(doc, exc))) from None
    calls = any(isinstance(node, CallNode) for node in runbook.nodes.values())
    known = _known_ids(path.parent) if calls else set()  # parsing them all is slow
    findings = checks.runbook_findings(doc, runbook, profiles_in(folders), known, roles)
    if calls:  # found as the walk will find them: this folder first, then the shipped library
        from aiir.validate.calls import resolver

        resolve = resolver([path.parent, data_dir("runbooks")])
        findings += checks.call_cycle_findings(doc, runbook, str(path), resolve)
    errors = [f for f in findings if f.level == "error"]
    if errors:
        raise ValidationFailed(_lines(errors))
    return runbook


def _lines(findings: list[Any]) -> str:
    """One finding is one line (``file:line:col: error: ...``); several get a header."""
    if len(findings) == 1:
        return str(findings[0].render())
    return f"invalid runbook ({len(findings)} errors):\n" + "\n".join(f.render() for f in findings)


def _known_ids(directory: Path) -> set[str]:
    ids: set[str] = set()
    for folder in (directory, data_dir("runbooks")):
        for path in folder.glob("*.yaml"):
            stat = path.stat()
            found = _runbook_id(path.resolve(), stat.st_mtime_ns, stat.st_size)
            if found is not None:
                ids.add(found)
    return ids


@functools.lru_cache(maxsize=1024)
def _runbook_id(path: Path, mtime_ns: int, size: int) -> str | None:
    try:
        data = load_file(path).data
    except LoadError:
        return None
    return data["id"] if isinstance(data, dict) and isinstance(data.get("id"), str) else None
