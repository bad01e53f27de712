"""The nodes that ask: a question, a yes/no, a multi-select, a line of text, a checklist; and a
branch, which asks nothing."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from aiir.engine.frames import (
    Frame,
    input_check,
)
from aiir.engine.nodes.registry import handles
from aiir.formats.schema import (
    BranchNode,
    ChecklistNode,
    ConfirmNode,
    InputNode,
    MultiSelectNode,
    QuestionNode,
)
from aiir.formats.templating import evaluate, references, render
from aiir.incident import payloads
from aiir.incident.events import EventType
from aiir.prompts import Option

if TYPE_CHECKING:
    from aiir.engine.walk import Walk


@handles(QuestionNode)
def question(walk: Walk, frame: Frame, node_id: str, node: QuestionNode) -> str:
    options = [Option(c.value, c.label) for c in node.choices]
    prompt = render(node.prompt, walk.context(frame), f"nodes.{node_id}.prompt")
    value = walk.ask(frame, node_id, "choose", prompt, options)
    choice = next(c for c in node.choices if c.value == value)
    if choice.severity is not None:
        walk.change_severity(frame, node_id, choice.severity.value, downgrade=choice.downgrade)
    classify(walk, frame, node_id, [c.value for c in choice.classify])
    return choice.next


def classify(walk: Walk, frame: Frame, node_id: str, facts: list[str]) -> None:
    """Record facts that start regulatory clocks; the answer's time is the awareness time."""
    if facts:
        classified = payloads.Classified(runbook=frame.runbook.id, node=node_id, facts=facts)
        walk.record(EventType.CLASSIFIED, classified)


@handles(InputNode)
def text_input(walk: Walk, frame: Frame, node_id: str, node: InputNode) -> str:
    context = walk.context(frame)
    prompt = render(node.prompt, context, f"nodes.{node_id}.prompt")
    default = render(node.default, context, f"nodes.{node_id}.default") if node.default else None
    if default is not None and walk.scrub(default) != default:
        # an edit buffer shows its text as it is: a secret there would be on the screen
        if not walk.replaying:
            walk.screen.note(f"{node_id}: its default holds a secret, so none is offered")
        default = None
    walk.ask(frame, node_id, "text", prompt, default=default, check=input_check(node))
    return node.next


@handles(ChecklistNode)
def checklist(walk: Walk, frame: Frame, node_id: str, node: ChecklistNode) -> str:
    options = [Option(i.id, f"{i.text} ({i.owner})" if i.owner else i.text) for i in node.items]
    done = walk.ask(frame, node_id, "checklist", f"{node.title}: tick what is done", options)
    missing = [i.id for i in node.items if i.id not in done]
    if missing and not walk.replaying:
        walk.screen.note(f"open items: {', '.join(missing)}")
    return node.next


@handles(BranchNode)
def branch(walk: Walk, frame: Frame, node_id: str, node: BranchNode) -> str:
    step, recorded = walk.next_step()
    if EventType.BRANCH in recorded:
        return str(recorded[EventType.BRANCH].data["next"])
    context = walk.context(frame)
    target, case = node.default, None
    passed: list[str] = []
    for i, arm in enumerate(node.cases):
        where = f"nodes.{node_id}.cases[{i}].when"
        unknown = unreplied(arm.when, walk.incident.vars) if walk.env.dry_run else []
        if unknown:  # a dry run has no replies: the case cannot be decided, so it is passed by
            passed.append(f"cases[{i}] reads {', '.join(unknown)}")
            continue
        if evaluate(arm.when, context, where):
            target, case = arm.next, i
            break
    data = payloads.Branch(runbook=frame.runbook.id, node=node_id, case=case, next=target)
    if passed:
        data["undecided"] = passed
        walk.screen.note(
            f"dry run: {'; '.join(passed)}, saved from a reply a dry run does not get: "
            f"not taken; going on to {target!r}"
        )
    walk.record(EventType.BRANCH, data, step=step)
    return target


def unreplied(expression: str, known: Mapping[str, Any]) -> list[str]:
    """The saved values ``expression`` reads that no reply has given yet (``vars.hits``)."""
    names = [r.name for r in references(expression, expression=True) if r.namespace == "vars"]
    return list(dict.fromkeys(f"vars.{n}" for n in names if n is not None and n not in known))


@handles(ConfirmNode)
def confirm(walk: Walk, frame: Frame, node_id: str, node: ConfirmNode) -> str:
    yes = walk.ask(frame, node_id, "confirm", render(node.prompt, walk.context(frame), node_id))
    if yes:
        classify(walk, frame, node_id, [c.value for c in node.classify])
    return node.yes if yes else node.no


@handles(MultiSelectNode)
def multiselect(walk: Walk, frame: Frame, node_id: str, node: MultiSelectNode) -> str:
    """Several answers to one question: the list of values picked is ``answers.<node id>``;
    the most severe severity among them counts, and every fact they establish is recorded."""
    options = [Option(c.value, c.label) for c in node.choices]
    prompt = render(node.prompt, walk.context(frame), f"nodes.{node_id}.prompt")
    values = [str(v) for v in walk.ask(frame, node_id, "choose_many", prompt, options)]
    picked = [c for c in node.choices if c.value in values]
    frame.answers[node_id] = [c.value for c in picked]
    severities = [c.severity.value for c in picked if c.severity is not None]
    if severities:
        walk.change_severity(frame, node_id, min(severities))  # SEV1 is the most severe
    facts = [f.value for c in picked for f in c.classify]
    classify(walk, frame, node_id, list(dict.fromkeys(facts)))
    if not walk.replaying:
        walk.screen.note(f"picked: {', '.join(frame.answers[node_id]) or 'none'}")
    return node.next
