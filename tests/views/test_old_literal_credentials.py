"""An incident walked before literal credentials were masked (a runbook header written with its
credential in it, ``X-Api-Key: ak…``) journalled what its gateway echoed of it. The journal is
left as it is (it must still verify), and what shows or exports it masks the credentials its
runbook copies write as they are."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import write
from tests.servers import serve_echo
from tests.support.cli import run_cli
from tests.test_literal_header_credentials import API_KEY, BEARER, _runbook

Capture = pytest.CaptureFixture[str]


def test_an_older_incidents_literal_credentials_are_masked_where_it_is_shown(
    tmp_path: Path, capsys: Capture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("aiir.environment.has_terminal", lambda: False)
    runbook = tmp_path / "literal.yaml"
    write(runbook, _runbook())
    incidents = tmp_path / "incidents"
    with monkeypatch.context() as older:  # as a walk did before the masking came in
        older.setattr("aiir.respond.preparation.header_credentials", lambda headers: set())
        with serve_echo() as (url, _):
            ran = run_cli(
                capsys, "run", str(runbook), "--gateway", f"gw={url}", "--yes",
                "--incident-dir", str(incidents),
            )  # fmt: skip
    assert ran.status == 0, ran.err
    [incident] = [p.name for p in incidents.iterdir()]
    journal = (incidents / incident / "journal.jsonl").read_text()
    assert API_KEY in journal  # the older journal, as it was written
    where = ("--incident-dir", str(incidents))
    outputs = {
        "show": run_cli(capsys, "show", incident, *where),
        "show --json": run_cli(capsys, "show", incident, "--json", "--all", *where),
        "report": run_cli(capsys, "report", incident, *where),
        "incidents --json": run_cli(capsys, "incidents", "--json", *where),
        **{
            f"export {kind}": run_cli(capsys, "export", incident, "-f", kind, *where)
            for kind in ("stix", "eu-ai-act", "atlas", "avid")
        },
    }
    for what, shown in outputs.items():
        assert shown.status == 0, (what, shown.err)
        assert API_KEY not in shown.out + shown.err, what
        assert BEARER not in shown.out + shown.err, what
    assert "x-api-key: ***" in outputs["show --json"].out  # the echo is shown, the key masked
    verified = run_cli(capsys, "verify", incident, *where)
    assert verified.status == 0, verified.out + verified.err
    assert (incidents / incident / "journal.jsonl").read_text() == journal
