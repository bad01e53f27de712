"""Set nodes: values computed from expressions (as a branch's ``when``), kept as ``vars.<name>``."""

from __future__ import annotations

from collections import ChainMap
from typing import TYPE_CHECKING, Any

from aiir.engine.frames import Frame
from aiir.engine.nodes.registry import handles
from aiir.formats.schema import SetNode
from aiir.formats.templating import evaluate
from aiir.incident import payloads
from aiir.incident.events import EventType
from aiir.redact import MASK

if TYPE_CHECKING:
    from aiir.engine.walk import Walk


@handles(SetNode)
def set_values(walk: Walk, frame: Frame, node_id: str, node: SetNode) -> str:
    """Evaluate each expression in order (a later one sees the earlier ones), journal the values
    (a resume takes them from the journal), and keep them with the saved values."""
    step, recorded = walk.next_step()
    if EventType.VALUES_SET in recorded:
        kept = recorded[EventType.VALUES_SET].data.get("values") or {}
        if any(MASK in repr(value) for value in kept.values()):  # made from a secret: again
            walk.incident.vars.update(_evaluated(walk, frame, node_id, node))
        return node.next
    values = _evaluated(walk, frame, node_id, node)
    walk.record(
        EventType.VALUES_SET,
        payloads.ValuesSet(runbook=frame.runbook.id, node=node_id, values=values),
        step=step,
    )
    # The journal keeps a value made from a secret masked; the walk goes on with the value
    walk.incident.vars.update(values)
    shown = ", ".join(f"{name} = {value!r}" for name, value in values.items())
    walk.screen.note(f"set {shown}")
    return node.next


def _evaluated(walk: Walk, frame: Frame, node_id: str, node: SetNode) -> dict[str, Any]:
    context = walk.context(frame)
    values: dict[str, Any] = {}
    context["vars"] = ChainMap(values, context["vars"])  # a dry run's placeholders stay
    for name, expression in node.values.items():
        value = evaluate(expression, context, f"nodes.{node_id}.values.{name}")
        values[name] = journalled(value)
    return values


def journalled(value: Any) -> Any:
    """``value`` as the journal's JSON holds it: text, numbers, yes/no, null, lists, mappings;
    anything else (a Jinja2 object) as its text."""
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, list | tuple):
        return [journalled(v) for v in value]
    if isinstance(value, dict):
        return {str(k): journalled(v) for k, v in value.items()}
    return str(value)
