"""The checks a journal line's values are held to: plain types, and what a type alone does not
say (a SHA-256, a UTC time, a path that stays inside the incident, an evidence record). Each is
a function from a value to its problem, or None when it is fine."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Mapping
from pathlib import PurePosixPath
from typing import Any

# A problem with a value, or None when it is fine.
Check = Callable[[Any], str | None]
HEX64 = re.compile(r"[0-9a-f]{64}\Z")
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


def kind_of(value: Any) -> str:
    return _KINDS.get(type(value), type(value).__name__)


def of(*kinds: type | None) -> Check:
    """A value of one of ``kinds`` (``None`` for null); a bool is never a number here."""
    allowed = tuple(type(None) if k is None else k for k in kinds)
    wanted = " or ".join(_KINDS[k] for k in allowed)

    def check(value: Any) -> str | None:
        if type(value) in allowed or (not isinstance(value, bool) and isinstance(value, allowed)):
            return None
        return f"{kind_of(value)}, not {wanted}"

    _BY_TYPE[check] = frozenset(allowed)
    return check


def types_taken(check: Check) -> frozenset[type] | None:
    """The types of value ``check`` passes whatever the value, when its verdict depends on the
    type alone (a check made by :func:`of`; a value of another type may still pass it, as a
    subclass); None for a check that reads the value."""
    return _BY_TYPE.get(check)


_BY_TYPE: dict[Check, frozenset[type]] = {}


def timestamp(value: Any) -> str | None:
    """UTC ISO-8601, as the journal writes it (``2026-11-27T03:15:02.123Z``)."""
    if not isinstance(value, str):
        return f"{kind_of(value)}, not a time"
    try:
        moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return f"{value[:40]!r}, not an ISO-8601 time"
    return None if moment.tzinfo is not None else f"{value[:40]!r}, a time without its zone"


def utc_time(value: Any) -> bool:
    """:func:`timestamp`'s common case, fast: a time as the journal writes it, ending in Z."""
    if type(value) is not str or value.find("Z") != len(value) - 1:  # one Z, the last ("": no)
        return False
    try:
        return _FROM_ISO(value).tzinfo is not None
    except ValueError:
        return False


_FROM_ISO = dt.datetime.fromisoformat


def hex64(value: Any) -> str | None:
    if isinstance(value, str) and HEX64.match(value):
        return None
    return f"{kind_of(value)}, not a SHA-256 (64 lowercase hex digits)"


def list_of(kind: type) -> Check:
    def check(value: Any) -> str | None:
        if not isinstance(value, list):
            return f"{kind_of(value)}, not a list"
        bad = next((v for v in value if not isinstance(v, kind) or isinstance(v, bool)), None)
        return None if bad is None else f"a list holding {kind_of(bad)}"

    return check


def mapping_of(kind: type) -> Check:
    def check(value: Any) -> str | None:
        if not isinstance(value, dict):
            return f"{kind_of(value)}, not an object"
        bad = next((v for v in value.values() if not isinstance(v, kind)), None)
        return None if bad is None else f"an object holding {kind_of(bad)}"

    return check


def inside(folder: str) -> Check:
    """A relative path into one folder of the incident: never out of it."""

    def check(value: Any) -> str | None:
        if not isinstance(value, str):
            return f"{kind_of(value)}, not a path"
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
        return f"{kind_of(value)}, not an object"
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
