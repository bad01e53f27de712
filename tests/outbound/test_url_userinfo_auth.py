"""A gateway URL's ``user:password@`` (``--gateway gw=http://ops:pw@host``, a canary suite's or a
detection source's URL) is sent as Basic auth only when a request has no ``Authorization`` of
its own. The HTTP client replaced the runbook's ``Authorization: Bearer {{ env.KEY }}`` with it,
and a verify request presenting the attacker's key (expecting a 401) presented the operator's
password instead; the password is never shown."""

from __future__ import annotations

import base64
import secrets
from pathlib import Path
from typing import Any

import pytest

from aiir.cli import main
from tests.canaries import suite
from tests.helpers import write
from tests.servers import serve_echo
from tests.support.cli import run_cli

Capture = pytest.CaptureFixture[str]
PASSWORD = f"pw{secrets.token_hex(6)}"
KEY = f"sk-gw-{secrets.token_hex(8)}"
PROBE = f"sk-probe-{secrets.token_hex(8)}"
BASIC = "Basic " + base64.b64encode(f"ops:{PASSWORD}".encode()).decode()


def _runbook() -> dict[str, Any]:
    capture = {"gateway": "gw", "method": "GET", "path": "/echo"}
    probe = {**capture, "path": "/probe", "headers": {"Authorization": f"Bearer {PROBE}"}}
    return {
        "aiir": 1,
        "id": "userinfo",
        "title": "A gateway with its own credential, given a URL with a password",
        "owner": "security",
        "severity": "SEV2",
        "tags": {"owasp": ["LLM02:2025"]},
        "env": {"GW_KEY": {"description": "the gateway's key"}},
        "gateways": {
            "gw": {
                "profile": "http",
                "url": "http://127.0.0.1:9",
                "headers": {"Authorization": "Bearer {{ env.GW_KEY }}"},
            },
            "bare": {"profile": "http", "url": "http://127.0.0.1:9"},
        },
        "start": "capture",
        "nodes": {
            "capture": {
                "kind": "capture",
                "title": "Capture",
                "items": [
                    {"name": "gw", "what": ["gateway-state"], "request": capture},
                    {
                        "name": "bare",
                        "what": ["gateway-state"],
                        "request": {**capture, "gateway": "bare"},
                    },
                ],
                "next": "probe",
            },
            "probe": {
                "kind": "action",
                "title": "Probe with another key",
                "request": probe,
                "next": "done",
            },
            "done": {"kind": "end", "title": "Done", "outcome": "resolved"},
        },
    }


def test_a_requests_own_authorization_wins_over_a_urls_userinfo(
    tmp_path: Path, capsys: Capture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("aiir.environment.has_terminal", lambda: False)
    monkeypatch.setenv("GW_KEY", KEY)
    runbook = tmp_path / "userinfo.yaml"
    write(runbook, _runbook())
    incidents = tmp_path / "incidents"
    with serve_echo() as (url, heard):
        flag = url.replace("http://", f"http://ops:{PASSWORD}@")
        ran = run_cli(
            capsys, "run", str(runbook), "--gateway", f"gw={flag}", "--gateway", f"bare={flag}",
            "--yes", "--incident-dir", str(incidents),
        )  # fmt: skip
    assert ran.status == 0, ran.err
    said = {h.target: h.headers["authorization"] for h in heard}
    assert [h.headers["authorization"] for h in heard if h.target == "/echo"] == [
        f"Bearer {KEY}",  # the runbook's gateway credential, not the URL's password
        BASIC,  # no credential of its own: the URL's is sent
    ]
    assert said["/probe"] == f"Bearer {PROBE}"  # the request's own header, as written
    assert "gateway gw: its URL's user:password is not sent, its own Authorization header is" in (
        ran.out
    )
    assert "gateway bare: its URL" not in ran.out  # no header of its own: the URL's is sent
    written = "".join(p.read_text() for p in incidents.rglob("*") if p.is_file())
    for form in (PASSWORD, KEY, BASIC.removeprefix("Basic ")[:16]):
        assert form not in ran.out + ran.err + written


def test_a_canary_suites_authorization_wins_over_its_urls_userinfo(
    tmp_path: Path, capsys: Capture
) -> None:
    data = suite(repeats=1)
    data["gateways"]["gw"]["headers"] = {"Authorization": f"Bearer {KEY}"}
    path = tmp_path / "s.yaml"
    write(path, data)
    with serve_echo() as (url, heard):
        flag = url.replace("http://", f"http://ops:{PASSWORD}@")
        main(["canary", "run", str(path), "--gateway", f"gw={flag}", "--json",
              "--history-dir", str(tmp_path / "h")])  # fmt: skip
    out = capsys.readouterr()
    assert heard
    assert {h.headers["authorization"] for h in heard} == {f"Bearer {KEY}"}
    assert PASSWORD not in out.out + out.err
    assert KEY not in out.out + out.err


def test_a_detection_sources_api_key_wins_over_its_urls_userinfo(
    tmp_path: Path, capsys: Capture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PHOENIX_KEY", KEY)
    with serve_echo() as (url, heard):
        path = tmp_path / "rules.yaml"
        measure: dict[str, Any] = {"measure": "error_rate", "min_spans": 1}
        source = url.replace("http://", f"http://ops:{PASSWORD}@")
        write(
            path,
            {
                "aiir": 1,
                "detect": "echo",
                "phoenix": {"url": source, "project": "p", "api_key_env": "PHOENIX_KEY"},
                "rules": [{"id": "errors", "traces": measure, "above": 0.1}],
            },
        )
        shown = run_cli(capsys, "detect", str(path), "--history-dir", str(tmp_path / "h"))
    assert heard
    assert heard[0].headers["authorization"] == f"Bearer {KEY}"
    assert PASSWORD not in shown.out + shown.err
