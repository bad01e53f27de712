"""A path flag or path variable that is empty or blank (``--incident-dir "$DIR"`` with DIR unset,
``AIIR_INCIDENT_DIR=' '``) is bad input: one line naming it, exit 2, nothing written.

Before, ``--incident-dir ''`` was the current directory (the incident was written straight into
it, where ``aiir incidents`` never looks) and ``' '`` a folder named by a space; so was a blank
``$AIIR_INCIDENT_DIR``, ``$AIIR_CANARY_HISTORY`` or ``$AIIR_DETECT_HISTORY``."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.fuzzing import ROOT
from tests.respond import aiir, no_terminal

Capture = pytest.CaptureFixture[str]
WALK = ["run", "prompt-injection", "--sandbox", "--yes", "-a", "prompt-injection"]
CANARY = ["canary", "run", str(ROOT / "examples" / "canaries" / "rag-assistant.yaml"), "--sandbox"]


@pytest.fixture(autouse=True)
def _clean(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    no_terminal(monkeypatch)
    monkeypatch.chdir(tmp_path)


@pytest.mark.parametrize("blank", ["", " ", "\t"])
@pytest.mark.parametrize(
    ("args", "flag"),
    [
        ([*WALK, "--incident-dir"], "--incident-dir"),
        (["graph", "triage", "--out"], "--out"),
        (["drill", "triage", "--junit"], "--junit"),
        ([*CANARY, "--history-dir"], "--history-dir"),
    ],
    ids=["run", "graph", "drill", "canary"],
)
def test_a_blank_path_flag_is_a_usage_error(
    args: list[str], flag: str, blank: str, tmp_path: Path, capsys: Capture
) -> None:
    ran = aiir(capsys, *args, blank)
    assert ran.status == 2
    (line,) = ran.err.strip().splitlines()
    assert f"'{flag}'" in line
    assert "an empty name" in line
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("variable", "args"),
    [("AIIR_INCIDENT_DIR", WALK), ("AIIR_CANARY_HISTORY", CANARY), ("AIIR_WORKSPACE", WALK)],
)
def test_a_blank_path_variable_is_bad_input(
    variable: str, args: list[str], tmp_path: Path, capsys: Capture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(variable, "  ")
    ran = aiir(capsys, *args)
    assert ran.status == 2
    assert ran.err.strip().splitlines() == [
        f"aiir: ${variable}='  ': a blank path; unset it or name a folder"
    ]
    assert list(tmp_path.iterdir()) == []


def test_an_empty_path_variable_is_unset(
    tmp_path: Path, capsys: Capture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AIIR_INCIDENT_DIR", "")
    ran = aiir(capsys, *WALK)
    assert ran.status == 0, ran.err
    assert [p.name for p in (tmp_path / ".aiir" / "incidents").iterdir()]
