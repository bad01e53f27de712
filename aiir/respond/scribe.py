"""What a responder writes into an incident from any terminal: a note, a change of severity.

A note may go in while another process walks the incident: it is appended under the journal's
append lock, which every writer takes for each event, and the walker takes it into its chain
before its next event. A change of severity changes what the walk decides, so it needs the
incident to itself: while a walker holds it, it is refused with the walker named.
"""

from __future__ import annotations

from aiir.environment import Environment
from aiir.errors import InputError
from aiir.formats.common import Severity, lower_severity
from aiir.incident import payloads
from aiir.incident.events import EventType
from aiir.incident.state import Incident
from aiir.redact import scrub
from aiir.respond.beside import beside_walker
from aiir.respond.preparation import declare_incident_secrets
from aiir.respond.shared import taken_up
from aiir.terminal.inert import plain

MAX_NOTE = 4000  # characters of one note: a running log, not a document


def add_note(env: Environment, incident_id: str, text: str, at: str | None = None) -> Incident:
    """Append a note by ``env.operator``; safe beside a walker of the same incident."""
    said = text.strip()
    if not plain(said).strip():
        raise InputError("a note needs some text (escape and control characters show as nothing)")
    if len(said) > MAX_NOTE:
        raise InputError(f"a note is at most {MAX_NOTE} characters (this one is {len(said)})")
    with beside_walker(env, incident_id) as (journal, incident):
        note = payloads.Note(text=said, by=env.operator)
        if at:
            note["at"] = at
        incident.apply(journal.append(EventType.NOTE, note))
    return incident


def set_severity(env: Environment, incident_id: str, severity: Severity, reason: str) -> str:
    """Change an incident's severity by hand (the one way down besides the runbook's own
    ``downgrade: true``), journalled with the operator and the reason; returns the one before."""
    why = " ".join(reason.split())
    if not plain(why).strip():
        raise InputError("--reason: say why the severity changes")
    journal = taken_up(env, incident_id, scrub, "changed")
    try:
        declare_incident_secrets(env, journal.directory)
        incident = Incident(id=incident_id, directory=journal.directory)
        journal.load(incident.apply)  # one pass: checked and folded
        current = incident.severity
        if severity.value == current:
            raise InputError(f"{incident_id} is already {current}")
        changed = payloads.SeverityChanged(
            {"from": current, "to": severity.value, "reason": why, "by": "aiir severity"}
        )
        if lower_severity(severity.value, current):
            changed["downgrade"] = True
        journal.append(EventType.SEVERITY_CHANGED, changed)
    finally:
        journal.close()
    return current
