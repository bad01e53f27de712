"""Live views: ``aiir watch ID`` follows one incident's timeline as it is written, and
``aiir incidents --watch`` follows the open incidents.

Both read through the incident store: ``changes`` for what is new, ``wait`` to sleep until there
may be more (the files poll; a database store pushes). What is printed comes from journals, so it
is hostile text: each event is a timeline line as ``aiir show`` prints it (masked, inert, one
line per event), with who wrote it. Ctrl-C stops either view cleanly; ``watch`` also stops when
the incident ends, and says so.
"""

from __future__ import annotations

import io
import textwrap
import time
from collections.abc import Callable, Iterable, Mapping

from aiir.environment import Environment
from aiir.incident.events import EventType
from aiir.incident.journal import Event
from aiir.incident.literals import declare_literal_credentials
from aiir.incident.postgres import StoreUnavailable
from aiir.incident.state import Incident, incident_dir, list_incidents
from aiir.incident.store import FileStore, IncidentStore
from aiir.redact import known_secrets, scrub
from aiir.terminal.inert import CELL, ends, plain
from aiir.views.incidents import listed, with_lost
from aiir.views.timeline import event_lines

WAIT = 0.5  # seconds a watch sleeps at most before it asks the store again
AWAY = 2.0  # seconds between two tries of a store that does not answer
REDRAW = 1.0  # seconds between looks at the listing of ``incidents --watch``
CLEAR = "\x1b[H\x1b[2J"
_KNOWN = frozenset(EventType)


def watch_incident(
    env: Environment, incident_id: str, *, from_start: bool, store: IncidentStore | None = None
) -> None:
    """Print the incident's new events as they are appended, until it ends or Ctrl-C."""
    directory = incident_dir(env.incidents_dir, incident_id)  # unknown: one clear line, exit 2
    feed = store or FileStore(env.incidents_dir)
    incident = Incident(id=incident_id, directory=directory, keep_events=False)
    so_far = feed.changes(incident_id, 0)
    for event in so_far:
        incident.apply(event)
    declare_literal_credentials(directory)  # an older walk's journal may hold them as they are
    out = _Out(env)
    checked = feed.read(incident_id)  # verified: chain, evidence, runbook copies
    if checked.problems:
        out.line(
            f"UNVERIFIED: this journal does not verify ({checked.problems[0]}): what "
            f"follows may be forged (aiir verify {incident_id})"
        )
    out.line(_heading(incident))
    if from_start:
        out.events(so_far)
    after = incident.head.seq if incident.head else 0
    away = False  # the store stopped answering: said once, asked again until it answers
    try:
        while incident.outcome is None:
            try:
                feed.wait(incident_id, after, WAIT)
                new = feed.changes(incident_id, after)
            except StoreUnavailable as exc:
                if not away:
                    out.line(f"{exc}; still watching: asking it again every {AWAY:g}s")
                away = True
                time.sleep(AWAY)
                continue
            if away:
                out.line(f"the incident store answers again; watching {incident_id}")
                away = False
            for event in new:
                incident.apply(event)
            out.events(new)
            after = incident.head.seq if incident.head else after
    except KeyboardInterrupt:
        out.line(f"stopped watching {incident_id} (Ctrl-C); it goes on without you")
        return
    out.line(f"{incident_id} ended ({incident.outcome}): nothing more to watch")


def _heading(incident: Incident) -> str:
    state = incident.outcome or incident.state
    lead = f", lead {incident.lead}" if incident.lead else ""
    count = f"{incident.count:,} event{'s' if incident.count != 1 else ''}"
    return (
        f"watching {incident.id} {incident.severity} {ends(incident.title, CELL)} [{state}{lead}], "
        f"{count} so far; Ctrl-C to stop"
    )


class _Out:
    """Lines to the console's file, masked and inert, flushed at once (a live view)."""

    def __init__(self, env: Environment) -> None:
        self.file, self.width, self.secrets = env.console.file, env.console.width, known_secrets()

    def line(self, text: str) -> None:
        rows = textwrap.wrap(
            plain(scrub(text, self.secrets)),
            max(self.width, 40),
            subsequent_indent="    ",
            break_on_hyphens=False,
            break_long_words=False,
        )
        self.file.write("".join(row + "\n" for row in rows))
        self.file.flush()

    def events(self, events: Iterable[Event]) -> None:
        lines = (
            line
            for event in events
            for line in event_lines(event, self.width, self.secrets, who=True)
        )
        self.file.write("".join(line + "\n" for line in lines))
        self.file.flush()


def watch_incidents(
    env: Environment,
    *,
    sleep: Callable[[float], None] = time.sleep,
    refresh: Callable[[], object] | None = None,
) -> None:
    """Redraw the open incidents whenever one of them changes, until Ctrl-C; ``refresh`` brings
    the local copy of a shared store up to date before each look, and may name the incidents
    whose rows the store lost (id: the line saying so), listed as TAMPERED."""
    out, shown = env.console.file, None
    clear = CLEAR if env.console.is_terminal else ""
    try:
        while True:
            away, lost = "", {}
            if refresh is not None:
                try:
                    said = refresh()
                    lost = dict(said) if isinstance(said, Mapping) else {}
                except StoreUnavailable as exc:  # the local copy, as it was, until it is back
                    away = plain(scrub(f"{exc}; the local copy as it was:", known_secrets()))
            body = (away + "\n" if away else "") + _open_listing(env, lost)
            if body != shown:
                head = f"open incidents under {env.incidents_dir} (Ctrl-C to stop)\n"
                out.write(clear + plain(head) + body)
                out.flush()
                shown = body
            sleep(REDRAW)
    except KeyboardInterrupt:
        out.write("stopped watching the incidents (Ctrl-C)\n")
        out.flush()


def _open_listing(env: Environment, lost: Mapping[str, str] | None = None) -> str:
    every = with_lost(list_incidents(env.incidents_dir, keep_events=False), env, lost or {})
    found = [i for i in every if i.outcome is None or not i.verified]
    if not found:
        return "no open incidents\n"
    width, known = max(len(i.id) for i in found), known_secrets()
    text = io.StringIO()
    for incident in found:
        text.write(listed(incident, width, env.console.width, known))
        text.write(f"    lead {plain(scrub(incident.lead, known))}, {_last(incident)}\n")
    return text.getvalue()


def _last(incident: Incident) -> str:
    head = incident.head
    if head is None:
        return "no events"
    kind = head.type if head.type in _KNOWN else plain(head.type)
    return f"{incident.count:,} events, last {kind} at {plain(head.ts[11:19])} UTC by {plain(head.operator)}"
