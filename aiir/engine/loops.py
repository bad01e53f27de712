"""Bounded loops: how often a walk may enter a node, and what happens when it reaches the bound.

Every node has a visit limit (``max_visits``, default :data:`~aiir.formats.schema.DEFAULT_MAX_VISITS`);
only a cycle can enter a node twice, so the limit is a loop's bound. Entering a node once more
than its limit is a decision point: at a keyboard the operator goes round once more, leaves the
loop by one of its exits, or stops; in a script (the loop answered from an answers file or a
scenario, a drill or a tabletop, or no terminal to ask) the walk fails with "node 'x' reached its
limit of N visits". Either way the limit is journalled.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from aiir.engine.frames import Ended, Frame
from aiir.formats.schema import Edge, Node, Outcome, Runbook
from aiir.incident import payloads
from aiir.incident.events import EventType
from aiir.prompts import MissingAnswer, Option

if TYPE_CHECKING:
    from aiir.engine.walk import Walk

LAP = "lap"
STOP = "stop"
EXIT = "exit:"  # followed by the node the exit leads to


@dataclass
class Visits:
    """How often each node of one frame was entered, and the extra laps the operator allowed."""

    entered: Counter[str] = field(default_factory=Counter)
    extra: Counter[str] = field(default_factory=Counter)

    def limit(self, node_id: str, node: Node) -> int:
        return node.visit_limit() + self.extra[node_id]


def loop_of(runbook: Runbook, node_id: str) -> set[str]:
    """The nodes on a cycle with ``node_id``: reachable from it, and leading back to it."""
    forward = _reach(runbook, node_id, backward=False)
    return forward & _reach(runbook, node_id, backward=True)


def _reach(runbook: Runbook, start: str, *, backward: bool) -> set[str]:
    pairs = [(n, e.target) for n, node in runbook.nodes.items() for e in node.edges()]
    seen, todo = {start}, [start]
    while todo:
        current = todo.pop()
        for source, target in pairs:
            here, there = (target, source) if backward else (source, target)
            if here == current and there not in seen and there in runbook.nodes:
                seen.add(there)
                todo.append(there)
    return seen


def exits(runbook: Runbook, loop: set[str]) -> list[tuple[str, Edge]]:
    """The edges out of ``loop``, in the runbook's node order: (from node, edge)."""
    return [
        (node_id, edge)
        for node_id, node in runbook.nodes.items()
        if node_id in loop
        for edge in node.edges()
        if edge.target not in loop
    ]


def bound(walk: Walk, frame: Frame, visits: Visits, node_id: str, node: Node) -> str | Ended:
    """Count a visit to ``node_id``: the node to enter (itself, or a loop's exit), or the end."""
    visits.entered[node_id] += 1
    limit = visits.limit(node_id, node)
    if visits.entered[node_id] <= limit:
        return node_id
    problem = f"node {node_id!r} reached its limit of {limit} visits"
    loop = loop_of(frame.runbook, node_id)
    decision = _decide(walk, frame, node_id, problem, loop)
    data = payloads.LimitReached(
        runbook=frame.runbook.id,
        node=node_id,
        visits=visits.entered[node_id] - 1,
        limit=limit,
        decision=decision,
    )
    walk.record(EventType.LIMIT_REACHED, data)
    if decision == LAP:
        visits.extra[node_id] += 1
        return node_id
    if decision.startswith(EXIT):
        visits.entered[node_id] -= 1  # not entered: the walk leaves the loop instead
        return decision.removeprefix(EXIT)
    return Ended(Outcome.FAILED, problem)


def _decide(walk: Walk, frame: Frame, node_id: str, problem: str, loop: set[str]) -> str:
    """Ask at a keyboard; unattended (the loop scripted, or no terminal), stop."""
    walk.screen.failure(problem)
    if any(frame.prefix + member in walk.scripted for member in loop):
        walk.screen.note("the loop is answered from a script: stopping here")
        return STOP
    if walk.env.exercise in {"drill", "tabletop"}:  # an exercise measures the runbook as written
        walk.screen.note(f"a {walk.env.exercise} does not go beyond a loop's bound: stopping here")
        return STOP
    options = [Option(LAP, "Go round once more")]
    for source, edge in exits(frame.runbook, loop):
        how = f" ({edge.label})" if edge.label else ""
        label = f"Leave the loop: go to {edge.target!r}, the exit of {source!r}{how}"
        options.append(Option(EXIT + edge.target, label))
    options.append(Option(STOP, "Stop the walk here (it ends failed; levers stay as they are)"))
    try:
        return str(
            walk.ask(
                frame,
                node_id,
                "choose",
                f"{problem}. What now?",
                options,
                key=f"{node_id}.at_limit",
            )
        )
    except MissingAnswer:
        walk.screen.note("no terminal to ask: stopping here")
        return STOP
