"""The journal's event vocabulary: the fields of a line, and what each event type's data holds.

Reading a journal checks every line against this. A line can be well chained and still odd in
shape (forged with its hash recomputed, or written by another tool): it is named as "not an aiir
event" there, instead of crashing whichever command folds it into an incident later. Each type's
data is a typed record (:mod:`aiir.incident.payloads`), and its checks come from that record:
only the keys aiir reads back are checked, and only their types; an event may carry more.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from aiir.incident import payloads
from aiir.incident.checks import (
    EVIDENCE_DIR,
    FLAG,
    HEX64,
    OBJECT,
    SNAPSHOT_DIR,
    TEXT,
    Check,
    evidence_ref,
    hex64,
    kind_of,
    of,
    timestamp,
    types_taken,
    utc_time,
)

__all__ = ["EVIDENCE_DIR", "SNAPSHOT_DIR", "evidence_ref"]  # imported from here as ever


FIELDS = ("seq", "ts", "type", "operator", "step", "data", "prev", "hash")


class EventType(enum.StrEnum):
    """Every type of event aiir writes, named once. A member is its string (``"lever.engaged"``):
    it is written to the journal as that, and compares equal to it when read back."""

    INCIDENT_OPENED = "incident.opened"
    SEVERITY_CHANGED = "severity.changed"
    SEVERITY_KEPT = "severity.kept"
    ANSWER = "answer"
    CLASSIFIED = "classified"
    BRANCH = "branch"
    NODE_ENTERED = "node.entered"
    TASK_DONE = "task.done"
    TASKS_COMPLETE = "tasks.complete"
    LEVER_INTENT = "lever.intent"
    LEVER_ENGAGED = "lever.engaged"
    LEVER_VERIFIED = "lever.verified"
    LEVER_RELEASED = "lever.released"
    ACTION_INTENT = "action.intent"
    ACTION_RESULT = "action.result"
    CAPTURE_STORED = "capture.stored"
    EVIDENCE_ATTACHED = "evidence.attached"
    NOTIFY_RENDERED = "notify.rendered"
    NOTIFY_INTENT = "notify.intent"
    NOTIFY_SENT = "notify.sent"
    TICKET_INTENT = "ticket.intent"
    TICKET_FILED = "ticket.filed"
    CALL_ENTERED = "call.entered"
    CALL_RETURNED = "call.returned"
    LIMIT_REACHED = "limit.reached"
    WAIT_STARTED = "wait.started"
    WAIT_ENDED = "wait.ended"
    VALUES_SET = "values.set"
    REMINDER = "reminder"
    TIMER_MET = "timer.met"
    TIMER_MISSED = "timer.missed"
    INJECT_DELIVERED = "inject.delivered"
    INCIDENT_ENDED = "incident.ended"
    INCIDENT_INTERRUPTED = "incident.interrupted"
    INCIDENT_RESUMED = "incident.resumed"
    INCIDENT_TAKEN_OVER = "incident.taken_over"
    NOTE = "note"
    APPROVAL_REQUESTED = "approval.requested"
    APPROVAL_GRANTED = "approval.granted"
    APPROVAL_REJECTED = "approval.rejected"
    APPROVAL_CLOSED = "approval.closed"
    INCIDENT_HANDED_OFF = "incident.handed_off"
    STORE_SILENT = "store.silent"


@dataclass(frozen=True)
class EvidenceRef:
    """An evidence file an event vouches for: where it is (``evidence/...`` in the incident), its
    SHA-256 and its size. Built here for every event that keeps one, and read back here."""

    file: str
    sha256: str
    bytes: int | None = None
    truncated: bool | None = None  # a capture keeps only the first part of a long reply

    def data(self) -> dict[str, Any]:
        """As an event's ``evidence`` holds it."""
        out: dict[str, Any] = {"file": self.file, "sha256": self.sha256}
        if self.bytes is not None:
            out["bytes"] = self.bytes
        if self.truncated is not None:
            out["truncated"] = self.truncated
        return out

    @classmethod
    def read(cls, value: Any) -> EvidenceRef | None:
        """The reference an event's ``evidence`` holds, or None when it holds none."""
        if not isinstance(value, dict) or "file" not in value or "sha256" not in value:
            return None
        size, truncated = value.get("bytes"), value.get("truncated")
        return cls(
            str(value["file"]),
            str(value["sha256"]),
            size if isinstance(size, int) else None,
            truncated if isinstance(truncated, bool) else None,
        )


# Keys any event may carry, and what they hold when present.
COMMON: Mapping[str, Check] = {
    "runbook": TEXT,
    "node": TEXT,
    "lever": TEXT,
    "reply": OBJECT,
    "evidence": evidence_ref,
    "bundle": evidence_ref,  # a capture's session-context bundle, beside its raw evidence
    "ok": FLAG,
}
# Each event type's data, as a typed record (aiir.incident.payloads); the checks of a line's data
# come from it: its Required keys must be there, its typed keys are checked when present.
PAYLOADS: Mapping[str, type] = {
    EventType.INCIDENT_OPENED: payloads.IncidentOpened,
    EventType.SEVERITY_CHANGED: payloads.SeverityChanged,
    EventType.SEVERITY_KEPT: payloads.SeverityKept,
    EventType.ANSWER: payloads.Answer,
    EventType.CLASSIFIED: payloads.Classified,
    EventType.BRANCH: payloads.Branch,
    EventType.NODE_ENTERED: payloads.NodeEntered,
    EventType.TASK_DONE: payloads.TaskDone,
    EventType.TASKS_COMPLETE: payloads.TasksComplete,
    EventType.LEVER_INTENT: payloads.LeverIntent,
    EventType.LEVER_ENGAGED: payloads.LeverEngaged,
    EventType.LEVER_VERIFIED: payloads.LeverVerified,
    EventType.LEVER_RELEASED: payloads.LeverReleased,
    EventType.ACTION_INTENT: payloads.ActionIntent,
    EventType.ACTION_RESULT: payloads.ActionResult,
    EventType.CAPTURE_STORED: payloads.CaptureStored,
    EventType.EVIDENCE_ATTACHED: payloads.EvidenceAttached,
    EventType.NOTIFY_RENDERED: payloads.NotifyRendered,
    EventType.NOTIFY_INTENT: payloads.NotifyIntent,
    EventType.NOTIFY_SENT: payloads.NotifySent,
    EventType.TICKET_INTENT: payloads.TicketIntent,
    EventType.TICKET_FILED: payloads.TicketFiled,
    EventType.CALL_ENTERED: payloads.CallEntered,
    EventType.CALL_RETURNED: payloads.CallReturned,
    EventType.LIMIT_REACHED: payloads.LimitReached,
    EventType.WAIT_STARTED: payloads.WaitStarted,
    EventType.WAIT_ENDED: payloads.WaitEnded,
    EventType.VALUES_SET: payloads.ValuesSet,
    EventType.REMINDER: payloads.Reminder,
    EventType.TIMER_MET: payloads.TimerMet,
    EventType.TIMER_MISSED: payloads.TimerMissed,
    EventType.INJECT_DELIVERED: payloads.InjectDelivered,
    EventType.INCIDENT_ENDED: payloads.IncidentEnded,
    EventType.INCIDENT_INTERRUPTED: payloads.IncidentInterrupted,
    EventType.INCIDENT_RESUMED: payloads.IncidentResumed,
    EventType.INCIDENT_TAKEN_OVER: payloads.IncidentTakenOver,
    EventType.NOTE: payloads.Note,
    EventType.APPROVAL_REQUESTED: payloads.ApprovalRequested,
    EventType.APPROVAL_GRANTED: payloads.ApprovalGranted,
    EventType.APPROVAL_REJECTED: payloads.ApprovalRejected,
    EventType.APPROVAL_CLOSED: payloads.ApprovalClosed,
    EventType.INCIDENT_HANDED_OFF: payloads.IncidentHandedOff,
    EventType.STORE_SILENT: payloads.StoreSilent,
}
_CHECKS = {type_: payloads.checks_of(record) for type_, record in PAYLOADS.items()}
REQUIRED: Mapping[str, frozenset[str]] = {t: required for t, (required, _) in _CHECKS.items()}
DATA: Mapping[str, Mapping[str, Check]] = {t: checks for t, (_, checks) in _CHECKS.items()}
LINE: Mapping[str, Check] = {
    "seq": of(int),
    "ts": timestamp,
    "type": TEXT,
    "operator": TEXT,
    "step": of(int, None),
    "data": OBJECT,
    "prev": hex64,
    "hash": hex64,
}


def shape_problem(record: Any, prev: str | None = None) -> str | None:
    """Why ``record`` (one parsed line) is not an aiir event, or None when it is one. ``prev``:
    a hash already known good; a line whose ``prev`` is it needs no check of that field."""
    if not isinstance(record, dict):
        return f"{kind_of(record)}, not an object"
    if record.keys() != _FIELD_SET:
        missing = [f for f in FIELDS if f not in record]
        if missing:
            return f"no {missing[0]!r}"
        extra = sorted(set(record) - set(FIELDS))
        return f"unknown field {extra[0][:40]!r}"
    if not _plain_line(record, prev):
        for key, check in LINE.items():
            problem = check(record[key])
            if problem:
                return f"{key} is {problem}"
    return data_problem(record["type"], record["data"])


def _plain_line(record: dict[str, Any], known: str | None) -> bool:
    """The fields of a line as aiir writes them (the common case, checked fast); False sends
    the line through every check of :data:`LINE`, to name what is odd."""
    step, prev, digest = record["step"], record["prev"], record["hash"]
    return (
        type(record["seq"]) is int
        and type(record["type"]) is str
        and type(record["operator"]) is str
        and (step is None or type(step) is int)
        and type(record["data"]) is dict
        and type(prev) is str
        and type(digest) is str
        and (prev == known or HEX64.match(prev) is not None)
        and HEX64.match(digest) is not None
        and utc_time(record["ts"])
    )


def data_problem(type_: str, data: Mapping[str, Any]) -> str | None:
    """What is odd about the data of an event of ``type_``, or None."""
    required, checks = _data_checks(type_)
    for key in required:
        if key not in data:
            return f"{type_} without data.{key}"
    for key, value in data.items():
        check = checks.get(key)
        problem = check(value) if check is not None else None
        if problem:
            return f"{type_} data.{key} is {problem}"
    reply = data.get("reply")
    if isinstance(reply, dict) and "saved" in reply and not isinstance(reply["saved"], dict):
        return f"{type_} data.reply.saved is {kind_of(reply['saved'])}, not an object"
    return None


def value_checks(record: dict[str, Any]) -> tuple[tuple[str, Check], ...] | None:
    """For a line of a shape aiir writes: the checks of its data that read a value, which with
    the time, ``prev`` and ``hash`` are all :func:`shape_problem` still needs of another line of
    the same shape (the same type, keys and type of each value, its data's too). None when the
    keys or types alone do not pass (:func:`shape_problem` names why)."""
    step, data = record.get("step"), record.get("data")
    if not (
        record.keys() == _FIELD_SET
        and type(record["seq"]) is int
        and type(record["type"]) is str
        and type(record["operator"]) is str
        and (step is None or type(step) is int)
        and type(data) is dict
        and type(record["prev"]) is str
        and type(record["hash"]) is str
        and type(record["ts"]) is str
    ):
        return None
    required, checks = _data_checks(record["type"])
    if not data.keys() >= set(required):
        return None
    left = []
    for key, value in data.items():
        check = checks.get(key)
        if check is None:
            continue
        taken = types_taken(check)
        if taken is None:
            left.append((key, check))
        elif type(value) not in taken:
            return None
    if "reply" in data:
        left.append(("reply", _saved))
    return tuple(left)


def _saved(reply: Any) -> str | None:
    """:func:`data_problem`'s check of ``reply.saved``, as a check of ``reply``."""
    if isinstance(reply, dict) and "saved" in reply and not isinstance(reply["saved"], dict):
        return f"{kind_of(reply['saved'])}, not an object"
    return None


def _data_checks(type_: str) -> tuple[tuple[str, ...], Mapping[str, Check]]:
    """The required keys (in order) and the checks of an event type's data, merged once."""
    found = _DATA_CHECKS.get(type_)
    if found is None:
        found = tuple(sorted(REQUIRED.get(type_, ()))), {**COMMON, **DATA.get(type_, {})}
        if type_ in _EVENT_TYPES:  # a forged type is not kept: the cache stays small
            _DATA_CHECKS[type_] = found
    return found


_FIELD_SET = frozenset(FIELDS)
_EVENT_TYPES = frozenset(EventType)
_DATA_CHECKS: dict[str, tuple[tuple[str, ...], Mapping[str, Check]]] = {}


EVIDENCE_KEYS = ("evidence", "bundle")  # an evidence record: {file, sha256, bytes}
FILE_KEYS = frozenset({*EVIDENCE_KEYS, "snapshot"})  # data that may vouch for a file


def file_refs(data: Mapping[str, Any]) -> list[tuple[str, str, str]]:
    """(what, relative file, sha256) of every file an event's data vouches for."""
    refs = []
    for key in EVIDENCE_KEYS:
        evidence = EvidenceRef.read(data.get(key))
        if evidence is not None:
            refs.append(("evidence", evidence.file, evidence.sha256))
    if "snapshot" in data and "snapshot_sha256" in data:
        refs.append(("runbook snapshot", str(data["snapshot"]), str(data["snapshot_sha256"])))
    return refs
