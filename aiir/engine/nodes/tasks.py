"""Work in parallel by role: a ``tasks`` node's tasks are marked done in any order, each mark a
``task.done`` event of its own (who, the owner role's on-call, when, a note), until enough are
done; then ``tasks.complete`` closes the node's step and the walk takes ``next``.

What is done is always read back from the incident's events, never held here: a mark written by
another responder (once a shared store carries them) counts like one made at this terminal."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from aiir.engine.frames import Frame
from aiir.engine.nodes.registry import handles
from aiir.engine.roles import NotYourRole, role_problem
from aiir.errors import InputError
from aiir.formats.schema import Task, TasksNode
from aiir.incident import payloads
from aiir.incident.events import EventType
from aiir.incident.tasks import TaskMark, done_at
from aiir.prompts import MissingAnswer, Option

if TYPE_CHECKING:
    from aiir.engine.walk import Walk


@handles(TasksNode)
def tasks(walk: Walk, frame: Frame, node_id: str, node: TasksNode) -> str:
    step, recorded = walk.next_step()
    if EventType.TASKS_COMPLETE in recorded:  # replayed: the node was complete then
        return node.next
    show_board(walk, frame, node_id, node)
    mark_scripted(walk, frame, node_id, node)
    while len(done(walk, frame, node_id)) < node.needed():
        mark_one(walk, frame, node_id, node)
    finished = done(walk, frame, node_id)
    data = payloads.TasksComplete(
        runbook=frame.runbook.id,
        node=node_id,
        done=[t.id for t in node.tasks if t.id in finished],
        needed=node.needed(),
    )
    walk.record(EventType.TASKS_COMPLETE, data, step=step)
    walk.screen.note(f"{len(finished)} of {len(node.tasks)} tasks done: going on")
    return node.next


def done(walk: Walk, frame: Frame, node_id: str) -> dict[str, TaskMark]:
    return done_at(walk.incident.history(), frame.runbook.id, node_id)


def who(walk: Walk, task: Task) -> str:
    """The task's owner role, and who is on call for it today."""
    return walk.on_call(task.owner) or task.owner


def show_board(walk: Walk, frame: Frame, node_id: str, node: TasksNode) -> None:
    """Each task with its owner; a done one with who marked it and when."""
    finished = done(walk, frame, node_id)
    need = "all" if node.needed() == len(node.tasks) else f"at least {node.needed()}"
    walk.screen.note(f"{len(finished)} of {len(node.tasks)} done; {need} needed to go on")
    for task in node.tasks:
        entry = finished.get(task.id)
        state = f"done {entry.at[11:19]} by {entry.by}" if entry else "open"
        box = "x" if entry else " "
        walk.screen.note(f"[{box}] {task.id}: {task.title} ({who(walk, task)}) {state}")
        if entry is None:
            for line in ([task.text] if task.text else []) + [f"- {s}" for s in task.steps]:
                walk.screen.note(f"      {line}")


def mark(walk: Walk, frame: Frame, node_id: str, task: Task, note: str, via: str) -> None:
    """Journal one task done, on its own: nothing else has to be held for it to count."""
    walk.record(
        EventType.TASK_DONE,
        payloads.TaskDone(
            runbook=frame.runbook.id,
            node=node_id,
            task=task.id,
            title=task.title,
            owner=task.owner,
            on_call=walk.on_call(task.owner),
            by=walk.env.operator,
            note=note,
            via=via,
        ),
    )
    walk.screen.note(
        f"done: {task.id} ({who(walk, task)}), marked by {walk.env.operator}"
        + (f": {note}" if note else "")
    )


def given(value: Any, node: TasksNode) -> dict[str, str]:
    """An answers file's tasks: ``all``, a list of task ids, or task id -> note."""
    if value == "all" or value is True:
        return {t.id: "" for t in node.tasks}
    if isinstance(value, Mapping):
        return {str(k): "" if v is None else str(v) for k, v in value.items()}
    items = value if isinstance(value, list) else [value]
    return {str(item): "" for item in items}


def mark_scripted(walk: Walk, frame: Frame, node_id: str, node: TasksNode) -> None:
    key = frame.prefix + node_id
    if key not in walk.scripted:
        return
    by_id = {t.id: t for t in node.tasks}
    for task_id, note in given(walk.scripted[key], node).items():
        if task_id not in by_id:
            raise InputError(f"--answers: {key}: no task {task_id!r} (tasks: {', '.join(by_id)})")
        if task_id not in done(walk, frame, node_id):
            refuse_unless_theirs(walk, by_id[task_id])
            mark(walk, frame, node_id, by_id[task_id], note, "answers")


def refuse_unless_theirs(walk: Walk, task: Task) -> None:
    """With ``enforce_roles``, a task is marked only by someone holding its owner role."""
    problem = role_problem(walk.env, task.owner)
    if problem is not None:
        incident = walk.incident.id
        raise NotYourRole(
            f"task {task.id!r} is owned by {task.owner}: {problem}; hand it off "
            f"(aiir handoff {incident} --to {task.owner}) and let them go on "
            f"(aiir resume {incident})"
        )


def mark_one(walk: Walk, frame: Frame, node_id: str, node: TasksNode) -> None:
    """Ask which open task is done (any order), and its note."""
    finished = done(walk, frame, node_id)
    left = [t for t in node.tasks if t.id not in finished]
    open_tasks = [t for t in left if role_problem(walk.env, t.owner) is None]
    if not open_tasks:  # enforce_roles: what is left is other roles' work
        refuse_unless_theirs(walk, left[0])
    options = [Option(t.id, f"{t.title} ({who(walk, t)})") for t in open_tasks]
    key = frame.prefix + node_id
    message = f"{node.title}: {len(finished)} of {node.needed()} needed done. Which task is done?"
    try:
        task_id = walk.env.prompter.choose(key, message, options)
        task = next(t for t in open_tasks if t.id == task_id)
        note = walk.env.prompter.text(f"{key}.note", f"Note on {task.id!r} (Enter: none)", "")
    except MissingAnswer:
        open_ids = ", ".join(t.id for t in open_tasks)
        raise MissingAnswer(
            f"{key}: {len(finished)} task(s) done, {node.needed()} needed, and there is no "
            f"terminal: answer `{key}: [{open_ids}]` (or `all`, or task: note) in --answers"
        ) from None
    mark(walk, frame, node_id, task, note.strip(), "terminal")
