"""What the document fuzzer (``tests/test_fuzz_documents.py``) found, kept as regression cases:
each test names the mutation and what went wrong before the fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.fuzzing import ROOT
from tests.respond import aiir, no_terminal

Capture = pytest.CaptureFixture[str]
HUGE = "é" * 100_000


@pytest.fixture(autouse=True)
def _clean(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    no_terminal(monkeypatch)
    monkeypatch.chdir(tmp_path)


def _replaced(source: Path, old: str, new: str, into: Path) -> Path:
    text = source.read_text(encoding="utf-8")
    assert old in text
    into.write_text(text.replace(old, new, 1), encoding="utf-8")
    return into


def _one_clear_line_each(err: str, name: str) -> None:
    lines = err.strip().splitlines()
    assert lines, "no error at all"
    assert all(len(line) <= 1000 for line in lines), max(map(len, lines))
    assert any(name in line and ":" in line for line in lines)
    assert "Traceback" not in err
    assert "internal error" not in err


@pytest.mark.parametrize(
    "args",
    [["validate"], ["graph"], ["run", "--dry-run"]],
    ids=["validate", "graph", "run"],
)
def test_a_huge_value_is_named_by_its_two_ends(
    args: list[str], tmp_path: Path, capsys: Capture
) -> None:
    """A field 100,000 characters long and of no allowed value (m_long): the error about it
    printed the whole value, one 200,000-byte line on the screen for each command."""
    runbook = _replaced(
        ROOT / "runbooks" / "triage.yaml",
        "severity: SEV",
        f"severity: {HUGE}\nx: SEV",
        tmp_path / "rb.yaml",
    )
    ran = aiir(capsys, args[0], str(runbook), *args[1:])
    assert ran.status == 2
    _one_clear_line_each(ran.out + ran.err, "rb.yaml")
    assert "éé...éé" in ran.out + ran.err


def test_a_scenario_naming_a_huge_node_is_named_short(tmp_path: Path, capsys: Capture) -> None:
    """A drill scenario's expected path naming a node 300,000 characters long: validate's and
    drill's 'has no node' errors (a check of aiir.validate, not the schema) printed it whole."""
    scenario = _replaced(
        ROOT / "examples" / "drills" / "triage.yaml",
        "path: [intake,",
        f"path: [{'x' * 300_000}, intake,",
        tmp_path / "drill.yaml",
    )
    for args in (["validate"], ["drill", "--incident-dir", str(tmp_path / "inc")]):
        ran = aiir(capsys, args[0], str(scenario), *args[1:])
        assert ran.status == 2, ran
        _one_clear_line_each(ran.out + ran.err, "drill.yaml")
    assert not (tmp_path / "inc").exists()
