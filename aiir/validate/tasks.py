"""Checks of ``tasks`` nodes: task ids distinct within a node, a completion that can be reached,
and every owner a role (or person) of the team roster.

Owners are checked against the workspace's team file when there is one (an unknown role is an
error); without one, against the roles of the roster ``aiir init`` writes, as a warning, since a
team may name its roles otherwise."""

from __future__ import annotations

import functools
from collections.abc import Collection

from aiir.formats.findings import Finding, Level, at, suggest
from aiir.formats.library import data_dir
from aiir.formats.loader import Document, load_file
from aiir.formats.schema import AtLeast, Runbook, TasksNode


@functools.cache
def standard_roles() -> frozenset[str]:
    """The roles of the roster ``aiir init`` writes."""
    data = load_file(data_dir("scaffold") / "team.yaml").data
    roles = data.get("roles") if isinstance(data, dict) else None
    return frozenset(roles) if isinstance(roles, dict) else frozenset()


def task_findings(
    doc: Document, runbook: Runbook, roles: Collection[str] | None = None
) -> list[Finding]:
    """Every finding about the runbook's tasks nodes; ``roles`` are the team's (roles and
    people), None when no team file is known."""
    out: list[Finding] = []
    for node_id, node in runbook.nodes.items():
        if isinstance(node, TasksNode):
            out += _node_findings(doc, node_id, node, roles)
    return out


def _node_findings(
    doc: Document, node_id: str, node: TasksNode, roles: Collection[str] | None
) -> list[Finding]:
    out: list[Finding] = []
    where = ("nodes", node_id)
    first: dict[str, int] = {}
    for index, task in enumerate(node.tasks):
        if task.id in first:
            message = (
                f"task id {task.id!r} is used twice in this node (first at tasks[{first[task.id]}])"
            )
            out.append(at(doc, (*where, "tasks", index, "id"), "duplicate-task", message))
        first.setdefault(task.id, index)
    known = standard_roles() if roles is None else frozenset(roles)
    for index, task in enumerate(node.tasks):
        if task.owner not in known:
            source = "the team file" if roles is not None else "the standard roster (no team file)"
            message = (
                f"{task.owner!r} is not a role in {source}{suggest(task.owner, known)}; "
                f"roles: {', '.join(sorted(known)) or 'none'}"
            )
            level: Level = "error" if roles is not None else "warning"
            loc = (*where, "tasks", index, "owner")
            out.append(at(doc, loc, "unknown-role", message, level=level))
    if isinstance(node.complete_when, AtLeast) and node.complete_when.at_least > len(node.tasks):
        message = (
            f"at_least {node.complete_when.at_least} can never hold: the node has "
            f"{len(node.tasks)} task(s)"
        )
        out.append(
            at(doc, (*where, "complete_when", "at_least"), "unreachable-completion", message)
        )
    return out
