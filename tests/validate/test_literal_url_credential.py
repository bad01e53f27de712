"""A gateway URL written in a runbook or a canary suite with a password in it
(``http://ops:pw@host``) is a credential copied into every incident with the file, as a
credential header written as it is: validation warns of it (without quoting it), and an older
incident's readers mask it."""

from __future__ import annotations

from pathlib import Path

import pytest

from aiir import redact
from aiir.incident.literals import declare_literal_credentials
from tests.canaries import suite
from tests.helpers import write
from tests.support.cli import run_cli
from tests.test_literal_header_credentials import _runbook

PASSWORD = "Pa55w0rd-in-the-url"


def test_validate_warns_of_a_password_in_a_gateway_url(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    runbook = _runbook()
    runbook["gateways"]["gw"]["headers"] = {}
    runbook["gateways"]["gw"]["url"] = f"http://ops:{PASSWORD}@127.0.0.1:9"
    runbook["gateways"]["plain"] = {"profile": "http", "url": "http://127.0.0.1:9"}
    runbook["gateways"]["templated"] = {"profile": "http", "url": "{{ env.GW_URL }}"}
    runbook["env"] = {"GW_URL": {"description": "url"}}
    for node in ("capture", "act"):
        nodes = runbook["nodes"][node]
        request = nodes["items"][0]["request"] if node == "capture" else nodes["request"]
        request["gateway"] = "gw"
    canary = suite()
    canary["gateways"]["gw"]["url"] = f"http://ops:{PASSWORD}@127.0.0.1:9"
    write(tmp_path / "r.yaml", runbook)
    write(tmp_path / "s.yaml", canary)
    ran = run_cli(capsys, "validate", str(tmp_path / "r.yaml"), str(tmp_path / "s.yaml"))
    assert ran.status == 0, ran.out + ran.err
    lines = [line for line in ran.out.splitlines() if "literal" in line or "credential" in line]
    assert len(lines) == 2, ran.out
    assert all("gateways.gw.url" in line for line in lines)
    assert PASSWORD not in ran.out + ran.err


def test_an_incidents_runbook_copy_declares_its_gateway_urls_password(tmp_path: Path) -> None:
    copies = tmp_path / "runbooks"
    copies.mkdir()
    runbook = _runbook()
    runbook["gateways"]["gw"]["url"] = f"http://ops:{PASSWORD}@127.0.0.1:9"
    write(copies / "literal.yaml", runbook)
    redact.forget()
    try:
        declare_literal_credentials(tmp_path)
        assert redact.scrub(f"echoed: {PASSWORD}") == "echoed: ***"
    finally:
        redact.forget()
