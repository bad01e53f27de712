"""The journal's event vocabulary: the fields of a line, and what each event type's data holds.

Reading a journal checks every line against this. A line can be well chained and still odd in
shape (forged with its hash recomputed, or written by another tool): it is named as "not an aiir
event" there, instead of crashing whichever command folds it into an incident later. Only the
keys aiir reads are checked, and only their types: an event may carry more.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Mapping
from pathlib import PurePosixPath
from typing import Any

# A problem with a value, or None when it is fine.
Check = Callable[[Any], str | None]

HEX64 = re.compile(r"[0-9a-f]{64}\Z")
FIELDS = ("seq", "ts", "type", "operator", "step", "data", "prev", "hash")
EVIDENCE_DIR = "evidence"
SNAPSHOT_DIR = "runbooks"


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
    "ok": FLAG,
}
# Per event type: the keys read back, with what they hold; ``REQUIRED`` ones must be there.
DATA: Mapping[str, Mapping[str, Check]] = {
    "incident.opened": {
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
    "severity.changed": {"from": TEXT, "to": TEXT},
    "answer": {"key": TEXT, "by": MAYBE_TEXT},
    "classified": {"facts": list_of(str)},
    "branch": {"next": TEXT},
    "node.entered": {"kind": TEXT, "title": TEXT},
    "lever.intent": {"title": TEXT, "kind": TEXT},
    "lever.engaged": {"unknown": FLAG, "dry_run": FLAG, "lost": list_of(str)},
    "lever.released": {"engaged_step": of(int)},
    "action.result": {"unknown": FLAG},
    "capture.stored": {"item": TEXT, "part": TEXT, "what": list_of(str)},
    "evidence.attached": {"item": TEXT, "source": TEXT, "description": TEXT},
    "notify.rendered": {"channel": TEXT, "audience": TEXT, "text": TEXT},
    "notify.sent": {"channel": TEXT, "status": of(int, None), "reason": MAYBE_TEXT},
    "call.entered": {
        "child": TEXT,
        "inputs": OBJECT,
        "snapshot": inside(SNAPSHOT_DIR),
        "snapshot_sha256": hex64,
    },
    "call.returned": {"child": TEXT, "outcome": TEXT},
    "incident.ended": {"outcome": TEXT, "summary": MAYBE_TEXT},
    "incident.interrupted": {"reason": TEXT},
    "incident.resumed": {"from_step": of(int)},
    "incident.taken_over": {"by": TEXT, "took_over_from": OBJECT},
}
REQUIRED: Mapping[str, frozenset[str]] = {
    "incident.opened": frozenset({"runbook", "snapshot"}),
    "answer": frozenset({"runbook", "node", "value"}),
    "branch": frozenset({"next"}),
    "node.entered": frozenset({"runbook", "node"}),
    "lever.intent": frozenset({"runbook", "lever"}),
    "lever.released": frozenset({"engaged_step"}),
    "call.entered": frozenset({"child"}),
    "incident.ended": frozenset({"outcome"}),
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


def shape_problem(record: Any) -> str | None:
    """Why ``record`` (one parsed line) is not an aiir event, or None when it is one."""
    if not isinstance(record, dict):
        return f"{_name(record)}, not an object"
    missing = [f for f in FIELDS if f not in record]
    if missing:
        return f"no {missing[0]!r}"
    extra = sorted(set(record) - set(FIELDS))
    if extra:
        return f"unknown field {extra[0][:40]!r}"
    for key, check in LINE.items():
        problem = check(record[key])
        if problem:
            return f"{key} is {problem}"
    return data_problem(record["type"], record["data"])


def data_problem(type_: str, data: Mapping[str, Any]) -> str | None:
    """What is odd about the data of an event of ``type_``, or None."""
    for key in sorted(REQUIRED.get(type_, ())):
        if key not in data:
            return f"{type_} without data.{key}"
    checks = {**COMMON, **DATA.get(type_, {})}
    for key, value in data.items():
        check = checks.get(key)
        problem = check(value) if check is not None else None
        if problem:
            return f"{type_} data.{key} is {problem}"
    reply = data.get("reply")
    if isinstance(reply, dict) and "saved" in reply and not isinstance(reply["saved"], dict):
        return f"{type_} data.reply.saved is {_name(reply['saved'])}, not an object"
    return None


def file_refs(data: Mapping[str, Any]) -> list[tuple[str, str, str]]:
    """(what, relative file, sha256) of every file an event's data vouches for."""
    refs = []
    evidence = data.get("evidence")
    if isinstance(evidence, dict) and "file" in evidence and "sha256" in evidence:
        refs.append(("evidence", str(evidence["file"]), str(evidence["sha256"])))
    if "snapshot" in data and "snapshot_sha256" in data:
        refs.append(("runbook snapshot", str(data["snapshot"]), str(data["snapshot_sha256"])))
    return refs
