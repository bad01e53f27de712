"""End and call nodes: how a walk ends, and a called runbook walked in its own frame."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiir.engine.frames import (
    MAX_CALL_DEPTH,
    Ended,
    Frame,
)
from aiir.engine.nodes.registry import handles
from aiir.errors import InputError
from aiir.formats.schema import (
    CLAIMS_CONTAINMENT,
    CallNode,
    EndNode,
    Outcome,
)
from aiir.formats.templating import render
from aiir.incident import payloads
from aiir.incident.events import EventType

if TYPE_CHECKING:
    from aiir.engine.walk import Walk


@handles(EndNode)
def end(walk: Walk, frame: Frame, node_id: str, node: EndNode) -> Ended:
    """The end node's outcome, when the walk bears it out: ``contained`` needs a lever that
    its probe proved in effect, or the outcome is ``not-contained``, with the reason."""
    summary = (
        render(node.summary, walk.context(frame), f"nodes.{node_id}.summary")
        if node.summary
        else ""
    )
    outcome = Outcome(node.outcome.value)
    if outcome not in CLAIMS_CONTAINMENT or walk.env.dry_run:
        return Ended(outcome, summary.strip())
    if any(r.state == "verified" for r in walk.incident.levers):
        return Ended(outcome, summary.strip())
    levers = [f"{r.lever} {r.state}" for r in walk.incident.levers]
    declined = [
        str(a.get("node"))
        for a in walk.incident.answers
        if str(a.get("key", "")).endswith(".approve") and a.get("value") is False
    ]
    why = "; ".join(
        filter(
            None,
            [
                ", ".join(levers) if levers else "no lever was engaged",
                f"declined at {', '.join(declined)}" if declined else "",
            ],
        )
    )
    reason = f"not contained: no lever is proven in effect ({why})"
    return Ended(Outcome.NOT_CONTAINED, reason, claimed=outcome)


@handles(CallNode)
def call(walk: Walk, frame: Frame, node_id: str, node: CallNode) -> str | Ended:
    """Walk a called runbook. Its environment and gateways are checked here, when the walk
    reaches it, before anything of it is sent (every missing variable named at once)."""
    assert walk.resolve_child is not None
    if frame.prefix.count(".") >= MAX_CALL_DEPTH:  # validation refuses call cycles; a backstop
        raise InputError(
            f"nodes.{node_id}: calls nest {MAX_CALL_DEPTH} deep: not calling {node.runbook!r} "
            "again (a cycle of calls?)"
        )
    child_runbook, raw = walk.source.find(node.runbook)
    context = walk.context(frame)
    given = {k: render(v, context, f"nodes.{node_id}.inputs.{k}") for k, v in node.inputs.items()}
    child = walk.resolve_child(walk, child_runbook, raw, given, frame.prefix)
    entered = payloads.CallEntered(
        runbook=frame.runbook.id, node=node_id, child=child_runbook.id, inputs=child.inputs
    )
    if node.runbook != child_runbook.id:
        entered["ref"] = node.runbook
    if child.snapshot:  # the called runbook's copy in the incident, and its hash
        entered["snapshot"] = child.snapshot["snapshot"]
        entered["snapshot_sha256"] = child.snapshot["snapshot_sha256"]
    walk.record(EventType.CALL_ENTERED, entered)
    ended = walk.walk(child)
    returned = payloads.CallReturned(
        runbook=frame.runbook.id,
        node=node_id,
        child=child_runbook.id,
        outcome=ended.outcome.value,
    )
    walk.record(EventType.CALL_RETURNED, returned)
    frame.answers[node_id] = ended.outcome.value
    if node.next is None or ended.failed:
        return ended
    return node.next
