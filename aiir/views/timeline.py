"""An incident's timeline as ``aiir show`` prints it: one plain line per event, aligned.

A journal can hold a hundred thousand events (a runbook that polls): the lines are written as
they are made, never measured against each other as a table is, and a long one wraps under its
own detail column at the terminal's width. What an event says comes from its journal, so it is
hostile text: secrets masked, escapes and control characters removed, whitespace folded to one
space (one event never prints as two).
"""

from __future__ import annotations

import shutil
import tempfile
import textwrap
from collections.abc import Collection, Iterable, Iterator
from typing import IO

from aiir.incident.events import EventType
from aiir.incident.journal import Event
from aiir.redact import known_secrets, scrub
from aiir.reports.context import describe
from aiir.terminal.inert import plain

TAIL = 100  # events a timeline shows unless asked for all of them
TYPE_WIDTH = max(len(t) for t in EventType)
OPERATOR_WIDTH = 10  # an operator's name as a live view shows it (a longer one is cut)
_KNOWN = frozenset(EventType)
_NARROWEST = 24  # below this many columns for the detail, it wraps under the time instead
_BATCH = 500


def omitted_line(omitted: int, incident_id: str) -> str:
    """What a shortened timeline says first: how much it leaves out, and the flag for all."""
    earlier = f"{omitted:,} earlier event{'s' if omitted != 1 else ''}"
    return f"... {earlier} not shown (aiir show {incident_id} --all)"


def event_lines(
    event: Event, width: int, secrets: Collection[str], *, who: bool = False
) -> list[str]:
    """One event as one line, or as a few when its detail is longer than the width allows;
    ``secrets``: what to mask besides what looks like one (:func:`aiir.redact.known_secrets`);
    ``who``: the operator who wrote it after the time (``aiir watch``)."""
    kind = event.type if event.type in _KNOWN else plain(event.type)
    head = f"{plain(event.ts[11:23]):<12}  "
    if who:
        head += f"{plain(scrub(event.operator, secrets))[:OPERATOR_WIDTH]:<{OPERATOR_WIDTH}}  "
    head += f"{kind:<{TYPE_WIDTH}}  "
    detail = " ".join(plain(scrub(describe(event.type, event.data), secrets)).split())
    if len(head) + len(detail) <= width:
        return [head + detail]
    if width - len(head) >= _NARROWEST:  # wrapped under its own column
        rows = _wrap(detail, width - len(head))
        return [head + rows[0], *(" " * len(head) + row for row in rows[1:])]
    return [head.rstrip(), *("    " + row for row in _wrap(detail, max(width - 4, _NARROWEST)))]


def _wrap(text: str, width: int) -> list[str]:
    return textwrap.wrap(text, width=width, break_on_hyphens=False) or [""]


def write_timeline(out: IO[str], events: Iterable[Event], width: int) -> int:
    """Print ``events`` to ``out`` as they come, a batch at a time; how many were printed."""
    printed, secrets = 0, known_secrets()
    for batch in _batches(events):
        lines = (line for event in batch for line in event_lines(event, width, secrets))
        out.write("".join(line + "\n" for line in lines))
        printed += len(batch)
    out.flush()
    return printed


class Spool:
    """Every event's lines, written to a private temporary file as the journal is read: the
    timeline of ``--all``, printed once the journal has verified. The memory stays one event's."""

    def __init__(self, width: int) -> None:
        # Unlinked at once, mode 0600; closed by __exit__.
        self.file = tempfile.TemporaryFile("w+", encoding="utf-8")  # noqa: SIM115
        self.width, self.secrets = width, known_secrets()

    def add(self, event: Event) -> None:
        self.file.write(
            "".join(line + "\n" for line in event_lines(event, self.width, self.secrets))
        )

    def copy_to(self, out: IO[str]) -> None:
        self.file.seek(0)
        shutil.copyfileobj(self.file, out, 1 << 16)
        out.flush()

    def __enter__(self) -> Spool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.file.close()


def _batches(events: Iterable[Event]) -> Iterator[list[Event]]:
    batch: list[Event] = []
    for event in events:
        batch.append(event)
        if len(batch) == _BATCH:
            yield batch
            batch = []
    if batch:
        yield batch
