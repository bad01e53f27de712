"""A note, a change of severity, a hand-off or an approval is written into an incident by a
command that does not walk it. What it writes is masked as the walk's own lines are: with the
secrets the incident's runbook declares, although their names look like nothing secret."""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest

from tests.helpers import confirm_runbook, write
from tests.respond import aiir, no_terminal

Capture = pytest.CaptureFixture[str]
PLANT = f"plant-{secrets.token_hex(8)}"


def test_what_a_side_writer_journals_is_masked_with_the_runbooks_secrets(
    tmp_path: Path, capsys: Capture, monkeypatch: pytest.MonkeyPatch
) -> None:
    no_terminal(monkeypatch)
    monkeypatch.setenv("OPS_PASS", PLANT)  # no KEY, TOKEN or SECRET in the name
    runbook = confirm_runbook("noted", "A runbook to take notes in", contain="Contain?")
    runbook["env"] = {"OPS_PASS": {"description": "ops login"}}
    write(tmp_path / "rb.yaml", runbook)
    write(tmp_path / "answers.yaml", {"look": "yes"})
    incidents = tmp_path / "inc"
    where = ["--incident-dir", str(incidents)]
    ran = aiir(
        capsys, "run", str(tmp_path / "rb.yaml"), "-a", str(tmp_path / "answers.yaml"), *where
    )
    assert ran.status == 2, ran.err  # stopped at 'contain', which nobody answered
    (incident,) = (p.name for p in incidents.iterdir())
    said = [
        aiir(capsys, "note", incident, f"the login {PLANT} was pasted in chat", *where),
        aiir(capsys, "severity", incident, "SEV1", "--reason", f"{PLANT} leaked", *where),
        aiir(capsys, "handoff", incident, "--to", "security", "--note", f"rotate {PLANT}", *where),
    ]
    for ran in said:
        assert ran.status == 0, ran.err
    journal = (incidents / incident / "journal.jsonl").read_text()
    assert "the login *** was pasted" in journal
    assert "*** leaked" in journal
    assert "rotate ***" in journal
    assert PLANT not in journal
    for ran in said:
        assert PLANT not in ran.out + ran.err
