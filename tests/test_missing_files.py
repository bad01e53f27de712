"""A path that does not exist is bad input (exit 2, one line naming it), for every command."""

from __future__ import annotations

from pathlib import Path

import pytest

from aiir.cli import main


@pytest.mark.parametrize(
    "args",
    [
        ["run", "{missing}"],
        ["graph", "{missing}"],
        ["validate", "{missing}"],
        ["drill", "{missing}"],
        ["tabletop", "{missing}"],
        ["canary", "run", "{missing}"],
    ],
)
def test_a_missing_file_is_bad_input(
    args: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = str(tmp_path / "no-such.yaml")
    status = main([a.format(missing=missing) for a in args])
    err = capsys.readouterr().err
    assert status == 2
    assert "no-such.yaml" in err
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


def test_a_report_never_carries_escape_sequences(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An operator's answer with terminal escapes is quoted in reports as plain text."""
    runbook = tmp_path / "rb.yaml"
    runbook.write_text(
        "aiir: 1\nid: rb\ntitle: T\nowner: security\nseverity: SEV3\nstart: what\nnodes:\n"
        "  what: {kind: input, title: What happened?, prompt: Describe it, next: done}\n"
        "  done: {kind: end, title: Done, outcome: resolved, summary: '{{ answers.what }}'}\n",
        encoding="utf-8",
    )
    answers = tmp_path / "answers.yaml"
    answers.write_text('what: "bad \\e]0;pwned\\a \\e[2J output"\n', encoding="utf-8")
    incidents = tmp_path / "incidents"
    assert (
        main(["run", str(runbook), "--answers", str(answers), "--incident-dir", str(incidents)])
        == 0
    )
    (incident,) = incidents.iterdir()
    capsys.readouterr()
    assert main(["report", incident.name, "--incident-dir", str(incidents)]) == 0
    out = capsys.readouterr().out
    assert "bad" in out
    assert "\x1b" not in out
    assert "\x07" not in out
