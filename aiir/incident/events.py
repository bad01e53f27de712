"""The journal's event vocabulary: the fields of a line, and what each event type's data holds.

Reading a journal checks every line against this. A line can be well chained and still odd in
shape (forged with its hash recomputed, or written by another tool): it is named as "not an aiir
event" there, instead of crashing whichever command folds it into an incident later. Only the
keys aiir reads are checked, and only their types: an event may carry more.
"""

from __future__ import annotations

import datetime as dt
import enum
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

# A problem with a value, or None when it is fine.
Check = Callable[[Any], str | None]

HEX64 = re.compile(r"[0-9a-f]{64}\Z")
FIELDS = ("seq", "ts", "type", "operator", "step", "data", "prev", "hash")
EVIDENCE_DIR = "evidence"
SNAPSHOT_DIR = "runbooks"


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
    NOTIFY_SENT = "notify.sent"
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


_KINDS: Mapping[type, str] = {
    bool: "a boolean",
    int: "a number",
    float: "a number",
    str: "a string",
    list: "a list",
    dict: "an object",
    type(None): "null",
}


def _name(value: Any) -> str:
    return _KINDS.get(type(value), type(value).__name__)


def of(*kinds: type | None) -> Check:
    """A value of one of ``kinds`` (``None`` for null); a bool is never a number here."""
    allowed = tuple(type(None) if k is None else k for k in kinds)
    wanted = " or ".join(_KINDS[k] for k in allowed)

    def check(value: Any) -> str | None:
        if type(value) in allowed or (not isinstance(value, bool) and isinstance(value, allowed)):
            return None
        return f"{_name(value)}, not {wanted}"

    return check


def timestamp(value: Any) -> str | None:
    """UTC ISO-8601, as the journal writes it (``2026-11-27T03:15:02.123Z``)."""
    if not isinstance(value, str):
        return f"{_name(value)}, not a time"
    try:
        moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return f"{value[:40]!r}, not an ISO-8601 time"
    return None if moment.tzinfo is not None else f"{value[:40]!r}, a time without its zone"


def _utc(value: Any) -> bool:
    """:func:`timestamp`'s common case, fast: a time as the journal writes it, ending in Z."""
    if type(value) is not str or value[-1:] != "Z" or value.count("Z") != 1:
        return False
    try:
        return dt.datetime.fromisoformat(value).tzinfo is not None
    except ValueError:
        return False


def hex64(value: Any) -> str | None:
    if isinstance(value, str) and HEX64.match(value):
        return None
    return f"{_name(value)}, not a SHA-256 (64 lowercase hex digits)"


def list_of(kind: type) -> Check:
    def check(value: Any) -> str | None:
        if not isinstance(value, list):
            return f"{_name(value)}, not a list"
        bad = next((v for v in value if not isinstance(v, kind) or isinstance(v, bool)), None)
        return None if bad is None else f"a list holding {_name(bad)}"

    return check


def mapping_of(kind: type) -> Check:
    def check(value: Any) -> str | None:
        if not isinstance(value, dict):
            return f"{_name(value)}, not an object"
        bad = next((v for v in value.values() if not isinstance(v, kind)), None)
        return None if bad is None else f"an object holding {_name(bad)}"

    return check


def inside(folder: str) -> Check:
    """A relative path into one folder of the incident: never out of it."""

    def check(value: Any) -> str | None:
        if not isinstance(value, str):
            return f"{_name(value)}, not a path"
        parts = PurePosixPath(value).parts
        if (
            len(parts) < 2
            or parts[0] != folder
            or ".." in parts
            or "\\" in value
            or "\x00" in value
        ):
            return f"{value[:80]!r}, not a file in the incident's {folder}/"
        return None

    return check


def evidence_ref(value: Any) -> str | None:
    """``{"file": "evidence/...", "sha256": ..., "bytes": n}``."""
    if not isinstance(value, dict):
        return f"{_name(value)}, not an object"
    for key, check in (("file", inside(EVIDENCE_DIR)), ("sha256", hex64)):
        if key not in value:
            return f"a record without {key!r}"
        problem = check(value[key])
        if problem:
            return f"a record whose {key} is {problem}"
    if "bytes" in value and (problem := of(int)(value["bytes"])):
        return f"a record whose bytes is {problem}"
    return None


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


TEXT = of(str)
MAYBE_TEXT = of(str, None)
FLAG = of(bool)
OBJECT = of(dict)

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
# Per event type: the keys read back, with what they hold; ``REQUIRED`` ones must be there.
DATA: Mapping[str, Mapping[str, Check]] = {
    EventType.INCIDENT_OPENED: {
        "id": TEXT,
        "title": TEXT,
        "version": TEXT,
        "severity": TEXT,
        "category": MAYBE_TEXT,
        "tags": mapping_of(list),
        "inputs": OBJECT,
        "gateways": mapping_of(str),
        "snapshot": inside(SNAPSHOT_DIR),
        "snapshot_sha256": hex64,
        "drill": FLAG,
        "exercise": MAYBE_TEXT,  # decides that a resume goes on against the simulated gateway
        "dry_run": FLAG,
    },
    EventType.SEVERITY_CHANGED: {
        "from": TEXT,
        "to": TEXT,
        "downgrade": FLAG,
        "reason": TEXT,
        "by": TEXT,
    },
    EventType.SEVERITY_KEPT: {"severity": TEXT, "lower": TEXT},
    EventType.ANSWER: {"key": TEXT, "by": MAYBE_TEXT},
    EventType.CLASSIFIED: {"facts": list_of(str)},
    EventType.BRANCH: {"next": TEXT, "undecided": list_of(str)},
    EventType.NODE_ENTERED: {"kind": TEXT, "title": TEXT},
    EventType.TASK_DONE: {
        "task": TEXT,
        "title": TEXT,
        "owner": TEXT,
        "on_call": MAYBE_TEXT,
        "by": TEXT,
        "note": MAYBE_TEXT,
        "via": TEXT,
    },
    EventType.TASKS_COMPLETE: {"done": list_of(str), "needed": of(int)},
    EventType.LEVER_INTENT: {"title": TEXT, "kind": TEXT},
    EventType.LEVER_ENGAGED: {"unknown": FLAG, "dry_run": FLAG, "lost": list_of(str)},
    EventType.LEVER_VERIFIED: {"unverified": FLAG},
    EventType.LEVER_RELEASED: {"engaged_step": of(int)},
    EventType.ACTION_RESULT: {"unknown": FLAG},
    EventType.CAPTURE_STORED: {"item": TEXT, "part": TEXT, "what": list_of(str)},
    EventType.EVIDENCE_ATTACHED: {"item": TEXT, "source": TEXT, "description": TEXT},
    EventType.NOTIFY_RENDERED: {"channel": TEXT, "audience": TEXT, "text": TEXT},
    EventType.NOTIFY_SENT: {"channel": TEXT, "status": of(int, None), "reason": MAYBE_TEXT},
    # A follow-up ticket from a post-mortem's action item: ``action`` is the item's key (what
    # makes filing idempotent), ``reference`` the ticket's key when Jira took it.
    EventType.TICKET_FILED: {
        "action": TEXT,
        "item": TEXT,
        "channel": TEXT,
        "status": of(int, None),
        "reference": MAYBE_TEXT,
        "reason": MAYBE_TEXT,
        "linked_to": MAYBE_TEXT,
    },
    EventType.CALL_ENTERED: {
        "child": TEXT,
        "ref": TEXT,
        "inputs": OBJECT,
        "snapshot": inside(SNAPSHOT_DIR),
        "snapshot_sha256": hex64,
    },
    EventType.CALL_RETURNED: {"child": TEXT, "outcome": TEXT},
    EventType.LIMIT_REACHED: {"node": TEXT, "limit": of(int), "decision": TEXT},
    EventType.WAIT_ENDED: {"polls": of(int)},
    EventType.VALUES_SET: {"values": OBJECT},
    EventType.TIMER_MET: {"timer": TEXT, "within": TEXT, "due": timestamp},
    EventType.TIMER_MISSED: {"timer": TEXT, "within": TEXT, "due": timestamp},
    EventType.INCIDENT_ENDED: {"outcome": TEXT, "summary": MAYBE_TEXT},
    EventType.INCIDENT_INTERRUPTED: {"reason": TEXT},
    EventType.INCIDENT_RESUMED: {"from_step": of(int), "by": TEXT, "after": MAYBE_TEXT},
    EventType.INCIDENT_TAKEN_OVER: {"by": TEXT, "took_over_from": OBJECT},
    EventType.NOTE: {"text": TEXT, "by": TEXT, "at": MAYBE_TEXT},
    # The two-person rule: the walker asks (``approval.requested``, its step), others grant or
    # reject it from their own terminals naming the request's ``seq``, and the walker closes it.
    EventType.APPROVAL_REQUESTED: {
        "min": of(int),
        "roles": list_of(str),
        "timeout": TEXT,
        "until": timestamp,
    },
    EventType.APPROVAL_GRANTED: {
        "request": of(int),
        "by": TEXT,
        "roles": list_of(str),
        "via": TEXT,
    },
    EventType.APPROVAL_REJECTED: {"request": of(int), "by": TEXT, "reason": TEXT, "via": TEXT},
    EventType.APPROVAL_CLOSED: {
        "request": of(int),
        "outcome": TEXT,
        "approvers": list_of(str),
        "reason": MAYBE_TEXT,
    },
    EventType.INCIDENT_HANDED_OFF: {"to": TEXT, "from": MAYBE_TEXT, "by": TEXT, "note": MAYBE_TEXT},
}
REQUIRED: Mapping[str, frozenset[str]] = {
    EventType.INCIDENT_OPENED: frozenset({"runbook", "snapshot"}),
    EventType.ANSWER: frozenset({"runbook", "node", "value"}),
    EventType.BRANCH: frozenset({"next"}),
    EventType.NODE_ENTERED: frozenset({"runbook", "node"}),
    EventType.TASK_DONE: frozenset({"runbook", "node", "task", "by"}),
    EventType.TASKS_COMPLETE: frozenset({"runbook", "node", "done"}),
    EventType.LEVER_INTENT: frozenset({"runbook", "lever"}),
    EventType.LEVER_RELEASED: frozenset({"engaged_step"}),
    EventType.CALL_ENTERED: frozenset({"child"}),
    EventType.TICKET_FILED: frozenset({"action", "ok"}),
    EventType.LIMIT_REACHED: frozenset({"node", "limit"}),
    EventType.VALUES_SET: frozenset({"values"}),
    EventType.TIMER_MET: frozenset({"runbook", "timer", "due"}),
    EventType.TIMER_MISSED: frozenset({"runbook", "timer", "due"}),
    EventType.INCIDENT_ENDED: frozenset({"outcome"}),
    EventType.NOTE: frozenset({"text"}),
    EventType.APPROVAL_REQUESTED: frozenset({"lever", "min", "until"}),
    EventType.APPROVAL_GRANTED: frozenset({"lever", "request", "by"}),
    EventType.APPROVAL_REJECTED: frozenset({"lever", "request", "by", "reason"}),
    EventType.APPROVAL_CLOSED: frozenset({"lever", "request", "outcome"}),
    EventType.INCIDENT_HANDED_OFF: frozenset({"to", "by"}),
}
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
        return f"{_name(record)}, not an object"
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
        and _utc(record["ts"])
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
        return f"{type_} data.reply.saved is {_name(reply['saved'])}, not an object"
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


def file_refs(data: Mapping[str, Any]) -> list[tuple[str, str, str]]:
    """(what, relative file, sha256) of every file an event's data vouches for."""
    refs = []
    for key in ("evidence", "bundle"):
        evidence = EvidenceRef.read(data.get(key))
        if evidence is not None:
            refs.append(("evidence", evidence.file, evidence.sha256))
    if "snapshot" in data and "snapshot_sha256" in data:
        refs.append(("runbook snapshot", str(data["snapshot"]), str(data["snapshot_sha256"])))
    return refs
