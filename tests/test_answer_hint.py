"""The line a walk without a terminal asks for is one an answers file takes: for a question of a
called runbook too (the hint said ``triage.intake: <text>``, a key the answers file refused as a
node 'triage' of the runbook walked)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from aiir.prompts import answer_line
from tests.helpers import write
from tests.support.cli import run_cli

Capture = pytest.CaptureFixture[str]


def _runbook(id_: str, nodes: dict[str, object], start: str) -> dict[str, object]:
    return {"aiir": 1, "id": id_, "title": id_.title(), "owner": "security", "severity": "SEV3",
            "start": start, "nodes": nodes}  # fmt: skip


def test_an_answer_hint_nests_a_called_runbooks_question_under_it() -> None:
    assert answer_line("triage", "<text>") == "triage: <text>"
    assert answer_line("remove.on_failure", "abort") == "remove.on_failure: abort"
    assert answer_line("triage.intake", "<text>") == "triage: {intake: <text>}"
    assert answer_line("a.b.remove.approve", "yes") == "a: {b: {remove.approve: yes}}"


def test_the_answer_a_walk_asks_for_in_a_called_runbook_is_taken(
    tmp_path: Path, capsys: Capture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("aiir.environment.has_terminal", lambda: False)
    parent = _runbook(
        "parent",
        {
            "hand": {"kind": "call", "title": "Triage", "runbook": "triage", "next": "done"},
            "done": {"kind": "end", "title": "Done", "outcome": "resolved"},
        },
        "hand",
    )
    child = _runbook(
        "triage",
        {
            "intake": {"kind": "input", "title": "Intake", "prompt": "Who?", "next": "done"},
            "done": {"kind": "end", "title": "Done", "outcome": "resolved"},
        },
        "intake",
    )
    write(tmp_path / "parent.yaml", parent)
    write(tmp_path / "triage.yaml", child)
    where = ["--incident-dir", str(tmp_path / "incidents"), "--sandbox"]
    asked = run_cli(capsys, "run", str(tmp_path / "parent.yaml"), *where)
    assert asked.status == 2, asked.err
    line = asked.err.rsplit("answer it in --answers FILE as `", 1)[1].split("`", 1)[0]
    assert line == "triage: {intake: <text>}"
    answers = tmp_path / "answers.yaml"
    answers.write_text(line.replace("<text>", "the on-call"), encoding="utf-8")
    assert yaml.safe_load(answers.read_text(encoding="utf-8")) == {
        "triage": {"intake": "the on-call"}
    }
    ran = run_cli(capsys, "run", str(tmp_path / "parent.yaml"), "-a", str(answers), *where)
    assert ran.status == 0, ran.err
    assert "Outcome: resolved" in ran.out
