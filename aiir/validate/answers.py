"""Answers given ahead of the walk (an ``--answers`` file, a scenario's answers) and inputs
(``--set``, a scenario's inputs): checked against the runbook before anything runs."""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from aiir.errors import InputError, shown
from aiir.formats import patterns
from aiir.formats.answers import SEND_OFFLINE, SENDING_KINDS, as_bool, lap_answer, repeated
from aiir.formats.loader import Document, load_file
from aiir.formats.schema import (
    ChecklistNode,
    ConfirmNode,
    InputNode,
    LeverNode,
    MultiSelectNode,
    Node,
    QuestionNode,
    Runbook,
    TasksNode,
)

LIST_ANSWERING = (ChecklistNode, MultiSelectNode, TasksNode)  # one answer is a list
ANSWERABLE = (QuestionNode, ConfirmNode, InputNode, *LIST_ANSWERING)


def load_answers(path: Path, runbook: Runbook) -> dict[str, Any]:
    """An ``--answers`` file (or folder, see :func:`answers_in`), checked against the runbook's
    nodes, flattened to keys."""
    doc = load_file(answers_in(path, runbook.id) if path.is_dir() else path)
    return check_answers(doc, doc.data, runbook)


def answers_in(folder: Path, runbook_id: str) -> Path:
    """The answers of runbook ``runbook_id`` in ``folder``: the file named after it, else the
    only YAML file there. The folder's top level only, and no other file is read: a folder of
    answers for several runbooks, or with drafts and broken files beside them, answers each."""
    yaml_files = sorted(
        p for p in folder.iterdir() if p.suffix in {".yaml", ".yml"} and not p.is_dir()
    )
    for suffix in (".yaml", ".yml"):
        named = folder / f"{runbook_id}{suffix}"
        if named in yaml_files:
            return named
    where = f"--answers {shown(str(folder))}"
    if not yaml_files:
        raise InputError(f"{where}: no answers file in this directory")
    if len(yaml_files) == 1:
        return yaml_files[0]
    names = ", ".join(shown(p.name, 60) for p in yaml_files[:10])
    more = ", ..." if len(yaml_files) > 10 else ""
    raise InputError(
        f"{where}: no {runbook_id}.yaml (the answers of runbook {runbook_id!r}) in this "
        f"directory, and {len(yaml_files)} other YAML files: {names}{more}"
    )


def check_answers(
    doc: Document, data: Any, runbook: Runbook, base: tuple[str | int, ...] = ()
) -> dict[str, Any]:
    """Answers (at ``base`` inside ``doc``) checked against the runbook, flattened to keys."""
    if not isinstance(data, dict):
        raise doc.error(base, "answers are a mapping of node id to answer")
    flat: dict[str, Any] = {}
    for key, value in data.items():
        if isinstance(value, dict) and key not in runbook.nodes:
            flat.update(_nested(key, value))  # a called runbook's answers (and its callees')
            continue
        for loc, one in _per_visit(runbook, (*base, key), value):
            _check_answer(doc, runbook, loc, one, str(key))
        flat[key] = value
    return flat


def _per_visit(
    runbook: Runbook, loc: tuple[str | int, ...], value: Any
) -> list[tuple[tuple[str | int, ...], Any]]:
    """A list answers a node met in a loop once per visit (a checklist or multi-select, whose
    one answer is a list, takes a list of lists); anything else is one answer for every visit."""
    node = runbook.nodes.get(str(loc[-1]).partition(".")[0])
    how = "choose_many" if isinstance(node, LIST_ANSWERING) else "one"
    if not isinstance(value, list) or lap_answer(value, how, 0) == (True, value):
        return [(loc, value)]
    return [((*loc, i), one) for i, one in enumerate(value)]


def _nested(prefix: str, answers: Mapping[str, Any]) -> dict[str, Any]:
    """``{child: {node: a, grandchild: {node: b}}}`` -> ``child.node``, ``child.grandchild.node``."""
    flat: dict[str, Any] = {}
    for key, value in answers.items():
        if isinstance(value, dict):
            flat.update(_nested(f"{prefix}.{key}", value))
        else:
            flat[f"{prefix}.{key}"] = value
    return flat


def _check_answer(
    doc: Document, runbook: Runbook, loc: tuple[str | int, ...], value: Any, key: str
) -> None:
    node_id, _, suffix = key.partition(".")
    node = runbook.nodes.get(node_id)
    if node is None:
        raise doc.error(loc, f"runbook {runbook.id!r} has no node {node_id!r}", key=True)
    resend = node.kind == "notify"  # a message that may have been delivered: send it again?
    # A request due while the shared store is silent past the lease: send it all the same?
    offline = node.kind in SENDING_KINDS
    known = {"approve", "on_failure", "approvals", *(["resend"] * resend)}
    if suffix and suffix not in known | ({SEND_OFFLINE} if offline else set()):
        names = ["approve", "on_failure", "approvals", *(["resend"] * resend)]
        names += [SEND_OFFLINE] if offline else []
        use = ", ".join(f"{node_id}.{n}" for n in names[:-1]) + f" or {node_id}.{names[-1]}"
        raise doc.error(loc, f"unknown answer {key!r}: use {use}", key=True)
    if suffix == "approvals":
        problem = _approvals_problem(runbook, node, value)
        if problem is not None:
            raise doc.error(loc, problem)
        return
    if suffix == "on_failure" and str(value) not in {"retry", "skip", "release", "abort"}:
        raise doc.error(loc, f"{value!r} is not one of: retry, skip, release, abort")
    if not suffix and isinstance(node, QuestionNode):
        allowed = {c.value for c in node.choices} | {c.label for c in node.choices}
        if str(value) not in allowed:
            choices = ", ".join(c.value for c in node.choices)
            raise doc.error(loc, f"{value!r} is not a choice of {node_id!r} ({choices})")
    if not suffix and not isinstance(node, ANSWERABLE):
        raise doc.error(loc, f"node {node_id!r} ({node.kind}) takes no answer", key=True)
    problem = _answer_problem(node, suffix, value)
    if problem is not None:
        raise doc.error(loc, problem)


def _answer_problem(node: Node, suffix: str, value: Any) -> str | None:
    """What is wrong with a confirmation, checklist or text answer, found before anything runs."""
    if suffix in {"approve", "resend", SEND_OFFLINE} or (
        not suffix and isinstance(node, ConfirmNode)
    ):
        return _yes_no_problem(value)
    if not suffix and isinstance(node, ChecklistNode):
        return _items_problem(node, value)
    if not suffix and isinstance(node, MultiSelectNode):
        return _picks_problem(node, value)
    if not suffix and isinstance(node, TasksNode):
        return _tasks_problem(node, value)
    pattern = node.pattern if not suffix and isinstance(node, InputNode) else None
    try:
        if pattern and not patterns.fullmatch(pattern, str(value)):
            return f"{value!r} does not match {pattern!r}"
    except patterns.PatternTooSlow as exc:
        return f"{value!r}: {exc}"
    return None


def _approvals_problem(runbook: Runbook, node: Node, value: Any) -> str | None:
    """``NODE.approvals``: who approves a lever that needs approvals (practice only): a list of
    names, or of ``{by: NAME}`` and ``{by: NAME, reject: REASON}``."""
    lever = runbook.levers.get(node.lever) if isinstance(node, LeverNode) else None
    if lever is None or lever.approve is None:
        return "approvals answer a lever node whose lever has approve: {min: ...}"
    for item in value if isinstance(value, list) else [value]:
        if isinstance(item, str) and item.strip():
            continue
        if isinstance(item, dict) and isinstance(item.get("by"), str) and item["by"].strip():
            extra = set(item) - {"by", "reject"}
            if not extra and isinstance(item.get("reject", ""), str):
                continue
        return f"{item!r} is not an approver: a name, {{by: NAME}} or {{by: NAME, reject: REASON}}"
    return None


def _yes_no_problem(value: Any) -> str | None:
    try:
        as_bool(value, "")
    except InputError:
        return f"{value!r} is not yes or no"
    return None


def _items_problem(node: ChecklistNode, value: Any) -> str | None:
    if value in ("all", "none", True, False, None):
        return None
    known = [item.id for item in node.items]
    unknown = [str(v) for v in (value if isinstance(value, list) else [value]) if v not in known]
    if unknown:
        return f"unknown item(s) {', '.join(unknown)} (items: {', '.join(known)})"
    return _repeats_problem([str(v) for v in (value if isinstance(value, list) else [value])])


def _picks_problem(node: MultiSelectNode, value: Any) -> str | None:
    allowed = {c.value for c in node.choices} | {c.label for c in node.choices}
    items = [] if value is None else value if isinstance(value, list) else [value]
    unknown = [str(v) for v in items if str(v) not in allowed]
    if unknown:
        choices = ", ".join(c.value for c in node.choices)
        return f"{', '.join(map(repr, unknown))} is not one of its choices ({choices})"
    value_of = {c.label: c.value for c in node.choices} | {c.value: c.value for c in node.choices}
    return _repeats_problem([value_of[str(v)] for v in items])


def _repeats_problem(picked: list[str]) -> str | None:
    twice = repeated(picked)  # by its value, or once by value and once by label
    return None if twice is None else f"{twice!r} is picked more than once"


def _tasks_problem(node: TasksNode, value: Any) -> str | None:
    """Tasks done: ``all``, a list of task ids, or a mapping of task id to a note."""
    if value == "all" or value is True:
        return None
    if isinstance(value, dict):
        given = list(value)
        bad_note = [str(k) for k, v in value.items() if v is not None and not isinstance(v, str)]
        if bad_note:
            return f"the note on task {bad_note[0]} is not text"
    elif isinstance(value, list):
        given = value
    else:
        given = [value]
    known = [task.id for task in node.tasks]
    unknown = [str(v) for v in given if v not in known]
    if unknown:
        return f"unknown task(s) {', '.join(unknown)} (tasks: {', '.join(known)})"
    return None


def coerce_inputs(runbook: Runbook, given: Mapping[str, Any], where: str) -> dict[str, Any]:
    """Declared inputs from ``given`` and defaults, typed and checked."""
    unknown = sorted(set(given) - set(runbook.inputs))
    if unknown:
        declared = ", ".join(runbook.inputs) or "none"
        raise InputError(
            f"{where} {unknown[0]}: runbook {runbook.id!r} has no such input (inputs: {declared})"
        )
    values: dict[str, Any] = {}
    for name, spec in runbook.inputs.items():
        raw = given.get(name, spec.default)
        if raw is None:
            if spec.required:
                raise InputError(
                    f"input {name!r} of {runbook.id!r} is required: pass {where} {name}=VALUE"
                )
            values[name] = ""
            continue
        value = _typed(raw, spec.type, name, where)
        if spec.choices is not None and value not in spec.choices:
            raise InputError(f"{where} {name}: {value!r} is not one of {spec.choices}")
        try:
            if spec.pattern and not patterns.fullmatch(spec.pattern, str(value)):
                raise InputError(f"{where} {name}: {value!r} does not match {spec.pattern!r}")
        except patterns.PatternTooSlow as exc:
            raise InputError(f"{where} {name}: {value!r}: {exc}") from None
        values[name] = value
    return values


def _typed(raw: Any, kind: str, name: str, where: str) -> Any:
    try:
        if kind == "integer":
            return int(raw)
        if kind == "number":
            number = float(raw)
            if not math.isfinite(number):  # nan, inf: a JSON body would carry NaN (not JSON)
                raise ValueError(raw)
            return number
        if kind == "boolean":
            return as_bool(raw, name)
    except (ValueError, InputError):
        raise InputError(f"{where} {name}: {raw!r} is not a valid {kind}") from None
    return str(raw)
