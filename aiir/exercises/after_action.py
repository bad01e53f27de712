"""The after-action report of a tabletop exercise, in Markdown.

Times (to triage, to containment, against the scenario's goal), the injects and when they reached
the room, the room's decisions against the expected path, missed steps, gaps and action items,
and what the simulated gateway looked like at the end. Everything comes from the journal.
"""

from __future__ import annotations

import datetime as dt
import difflib
import json
from typing import TYPE_CHECKING, Any

from aiir.engine.frames import duration
from aiir.exercises.drill import containment_time, timer_texts, visited
from aiir.formats.schema import ChecklistNode, Runbook
from aiir.formats.templating import markdown_escape
from aiir.incident.events import EventType
from aiir.incident.state import Incident
from aiir.sandbox import SandboxState
from aiir.timestamps import clock_text, parse_iso
from aiir.validate.scenarios import Prepared

if TYPE_CHECKING:
    from aiir.exercises.tabletop import InjectBoard


def after_action(
    prepared: Prepared, incident: Incident, board: InjectBoard, state: SandboxState
) -> str:
    """The after-action report: times, decisions against the expected path, misses, gaps."""
    scenario = prepared.scenario
    walked = visited(incident)
    missed = _missed(prepared, incident, walked)
    gaps = _gaps(prepared, incident, board.speed)
    lines = [
        f"# After-action report: {scenario.title}",
        "",
        f"- Scenario: `{scenario.scenario}` · runbook `{prepared.runbook.id}` v{prepared.runbook.version}",
        f"- Incident: `{incident.id}` (exercise) · facilitator: {incident.operator} · started {incident.started_at}",
        f"- Outcome: **{incident.outcome or 'not finished'}** · final severity {incident.severity}",
        *(
            [f"- Clock: {board.speed:g}× (scenario time runs {board.speed:g} times real time)"]
            if board.speed != 1
            else []
        ),
        "",
        "## Times",
        "",
        *_times(prepared, incident, board.speed),
        "",
        "## Timers",
        "",
        *([f"- {t}" for t in timer_texts(incident)] or ["- the runbook states none"]),
        "",
        "## Injects",
        "",
        *_injects(board),
        "",
        "## Decisions against the expected path",
        "",
        *_decisions(prepared, incident, walked),
        "",
        "## Missed steps",
        "",
        *([f"- {m}" for m in missed] or ["- none"]),
        "",
        "## Gaps",
        "",
        *([f"- {g}" for g in gaps] or ["- none found"]),
        "",
        "## Suggested action items",
        "",
        *[f"- [ ] {a}" for a in _actions(missed, gaps, incident)],
        "",
        "## Levers still in effect on the simulated gateway",
        "",
        "```json",
        _state_json(state),
        "```",
        "",
    ]
    return "\n".join(lines)


# --- times -------------------------------------------------------------------------------------


def triage_time(incident: Incident) -> dt.timedelta | None:
    """From the start to the room's first decision (an answer to a question, not an approval
    given by a flag)."""
    started = parse_iso(incident.started_at)
    for event in incident.events:
        data = event.data
        if (
            event.type == EventType.ANSWER
            and data.get("key") == data.get("node")
            and not data.get("by")
        ):
            return parse_iso(event.ts) - started
    return None


def _took(value: dt.timedelta | None, speed: float) -> str:
    if value is None:
        return "not reached"
    if speed == 1:
        return clock_text(value)
    return f"{clock_text(value)} real, {clock_text(value * speed)} scenario time"


def _times(prepared: Prepared, incident: Incident, speed: float) -> list[str]:
    contained = containment_time(incident)
    lines = [
        f"- Time to triage (first decision): {_took(triage_time(incident), speed)}",
        f"- Time to containment (first lever proven effective): {_took(contained, speed)}",
    ]
    goal = prepared.scenario.expect.containment_within
    if goal is not None:
        met = contained is not None and contained * speed <= duration(goal)
        lines.append(
            f"- Containment goal: within {goal} (scenario time): {'met' if met else 'MISSED'}"
        )
    return lines


def _injects(board: InjectBoard) -> list[str]:
    rows = ["| due | delivered | by | from | inject |", "|---|---|---|---|---|"]
    for delivery in board.delivered:
        inject = delivery.inject
        rows.append(
            f"| {inject.at} | {clock_text(delivery.at)} | {delivery.by} | {_cell(inject.from_ or '-')} | {_cell(inject.text)} |"
        )
    for inject in board.pending:
        rows.append(
            f"| {inject.at} | never | - | {_cell(inject.from_ or '-')} | {_cell(inject.text)} |"
        )
    return rows


def _cell(text: str) -> str:
    """A table cell of the room's (or the scenario's) text: on one line, with no HTML, link,
    image or cell of its own (a participant may paste a model's output as an answer)."""
    return markdown_escape(" ".join(str(text).split()))


# --- decisions and misses ----------------------------------------------------------------------


def _own_answers(incident: Incident) -> dict[str, Any]:
    """``step -> answer`` for answers to a node itself (not approvals); called runbooks' steps
    as ``runbook.node``, as :func:`aiir.exercises.drill.visited` names them."""
    out: dict[str, Any] = {}
    for answer in incident.answers:
        if answer.get("key") != answer.get("node"):
            continue
        node, runbook = str(answer.get("node")), str(answer.get("runbook"))
        out[node if runbook == incident.runbook else f"{runbook}.{node}"] = answer.get("value")
    return out


def _decisions(prepared: Prepared, incident: Incident, walked: list[str]) -> list[str]:
    """The scenario's own runbook against the expected path, aligned where the room left it and
    where it came back; steps in a called runbook follow in their own table (an expected path
    names only the scenario's runbook's nodes)."""
    answers = _own_answers(incident)
    expected = prepared.scenario.expect.path
    dotted = expected is not None and any("." in step for step in expected)
    own = walked if dotted else [step for step in walked if "." not in step]
    rows = ["| # | expected | taken | answer | |", "|---|---|---|---|---|"]
    for want, took in _aligned(expected, own):
        mark = "" if expected is None else ("✓" if want == took else "✗")
        answer = _cell(_answer(answers.get(took))) if took else ""
        rows.append(f"| {len(rows) - 1} | {want or '-'} | {took or '-'} | {answer} | {mark} |")
    called = [step for step in walked if step not in own]
    if called:
        rows += ["", "Steps in called runbooks:", "", "| step | answer |", "|---|---|"]
        rows += [f"| {step} | {_cell(_answer(answers.get(step)))} |" for step in called]
    return rows


def _aligned(expected: list[str] | None, taken: list[str]) -> list[tuple[str | None, str | None]]:
    """Pairs of (expected, taken) steps; None where one side has no counterpart."""
    if expected is None:
        return [(None, step) for step in taken]
    pairs: list[tuple[str | None, str | None]] = []
    matcher = difflib.SequenceMatcher(a=expected, b=taken, autojunk=False)
    for tag, a0, a1, b0, b1 in matcher.get_opcodes():
        if tag == "equal":
            pairs += list(zip(expected[a0:a1], taken[b0:b1], strict=True))
        else:
            pairs += [(step, None) for step in expected[a0:a1]]
            pairs += [(None, step) for step in taken[b0:b1]]
    return pairs


def _answer(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return ", ".join(map(str, value)) or "(none ticked)"
    return str(value)


def _missed(prepared: Prepared, incident: Incident, walked: list[str]) -> list[str]:
    expect = prepared.scenario.expect
    missed = [
        f"expected step `{n}` was never reached"
        for n in (expect.path or []) + expect.visits
        if n not in walked
    ]
    missed += [f"step `{n}` should have been avoided" for n in expect.avoids if n in walked]
    runbooks = _runbooks(prepared, incident)
    for answer in incident.answers:
        node_id, runbook = str(answer.get("node")), runbooks.get(str(answer.get("runbook")))
        node = runbook.nodes.get(node_id) if runbook is not None else None
        if not isinstance(node, ChecklistNode) or answer.get("key") != node_id:
            continue
        where = (
            node_id
            if answer.get("runbook") == incident.runbook
            else f"{answer['runbook']}.{node_id}"
        )
        done = set(answer.get("value") or [])
        missed += [
            f"checklist `{where}`: not done: {item.text}"
            for item in node.items
            if item.id not in done
        ]
    if expect.levers is not None:
        proven = {r.lever for r in incident.levers if r.state in {"verified", "released"}}
        missed += [
            f"lever `{n}` was expected to be proven effective"
            for n in expect.levers.verified
            if n not in proven
        ]
    return list(dict.fromkeys(missed))


def _runbooks(prepared: Prepared, incident: Incident) -> dict[str, Runbook]:
    """The scenario's runbook and every runbook the walk called."""
    from aiir.engine.frames import RunbookSource
    from aiir.formats.library import data_dir
    from aiir.validate.checked import load_checked

    found = {prepared.runbook.id: prepared.runbook}
    source = RunbookSource(load_checked, [prepared.runbook_file.parent, data_dir("runbooks")])
    for event in incident.events:
        child = str(event.data.get("child", ""))
        if event.type == EventType.CALL_ENTERED and child not in found:
            found[child] = source.find(child)[0]
    return found


def _gaps(prepared: Prepared, incident: Incident, speed: float) -> list[str]:
    gaps = [
        f"lever `{r.lever}` {r.state}: {r.verdict}"
        for r in incident.levers
        if r.state in {"failed", "unavailable", "not-effective"}
        or (r.state == "engaged" and r.unanswered)  # its probe got no answer: not proven
    ]
    gaps += [
        f"decision after a failure at `{a.get('node')}`: {a.get('value')}"
        for a in incident.answers
        if str(a.get("key", "")).endswith(".on_failure")
    ]
    if incident.outcome in {"failed", "aborted"}:
        gaps.append(f"the walk ended {incident.outcome}")
    elif incident.outcome is None:
        gaps.append("the walk did not finish")
    if not incident.notifications:
        gaps.append("no message was drafted for stakeholders")
    goal = prepared.scenario.expect.containment_within
    contained = containment_time(incident)
    if goal is not None and contained is not None and contained * speed > duration(goal):
        gaps.append(
            f"containment took {clock_text(contained * speed)} scenario time; the goal is {goal}"
        )
    return gaps


def _actions(missed: list[str], gaps: list[str], incident: Incident) -> list[str]:
    actions = [f"Owner to fix: {g}" for g in gaps]
    actions += [f"Practise or clarify in the runbook: {m}" for m in missed]
    if containment_time(incident) is None:
        actions.append(
            "Agree who may pull which lever without waiting for approval (no lever was proven effective)"
        )
    actions.append("Turn the exercise's attack prompts into canaries (aiir canary from-incident)")
    actions.append("Schedule the blameless review within 5 business days")
    return actions


def _state_json(state: SandboxState) -> str:
    """What differs from the world the exercise started in (release it with aiir release)."""
    return json.dumps(state.changes(), indent=2, default=str)
