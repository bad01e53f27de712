"""A gateway's credential written into the runbook (or a canary suite) as it is, not read from a
variable (``Authorization: Bearer live-…``, ``X-Api-Key: …``), is a secret all the same: a
gateway that echoes its request headers had it kept in the evidence, the journal and the screen.
Headers whose name says they carry a credential are masked whatever their value is made of; the
scheme word alone (``Bearer`` in a dry run, its variable empty) is not."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

import pytest

from aiir.redact import header_credentials
from tests.canaries import suite
from tests.helpers import write
from tests.servers import serve_echo
from tests.support.cli import run_cli

Capture = pytest.CaptureFixture[str]
BEARER = f"live{secrets.token_hex(8)}"
API_KEY = f"ak{secrets.token_hex(8)}"


def _runbook() -> dict[str, Any]:
    return {
        "aiir": 1,
        "id": "literal",
        "title": "A credential written in the runbook",
        "owner": "security",
        "severity": "SEV2",
        "tags": {"owasp": ["LLM02:2025"]},
        "gateways": {
            "gw": {
                "profile": "http",
                "url": "http://127.0.0.1:9",
                "headers": {"Authorization": f"Bearer {BEARER}", "X-Api-Key": API_KEY},
            }
        },
        "start": "capture",
        "nodes": {
            "capture": {
                "kind": "capture",
                "title": "Capture",
                "items": [
                    {
                        "name": "echo",
                        "what": ["gateway-state"],
                        "request": {"method": "GET", "path": "/echo"},
                    }
                ],
                "next": "act",
            },
            "act": {
                "kind": "action",
                "title": "Act",
                "request": {"method": "GET", "path": "/missing/page"},
                "on_failure": "done",
                "next": "done",
            },
            "done": {"kind": "end", "title": "Done", "outcome": "resolved"},
        },
    }


def test_a_literal_gateway_credential_is_masked_where_the_gateway_echoes_it(
    tmp_path: Path, capsys: Capture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("aiir.environment.has_terminal", lambda: False)
    runbook = tmp_path / "literal.yaml"
    write(runbook, _runbook())
    incidents = tmp_path / "incidents"
    with serve_echo() as (url, heard):
        ran = run_cli(
            capsys, "run", str(runbook), "--gateway", f"gw={url}", "--yes",
            "--incident-dir", str(incidents),
        )  # fmt: skip
        [incident] = [p.name for p in incidents.iterdir()]
        shown = run_cli(capsys, "show", incident, "--json", "--incident-dir", str(incidents))
    assert ran.status == 0, ran.err
    assert heard[0].headers["authorization"] == f"Bearer {BEARER}"  # sent as written
    written = {
        str(p): p.read_text()
        for p in incidents.rglob("*")
        if p.is_file() and "/runbooks/" not in str(p)  # the copy of the runbook is the runbook
    }
    assert any("/evidence/" in name for name in written)
    outputs = {"stdout": ran.out, "stderr": ran.err, "show": shown.out}
    for where, text in {**outputs, **written}.items():
        assert BEARER not in text, where
        assert API_KEY not in text, where


def test_a_literal_canary_gateway_credential_is_masked(tmp_path: Path, capsys: Capture) -> None:
    data = suite(repeats=1)
    data["gateways"]["gw"]["headers"] = {"X-Api-Key": API_KEY}
    path = tmp_path / "s.yaml"
    write(path, data)
    history = tmp_path / "h"
    with serve_echo() as (url, _):  # its JSON echo is not a chat completion: quoted in the error
        from aiir.cli import main

        status = main(
            ["canary", "run", str(path), "--gateway", f"gw={url}", "--json",
             "--history-dir", str(history)]
        )  # fmt: skip
    out = capsys.readouterr()
    assert status == 1
    written = "".join(p.read_text() for p in history.rglob("*") if p.is_file())
    assert "x-api-key" in out.out  # the echo is quoted, the key in it is not
    assert API_KEY not in out.out + out.err + written


def test_which_header_values_are_credentials() -> None:
    headers = {
        "Authorization": "Bearer abc123def",
        "x-api-key": "k-12345678",
        "Cookie": "session=s3cr3tvalue",
        "Content-Type": "application/json",
        "X-Team": "blue-team",
        "Proxy-Authorization": "Basic",  # the scheme alone: a dry run's empty variable
    }
    assert header_credentials(headers) == {
        "abc123def",
        "k-12345678",
        "session=s3cr3tvalue",
    }


def test_validate_warns_of_a_credential_written_in_the_file(
    tmp_path: Path, capsys: Capture
) -> None:
    runbook = tmp_path / "literal.yaml"
    write(runbook, _runbook())
    canary = suite()
    canary["gateways"]["gw"]["headers"] = {
        "X-Api-Key": API_KEY,
        "Authorization": "Bearer {{ env.GW_KEY }}",  # from a variable: no warning
        "X-Team": "blue",
    }
    canary["env"] = {"GW_KEY": {"description": "key"}}
    suite_file = tmp_path / "suite.yaml"
    write(suite_file, canary)
    ran = run_cli(capsys, "validate", str(runbook), str(suite_file))
    assert ran.status == 0, ran.out + ran.err
    lines = [line for line in ran.out.splitlines() if "literal" in line or "credential" in line]
    assert len(lines) == 3, ran.out  # Authorization and X-Api-Key, X-Api-Key
    assert all("read it from a declared variable" in line for line in lines)
    assert BEARER not in ran.out
    assert API_KEY not in ran.out
