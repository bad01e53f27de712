"""Where a runbook's timers stand in an incident: met, missed, open, waiting for their start.

Read from the journal alone (with the runbooks walked), so the walk, ``aiir show``, the
post-mortem and the exercises' reports all say the same. A met or missed timer is what the walk
journalled (``timer.met``, ``timer.missed``); one the walk has not judged yet is judged against
``now`` (an interrupted walk's missed deadline shows as missed).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from aiir.formats.schema import Runbook
from aiir.formats.timers import START, span
from aiir.incident.events import EventType
from aiir.incident.journal import Event
from aiir.incident.state import Incident
from aiir.timestamps import clock_text, iso, parse_iso

MET, MISSED, OPEN = "met", "missed", "open"
WAITING, NOT_REACHED, NOT_APPLICABLE = "waiting", "not reached", "not applicable"


@dataclass(frozen=True)
class TimerSpec:
    """One deadline of one runbook, from its ``timers:`` or a node's ``within:``."""

    runbook: str
    name: str
    within: str
    start: str  # "start" or a node id
    until: str | None  # a node id, or None for the walk's end
    severities: frozenset[str]

    @property
    def span(self) -> dt.timedelta:
        return span(self.within)

    def describe(self) -> str:
        since = "the start" if self.start == START else f"entering {self.start}"
        done = f"{self.until} done" if self.until else "the end"
        return f"{done} within {self.within} of {since}"


def specs(runbook: Runbook) -> list[TimerSpec]:
    """The runbook's timers, then its nodes' own deadlines (named after the node)."""
    found = [
        TimerSpec(
            runbook.id,
            t.name,
            t.within,
            t.from_,
            t.until,
            frozenset(s.value for s in t.severity),
        )
        for t in runbook.timers
    ]
    for node_id, node in runbook.nodes.items():
        if node.within is not None:
            found.append(TimerSpec(runbook.id, node_id, node.within, START, node_id, frozenset()))
    return found


@dataclass(frozen=True)
class TimerStatus:
    """A timer at one moment: its state, when it started and is due, when it was met."""

    spec: TimerSpec
    state: str
    started: dt.datetime | None = None
    due: dt.datetime | None = None
    at: dt.datetime | None = None  # when it was met

    def text(self, origin: dt.datetime) -> str:
        """``met at T+00:04:00 (due T+00:15:00)``, times from the incident's start."""
        due = f"due {clock_text(self.due - origin)}" if self.due else ""
        if self.state == MET and self.at is not None:
            return f"met at {clock_text(self.at - origin)} ({due})"
        if self.state in {MISSED, OPEN, NOT_REACHED}:
            return f"{self.state} ({due})"
        return self.state

    def data(self, origin: dt.datetime) -> dict[str, str | None]:
        return {
            "runbook": self.spec.runbook,
            "timer": self.spec.name,
            "within": self.spec.within,
            "from": self.spec.start,
            "until": self.spec.until,
            "state": self.state,
            "due": iso(self.due) if self.due else None,
            "met_at": iso(self.at) if self.at else None,
            "text": self.text(origin),
        }


def judged(events: Iterable[Event]) -> dict[tuple[str, str], Event]:
    """The walk's verdict on each timer, by (runbook, timer): the first one journalled."""
    found: dict[tuple[str, str], Event] = {}
    for event in events:
        if event.type in {EventType.TIMER_MET, EventType.TIMER_MISSED}:
            key = (str(event.data.get("runbook")), str(event.data.get("timer")))
            found.setdefault(key, event)
    return found


def severities(incident: Incident) -> set[str]:
    """Every severity the incident has had."""
    return incident.severities_seen | {incident.severity}


def first_entries(incident: Incident) -> dict[tuple[str, str], dt.datetime]:
    """When each (runbook, node) was first entered."""
    return {key: parse_iso(ts) for key, ts in incident.first_entered.items()}


def status(
    spec: TimerSpec,
    incident: Incident,
    now: dt.datetime,
    verdicts: Mapping[tuple[str, str], Event],
    entries: Mapping[tuple[str, str], dt.datetime],
) -> TimerStatus:
    """Where ``spec`` stands at ``now``."""
    if spec.severities and not spec.severities & severities(incident):
        return TimerStatus(spec, NOT_APPLICABLE)
    started = (
        parse_iso(incident.started_at)
        if spec.start == START
        else entries.get((spec.runbook, spec.start))
    )
    if started is None:
        return TimerStatus(spec, WAITING)
    due = started + spec.span
    verdict = verdicts.get((spec.runbook, spec.name))
    if verdict is not None and verdict.type == EventType.TIMER_MET:
        return TimerStatus(spec, MET, started, due, parse_iso(verdict.ts))
    if verdict is not None:
        return TimerStatus(spec, MISSED, started, due)
    ended = parse_iso(incident.ended_at) if incident.ended_at else None
    if ended is not None and ended <= due:
        return TimerStatus(spec, NOT_REACHED, started, due)
    return TimerStatus(spec, MISSED if (ended or now) > due else OPEN, started, due)


def statuses(
    incident: Incident, runbooks: Mapping[str, Runbook], now: dt.datetime
) -> list[TimerStatus]:
    """Every timer of the runbooks walked, root runbook first."""
    verdicts, entries = incident.timer_verdicts, first_entries(incident)
    ordered = sorted(runbooks.values(), key=lambda r: r.id != incident.runbook)
    return [status(spec, incident, now, verdicts, entries) for rb in ordered for spec in specs(rb)]


def left_text(due: dt.datetime, now: dt.datetime) -> str:
    """``12m left`` / ``1h 05m left``."""
    minutes = max(int((due - now).total_seconds()) // 60, 0)
    hours, minutes = divmod(minutes, 60)
    return (f"{hours}h {minutes:02d}m" if hours else f"{minutes}m") + " left"
