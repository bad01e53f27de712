"""A shared store's rows as a local copy holds them: how far the copy agrees with the store
(:class:`Synced`), and the rows checked against the head the ``incidents`` table names, so every
reader of the rows (a fresh copy, ``verify``, a resume, a pull) sees rows deleted behind aiir's
back.

The chain shows a row taken out of the middle (the next one's ``prev`` no longer matches); it
cannot show the last rows taken away. The incidents table can: the head an append moved (in the
same transaction as the row's insert) names the last row's ``seq`` and hash. Rows that do not
reach it, or a head older than a line a copy once read from the store, are rows the store lost:
deleted by hand (tampering) or the database restored from an older backup.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from aiir.incident.journal import GENESIS, JournalConflict

if TYPE_CHECKING:
    from aiir.incident.postgres import PostgresStore

Row = tuple[int, str, bytes]  # seq, hash, the journal line

SYNCED = "store.json"


@dataclass(frozen=True)
class Synced:
    """How far the local copy of an incident agrees with the store."""

    seq: int = 0
    hash: str = GENESIS
    size: int = 0

    @classmethod
    def of(cls, directory: Path) -> Synced:
        try:
            data = json.loads((directory / SYNCED).read_text(encoding="utf-8"))
            return cls(int(data["seq"]), str(data["hash"]), int(data["size"]))
        except (OSError, ValueError, KeyError, TypeError):
            return cls()

    def save(self, directory: Path) -> None:
        target = directory / SYNCED
        temporary = directory / f".{SYNCED}.tmp"
        temporary.write_text(json.dumps(self.__dict__), encoding="utf-8")
        os.replace(temporary, target)


class StoreLostRows(JournalConflict):
    """The store's events no longer reach its head: a verify problem (exit 1), nothing copied."""


def _told(incident_id: str, shown: str, what: str, why: str) -> str:
    return (
        f"incident {incident_id}: the store {shown} {what}: {why}: its rows were changed "
        "behind aiir's back (tampering), or the database restored from an older backup"
    )


def _tampered(incident_id: str, shown: str, what: str, why: str) -> StoreLostRows:
    return StoreLostRows(_told(incident_id, shown, what, why) + "; nothing was copied")


def _gone(first: int, head_seq: int, found: list[int]) -> str:
    """Which of the lines ``first`` to ``head_seq`` are gone, counted (never listed: a forged
    head may name a line a trillion rows on)."""
    there = sum(1 for seq in found if first <= seq <= head_seq)
    missing = head_seq - first + 1 - there
    first_gone = next((first + i for i, seq in enumerate(found) if seq != first + i), None)
    if first_gone is None:
        first_gone = first + len(found)
    if missing == 1:
        return f"line {first_gone} is"
    if there == first_gone - first:  # all there up to the first gone: the rest is gone
        return f"lines {first_gone} to {head_seq} are"
    return f"{missing} lines from line {first_gone} on are"


def checked(
    incident_id: str,
    shown: str,
    head: tuple[int, str],
    rows: list[Row],
    after: int,
    known: int = 0,
) -> list[Row]:
    """``rows`` (from ``after`` on, read in one snapshot with ``head``) when they run unbroken
    from ``after`` to the head and end at its hash; else :class:`StoreLostRows`. ``known`` is a
    line the caller read from this store before: a head older than it lost rows too."""
    head_seq, head_hash = head
    if known > head_seq:
        why = f"its head is line {head_seq}, yet this copy read line {known} from it before"
        raise _tampered(incident_id, shown, "lost rows", why)
    first = max(after, 1)
    count = max(head_seq - first + 1, 0)  # the lines from ``first`` to the head
    found = [seq for seq, _, _ in rows]
    if len(found) < count or any(seq != first + i for i, seq in enumerate(found[:count])):
        held = f"{len(found)} of lines {found[0]} to {found[-1]} are there" if found else ""
        held = held or f"it holds no line from {first} on"
        why = f"its head is line {head_seq}, and {_gone(first, head_seq, found)} gone ({held})"
        raise _tampered(incident_id, shown, "lost rows", why)
    if count and rows[count - 1][1] != head_hash:
        why = f"its head is line {head_seq}, with another hash than that row has"
        raise _tampered(incident_id, shown, "has a row replaced", why)
    if len(found) > count:
        why = f"its head is line {head_seq}, yet it holds rows after it (to line {found[-1]})"
        raise _tampered(incident_id, shown, "has rows no append wrote", why)
    return rows


# Each incident's head beside what its rows hold, in one pass (no line is read): how many rows
# up to the head, the last row's seq, and the hash of the row at the head.
_HEADS_CHECKED = """
SELECT i.id, i.head_seq, i.head_hash, count(e.seq) FILTER (WHERE e.seq <= i.head_seq),
       coalesce(max(e.seq), 0), max(e.hash) FILTER (WHERE e.seq = i.head_seq)
FROM incidents i LEFT JOIN events e ON e.incident = i.id
GROUP BY i.id, i.head_seq, i.head_hash ORDER BY i.id DESC
"""


def lost_rows(store: PostgresStore) -> dict[str, str]:
    """Every incident of the store whose rows no longer reach the head the incidents table
    names (rows deleted, the last ones too, or replaced): its id and the line saying so, as
    :func:`checked` says it. For a listing (``aiir incidents``, ``aiir store status``), which
    reads no line: the head that did not move since a copy was made is checked too."""
    with store.session() as db:
        found = db.execute(_HEADS_CHECKED).fetchall()
    lost = {}
    for incident_id, head_seq, head_hash, reaching, last, at_head in found:
        why = _against_head(int(head_seq), head_hash, int(reaching), int(last), at_head)
        if why is not None:
            lost[incident_id] = _told(incident_id, store.shown, *why)
    return lost


def _against_head(
    head_seq: int, head_hash: str, reaching: int, last: int, at_head: str | None
) -> tuple[str, str] | None:
    """What is wrong with an incident's rows, from their count up to its head (``reaching``),
    the last row's seq and the hash of the row at the head; None when they reach it."""
    if reaching < head_seq:
        gone = head_seq - reaching
        held = f"{reaching} of lines 1 to {head_seq} are there"
        lines = "1 line is" if gone == 1 else f"{gone} lines are"
        return "lost rows", f"its head is line {head_seq}, and {lines} gone ({held})"
    if head_seq and at_head != head_hash:
        return (
            "has a row replaced",
            f"its head is line {head_seq}, with another hash than that row has",
        )
    if last > head_seq:
        why = f"its head is line {head_seq}, yet it holds rows after it (to line {last})"
        return "has rows no append wrote", why
    return None
