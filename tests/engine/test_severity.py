"""Severity only rises: a later, lower choice is journalled as kept; a downgrade is explicit
(``downgrade: true`` in the runbook, or ``aiir severity ID SEV3 --reason``), with who and why."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from aiir.incident.lock import IncidentLock
from tests.helpers import write
from tests.respond import OPERATOR, aiir, journal, no_terminal, of_type
from tests.support.clock import START

Capture = pytest.CaptureFixture[str]


@pytest.fixture(autouse=True)
def _clean(monkeypatch: pytest.MonkeyPatch) -> None:
    no_terminal(monkeypatch)


def _runbook(downgrade: bool = False) -> dict[str, Any]:
    later: dict[str, Any] = {"label": "Only a test", "value": "test", "next": "done"}
    later["severity"] = "SEV3"
    if downgrade:
        later["downgrade"] = True
    return {
        "aiir": 1,
        "id": "rises",
        "title": "Severity only rises",
        "owner": "security",
        "severity": "SEV2",
        "tags": {"owasp": ["LLM01:2025"]},
        "start": "first",
        "nodes": {
            "first": {
                "kind": "question",
                "title": "First look",
                "prompt": "How bad?",
                "choices": [
                    {"label": "Worst", "value": "worst", "next": "second", "severity": "SEV1"},
                    {"label": "Fine", "value": "fine", "next": "done"},
                ],
            },
            "second": {
                "kind": "question",
                "title": "Second look",
                "prompt": "And now?",
                "choices": [later, {"label": "Same", "value": "same", "next": "done"}],
            },
            "done": {"kind": "end", "title": "Done", "outcome": "resolved"},
        },
    }


def _walk(tmp_path: Path, capsys: Capture, runbook: dict[str, Any]) -> tuple[str, Path]:
    path = tmp_path / "rb.yaml"
    write(path, runbook)
    write(tmp_path / "answers.yaml", {"first": "worst", "second": "test"})
    incidents = tmp_path / "inc"
    args = [
        "run",
        str(path),
        "-a",
        str(tmp_path / "answers.yaml"),
        "--incident-dir",
        str(incidents),
    ]
    ran = aiir(capsys, *args)
    assert ran.status == 0, ran.out + ran.err
    (folder,) = incidents.iterdir()
    return ran.out, folder


def test_a_later_lower_choice_keeps_the_severity_and_says_so(
    tmp_path: Path, capsys: Capture
) -> None:
    out, folder = _walk(tmp_path, capsys, _runbook())
    events = journal(folder.parent, folder.name)
    assert [(e["from"], e["to"]) for e in of_type(events, "severity.changed")] == [("SEV2", "SEV1")]
    (kept,) = of_type(events, "severity.kept")
    assert (kept["severity"], kept["lower"], kept["node"]) == ("SEV1", "SEV3", "second")
    assert "severity stays SEV1: SEV3 is lower, and severity only rises" in " ".join(out.split())
    shown = aiir(capsys, "show", folder.name, "--incident-dir", str(folder.parent))
    assert "SEV1" in shown.out
    assert "Severity kept at SEV1 (SEV3 is lower: severity only rises)" in shown.out


def test_a_choice_marked_downgrade_lowers_it(tmp_path: Path, capsys: Capture) -> None:
    _out, folder = _walk(tmp_path, capsys, _runbook(downgrade=True))
    changes = of_type(journal(folder.parent, folder.name), "severity.changed")
    assert [(e["from"], e["to"], e.get("downgrade")) for e in changes] == [
        ("SEV2", "SEV1", None),
        ("SEV1", "SEV3", True),
    ]


def test_downgrade_without_a_severity_is_refused_at_validate(
    tmp_path: Path, capsys: Capture
) -> None:
    runbook = _runbook()
    runbook["nodes"]["done"]["downgrade"] = True
    path = tmp_path / "rb.yaml"
    write(path, runbook)
    ran = aiir(capsys, "validate", str(path))
    assert ran.status == 2
    assert "downgrade: true needs a severity to lower the incident to" in ran.out + ran.err


def test_aiir_severity_lowers_it_journalled_with_who_and_why(
    tmp_path: Path, capsys: Capture
) -> None:
    _out, folder = _walk(tmp_path, capsys, _runbook())
    incidents = str(folder.parent)
    ran = aiir(
        capsys,
        "severity",
        folder.name,
        "SEV4",
        "--reason",
        "a test account only",
        "--incident-dir",
        incidents,
    )
    assert ran.status == 0, ran.err
    assert f"severity lowered from SEV1 to SEV4 by {OPERATOR}" in ran.out
    events = journal(folder.parent, folder.name)
    last = events[-1]
    assert last.type == "severity.changed"
    assert last.operator == OPERATOR
    assert last.data == {
        "from": "SEV1",
        "to": "SEV4",
        "reason": "a test account only",
        "by": "aiir severity",
        "downgrade": True,
    }
    shown = aiir(capsys, "show", folder.name, "--incident-dir", incidents)
    assert "Severity SEV1 → SEV4 (downgrade: a test account only)" in shown.out
    again = aiir(
        capsys, "severity", folder.name, "SEV4", "--reason", "x", "--incident-dir", incidents
    )
    assert again.status == 2
    assert f"{folder.name} is already SEV4" in again.err


@pytest.mark.parametrize("doing", ["walked", "changed"])
def test_aiir_severity_is_refused_while_a_walker_holds_the_incident(
    tmp_path: Path, capsys: Capture, monkeypatch: pytest.MonkeyPatch, doing: str
) -> None:
    """A walker is not waited for; another change is, a moment, then named as a change."""
    monkeypatch.setattr("aiir.incident.lock.PATIENCE", 0.2)
    _out, folder = _walk(tmp_path, capsys, _runbook())
    before = (folder / "journal.jsonl").read_bytes()
    with IncidentLock(folder, folder.name, "kim", START.isoformat(), doing):
        ran = aiir(
            capsys,
            "severity",
            folder.name,
            "SEV3",
            "--reason",
            "calmer",
            "--incident-dir",
            str(folder.parent),
        )
    assert ran.status == 2
    assert ran.err.count("\n") == 1
    assert f"incident {folder.name} is being {doing} by kim (pid" in ran.err
    assert (folder / "journal.jsonl").read_bytes() == before


def test_two_changes_of_severity_at_once_both_go_in(tmp_path: Path, capsys: Capture) -> None:
    """Two responders set the severity at the same moment, each with ``aiir severity`` in its
    own process: the second waits for the first (a short command, not a walker) instead of being
    told the incident "is being walked"."""
    _out, folder = _walk(tmp_path, capsys, _runbook())
    command = [sys.executable, "-m", "aiir", "severity", folder.name]
    where = ["--incident-dir", str(folder.parent)]
    env = {**os.environ, "AIIR_OPERATOR": "ana"}
    with IncidentLock(folder, folder.name, "bo", START.isoformat(), "changed"):
        racers = [
            subprocess.Popen(
                [*command, level, "--reason", f"to {level}", *where],
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for level in ("SEV2", "SEV3")
        ]
        time.sleep(0.5)  # both are waiting behind the one holding it now
    results = [racer.communicate(timeout=60) for racer in racers]
    assert [racer.returncode for racer in racers] == [0, 0], results
    changes = of_type(journal(folder.parent, folder.name), "severity.changed")
    by_hand = [change["to"] for change in changes if change.get("by") == "aiir severity"]
    assert sorted(by_hand) == ["SEV2", "SEV3"]
    assert aiir(capsys, "verify", folder.name, *where).status == 0


def test_aiir_severity_needs_a_reason(tmp_path: Path, capsys: Capture) -> None:
    _out, folder = _walk(tmp_path, capsys, _runbook())
    ran = aiir(
        capsys,
        "severity",
        folder.name,
        "SEV3",
        "--reason",
        "  ",
        "--incident-dir",
        str(folder.parent),
    )
    assert ran.status == 2
    assert "--reason: say why the severity changes" in ran.err


def test_the_first_severity_the_walk_gives_sets_it_either_way(
    tmp_path: Path, capsys: Capture
) -> None:
    """The runbook's severity is where the walk starts, before triage: the first answer that
    gives one sets it, lower too (runbooks written before severity only rose run unchanged)."""
    runbook = _runbook()
    runbook["nodes"]["first"]["choices"][0]["severity"] = "SEV4"
    _out, folder = _walk(tmp_path, capsys, runbook)
    events = journal(folder.parent, folder.name)
    changes = [(e["from"], e["to"]) for e in of_type(events, "severity.changed")]
    assert changes == [("SEV2", "SEV4"), ("SEV4", "SEV3")]  # SEV3 after SEV4 is a rise
    assert not of_type(events, "severity.kept")


def test_an_unknown_severity_is_one_line(tmp_path: Path, capsys: Capture) -> None:
    _out, folder = _walk(tmp_path, capsys, _runbook())
    ran = aiir(
        capsys,
        "severity",
        folder.name,
        "SEV9",
        "--reason",
        "x",
        "--incident-dir",
        str(folder.parent),
    )
    assert ran.status == 2
    assert ran.err == "aiir: SEVERITY 'SEV9': one of SEV1, SEV2, SEV3, SEV4, SEV5\n"


def test_the_command_line_loads_no_document_model_for_these_commands() -> None:
    import subprocess
    import sys

    probe = "import sys, aiir.cli; print('pydantic' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
