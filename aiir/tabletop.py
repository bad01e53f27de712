"""Tabletop exercises: a room walks a runbook while the facilitator's screen delivers injects.

Injects arrive at their scenario time (``--speed`` compresses the clock: 60 means a scenario
minute passes every real second) or earlier, when the facilitator presses ``y`` at the offer shown
before each question. The room's answers drive the runbook against the simulated gateway, which
reflects every lever they pull. At the end aiir writes an after-action report in Markdown.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx2
from rich.console import Console
from rich.panel import Panel

from aiir.display import clock_text
from aiir.drill import Prepared, containment_time, visited
from aiir.engine import duration
from aiir.environment import Clock, Environment, SystemClock, parse_iso
from aiir.incident import Incident
from aiir.prompter import Option, Prompter
from aiir.run import RunResult, start
from aiir.safe import inert
from aiir.sandbox import SandboxState
from aiir.schema import ChecklistNode, Inject


@dataclass
class Delivery:
    inject: Inject
    at: dt.timedelta  # scenario time when it reached the room
    by: str  # "time" or "facilitator"


@dataclass
class InjectBoard:
    """The timeline of injects and what has been delivered, on a possibly accelerated clock."""

    injects: Sequence[Inject]
    clock: Clock
    console: Console
    outbox: list[tuple[str, dict[str, object]]]
    speed: float = 1.0
    started: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))
    delivered: list[Delivery] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.pending = sorted(self.injects, key=lambda i: duration(i.at, dt.timedelta()))

    def elapsed(self) -> dt.timedelta:
        return (self.clock.now() - self.started) * self.speed

    def deliver_due(self) -> None:
        while self.pending and duration(self.pending[0].at, dt.timedelta()) <= self.elapsed():
            self.deliver("time")

    def deliver(self, by: str) -> None:
        inject = self.pending.pop(0)
        now = self.elapsed()
        self.delivered.append(Delivery(inject, now, by))
        source = f" — {inject.from_}" if inject.from_ else ""
        title = f"INJECT {inject.at} (now {clock_text(now)}){source}"
        self.console.print(
            Panel(inert(inject.text), title=title, border_style="magenta", title_align="left")
        )
        self.outbox.append(
            (
                "inject.delivered",
                {"at": inject.at, "text": inject.text, "by": by, "scenario_time": clock_text(now)},
            )
        )


class TabletopPrompter:
    """Wraps the room's prompter: before each question, due injects arrive and the facilitator
    may deliver the next one early."""

    def __init__(self, inner: Prompter, board: InjectBoard) -> None:
        self.inner = inner
        self.board = board

    def _between(self) -> None:
        self.board.deliver_due()
        while self.board.pending:
            upcoming = self.board.pending[0]
            offer = (
                f"Facilitator: deliver the next inject now ({upcoming.at}: {upcoming.text[:50]})?"
            )
            if not self.inner.confirm("facilitator.inject", offer, False):
                return
            self.board.deliver("facilitator")

    def choose(self, key: str, message: str, options: Sequence[Option]) -> str:
        self._between()
        return self.inner.choose(key, message, options)

    def confirm(self, key: str, message: str, default: bool = False) -> bool:
        self._between()
        return self.inner.confirm(key, message, default)

    def text(self, key: str, message: str, default: str | None = None) -> str:
        self._between()
        return self.inner.text(key, message, default)

    def checklist(self, key: str, message: str, options: Sequence[Option]) -> list[str]:
        self._between()
        return self.inner.checklist(key, message, options)


def run_tabletop(
    prepared: Prepared,
    env: Environment,
    *,
    speed: float = 1.0,
    report: Path | None = None,
) -> tuple[RunResult, Path, InjectBoard]:
    """Run the exercise; returns the walk, where the after-action report went, and the board."""
    state = SandboxState(seed=7)
    env.use_sandbox(state)
    for fault in prepared.scenario.faults:
        if fault.at is None:
            state.add_fault(fault.model, fault.fault, str(fault.value))
    pending = [f for f in prepared.scenario.faults if f.at is not None]

    def on_node(runbook: str, node: str) -> None:
        for fault in pending:
            if fault.at == node:
                state.add_fault(fault.model, fault.fault, str(fault.value))

    env.observers.append(on_node)
    board = InjectBoard(
        prepared.scenario.injects,
        env.clock,
        env.console,
        env.outbox,
        speed,
        started=env.clock.now(),
    )
    env.prompter = TabletopPrompter(env.prompter, board)
    board.deliver_due()
    result = start(prepared.runbook_file, env, inputs=prepared.scenario.inputs, drill=True)
    board.deliver_due()
    target = report or result.incident.directory / "after-action.md"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(after_action(prepared, result.incident, board, state), encoding="utf-8")
    return result, target, board


def _took(value: dt.timedelta | None) -> str:
    return clock_text(value) if value is not None else "not reached"


def triage_time(incident: Incident) -> dt.timedelta | None:
    """From the start to the room's first decision."""
    started = parse_iso(incident.started_at)
    for event in incident.events:
        if event.type == "answer":
            return parse_iso(event.ts) - started
    return None


def after_action(
    prepared: Prepared, incident: Incident, board: InjectBoard, state: SandboxState
) -> str:
    """The after-action report: times, decisions against the expected path, misses, gaps."""
    scenario, expect = prepared.scenario, prepared.scenario.expect
    walked = visited(incident)
    lines = [
        f"# After-action report: {scenario.title}",
        "",
        f"- Scenario: `{scenario.scenario}` · runbook `{prepared.runbook.id}` v{prepared.runbook.version}",
        f"- Incident: `{incident.id}` (exercise) · facilitator: {incident.operator} · started {incident.started_at}",
        f"- Outcome: **{incident.outcome or 'not finished'}** · final severity {incident.severity}",
        "",
        "## Times",
        "",
        f"- Time to triage (first decision): {_took(triage_time(incident))}",
        f"- Time to containment (first lever proven effective): {_took(containment_time(incident))}",
        "",
        "## Injects",
        "",
        "| scenario time | delivered | by | inject |",
        "|---|---|---|---|",
    ]
    for delivery in board.delivered:
        lines.append(
            f"| {delivery.inject.at} | {clock_text(delivery.at)} | {delivery.by} | {_cell(delivery.inject.text)} |"
        )
    for inject in board.pending:
        lines.append(f"| {inject.at} | never | - | {_cell(inject.text)} |")
    lines += ["", "## Decisions against the expected path", ""]
    lines += _decisions(expect.path, walked, incident)
    missed = _missed(prepared, incident, walked)
    gaps = _gaps(incident)
    lines += ["", "## Missed steps", ""] + ([f"- {m}" for m in missed] or ["- none"])
    lines += ["", "## Gaps", ""] + ([f"- {g}" for g in gaps] or ["- none found"])
    lines += ["", "## Suggested action items", ""] + [
        f"- [ ] {a}" for a in _actions(missed, gaps, incident)
    ]
    lines += [
        "",
        "## Gateway state at the end (simulated)",
        "",
        "```json",
        _state_json(state),
        "```",
        "",
    ]
    return "\n".join(lines)


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def _decisions(expected: list[str] | None, walked: list[str], incident: Incident) -> list[str]:
    answers = {a.get("node"): a.get("value") for a in incident.answers}
    rows = ["| step | expected | taken | answer | |", "|---|---|---|---|---|"]
    if expected is None:
        for i, node in enumerate(walked, 1):
            rows.append(f"| {i} | - | {node} | {_cell(str(answers.get(node, '')))} | |")
        return rows
    for i in range(max(len(expected), len(walked))):
        want = expected[i] if i < len(expected) else "-"
        took = walked[i] if i < len(walked) else "-"
        mark = "✓" if want == took else "✗"
        rows.append(f"| {i + 1} | {want} | {took} | {_cell(str(answers.get(took, '')))} | {mark} |")
    return rows


def _missed(prepared: Prepared, incident: Incident, walked: list[str]) -> list[str]:
    expect = prepared.scenario.expect
    missed = [
        f"expected step `{n}` was never reached"
        for n in (expect.path or []) + expect.visits
        if n not in walked
    ]
    missed += [f"step `{n}` should have been avoided" for n in expect.avoids if n in walked]
    for answer in incident.answers:
        node = prepared.runbook.nodes.get(str(answer.get("node")))
        if isinstance(node, ChecklistNode) and answer.get("key") == answer.get("node"):
            done = set(answer.get("value") or [])
            missed += [
                f"checklist `{answer['node']}`: not done: {item.text}"
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


def _gaps(incident: Incident) -> list[str]:
    gaps = [
        f"lever `{r.lever}` {r.state}: {r.verdict}"
        for r in incident.levers
        if r.state in {"failed", "unavailable", "not-effective"}
    ]
    gaps += [
        f"decision after a failure at `{a.get('node')}`: {a.get('value')}"
        for a in incident.answers
        if str(a.get("key", "")).endswith(".on_failure")
    ]
    if incident.outcome in {"failed", "aborted"}:
        gaps.append(f"the walk ended {incident.outcome}")
    if not incident.notifications:
        gaps.append("no message was drafted for stakeholders")
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
    import json

    snapshot = state.state()
    snapshot.pop("deployments", None)
    return json.dumps(snapshot, indent=2)


def default_environment(
    console: Console,
    prompter: Prompter,
    incidents_dir: Path,
    clock: Clock | None = None,
    environ: dict[str, Any] | None = None,
    operator: str = "facilitator",
) -> Environment:
    """The environment a tabletop runs in: the room's prompter, a possibly injected clock."""
    return Environment(
        console=console,
        prompter=prompter,
        http=httpx2.Client(),
        clock=clock or SystemClock(),
        environ=environ or {},
        operator=operator,
        incidents_dir=incidents_dir,
        assume_yes=False,
    )
