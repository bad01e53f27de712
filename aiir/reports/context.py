"""What every message and report template can read about an incident, built from its journal.

The same facts feed a Slack update drafted mid-walk and the post-mortem rendered a week later:
timeline, levers with their effect and business cost, evidence with hashes, classification,
regulatory clocks, the systems involved, and the decisions taken.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from aiir.errors import InputError
from aiir.formats import received
from aiir.formats.findings import parse
from aiir.formats.loader import load_file
from aiir.formats.schema import Runbook
from aiir.formats.workspace import Loaded
from aiir.incident.events import EventType, EvidenceRef
from aiir.incident.journal import anchor_of, short_anchor
from aiir.incident.sessions import summary
from aiir.incident.state import Incident, LeverStates
from aiir.incident.tasks import marks
from aiir.incident.view import incident_fields
from aiir.reports import clocks
from aiir.reports.templates import render_named
from aiir.reports.timers import TimerStatus, statuses
from aiir.timestamps import clock_text, iso, parse_iso


def _decision(data: dict[str, Any]) -> str:
    """An answer as a reader says it: ``yes``, items joined, approvals named as such."""
    node, key, value = data.get("node"), data.get("key") or data.get("node"), data.get("value")
    if isinstance(value, bool):
        shown = "yes" if value else "no"
    elif isinstance(value, list):
        shown = ", ".join(map(str, value)) or "none"
    else:
        shown = str(value)
    by = f" ({data['by']})" if data.get("by") else ""
    if key == f"{node}.approve":
        return f"{'Approved' if value else 'Declined'}: {node}{by}"
    return f"Decision at {key}: {shown}{by}"


def _reason(data: dict[str, Any]) -> str:
    reply = data.get("reply")
    return str(reply.get("reason", "")) if isinstance(reply, dict) else ""


def _engaged(data: dict[str, Any]) -> str:
    if data.get("dry_run"):
        return "not sent (dry run)"
    if data.get("ok"):
        failure = data.get("engage_failure")
        if data.get("confirmed_by_verify") and isinstance(failure, dict):
            why = failure.get("reason", "no reason given")
            return f"engaged (its request failed: {why}; its probe found it in effect)"
        return "engaged" + (
            " (its probe found it in effect)" if data.get("confirmed_by_verify") else ""
        )
    if data.get("unknown"):
        return f"possibly engaged, unknown ({_reason(data)})"
    return f"FAILED ({_reason(data)})"


def describe(event_type: str, data: dict[str, Any]) -> str:
    """One journal event in words, for the timeline of ``aiir show`` and of every report."""
    said = DETAIL.get(event_type)
    if said is not None:
        return said(data)
    # what replies and requests carried is evidence to read in full elsewhere, not a summary
    shown = "; ".join(
        f"{k}: {_plain(v)}" for k, v in data.items() if k not in {"runbook", "reply", "request"}
    )
    return shown if len(shown) <= 160 else shown[:159] + "…"


def _plain(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return ", ".join(map(_plain, value)) or "none"
    if isinstance(value, dict):
        return ", ".join(f"{k} {_plain(v)}" for k, v in value.items())
    return str(value)


def _task_done(data: dict[str, Any]) -> str:
    """``Task damage/refunds done (incident-commander: Alex Example), marked by alice: note``."""
    owner = data.get("on_call") or data.get("owner")
    note = f": {data['note']}" if data.get("note") else ""
    return (
        f"Task {data.get('node')}/{data.get('task')} done: {data.get('title')} ({owner}), "
        f"marked by {data.get('by')}{note}"
    )


def _tasks(incident: Incident) -> list[dict[str, Any]]:
    """Who did which task and when, for the reports' work-by-role table."""
    return [
        {
            "node": m.node,
            "task": m.task,
            "title": m.title,
            "owner": m.owner,
            "on_call": m.on_call or m.owner,
            "by": m.by,
            "at": m.at,
            "note": m.note,
        }
        for m in marks(incident.task_marks)
    ]


AUDIENCE = {"status-page": "on the status page", "customers": "to customers", "public": "publicly"}
DETAIL: dict[str, Callable[[dict[str, Any]], str]] = {
    EventType.INCIDENT_OPENED: lambda d: f"Incident opened from runbook {d.get('runbook')}",
    EventType.NODE_ENTERED: lambda d: (
        f"{d.get('title')} ({d.get('runbook')}/{d.get('node')})"
        + (f" — owner {d.get('on_call') or d.get('owner')}" if d.get("owner") else "")
    ),
    EventType.TASK_DONE: _task_done,
    EventType.TASKS_COMPLETE: lambda d: (
        f"Tasks at {d.get('node')}: {len(d.get('done', []))} done "
        f"({', '.join(map(str, d.get('done', [])))}), enough to go on"
    ),
    EventType.ANSWER: _decision,
    EventType.SEVERITY_CHANGED: lambda d: (
        f"Severity {d.get('from')} → {d.get('to')}"
        + (
            " (downgrade" + (f": {d['reason']}" if d.get("reason") else "") + ")"
            if d.get("downgrade")
            else ""
        )
    ),
    EventType.NOTE: lambda d: (
        f"Note by {d.get('by')}" + (f" at {d['at']}" if d.get("at") else "") + f": {d.get('text')}"
    ),
    EventType.SEVERITY_KEPT: lambda d: (
        f"Severity kept at {d.get('severity')} ({d.get('lower')} is lower: severity only rises)"
    ),
    EventType.CLASSIFIED: lambda d: f"Classified: {', '.join(d.get('facts', []))}",
    EventType.LEVER_INTENT: lambda d: f"Lever {d.get('lever')} requested",
    EventType.LEVER_ENGAGED: lambda d: f"Lever {d.get('lever')}: {_engaged(d)}",
    EventType.LEVER_VERIFIED: lambda d: (
        f"Lever {d.get('lever')} not verified: {_reason(d)}"
        if d.get("unverified")
        else f"Lever {d.get('lever')} verify probe: {'effective' if d.get('ok') else 'NOT effective'}"
        + ("" if d.get("ok") else f" ({_reason(d)})")
    ),
    EventType.LEVER_RELEASED: lambda d: (
        f"Lever {d.get('lever')}: nothing to release ({_reason(d)})"
        if d.get("not_engaged")
        else f"Lever {d.get('lever')} released" + ("" if d.get("ok") else " (FAILED)")
    ),
    EventType.CAPTURE_STORED: lambda d: f"Evidence {d.get('item')} ({d.get('part')}) stored",
    EventType.NOTIFY_RENDERED: lambda d: (
        f"Message drafted for {d.get('channel')} ({d.get('audience')})"
    ),
    EventType.NOTIFY_INTENT: lambda d: (
        f"Message for {d.get('channel')} going to the exercise's inbox"
        if d.get("simulated")
        else f"Sending message to {d.get('channel')}"
    ),
    EventType.NOTIFY_SENT: lambda d: (
        f"Message for {d.get('channel')} kept in the exercise's inbox (nothing sent)"
        if d.get("simulated")
        else f"Message sent to {d.get('channel')}"
        if d.get("ok")
        else f"Message to {d.get('channel')}: {d.get('reason')}; it may have been delivered"
        if d.get("uncertain")
        else f"Message to {d.get('channel')} FAILED ({d.get('reason')})"
    ),
    EventType.TICKET_INTENT: lambda d: f"Filing a follow-up for {d.get('item')!r}",
    EventType.TICKET_FILED: lambda d: (
        f"Follow-up for {d.get('item')!r} kept in the exercise's inbox (nothing filed)"
        if d.get("simulated")
        else f"Follow-up ticket {d.get('reference')} filed for {d.get('item')!r}"
        if d.get("ok")
        else f"Follow-up for {d.get('item')!r}: {d.get('reason')}; it may have been filed"
        if d.get("uncertain")
        else f"Follow-up for {d.get('item')!r} NOT filed ({d.get('reason')})"
    ),
    EventType.INJECT_DELIVERED: lambda d: f"Inject: {d.get('text')}",
    EventType.ACTION_INTENT: lambda d: f"Action {d.get('node')} requested",
    EventType.ACTION_RESULT: lambda d: (
        f"Action {d.get('node')}: "
        + (
            "done"
            if d.get("ok")
            else "unknown"
            if d.get("unknown")
            else "FAILED, it may have taken effect"
            if d.get("reply", {}).get("uncertain")
            else "FAILED"
        )
        + ("" if d.get("ok") else f" ({_reason(d)})")
    ),
    EventType.BRANCH: lambda d: f"Branch at {d.get('node')}: on to {d.get('next')}",
    EventType.REMINDER: lambda d: f"Reminder: {d.get('reason')}",
    EventType.LIMIT_REACHED: lambda d: (
        f"Node {d.get('node')} reached its limit of {d.get('limit')} visits: {d.get('decision')}"
    ),
    EventType.WAIT_ENDED: lambda d: (
        f"Wait at {d.get('node')}: "
        + ("held" if d.get("ok") else "deadline passed" if d.get("timed_out") else "FAILED")
        + f" after {d.get('polls')} poll(s)"
    ),
    EventType.VALUES_SET: lambda d: f"Set at {d.get('node')}: {_plain(d.get('values', {}))}",
    EventType.TIMER_MET: lambda d: f"Timer {d.get('timer')} met (within {d.get('within')})",
    EventType.TIMER_MISSED: lambda d: (
        f"Timer {d.get('timer')} MISSED (within {d.get('within')}, due {d.get('due')})"
    ),
    EventType.EVIDENCE_ATTACHED: lambda d: (
        f"Evidence {d.get('item')} attached ({d.get('description')})"
    ),
    EventType.CALL_ENTERED: lambda d: f"Handed off to runbook {d.get('child')}",
    EventType.CALL_RETURNED: lambda d: f"Runbook {d.get('child')} ended: {d.get('outcome')}",
    EventType.INCIDENT_INTERRUPTED: lambda d: f"Interrupted: {d.get('reason')}",
    EventType.INCIDENT_RESUMED: lambda d: (
        "Resumed"
        + (f" by {d['by']}" if d.get("by") else "")
        + (f" (walked by {d['after']} before)" if d.get("after") else "")
        + _taken_over(d)
    ),
    EventType.INCIDENT_TAKEN_OVER: lambda d: f"Opened by {d.get('by')}" + _taken_over(d),
    EventType.INCIDENT_ENDED: lambda d: f"Ended: {d.get('outcome')}",
    EventType.APPROVAL_REQUESTED: lambda d: (
        f"Lever {d.get('lever')} waits for {d.get('min')} approval(s)"
        + (f" by {' or '.join(map(str, d.get('roles', [])))}" if d.get("roles") else "")
        + f" until {d.get('until')}"
    ),
    EventType.APPROVAL_GRANTED: lambda d: (
        f"Lever {d.get('lever')} approved by {d.get('by')}"
        + (" (from the answers)" if d.get("via") == "answers" else "")
    ),
    EventType.APPROVAL_REJECTED: lambda d: (
        f"Lever {d.get('lever')} REJECTED by {d.get('by')}: {d.get('reason')}"
    ),
    EventType.APPROVAL_CLOSED: lambda d: (
        f"Lever {d.get('lever')} approved by {', '.join(map(str, d.get('approvers', [])))}"
        if d.get("outcome") == "approved"
        else f"Lever {d.get('lever')} NOT approved ({d.get('reason')})"
    ),
    EventType.INCIDENT_HANDED_OFF: lambda d: (
        f"Handed off to {d.get('to')} by {d.get('by')}"
        + (f" (was {d['from']})" if d.get("from") else "")
        + (f": {d['note']}" if d.get("note") else "")
    ),
    EventType.STORE_SILENT: lambda d: (
        f"{d.get('request')}: the incident store had not answered for longer than the lease; "
        + (f"sent all the same ({d.get('by')})" if d.get("send") else f"NOT sent ({d.get('by')})")
    ),
}


def _taken_over(data: Mapping[str, Any]) -> str:
    """`` (taken over from alice, pid 4242 on host h, whose process was gone)`` or nothing."""
    holder = data.get("took_over_from")
    if not isinstance(holder, Mapping):
        return ""
    who = f"{holder.get('operator')}, pid {holder.get('pid')} on host {holder.get('host')}"
    return f" (taken over from {who}, whose process was gone)"


def runbooks_of(incident: Incident) -> dict[str, Runbook]:
    """The runbooks walked, from the copies kept beside the journal."""
    found: dict[str, Runbook] = {}
    folder = incident.directory / "runbooks"
    for path in sorted(folder.glob("*.yaml")) if folder.is_dir() else []:
        runbook = parse(load_file(path), Runbook)
        found[runbook.id] = runbook
    return found


def incident_timers(
    incident: Incident, now: dt.datetime, runbooks: Mapping[str, Runbook] | None = None
) -> list[TimerStatus]:
    """Where each timer of the runbooks walked stands (:mod:`aiir.reports.timers`)."""
    return statuses(incident, runbooks_of(incident) if runbooks is None else runbooks, now)


def facts(incident: Incident, systems: list[Any]) -> dict[str, dt.datetime]:
    """Classification facts with their awareness times; the inventory adds what it knows."""
    found = {fact: parse_iso(ts) for fact, ts in incident.classified.items()}
    started = parse_iso(incident.started_at)
    for system in systems:
        if system.eu_ai_act == "high":
            found.setdefault("high-risk-system", started)
        if system.eu_ai_act == "gpai-systemic":
            found.setdefault("gpai-systemic", started)
    return found


def systems_involved(incident: Incident, workspace: Loaded | None) -> list[Any]:
    """The inventory's entries for the systems the walked runbooks name, in order."""
    known = workspace.systems() if workspace else {}
    named = [s for runbook in runbooks_of(incident).values() for s in runbook.systems]
    return [known[s] for s in dict.fromkeys(named) if s in known]


def deadlines(
    incident: Incident,
    workspace: Loaded | None,
    systems: list[Any],
    aware_at: Mapping[str, dt.datetime] | None = None,
) -> list[clocks.Deadline]:
    regimes = workspace.config.regimes if workspace else []
    return clocks.deadlines(
        facts(incident, systems), regimes, parse_iso(incident.started_at), aware_at
    )


def disclosure(incident: Incident, workspace: Loaded | None) -> str | None:
    """What the pre-agreed disclosure policy requires of this incident, if anything."""
    if workspace is None:
        return None
    required = []
    for rule in workspace.config.disclosure:  # every rule that applies: each is an obligation
        by_severity = incident.severity in {s.value for s in rule.severities}
        by_category = (incident.category or "") in rule.categories
        if by_severity or by_category:
            why = "severity" if by_severity else "category"
            where = AUDIENCE[rule.audience]
            required.append(f"disclose {where} within {rule.within} (policy: {why})")
    return "; ".join(required) or None


def follow_up_tickets(incident: Incident) -> dict[str, str]:
    """Action item (its words) -> the ticket filed for it (``aiir report --file-actions``)."""
    return dict(incident.tickets)


def _timeline(incident: Incident) -> list[dict[str, Any]]:
    """Every event a report's timeline tells, with its words."""
    return [
        {
            "ts": e.ts,
            "time": e.ts[11:19],
            "type": e.type,
            "operator": e.operator,
            "text": DETAIL[e.type](e.data),
        }
        for e in incident.history()
        if e.type in DETAIL
    ]


def report_context(
    incident: Incident,
    workspace: Loaded | None,
    now: dt.datetime,
    aware_at: Mapping[str, dt.datetime] | None = None,
    *,
    timeline: bool = True,
) -> dict[str, Any]:
    """Everything a report template reads. Without ``timeline`` the journal is not read again
    for it (``aiir show`` prints its own timeline as it reads the journal)."""
    runbooks = runbooks_of(incident)
    root = runbooks.get(incident.runbook)
    systems = systems_involved(incident, workspace)
    started = parse_iso(incident.started_at)
    ended = parse_iso(incident.ended_at) if incident.ended_at else None
    contained = parse_iso(incident.contained_at) if incident.contained_at else None
    dues = deadlines(incident, workspace, systems, aware_at)
    return {
        "incident": {
            **incident_fields(incident, now),
            "ended_at": incident.ended_at or "",
            "summary": incident.summary or "",
            "state": incident.state,
            "commander": _commander(incident, workspace),
        },
        "runbook": {
            "id": root.id,
            "title": root.title,
            "version": root.version,
            "owner": root.owner,
        }
        if root
        else {"id": incident.runbook, "title": incident.title, "version": "?", "owner": "?"},
        "inputs": incident.inputs,
        "answers": {
            a.get("node"): a.get("value") for a in incident.answers if a.get("key") == a.get("node")
        },
        "decisions": incident.answers,
        "vars": incident.vars,
        "levers": _levers(incident, runbooks),
        "evidence": [_evidence_row(incident, e) for e in incident.evidence],
        "notifications": incident.notifications,
        "tickets": follow_up_tickets(incident),
        "timeline": _timeline(incident) if timeline else [],
        "tasks": _tasks(incident),
        "classification": sorted(incident.classified),
        "systems": [s.model_dump() for s in systems],
        "clocks": [
            {
                "regime": d.regime,
                "source": d.source,
                "obligation": d.obligation,
                "aware_at": iso(d.aware_at),
                "due": iso(d.due),
                "left": clocks.left_text(d.left(now)),
                "overdue": d.overdue(now),
            }
            for d in dues
        ],
        "timers": [t.data(started) for t in incident_timers(incident, now, runbooks)],
        "regimes": list(workspace.config.regimes) if workspace else [],
        "not_legal_advice": clocks.NOT_LEGAL_ADVICE,
        "times": {
            "to_containment": clock_text(contained - started) if contained else "not reached",
            "duration": clock_text((ended or now) - started),
        },
        "disclosure": disclosure(incident, workspace),
        # Posted with each update, the chain's head anchors the journal outside it: lines cut from
        # the end of a journal leave a valid chain, but not this hash.
        "journal": {
            "events": incident.count,
            "hash": incident.head.hash if incident.head else "",
            "anchor": anchor_of([incident.head] if incident.head else []),
            "short_anchor": short_anchor(anchor_of([incident.head] if incident.head else [])),
            "verified": incident.verified,
            "problems": incident.problems,
        },
        "now": iso(now),
    }


def _evidence_row(incident: Incident, item: dict[str, Any]) -> dict[str, Any]:
    ref = EvidenceRef.read(item.get("evidence"))
    return {
        "item": item.get("item"),
        "part": item.get("part"),
        "what": item.get("what", []),
        "ts": item.get("ts"),
        "file": ref.file if ref else None,
        "sha256": ref.sha256 if ref else None,
        "bytes": ref.bytes if ref else None,
        "sessions": _session_context(incident, EvidenceRef.read(item.get("bundle"))),
    }


def _session_context(incident: Incident, ref: EvidenceRef | None) -> dict[str, Any] | None:
    """What a trace store's capture holds, counted (its bundle's own file), with where the
    hostile-looking text was found: named by safe labels only, never quoted (a report is
    markdown, and that text is an attacker's)."""
    if ref is None:
        return None
    try:
        data = received.loads((incident.directory / ref.file).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    counts = summary(data)
    if counts is None:
        return None
    found = [h for s in data["sessions"] if isinstance(s, dict) for h in s.get("hostile") or []]
    where = [_label(str(h.get("in", ""))) for h in found if isinstance(h, dict)]
    return {**counts, "bundle": ref.file, "bundle_sha256": ref.sha256, "hostile_in": where[:10]}


def _label(text: str) -> str:
    return _UNSAFE.sub("_", text)[:80]


_UNSAFE = re.compile(r"[^A-Za-z0-9 ._:/()-]")


def _commander(incident: Incident, workspace: Loaded | None) -> str:
    """The roster's incident commander on call; else whoever ran aiir."""
    if workspace is not None:
        on_call = workspace.on_call("incident-commander")
        if on_call.person is not None:
            return on_call.person.name
    return incident.operator


def _levers(incident: Incident, runbooks: Mapping[str, Runbook]) -> LeverStates:
    return LeverStates.of(incident, runbooks)


def render_report(
    incident: Incident,
    template: str,
    workspace: Loaded | None,
    now: dt.datetime,
    aware_at: Mapping[str, dt.datetime] | None = None,
) -> str:
    """Render a named template for an incident, from its journal."""
    context = report_context(incident, workspace, now, aware_at)
    override = workspace.template_dir() if workspace else None
    rendered = render_named(template, context, incident, override)
    if incident.verified:
        return rendered
    return (
        f"UNVERIFIED: the journal of {incident.id} does not verify ({incident.problems[0]}); "
        "what follows may be forged (aiir verify " + incident.id + ")\n\n" + rendered
    )


def parse_aware_at(values: list[str]) -> dict[str, dt.datetime]:
    """``--aware-at 2026-11-27T03:15Z`` (all regimes) or ``--aware-at gdpr=2026-11-27T03:15Z``."""
    out: dict[str, dt.datetime] = {}
    for value in values:
        regime, sep, moment = value.partition("=")
        if not sep:
            regime, moment = "*", value
        if regime != "*" and regime not in clocks.REGIMES:
            raise InputError(
                f"--aware-at {value!r}: unknown regime {regime!r} ({', '.join(clocks.REGIMES)})"
            )
        try:
            parsed = parse_iso(moment)
        except ValueError:
            raise InputError(
                f"--aware-at {value!r}: expected an ISO-8601 time such as 2026-11-27T03:15:00Z"
            ) from None
        out[regime] = parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)
    return out


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
