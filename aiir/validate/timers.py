"""Checks on a runbook's timers and status cadence: the nodes they name exist, names are unique,
no deadline, cadence or wait's interval is zero."""

from __future__ import annotations

from aiir.formats.findings import Finding, at, suggest
from aiir.formats.loader import Document
from aiir.formats.schema import Runbook, WaitNode
from aiir.formats.timers import START, span


def timer_findings(doc: Document, runbook: Runbook) -> list[Finding]:
    """Every problem with ``timers:``, the nodes' ``within:`` and ``status_updates:``."""
    nodes = set(runbook.nodes)
    out: list[Finding] = []
    seen = {node_id for node_id, node in runbook.nodes.items() if node.within is not None}
    for index, timer in enumerate(runbook.timers):
        where = ("timers", index)
        if timer.from_ != START and timer.from_ not in nodes:
            message = (
                f"{timer.from_!r} names no node{suggest(timer.from_, nodes)} "
                f"(a timer runs from 'start' or from a node)"
            )
            out.append(at(doc, (*where, "from"), "unknown-node", message))
        if timer.until is not None and timer.until not in nodes:
            message = f"{timer.until!r} names no node{suggest(timer.until, nodes)}"
            out.append(at(doc, (*where, "until"), "unknown-node", message))
        if timer.name in seen:
            message = f"another timer (or a node's within:) is already named {timer.name!r}"
            out.append(at(doc, (*where, "name"), "duplicate-timer", message))
        seen.add(timer.name)
        if not span(timer.within):
            out.append(
                at(doc, (*where, "within"), "zero-timer", "a deadline of 0 is always missed")
            )
    for node_id, node in runbook.nodes.items():
        if node.within is not None and not span(node.within):
            message = "a deadline of 0 is always missed"
            out.append(at(doc, ("nodes", node_id, "within"), "zero-timer", message))
        if isinstance(node, WaitNode):
            out += _wait_findings(doc, node_id, node)
    cadence = runbook.status_updates
    if cadence is not None and not span(cadence.every):
        message = "status updates every 0 would be due all the time"
        out.append(at(doc, ("status_updates", "every"), "zero-cadence", message))
    return out


def _wait_findings(doc: Document, node_id: str, node: WaitNode) -> list[Finding]:
    """A wait that polls without a pause would hammer the gateway; one with no time never polls
    long enough to see a change."""
    out: list[Finding] = []
    if not span(node.interval):
        message = "an interval of 0 polls the gateway without a pause"
        out.append(at(doc, ("nodes", node_id, "interval"), "zero-interval", message))
    if not span(node.deadline):
        message = "a deadline of 0 is always missed"
        out.append(at(doc, ("nodes", node_id, "deadline"), "zero-timer", message))
    return out
