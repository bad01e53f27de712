"""``aiir handoff``: who leads an incident now, recorded in its journal.

A hand-off goes in like a note: while a walker holds the incident it is appended under the
journal's append lock, and the walker takes it into its chain before its next event. With a team
roster, the new lead must be one of its roles or people; without one, any name will do. The
operator who hands off is recorded with the event (``operator`` and ``data.by``).
"""

from __future__ import annotations

from dataclasses import dataclass

from aiir.environment import Environment
from aiir.errors import InputError
from aiir.formats.findings import suggest
from aiir.incident import payloads
from aiir.incident.events import EventType
from aiir.incident.state import Incident
from aiir.respond.beside import beside_walker

MAX_NAME = 80
MAX_NOTE = 2000


@dataclass(frozen=True)
class HandOff:
    """A hand-off journalled: who led before, who leads now."""

    before: str
    to: str
    on_call: str | None  # the person on call for the role handed to, from the roster


def hand_off(env: Environment, incident_id: str, to: str, note: str = "") -> HandOff:
    """Journal that ``to`` (a role or a person) leads ``incident_id`` from now on."""
    whom, said = _checked_name(env, to), " ".join(note.split())
    if len(said) > MAX_NOTE:
        raise InputError(f"--note is at most {MAX_NOTE} characters (this one is {len(said)})")
    with beside_walker(env, incident_id, keep_events=False) as (journal, incident):
        before = _handed_from(incident, whom)
        handed = payloads.IncidentHandedOff({"to": whom, "from": before, "by": env.operator})
        if said:
            handed["note"] = said
        journal.append(EventType.INCIDENT_HANDED_OFF, handed)
    return HandOff(before, whom, _on_call(env, whom))


def _checked_name(env: Environment, to: str) -> str:
    whom = to.strip()
    if not whom or len(whom) > MAX_NAME or any(c.isspace() or not c.isprintable() for c in whom):
        raise InputError(f"--to {to[:MAX_NAME]!r}: a role or a person of the team roster, one word")
    known = env.workspace.roles() if env.workspace is not None else None
    if known is not None and whom not in known:
        raise InputError(
            f"--to {whom!r}: not a role or person in the team roster{suggest(whom, known)}"
        )
    return whom


def _handed_from(incident: Incident, to: str) -> str:
    if incident.outcome is not None:
        raise InputError(f"{incident.id} already ended ({incident.outcome}); nobody leads it now")
    if incident.lead == to:
        raise InputError(f"{incident.id}: {to} leads it already; nothing was recorded")
    return incident.lead


def _on_call(env: Environment, whom: str) -> str | None:
    workspace = env.workspace
    if workspace is None or workspace.team is None or whom not in workspace.team.roles:
        return None
    return workspace.on_call(whom).person_id
