"""The journal's vocabulary is named once: every event type is a member of EventType, no module
spells one by hand, and one evidence reference type is built and read in one place."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest

from aiir.incident.events import DATA, REQUIRED, EventType, EvidenceRef, evidence_ref

PACKAGE = Path(__file__).resolve().parents[2] / "aiir"
DOTTED = {t.value for t in EventType if "." in t.value}


def test_no_module_spells_an_event_type_by_hand() -> None:
    spelled = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.name == "events.py" and path.parent.name == "incident":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and node.value in DOTTED:
                spelled.append(f"{path.relative_to(PACKAGE)}:{node.lineno}: {node.value}")
    assert spelled == []


def test_every_type_the_shape_checks_know_is_a_member() -> None:
    assert set(DATA) | set(REQUIRED) <= set(EventType)


def test_a_member_is_written_and_read_back_as_its_string() -> None:
    line = json.dumps({"type": EventType.LEVER_ENGAGED})
    assert line == '{"type": "lever.engaged"}'
    assert json.loads(line)["type"] == EventType.LEVER_ENGAGED
    by_type: dict[str, int] = {EventType.ANSWER: 1}
    assert by_type.get("answer") == 1


def test_the_evidence_reference_round_trips_and_passes_the_shape_check() -> None:
    ref = EvidenceRef("evidence/capture-1.json", "a" * 64, 120, truncated=False)
    assert ref.data() == {
        "file": "evidence/capture-1.json",
        "sha256": "a" * 64,
        "bytes": 120,
        "truncated": False,
    }
    assert evidence_ref(ref.data()) is None
    assert EvidenceRef.read(ref.data()) == ref
    assert EvidenceRef.read({"file": "evidence/x"}) is None
    assert EvidenceRef.read(None) is None


def test_every_event_type_has_a_typed_record_and_its_checks_come_from_it() -> None:
    from aiir.incident import events, payloads

    assert set(events.PAYLOADS) == set(EventType)
    required, checks = payloads.checks_of(payloads.LeverReleased)
    assert required == {"engaged_step"}
    assert checks["engaged_step"](7) is None
    assert checks["engaged_step"]("7") == "a string, not a number"
    assert "request" not in checks  # written for people, not read back: unchecked
    _, opened = payloads.checks_of(payloads.IncidentOpened)
    assert opened["snapshot_sha256"]("f" * 64) is None
    assert opened["snapshot"]("../../etc/passwd") is not None


def test_a_record_key_with_no_check_is_refused_when_the_vocabulary_is_built() -> None:
    from typing import TypedDict

    from aiir.incident import payloads

    class Odd(TypedDict, total=False):
        when: complex

    with pytest.raises(TypeError, match=r"Odd\.when"):
        payloads.checks_of(Odd)


def _is_record(node: ast.expr | None) -> bool:
    """``payloads.Record`` (an annotation, or the callee of a construction)."""
    return (
        isinstance(node, ast.Attribute)
        and isinstance(node.value, ast.Name)
        and node.value.id == "payloads"
    )


def _builders(trees: list[ast.Module]) -> set[str]:
    """Functions (and methods) that return a record: ``def engaged_data(...) -> payloads.X``."""
    return {
        node.name
        for tree in trees
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef) and _is_record(node.returns)
    }


def _builds_a_record(value: ast.expr, scope: ast.AST, builders: set[str]) -> bool:
    """``value`` is a record built as ``payloads.X(...)``, by a builder, or a name bound to one
    in ``scope`` (assigned one, annotated as one, or a parameter annotated as one)."""
    if isinstance(value, ast.Call):
        callee = value.func
        named = callee.attr if isinstance(callee, ast.Attribute) else getattr(callee, "id", "")
        return _is_record(callee) or named in builders
    if not isinstance(value, ast.Name):
        return False
    for node in ast.walk(scope):
        if isinstance(node, ast.arg) and node.arg == value.id:
            return _is_record(node.annotation)
        if isinstance(node, ast.AnnAssign) and getattr(node.target, "id", None) == value.id:
            return _is_record(node.annotation)
        if isinstance(node, ast.Assign | ast.NamedExpr):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if any(getattr(t, "id", None) == value.id for t in targets):
                return _builds_a_record(node.value, scope, builders)
    return False


def _writes(tree: ast.Module) -> list[tuple[ast.Call, ast.AST]]:
    """Every call that writes an event (``walk.record``, ``journal.append`` ...: a call whose
    first argument is an ``EventType`` member), with the function it is made in."""
    found: list[tuple[ast.Call, ast.AST]] = []
    for scope in ast.walk(tree):
        if not isinstance(scope, ast.FunctionDef):
            continue
        for node in ast.walk(scope):
            if (
                isinstance(node, ast.Call)
                and len(node.args) >= 2
                and isinstance(first := node.args[0], ast.Attribute)
                and isinstance(first.value, ast.Name)
                and first.value.id == "EventType"
            ):
                found.append((node, scope))
    return found


def test_every_writer_passes_its_event_types_record_not_a_dict() -> None:
    """A plain dict says nothing to mypy about the keys an event carries: each write builds the
    event type's record (aiir.incident.payloads), so mypy checks every key and its type."""
    paths = sorted(PACKAGE.rglob("*.py"))
    trees = [ast.parse(path.read_text(encoding="utf-8")) for path in paths]
    builders = _builders(trees)
    writes, loose = 0, []
    for path, tree in zip(paths, trees, strict=True):
        for call, scope in _writes(tree):
            writes += 1
            if not _builds_a_record(call.args[1], scope, builders):
                loose.append(f"{path.relative_to(PACKAGE)}:{call.lineno}: {ast.unparse(call)[:80]}")
    assert writes > 40  # the scan finds the writers (walk.record, journal.append)
    assert loose == []


def test_each_event_type_is_written_with_the_record_it_is_read_with() -> None:
    """``Writes`` (the type of Walk.record and Journal.append) pairs each event type with a
    record, one overload each; reading pairs them in ``events.PAYLOADS``: the two are one."""
    from aiir.incident import events

    source = (PACKAGE / "incident" / "writing.py").read_text(encoding="utf-8")
    written = {}
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.FunctionDef) and node.name == "__call__":
            type_, data = node.args.args[1].annotation, node.args.args[2].annotation
            assert isinstance(type_, ast.Subscript)
            assert isinstance(type_.slice, ast.Attribute)
            assert isinstance(data, ast.Attribute)
            written[EventType[type_.slice.attr]] = data.attr
    assert written == {type_: record.__name__ for type_, record in events.PAYLOADS.items()}


WRONG_WRITES = """\
from aiir.incident import payloads
from aiir.incident.events import EventType
from aiir.incident.journal import Journal


def right(journal: Journal) -> None:
    journal.append(EventType.NOTE, payloads.Note(text="kept"))


def another_types_record(journal: Journal) -> None:
    journal.append(EventType.ANSWER, payloads.Note(text="kept"))


def an_undeclared_key(journal: Journal) -> None:
    journal.append(EventType.NOTE, payloads.Note(text="kept", colour="red"))


def a_wrong_value(journal: Journal) -> None:
    journal.append(EventType.NOTE, payloads.Note(text=3))
"""


def test_mypy_refuses_a_write_of_the_wrong_record(tmp_path: Path) -> None:
    """The writers' typing is what holds them to the records: a write with another type's record,
    a key the record does not declare or a value of the wrong type is a mypy error where it is
    written (the project's own cache makes this a few seconds once ``mypy`` ran)."""
    from mypy import api

    root = Path(__file__).resolve().parents[2]
    source = tmp_path / "writes.py"
    source.write_text(WRONG_WRITES, encoding="utf-8")
    out, err, status = api.run(
        [
            "--config-file",
            str(root / "pyproject.toml"),
            "--cache-dir",
            str(root / ".mypy_cache"),
            "--no-error-summary",
            "--show-error-codes",
            str(source),
        ]
    )
    lines = [line for line in out.splitlines() if ": error:" in line]
    assert status == 1, out + err
    where = sorted({int(line.split(":")[1]) for line in lines})
    assert where == [11, 15, 19], out  # not line 7, the right write
