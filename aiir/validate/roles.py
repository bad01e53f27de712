"""Checks of a workspace that enforces roles (``enforce_roles: true`` in ``aiir.yaml``): a node
owned by a role is answered only by someone the team roster gives it, so a role nobody holds
would stop every walk that reaches one of its nodes. Each such role is an error at its line of
the team file; a workspace that enforces roles without a team file, at its ``enforce_roles``."""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path

from aiir.errors import LoadError
from aiir.formats.findings import Finding, at, from_load_error, suggest
from aiir.formats.loader import Document, load_file
from aiir.formats.organisation import Workspace
from aiir.formats.schema import Runbook


def enforced_role_findings(doc: Document, workspace: Workspace) -> list[Finding]:
    """A finding for each role of the roster nobody holds, when the workspace enforces roles."""
    if not workspace.enforce_roles:
        return []
    team = Path(doc.path).parent / workspace.team if workspace.team else None
    if team is None or not team.is_file():
        named = f" ({workspace.team} is not there)" if workspace.team else ""
        message = f"enforce_roles: true needs a team roster to say who holds each role{named}"
        return [at(doc, ("enforce_roles",), "no-roster", message)]
    try:
        roster = load_file(team)
    except LoadError as exc:
        return [from_load_error(exc)]
    roles = roster.data.get("roles") if isinstance(roster.data, dict) else None
    out: list[Finding] = []
    for name, role in (roles or {}).items():
        if not isinstance(role, dict) or role.get("on_call") or role.get("people"):
            continue
        line = doc.locate(("enforce_roles",))[0]
        message = (
            f"nobody holds role {name!r} (no on_call, no people), and {Path(doc.path).name}:"
            f"{line} enforces roles: a node it owns could never be answered"
        )
        out.append(at(roster, ("roles", name), "unheld-role", message, key=True))
    return out


def owner_findings(doc: Document, runbook: Runbook, roles: Collection[str]) -> list[Finding]:
    """Under ``enforce_roles``: each node whose owner the team roster does not know (nobody
    could ever answer it), at the node's ``owner`` line."""
    out: list[Finding] = []
    for node_id, node in runbook.nodes.items():
        if node.owner is None or node.owner in roles:
            continue
        message = (
            f"owner {node.owner!r} is not a role or person of the team roster"
            f"{suggest(node.owner, roles)}, and the workspace enforces roles: nobody could "
            "answer this node"
        )
        out.append(at(doc, ("nodes", node_id, "owner"), "unheld-role", message))
    return out
