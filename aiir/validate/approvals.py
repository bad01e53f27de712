"""Checks of levers that need approvals: every role named in ``approve.roles`` is one of the
team roster's (an error with a team file; without one, a warning against the standard roster,
as for a task's owner)."""

from __future__ import annotations

from collections.abc import Collection

from aiir.formats.findings import Finding, Level, at, suggest
from aiir.formats.loader import Document
from aiir.formats.schema import Runbook
from aiir.validate.tasks import standard_roles


def approval_findings(
    doc: Document, runbook: Runbook, roles: Collection[str] | None = None
) -> list[Finding]:
    """A finding for each approver role the roster does not know."""
    known = standard_roles() if roles is None else frozenset(roles)
    source = "the team file" if roles is not None else "the standard roster (no team file)"
    level: Level = "error" if roles is not None else "warning"
    out: list[Finding] = []
    for name, lever in runbook.levers.items():
        if lever.approve is None:
            continue
        for index, role in enumerate(lever.approve.roles):
            if role in known:
                continue
            message = (
                f"approver role {role!r} is not a role in {source}{suggest(role, known)}; "
                f"roles: {', '.join(sorted(known)) or 'none'}"
            )
            loc = ("levers", name, "approve", "roles", index)
            out.append(at(doc, loc, "unknown-role", message, level=level))
    return out
