"""Human and JSON views of incidents: ``aiir incidents`` and ``aiir show``."""

from __future__ import annotations

import contextlib
import datetime as dt
import textwrap
from collections import deque
from collections.abc import Iterable, Mapping
from typing import Any

from rich.console import Console
from rich.table import Column, Table
from rich.text import Text

from aiir.environment import Environment
from aiir.incident.events import EvidenceRef
from aiir.incident.journal import Event
from aiir.incident.state import Incident, list_incidents, load_incident
from aiir.redact import known_secrets, masked_json, scrub
from aiir.reports.context import report_context
from aiir.terminal.inert import CELL, ends, inert, plain
from aiir.terminal.screen import LEVER_STYLE, SEVERITY_STYLE
from aiir.views.timeline import TAIL, Spool, omitted_line, write_timeline


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
        "lead": incident.lead,
        "drill": incident.drill,
        "exercise": incident.exercise,
        "levers_engaged": [r.lever for r in incident.needs_release()],
        "verified": incident.verified,
        "problem": incident.problems[0] if incident.problems else None,
    }


def incidents_table(
    env: Environment, *, as_json: bool, lost: Mapping[str, str] | None = None
) -> None:
    """Every incident, newest first; one whose journal does not verify is listed as TAMPERED
    (what its journal claims is not shown as fact). Each journal is verified and folded into
    a summary as it is read; no event is kept. ``lost``: incidents whose rows the shared store
    lost (id: the line saying so), listed as TAMPERED too, with or without a copy here."""
    found = with_lost(list_incidents(env.incidents_dir, keep_events=False), env, lost or {})
    if as_json:
        print(masked_json([incident_summary(i) for i in found]))
        return
    if not found:
        env.console.print(_safe(f"no incidents under {env.incidents_dir}"))
        return
    known = known_secrets()
    width = max(len(i.id) for i in found)  # the one thing an operator copies: never cut
    env.console.print(
        Text(f"{'id':<{width}}  {'started':<11}  {'sev':<4}  state · runbook · engaged", "bold")
    )
    env.console.file.flush()
    rows = (listed(incident, width, env.console.width, known) for incident in found)
    env.console.file.write("".join(rows))
    env.console.print(
        Text("started: UTC · engaged: levers still in effect (aiir release ID)", "dim")
    )


def with_lost(found: list[Incident], env: Environment, lost: Mapping[str, str]) -> list[Incident]:
    """The incidents listed, those whose store lost rows marked so (the first problem: what a
    summary names), those not copied here for it added."""
    for incident in found:
        if incident.id in lost:
            incident.problems.insert(0, lost[incident.id])
    here = {i.id for i in found}
    found += [
        Incident(id=i, directory=env.incidents_dir / i, problems=[lost[i]])
        for i in lost
        if i not in here
    ]
    return sorted(found, key=lambda i: i.id, reverse=True)


def listed(incident: Incident, width: int, columns: int, known: set[str]) -> str:
    """One incident as aligned plain lines: what it is on the first, what it did after."""
    state = incident.outcome or incident.state
    if not incident.verified:
        state = f"{TAMPERED} (aiir verify {incident.id})"
    elif incident.exercise:
        state += f" (exercise: {incident.exercise})"
    engaged = ", ".join(
        [
            f"{r.lever} (maybe: state unknown)" if r.state == "unknown" else r.lever
            for r in incident.needs_release()
        ]
        + [f"{r.lever} (maybe: stopped in flight)" for r in incident.levers if r.state == "intent"]
    )
    if not engaged and incident.head is None and not incident.verified:
        engaged = "unknown (no event of it can be read)"
    engaged = engaged or "-"
    first = f"{incident.id:<{width}}  {incident.started_at[5:16].replace('T', ' '):<11}  "
    first += f"{incident.severity:<4}  {state}"
    rest = f"runbook {incident.runbook} · engaged: {engaged}"
    lines = _fold(first, columns, "") + _fold(rest, columns, "    ")
    return "".join(plain(scrub(line, known)) + "\n" for line in lines)


def _fold(text: str, columns: int, indent: str) -> list[str]:
    """``text`` over lines of the terminal's width, the next ones indented; a word (an id) is
    never cut."""
    return textwrap.wrap(
        text,
        max(columns, 40),
        initial_indent=indent,
        subsequent_indent="    ",
        break_on_hyphens=False,
        break_long_words=False,
    )


def show_incident(
    env: Environment,
    incident_id: str,
    *,
    as_json: bool,
    aware_at: Mapping[str, dt.datetime] | None = None,
    force: bool = False,
    every: bool = False,
) -> None:
    """One incident, verified first (``force`` shows one that does not verify, marked so).

    The timeline is the last :data:`TAIL` events unless ``every``: the journal is folded as it
    is read and its events let go, so a long one costs no more memory than a short one (all of
    it, on the screen, is spooled to a temporary file as it is read, and printed once it has
    verified)."""
    kept: deque[Event] = deque(maxlen=None if every else TAIL)
    spooled = every and not as_json
    with Spool(env.console.width) if spooled else contextlib.nullcontext() as spool:
        incident = load_incident(
            env.incidents_dir,
            incident_id,
            force=force,
            keep_events=False,
            each=kept.append if spool is None else spool.add,
        )
        now = env.clock.now()
        context = report_context(incident, env.workspace, now, aware_at, timeline=False)
        _print(env, incident, context, kept, spool, as_json)


def _print(
    env: Environment,
    incident: Incident,
    context: Mapping[str, Any],
    kept: deque[Event],
    spool: Spool | None,
    as_json: bool,
) -> None:
    """The incident as JSON, or its heading, timeline, levers, evidence and clocks."""
    if as_json:
        print(masked_json(_as_json(incident, context, kept)))
        return
    console = env.console
    _heading(console, incident)
    _timeline(console, incident, kept, spool)
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
        evidence = Table(  # a file to open, a hash to compare: folded, never cut
            "item",
            Column("file", overflow="fold"),
            Column("sha256", overflow="fold"),
            title="Evidence",
            title_justify="left",
        )
        for item in incident.evidence:
            ref = EvidenceRef.read(item.get("evidence"))
            evidence.add_row(
                _safe(item.get("item", "")),
                _safe(ref.file if ref else ""),
                ref.sha256 if ref else "",
            )
        console.print(evidence)
        _sessions(console, context["evidence"])
    _timers(console, context)
    _clocks(console, context)


def _sessions(console: Console, rows: list[dict[str, Any]]) -> None:
    """What each trace store capture holds: sessions and their parts, the hostile-looking text."""
    for row in rows:
        found = row.get("sessions")
        if not found:
            continue
        line = (
            f"Session context {row.get('item')} ({row.get('part')}): {found['sessions']} "
            f"session(s), {found['messages']} message(s), {found['documents']} retrieved "
            f"document(s), {found['tool_calls']} tool call(s), {found['guardrails']} guardrail "
            f"verdict(s), {found['errors']} failed span(s)"
        )
        console.print(_safe(line))
        if found["hostile"]:
            where = "; ".join(found["hostile_in"])
            console.print(
                _safe(f"  looks like an attack ({found['hostile']}): {where}"), style="red"
            )


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


def _as_json(
    incident: Incident, context: Mapping[str, Any], kept: Iterable[Event]
) -> dict[str, Any]:
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
        {"ts": e.ts, "type": e.type, "operator": e.operator, "data": e.data} for e in kept
    ]
    data["events"] = incident.count
    data["timeline_omitted"] = incident.count - len(data["timeline"])  # 0 with --all
    # ensure_ascii: control characters from hostile data stay escaped (\u009b), never raw
    return data


def _heading(console: Console, incident: Incident) -> None:
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
    title = ends(incident.title, CELL)  # whole in --json and the reports
    header.append_text(_safe(f"  {title}  [{incident.outcome or incident.state}]"))
    if incident.exercise:
        header.append(f"  EXERCISE ({incident.exercise}): not a real incident", "bold magenta")
    console.print(header)
    console.print(
        _safe(f"runbook {incident.runbook} · operator {incident.operator}")
        + _safe(f" · lead {incident.lead}" if incident.lead != incident.operator else "")
        + _safe(f" · started {incident.started_at}")
    )


def _timeline(
    console: Console, incident: Incident, kept: deque[Event], spool: Spool | None
) -> None:
    """Plain aligned lines: the last events kept, or every event spooled."""
    shown = incident.count if spool is not None else len(kept)
    title = f"Timeline (UTC), {incident.count:,} events"
    console.print(Text(title + ("" if shown == incident.count else f", the last {shown}"), "bold"))
    if shown < incident.count:
        console.print(_safe(omitted_line(incident.count - shown, incident.id)), style="dim")
    console.file.flush()
    if spool is None:
        write_timeline(console.file, kept, console.width)
    else:
        spool.copy_to(console.file)


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
