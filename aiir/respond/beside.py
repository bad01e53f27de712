"""One event written into an incident beside its walker: a note, an approval, a hand-off.

Each goes in under the journal's append lock, which every writer takes for each event, so the
walker (on this machine or, on the shared store, on another) takes it into its chain before its
next event. On the shared store the event goes to the database first and the local copy is
brought up to date under the same hold.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from aiir.environment import Environment
from aiir.incident.journal import Journal
from aiir.incident.state import Incident, incident_dir
from aiir.redact import scrub
from aiir.respond.preparation import declare_incident_secrets
from aiir.respond.shared import side_writer
from aiir.timestamps import iso


@contextmanager
def beside_walker(
    env: Environment, incident_id: str, *, keep_events: bool = True
) -> Iterator[tuple[Journal, Incident]]:
    """The incident's journal held for appending, and the incident as it stands under that hold
    (read and checked in one pass): nobody writes between what the caller reads and appends."""
    upstream = side_writer(env, incident_id)  # a shared store: the event goes there first
    directory = incident_dir(env.incidents_dir, incident_id)
    declare_incident_secrets(env, directory)  # masked as the walk masks its own lines
    journal = Journal(directory, env.operator, lambda: iso(env.clock.now()), scrub)
    journal.upstream = upstream
    try:
        with journal.appending():
            if upstream is not None:
                upstream.pull()
            incident = Incident(id=incident_id, directory=directory, keep_events=keep_events)
            journal.load(incident.apply)
            yield journal, incident
    finally:
        journal.close()
