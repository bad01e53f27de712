"""An incident as its journal tells it: state is always derived from events, never stored twice."""

from __future__ import annotations

import datetime as dt
import itertools
import os
import re
import secrets
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiir.errors import InputError, shown
from aiir.incident.approvals import ApprovalRequest, request_of, verdict_of
from aiir.incident.events import EventType
from aiir.incident.journal import (
    JOURNAL,
    Event,
    JournalBroken,
    Reading,
    no_journal,
    read_checked,
)
from aiir.incident.literals import declare_literal_credentials
from aiir.redact import MASK
from aiir.timestamps import parse_iso

# "unknown": the run stopped after the request may have gone out, with no probe to tell.
NEEDS_RELEASE = frozenset({"engaged", "verified", "not-effective", "unknown"})
# What an id may look like: ours are INC-20261127-031502-a3f9; a safe directory name, at least.
_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}\Z")
_NEW_ID_TRIES = 100
# Where a delivered message counts as a status update for the major-incident cadence. A page
# (PagerDuty) calls people in; it tells nobody how things stand.
STATUS_CHANNELS = frozenset({"slack", "teams", "statuspage", "webhook"})


def new_incident_id(now: dt.datetime) -> str:
    """``INC-20261127-0315-a3f9``: sortable, readable over a phone line, unique enough."""
    return f"INC-{now:%Y%m%d-%H%M%S}-{secrets.token_hex(2)}"


@dataclass
class LeverRecord:
    """One engagement of a lever and what became of it."""

    runbook: str
    lever: str
    node: str
    step: int
    title: str
    kind: str
    state: str = (
        "intent"  # intent, engaged, verified, not-effective, failed, unavailable, released…
    )
    verdict: str = ""
    engaged_at: str | None = None
    released_at: str | None = None
    before_release: str | None = None  # its state until it was released (a replay reads it)
    unanswered: bool = False  # engaged, and its verify probe got no answer (or a 5xx)

    @property
    def key(self) -> str:
        return f"{self.runbook}:{self.lever}"


@dataclass
class Incident:
    """What happened in one incident, rebuilt from its journal."""

    id: str
    directory: Path
    runbook: str = ""
    title: str = ""
    started_at: str = ""
    severity: str = ""
    operator: str = ""
    drill: bool = False
    exercise: str | None = None  # "sandbox", "drill" or "tabletop": practice, not a real incident
    dry_run: bool = False
    category: str | None = None
    tags: dict[str, list[str]] = field(default_factory=dict)
    inputs: dict[str, Any] = field(default_factory=dict)
    gateways: dict[str, str] = field(default_factory=dict)
    masked_gateways: dict[str, str] = field(default_factory=dict)  # as journalled, masked
    snapshot: str = ""
    outcome: str | None = None
    summary: str | None = None
    ended_at: str | None = None
    interrupted: bool = False
    vars: dict[str, Any] = field(default_factory=dict)
    levers: list[LeverRecord] = field(default_factory=list)
    answers: list[dict[str, Any]] = field(default_factory=list)
    notifications: list[dict[str, Any]] = field(default_factory=list)
    evidence: list[dict[str, Any]] = field(default_factory=list)
    classified: dict[str, str] = field(default_factory=dict)  # fact -> awareness time (UTC)
    events: list[Event] = field(default_factory=list)  # every event, unless not ``keep_events``
    problems: list[str] = field(default_factory=list)  # why its journal does not verify
    # Folded as the events go by, so that a reader need not keep them:
    head: Event | None = None  # the last event
    count: int = 0  # events folded
    status_posted_at: str | None = None  # the newest status update a status channel took
    reminded_due: str | None = None  # the due time the last status reminder was for
    contained_at: str | None = None  # the first lever a verify probe found effective
    first_entered: dict[tuple[str, str], str] = field(default_factory=dict)  # (runbook, node)
    timer_verdicts: dict[tuple[str, str], Event] = field(default_factory=dict)  # the first, each
    severities_seen: set[str] = field(default_factory=set)  # every severity it has had
    severity_decided: bool = False  # the walk has set (or kept) a severity since it opened
    tickets: dict[str, str] = field(default_factory=dict)  # action item -> ticket filed for it
    task_marks: list[Event] = field(default_factory=list)  # every ``task.done``, in order
    approvals: list[ApprovalRequest] = field(default_factory=list)  # the two-person rule's
    lead: str = ""  # who leads the incident now: who opened it, or whom it was handed to
    walker: str = ""  # who walks it now: who opened it, or who resumed it last
    keep_events: bool = field(default=True, repr=False)

    @property
    def verified(self) -> bool:
        return not self.problems

    @property
    def state(self) -> str:
        if self.outcome is not None:
            return "ended"
        return "interrupted" if self.interrupted else "open"

    def needs_release(self) -> list[LeverRecord]:
        """Levers still engaged, newest first (the order to release them in)."""
        return [r for r in reversed(self.levers) if r.state in NEEDS_RELEASE]

    def lever_at(self, step: int) -> LeverRecord | None:
        return next((r for r in self.levers if r.step == step), None)

    def apply(self, event: Event) -> None:
        """Fold one event into the state."""
        if self.keep_events:
            self.events.append(event)
        self.head, self.count = event, self.count + 1
        handler = _HANDLERS.get(event.type)
        if handler is not None:
            handler(self, event)
        saved = (
            event.data.get("reply", {}).get("saved")
            if isinstance(event.data.get("reply"), dict)
            else None
        )
        if isinstance(saved, dict):
            self.vars.update(saved)

    def history(self) -> Iterator[Event]:
        """Every event folded so far, in order: those kept, or (when none are kept) the journal
        read again, checked, up to the last event folded."""
        if self.keep_events:
            return iter(self.events)
        head = self.head.seq if self.head else 0
        events = read_checked(self.directory / JOURNAL, Reading())
        return itertools.takewhile(lambda event: event.seq <= head, events)

    @classmethod
    def from_events(cls, incident_id: str, directory: Path, events: Iterable[Event]) -> Incident:
        incident = cls(id=incident_id, directory=directory)
        for event in events:
            incident.apply(event)
        return incident


IN_EFFECT = frozenset({"engaged", "verified"})


class LeverStates(list[dict[str, Any]]):
    """The levers of an incident as templates read them: a list of engagements in order (for
    reports), and by lever name (``levers['emergency-filter'].engaged``) for branches and text.
    A declared lever that was never engaged reads as ``state: not engaged``."""

    def __init__(self, items: Iterable[dict[str, Any]], declared: Mapping[str, str]) -> None:
        super().__init__(items)
        self.declared = dict(declared)  # lever name -> title

    @classmethod
    def of(
        cls, incident: Incident, runbooks: Mapping[str, Any], *, own: bool = False
    ) -> LeverStates:
        """``runbooks``: id -> Runbook (anything with ``levers`` of ``title``/``business_cost``);
        ``own``: only the engagements of those runbooks (a walk reads its runbook's levers)."""
        items = []
        declared: dict[str, str] = {}
        for runbook in runbooks.values():
            declared.update({name: lever.title for name, lever in runbook.levers.items()})
        for record in incident.levers:
            runbook = runbooks.get(record.runbook)
            if runbook is None and own:
                continue
            lever = runbook.levers.get(record.lever) if runbook is not None else None
            items.append(lever_view(record, lever))
        return cls(items, declared)

    def __getitem__(self, key: Any) -> Any:
        if not isinstance(key, str):
            return super().__getitem__(key)
        for item in reversed(self):
            if item["lever"] == key:
                return item
        if key in self.declared:
            return _never_engaged(key, self.declared[key])
        raise KeyError(key)


def lever_view(record: LeverRecord, lever: Any = None) -> dict[str, Any]:
    """One engagement as templates and reports read it."""
    cost = getattr(lever, "business_cost", None) if lever is not None else None
    return {
        "lever": record.lever,
        "runbook": record.runbook,
        "title": record.title,
        "kind": record.kind,
        "state": record.state,
        "verdict": record.verdict,
        "engaged": record.state in IN_EFFECT,
        "verified": record.state == "verified",
        "possibly_engaged": record.state == "unknown",
        "released": record.state == "released",
        "engaged_at": record.engaged_at or "",
        "released_at": record.released_at or "",
        "business_cost": cost or "",
        "destroys_evidence": bool(getattr(lever, "destroys_evidence", False)),
    }


def _never_engaged(name: str, title: str) -> dict[str, Any]:
    return {
        "lever": name,
        "runbook": "",
        "title": title,
        "kind": "",
        "state": "not engaged",
        "verdict": "",
        "engaged": False,
        "verified": False,
        "possibly_engaged": False,
        "released": False,
        "engaged_at": "",
        "released_at": "",
        "business_cost": "",
        "destroys_evidence": False,
    }


def _opened(incident: Incident, event: Event) -> None:
    data = event.data
    incident.runbook = data.get("runbook", "")
    incident.title = data.get("title", "")
    incident.started_at = event.ts
    incident.severity = data.get("severity", "")
    incident.operator = incident.lead = incident.walker = event.operator
    incident.drill = bool(data.get("drill"))
    exercise = data.get("exercise") or ("drill" if incident.drill else None)
    incident.exercise = str(exercise) if exercise else None
    incident.dry_run = bool(data.get("dry_run"))
    incident.category = data.get("category")
    incident.tags = data.get("tags", {})
    incident.inputs = data.get("inputs", {})
    # A URL that held a declared secret was masked in the journal: resume and release then use
    # the runbook's own URL again (rendered from the environment), never the masked text.
    walked_on = data.get("gateways", {})
    incident.gateways = {n: u for n, u in walked_on.items() if MASK not in u}
    incident.masked_gateways = {n: u for n, u in walked_on.items() if MASK in u}
    incident.snapshot = data.get("snapshot", "")
    incident.severities_seen.add(str(data.get("severity")))


def _severity(incident: Incident, event: Event) -> None:
    incident.severity = event.data.get("to", incident.severity)
    incident.severities_seen.add(str(event.data.get("to")))
    incident.severity_decided = True


def _severity_kept(incident: Incident, event: Event) -> None:
    incident.severity_decided = True


def _entered(incident: Incident, event: Event) -> None:
    key = (str(event.data.get("runbook")), str(event.data.get("node")))
    incident.first_entered.setdefault(key, event.ts)


def _timer_judged(incident: Incident, event: Event) -> None:
    key = (str(event.data.get("runbook")), str(event.data.get("timer")))
    incident.timer_verdicts.setdefault(key, event)


def _ticket(incident: Incident, event: Event) -> None:
    if event.data.get("ok") and event.data.get("reference"):
        incident.tickets[str(event.data.get("item"))] = str(event.data["reference"])


def _task_done(incident: Incident, event: Event) -> None:
    incident.task_marks.append(event)


def _answer(incident: Incident, event: Event) -> None:
    incident.answers.append({"ts": event.ts, "operator": event.operator, **event.data})


def _lever_intent(incident: Incident, event: Event) -> None:
    data = event.data
    # Engaged again: its own release now covers the one whose state was not proven (unknown, or
    # engaged with a probe that got no answer).
    for earlier in incident.levers:
        unproven = earlier.state == "unknown" or (earlier.state == "engaged" and earlier.unanswered)
        if unproven and (earlier.runbook, earlier.lever) == (
            data.get("runbook", ""),
            data.get("lever", ""),
        ):
            earlier.state, earlier.verdict = "superseded", f"engaged again at step {event.step}"
    incident.levers.append(
        LeverRecord(
            runbook=data.get("runbook", ""),
            lever=data.get("lever", ""),
            node=data.get("node", ""),
            step=event.step or 0,
            title=data.get("title", ""),
            kind=data.get("kind", ""),
        )
    )


def _lever_engaged(incident: Incident, event: Event) -> None:
    record = incident.lever_at(event.step or 0)
    if record is None:
        return
    reply = event.data.get("reply", {})
    if event.data.get("dry_run"):
        record.state, record.verdict = "dry-run", "not sent (dry run)"
    elif event.data.get("ok"):
        record.state, record.engaged_at = "engaged", event.ts
        record.verdict = "engaged, not yet verified"
    elif event.data.get("unknown"):
        record.state = "unknown"
        record.verdict = f"possibly engaged: {reply.get('reason', 'unknown')}"
    else:
        record.state = "unavailable" if reply.get("unavailable") else "failed"
        record.verdict = str(reply.get("reason", "failed"))


def _lever_verified(incident: Incident, event: Event) -> None:
    record = incident.lever_at(event.step or 0)
    if record is None or record.state not in NEEDS_RELEASE:
        return
    if event.data.get("ok"):
        record.state, record.verdict = "verified", "effective: verify probe passed"
        incident.contained_at = incident.contained_at or event.ts
    elif event.data.get("unverified"):  # the probe could not be built or got no answer
        reason = event.data.get("reply", {}).get("reason", "cannot verify")
        record.verdict = f"engaged, not verified: {reason}"
        record.unanswered = bool(event.data.get("unanswered"))
    else:
        reason = event.data.get("reply", {}).get("reason", "verify probe failed")
        record.state, record.verdict = "not-effective", f"NOT effective: {reason}"


def _lever_released(incident: Incident, event: Event) -> None:
    record = incident.lever_at(int(event.data.get("engaged_step", -1)))
    if record is None:
        return
    if event.data.get("ok"):
        record.before_release = record.state
        record.state, record.released_at = "released", event.ts
        record.verdict = "released"
    else:
        reason = event.data.get("reply", {}).get("reason", "release failed")
        record.verdict = f"release failed: {reason}"


def _values_set(incident: Incident, event: Event) -> None:
    incident.vars.update(event.data.get("values", {}))


def _notify(incident: Incident, event: Event) -> None:
    incident.notifications.append({"ts": event.ts, **event.data})


def _sent(incident: Incident, event: Event) -> None:
    if event.data.get("ok") is True and event.data.get("channel") in STATUS_CHANNELS:
        posted = incident.status_posted_at
        if posted is None or parse_iso(event.ts) > parse_iso(posted):
            incident.status_posted_at = event.ts
    for note in reversed(incident.notifications):
        if note.get("node") == event.data.get("node") and note.get("runbook") == event.data.get(
            "runbook"
        ):
            note["sent"] = bool(event.data.get("ok"))
            note["delivery"] = {
                k: event.data.get(k) for k in ("ok", "status", "reason", "reference")
            }
            return


def _capture(incident: Incident, event: Event) -> None:
    incident.evidence.append({"ts": event.ts, **event.data})


def _ended(incident: Incident, event: Event) -> None:
    incident.outcome = event.data.get("outcome")
    incident.summary = event.data.get("summary")
    incident.ended_at = event.ts


def _classified(incident: Incident, event: Event) -> None:
    for fact in event.data.get("facts", []):
        incident.classified.setdefault(str(fact), event.ts)  # the first awareness counts


def _reminded(incident: Incident, event: Event) -> None:
    due = event.data.get("due")
    incident.reminded_due = due if isinstance(due, str) else None


def _interrupted(incident: Incident, event: Event) -> None:
    incident.interrupted = True


def _resumed(incident: Incident, event: Event) -> None:
    incident.interrupted = False
    incident.walker = event.operator


def _approval_requested(incident: Incident, event: Event) -> None:
    incident.approvals.append(request_of(event))


def _approval_verdict(incident: Incident, event: Event) -> None:
    request = _request(incident, event.data.get("request"))
    if request is not None and request.open:  # a word after the close changes nothing
        request.verdicts.append(verdict_of(event))


def _approval_closed(incident: Incident, event: Event) -> None:
    request = _request(incident, event.data.get("request"))
    if request is not None:
        request.outcome = str(event.data.get("outcome"))


def _request(incident: Incident, seq: Any) -> ApprovalRequest | None:
    return next((r for r in reversed(incident.approvals) if r.seq == seq), None)


def _handed_off(incident: Incident, event: Event) -> None:
    incident.lead = str(event.data.get("to") or incident.lead)


_HANDLERS: dict[str, Callable[[Incident, Event], None]] = {
    EventType.INCIDENT_OPENED: _opened,
    EventType.SEVERITY_CHANGED: _severity,
    EventType.SEVERITY_KEPT: _severity_kept,
    EventType.NODE_ENTERED: _entered,
    EventType.TIMER_MET: _timer_judged,
    EventType.TIMER_MISSED: _timer_judged,
    EventType.TICKET_FILED: _ticket,
    EventType.TASK_DONE: _task_done,
    EventType.ANSWER: _answer,
    EventType.LEVER_INTENT: _lever_intent,
    EventType.LEVER_ENGAGED: _lever_engaged,
    EventType.LEVER_VERIFIED: _lever_verified,
    EventType.LEVER_RELEASED: _lever_released,
    EventType.VALUES_SET: _values_set,
    EventType.NOTIFY_RENDERED: _notify,
    EventType.NOTIFY_SENT: _sent,
    EventType.CAPTURE_STORED: _capture,
    EventType.EVIDENCE_ATTACHED: _capture,
    EventType.INCIDENT_ENDED: _ended,
    EventType.CLASSIFIED: _classified,
    EventType.INCIDENT_INTERRUPTED: _interrupted,
    EventType.INCIDENT_RESUMED: _resumed,
    EventType.REMINDER: _reminded,
    EventType.APPROVAL_REQUESTED: _approval_requested,
    EventType.APPROVAL_GRANTED: _approval_verdict,
    EventType.APPROVAL_REJECTED: _approval_verdict,
    EventType.APPROVAL_CLOSED: _approval_closed,
    EventType.INCIDENT_HANDED_OFF: _handed_off,
}


def check_id(incident_id: str) -> str:
    """An incident id as given on the command line, or a one-line error (never a path)."""
    if not _ID.match(incident_id):
        shown = incident_id if len(incident_id) <= 60 else f"{incident_id[:60]}..."
        raise InputError(f"{shown!r} is not an incident id (see: aiir incidents)")
    return incident_id


def check_root(root: Path) -> Path:
    """The folder incidents live in: a directory, or not there yet."""
    if root.exists() and not root.is_dir():
        raise InputError(f"{shown(str(root))}: not a directory (the folder incidents are kept in)")
    return root


def new_incident(root: Path, now: dt.datetime, *, persist: bool = True) -> tuple[str, Path]:
    """A new incident's id and directory, made exclusively: two incidents opened in the same
    second never share one (a taken id is drawn again). Without ``persist`` nothing is made."""
    if not persist:
        incident_id = new_incident_id(now)
        return incident_id, root / incident_id
    check_root(root)
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(
            f"{shown(str(root))}: cannot keep incidents here: {exc.strerror}"
        ) from None
    for _ in range(_NEW_ID_TRIES):
        incident_id = new_incident_id(now)
        try:
            os.mkdir(root / incident_id)
        except FileExistsError:
            continue
        except OSError as exc:
            raise InputError(
                f"{shown(str(root))}: cannot keep incidents here: {exc.strerror}"
            ) from None
        return incident_id, root / incident_id
    raise InputError(f"{root}: no free incident id for {now:%Y-%m-%d %H:%M:%S}; try again")


def incident_dir(root: Path, incident_id: str) -> Path:
    """The directory of an incident; a clear error if there is none."""
    directory = check_root(root) / check_id(incident_id)
    if (broken := no_journal(directory)) is None:
        raise InputError(f"no incident {incident_id!r} under {root} (see: aiir incidents)")
    if broken:
        raise JournalBroken(broken)
    return directory


def read_incident(
    directory: Path,
    incident_id: str,
    *,
    keep_events: bool = True,
    each: Callable[[Event], None] | None = None,
) -> Incident:
    """An incident rebuilt from its journal in one pass, with every problem its verification
    finds. Without ``keep_events`` the events are folded and let go (``each`` sees each one):
    a reader of a long journal then holds only its state."""
    reading = Reading()
    incident = Incident(id=incident_id, directory=directory, keep_events=keep_events)
    for event in read_checked(directory / JOURNAL, reading, files=directory):
        incident.apply(event)
        if each is not None:
            each(event)
    incident.problems = reading.all_problems
    return incident


def load_incident(
    root: Path,
    incident_id: str,
    *,
    force: bool = False,
    keep_events: bool = True,
    each: Callable[[Event], None] | None = None,
) -> Incident:
    """Rebuild an incident from its journal, verified first: a journal that does not verify is
    refused, naming its first problem, unless ``force`` (the incident then says why it is not
    to be trusted, in ``problems``). ``keep_events`` and ``each``: see :func:`read_incident`."""
    directory = incident_dir(root, incident_id)
    declare_literal_credentials(directory)  # an older walk's journal may hold them as they are
    incident = read_incident(directory, incident_id, keep_events=keep_events, each=each)
    if incident.problems and not force:
        raise JournalBroken(
            f"{directory / JOURNAL}: {incident.problems[0]}: this journal does not verify, so "
            f"nothing is read from it (details: aiir verify {incident_id}; --force reads it "
            "anyway, marked UNVERIFIED)"
        )
    if not incident.started_at:  # line 1 did not verify: only a journal opened can be read
        raise JournalBroken(
            f"{directory / JOURNAL}: {incident.problems[0]}: its incident.opened line is not "
            "readable, so there is nothing to show, even with --force"
        )
    return incident


def list_incidents(root: Path, *, keep_events: bool = True) -> list[Incident]:
    """Every incident under ``root``, newest first; one whose journal does not verify (or is
    gone, or is no file) is listed all the same, with its ``problems``. Without ``keep_events``,
    each is its folded state only (a listing: see :func:`read_incident`)."""
    found = []
    for d in sorted(root.iterdir(), reverse=True) if check_root(root).is_dir() else ():
        try:  # one incident that cannot be read does not hide the others
            if (broken := no_journal(d)) == "":
                found.append(read_incident(d, d.name, keep_events=keep_events))
        except OSError as exc:
            broken = f"{exc.filename or d}: cannot be read ({exc.strerror})"
        if broken:
            found.append(Incident(id=d.name, directory=d, problems=[broken]))
    return found
