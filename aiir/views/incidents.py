"""Human and JSON views of incidents: ``aiir incidents`` and ``aiir show``."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from aiir.environment import Environment
from aiir.incident.events import EvidenceRef
from aiir.incident.state import Incident, list_incidents, load_incident
from aiir.redact import masked_json, scrub
from aiir.reports.context import describe, report_context
from aiir.terminal.inert import inert
from aiir.terminal.screen import LEVER_STYLE, SEVERITY_STYLE


def _safe(value: Any) -> Text:
    return inert(scrub(str(value)))


TAMPERED = "TAMPERED"
UNVERIFIED = "UNVERIFIED"


def incident_summary(incident: Incident) -> dict[str, Any]:
    return {
        "id": incident.id,
        "runbook": incident.runbook,
        "title": incident.title,
        "started_at": incident.started_at,
        "severity": incident.severity,
        "state": incident.state if incident.verified else TAMPERED,
        "outcome": incident.outcome,
        "drill": incident.drill,
        "exercise": incident.exercise,
        "levers_engaged": [r.lever for r in incident.needs_release()],
        "verified": incident.verified,
        "problem": incident.problems[0] if incident.problems else None,
    }


def incidents_table(env: Environment, *, as_json: bool) -> None:
    """Every incident, newest first; one whose journal does not verify is listed as TAMPERED
    (what its journal claims is not shown as fact)."""
    found = list_incidents(env.incidents_dir)
    if as_json:
        print(masked_json([incident_summary(i) for i in found]))
        return
    if not found:
        env.console.print(_safe(f"no incidents under {env.incidents_dir}"))
        return
    table = Table("id · runbook", "started", "sev", "state", "engaged", box=box.SIMPLE_HEAD)
    table.columns[0].no_wrap = True  # the one thing an operator copies: never cut or wrapped
    table.columns[0].min_width = max(len(i.id) for i in found)
    table.columns[1].no_wrap = True
    table.columns[3].min_width = len("interrupted")
    for column in table.columns[3:]:
        column.overflow = "fold"  # a narrow terminal wraps them; nothing is cut off
    for incident in found:
        state = Text(incident.outcome or incident.state)
        if not incident.verified:
            state = Text(f"{TAMPERED} (aiir verify {incident.id})", "bold red")
        elif incident.exercise:
            state.append(f" (exercise: {incident.exercise})")
        engaged = incident.needs_release()
        name = _safe(incident.id + "\n")
        name.append_text(_safe(incident.runbook).copy())
        name.stylize("dim", len(incident.id) + 1)
        table.add_row(
            name,
            _safe(incident.started_at[5:16].replace("T", " ")),
            Text(incident.severity, SEVERITY_STYLE.get(incident.severity, "")),
            state,
            ", ".join(r.lever for r in engaged) or "-",
        )
    table.caption = "started: UTC · engaged: levers still in effect (aiir release ID)"
    env.console.print(table)


def show_incident(
    env: Environment,
    incident_id: str,
    *,
    as_json: bool,
    aware_at: Mapping[str, dt.datetime] | None = None,
    force: bool = False,
) -> None:
    """One incident, verified first (``force`` shows one that does not verify, marked so)."""
    incident = load_incident(env.incidents_dir, incident_id, force=force)
    context = report_context(incident, env.workspace, env.clock.now(), aware_at)
    if as_json:
        data = incident_summary(incident)
        data["problems"] = incident.problems
        if not incident.verified:
            data["state"] = UNVERIFIED
        data["clocks"] = context["clocks"]
        data["timers"] = context["timers"]
        data["disclosure"] = context["disclosure"]
        data["levers"] = [r.__dict__ for r in incident.levers]
        data["answers"] = incident.answers
        data["evidence"] = incident.evidence
        data["tasks"] = context["tasks"]
        data["timeline"] = [
            {"ts": e.ts, "type": e.type, "operator": e.operator, "data": e.data}
            for e in incident.events
        ]
        # ensure_ascii: control characters from hostile data stay escaped (\u009b), never raw
        print(masked_json(data))
        return
    console = env.console
    if not incident.verified:
        console.print(
            _safe(
                f"{UNVERIFIED}: this journal does not verify ({incident.problems[0]}): "
                "what follows may be forged"
            ),
            style="bold white on red",
        )
    header = Text.assemble(
        (incident.id, "bold"), "  ", (incident.severity, SEVERITY_STYLE.get(incident.severity, ""))
    )
    header.append_text(_safe(f"  {incident.title}  [{incident.outcome or incident.state}]"))
    if incident.exercise:
        header.append(f"  EXERCISE ({incident.exercise}): not a real incident", "bold magenta")
    console.print(header)
    console.print(
        _safe(f"runbook {incident.runbook} · operator {incident.operator}")
        + _safe(f" · started {incident.started_at}")
    )
    timeline = Table("time (UTC)", "event", "detail", title="Timeline", title_justify="left")
    for event in incident.events:
        timeline.add_row(event.ts[11:23], event.type, _safe(describe(event.type, event.data)))
    console.print(timeline)
    if incident.levers:
        levers = Table("lever", "kind", "state", "verdict", title="Levers", title_justify="left")
        for record in incident.levers:
            style = LEVER_STYLE.get(record.state, "red")
            levers.add_row(
                _safe(record.lever), record.kind, Text(record.state, style), _safe(record.verdict)
            )
        console.print(levers)
    _tasks(console, context["tasks"])
    if incident.evidence:
        evidence = Table("item", "file", "sha256", title="Evidence", title_justify="left")
        for item in incident.evidence:
            ref = EvidenceRef.read(item.get("evidence"))
            evidence.add_row(
                _safe(item.get("item", "")),
                _safe(ref.file if ref else ""),
                ref.sha256 if ref else "",
            )
        console.print(evidence)
    _timers(console, context)
    _clocks(console, context)


def _timers(console: Console, context: Mapping[str, Any]) -> None:
    """The runbooks' deadlines: met, missed (standing out) or open."""
    if not context["timers"]:
        return
    table = Table("timer", "deadline", "result", title="Timers", title_justify="left")
    for timer in context["timers"]:
        until = f" until {timer['until']} done" if timer["until"] else ""
        style = "bold white on red" if timer["state"] == "missed" else ""
        table.add_row(
            _safe(timer["timer"]),
            f"{timer['within']} from {timer['from']}{until}",
            Text(timer["text"], style),
        )
    console.print(table)


def _tasks(console: Console, tasks: list[dict[str, Any]]) -> None:
    """Work done in parallel: each task with its owner, who marked it done and when."""
    if not tasks:
        return
    table = Table(
        "task", "owner (on call)", "done (UTC)", "by", "note", title="Tasks", title_justify="left"
    )
    for task in tasks:
        table.add_row(
            _safe(f"{task['node']}/{task['task']}: {task['title']}"),
            _safe(task["on_call"]),
            _safe(task["at"][11:19]),
            _safe(task["by"]),
            _safe(task["note"] or "-"),
        )
    console.print(table)


def _clocks(console: Console, context: Mapping[str, Any]) -> None:
    """Regulatory deadlines with the time left; overdue ones stand out; not legal advice."""
    if context["disclosure"]:
        console.print(Text(f"Disclosure policy: {context['disclosure']}", "bold yellow"))
    if not context["clocks"]:
        if context["regimes"]:
            console.print(f"No reporting deadline triggered under: {', '.join(context['regimes'])}")
        return
    table = Table(
        "regime",
        "obligation",
        "aware at",
        "due (UTC)",
        "time left",
        title="Regulatory clocks",
        title_justify="left",
    )
    for clock in context["clocks"]:
        style = "bold white on red" if clock["overdue"] else ""
        table.add_row(
            clock["source"],
            clock["obligation"],
            clock["aware_at"][:16],
            clock["due"][:16],
            Text(clock["left"], style),
        )
    console.print(table)
    console.print(Text(context["not_legal_advice"], "dim"))
