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
