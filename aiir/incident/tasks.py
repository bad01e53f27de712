"""Tasks done in parallel, read from the journal: each ``task.done`` event is one task marked done
by one responder, complete in itself. Who has done what is folded from the events every time it
is asked, never kept in a walker's memory, so marks written by other processes count the same."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from aiir.incident.events import EventType
from aiir.incident.journal import Event


@dataclass(frozen=True)
class TaskMark:
    """One task marked done: where, by whom (the operator and the owner role's on-call), when."""

    runbook: str
    node: str
    task: str
    title: str
    owner: str
    on_call: str | None
    by: str
    note: str
    at: str

    @classmethod
    def of(cls, event: Event) -> TaskMark:
        data = event.data
        return cls(
            runbook=str(data["runbook"]),
            node=str(data["node"]),
            task=str(data["task"]),
            title=str(data.get("title") or data["task"]),
            owner=str(data.get("owner") or ""),
            on_call=data.get("on_call"),
            by=str(data["by"]),
            note=str(data.get("note") or ""),
            at=event.ts,
        )


def marks(events: Iterable[Event]) -> list[TaskMark]:
    """Every task marked done, in journal order (the first mark of a task counts)."""
    seen: set[tuple[str, str, str]] = set()
    found: list[TaskMark] = []
    for event in events:
        if event.type != EventType.TASK_DONE:
            continue
        mark = TaskMark.of(event)
        if (mark.runbook, mark.node, mark.task) not in seen:
            seen.add((mark.runbook, mark.node, mark.task))
            found.append(mark)
    return found


def done_at(events: Iterable[Event], runbook: str, node: str) -> dict[str, TaskMark]:
    """The tasks of one node marked done so far, by task id."""
    return {m.task: m for m in marks(events) if m.runbook == runbook and m.node == node}
