"""Credentials in a URL that no variable declared (a ``--gateway`` flag, an ``--otlp`` address)
are secrets all the same: the password in its userinfo, which the HTTP client turns into a Basic
auth header that a careless server echoes, and a token in its query string."""

from __future__ import annotations

import base64
import secrets
from pathlib import Path
from typing import Any

import pytest

from aiir import redact
from tests.helpers import write
from tests.servers import serve_echo
from tests.support.cli import run_cli

Capture = pytest.CaptureFixture[str]
PASSWORD = f"pw{secrets.token_hex(6)}"
QUERY_TOKEN = f"qt{secrets.token_hex(6)}"


def echo_runbook() -> dict[str, Any]:
    """Captures what the gateway heard (it echoes the request's headers back) and runs one
    action on a path that is not there (an HTML page echoing the headers)."""
    return {
        "aiir": 1,
        "id": "echo",
        "title": "Echoes",
        "owner": "security",
        "severity": "SEV2",
        "tags": {"owasp": ["LLM02:2025"]},
        "gateways": {"gw": {"profile": "http", "url": "http://127.0.0.1:9"}},
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
                "next": "missing",
            },
            "missing": {
                "kind": "action",
                "title": "Missing",
                "request": {"method": "GET", "path": "/missing"},
                "on_failure": "done",
                "next": "done",
            },
            "done": {"kind": "end", "title": "Done", "outcome": "resolved"},
        },
    }


def spellings(value: str) -> list[str]:
    """The value, and the base64 a Basic auth header carries it in (at each alignment)."""
    data = f"ops:{value}".encode()
    return [value, base64.b64encode(data).decode().rstrip("="), base64.b64encode(data[4:]).decode()]


def test_a_password_in_a_gateway_flag_never_shows_however_the_gateway_echoes_it(
    tmp_path: Path, capsys: Capture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("aiir.environment.has_terminal", lambda: False)
    runbook = tmp_path / "echo.yaml"
    write(runbook, echo_runbook())
    incidents = tmp_path / "incidents"
    with serve_echo() as (url, heard):
        flag = url.replace("http://", f"http://ops:{PASSWORD}@")
        ran = run_cli(
            capsys, "run", str(runbook), "--gateway", f"gw={flag}", "--yes",
            "--incident-dir", str(incidents),
        )  # fmt: skip
    assert ran.status == 0, ran.err
    assert heard
    assert heard[0].headers["authorization"].startswith("Basic ")  # it was sent
    written = {str(p): p.read_bytes() for p in incidents.rglob("*") if p.is_file()}
    assert any("/evidence/" in name for name in written)
    assert "Basic ***" in ran.out  # the echoed header, masked
    for where, data in {"stdout": ran.out.encode(), "stderr": ran.err.encode(), **written}.items():
        for form in spellings(PASSWORD):
            assert form.encode() not in data, f"{form} in {where}"


def test_a_token_in_a_url_query_is_masked_declared_or_not() -> None:
    text = (
        f"GET http://h:9/v1?api_key={QUERY_TOKEN}&model=m failed; "
        f"see https://x.example/hook?sig={QUERY_TOKEN}&amp;access_token={QUERY_TOKEN}#top"
    )
    assert redact.scrub(text, [], patterns=False) == (
        "GET http://h:9/v1?api_key=***&model=m failed; "
        "see https://x.example/hook?sig=***&amp;access_token=***#top"
    )
    plain = "search https://x.example/q?model=m&page=2 for ?token=words"
    assert redact.scrub(plain, [], patterns=False) == plain  # not a URL's parameter: kept


def test_the_credentials_of_a_url_are_its_password_and_its_secret_parameters() -> None:
    found = redact.url_credentials(
        f"https://ops:{PASSWORD}%2F@gw.example/base?api-version=2024-06-01&token={QUERY_TOKEN}"
    )
    assert found == {
        f"ops:{PASSWORD}%2F",
        f"ops:{PASSWORD}/",
        f"{PASSWORD}%2F",
        f"{PASSWORD}/",
        QUERY_TOKEN,
    }
    assert redact.url_credentials("http://127.0.0.1:4000/base") == set()


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("http://ops:pw@127.0.0.1:99999", "has port 99999, not one from 1 to 65535"),
        ("http://127.0.0.1:0", "has port 0, not one from 1 to 65535"),
        ("http://ops:pw@gw host.example", "contains a space or a line break"),
        (f"http://127.0.0.1:9/v1?token={QUERY_TOKEN}", "has a query string (?…)"),
        ("http://127.0.0.1:9/v1#top", "has a fragment (#…)"),
    ],
)
def test_a_gateway_url_that_cannot_take_paths_is_refused_before_anything(
    tmp_path: Path, capsys: Capture, monkeypatch: pytest.MonkeyPatch, url: str, problem: str
) -> None:
    """A path added to a URL with a query lands in the query (``/v1?token=…/echo``); a port out
    of range or a space was sent to, the walk failing on it: refused, one line, exit 2."""
    monkeypatch.setattr("aiir.environment.has_terminal", lambda: False)
    runbook = tmp_path / "echo.yaml"
    write(runbook, echo_runbook())
    incidents = tmp_path / "incidents"
    ran = run_cli(
        capsys, "run", str(runbook), "--gateway", f"gw={url}", "--yes",
        "--incident-dir", str(incidents),
    )  # fmt: skip
    assert ran.status == 2
    assert ran.err.startswith(f"aiir: gateway 'gw': its URL {problem}")
    assert ran.err.endswith("; nothing was sent\n")
    assert ran.err.count("\n") == 1
    assert QUERY_TOKEN not in ran.err
    assert not incidents.exists() or not any(incidents.iterdir())


def ask_runbook() -> dict[str, Any]:
    """A lever, then a question that a walk without a terminal stops at (resumable)."""
    data = echo_runbook()
    data["levers"] = {
        "kill": {
            "title": "Kill switch",
            "kind": "kill-switch",
            "engage": {"method": "POST", "path": "/kill"},
            "release": {"method": "POST", "path": "/revive"},
        }
    }
    data["start"] = "contain"
    data["nodes"] = {
        "contain": {"kind": "lever", "title": "Kill", "lever": "kill", "next": "ask"},
        "ask": {"kind": "confirm", "title": "Ask", "prompt": "Done?", "yes": "done", "no": "done"},
        "done": {"kind": "end", "title": "Done", "outcome": "contained"},
    }
    return data


def test_resume_and_release_never_go_to_another_gateway_than_a_masked_one(
    tmp_path: Path, capsys: Capture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The gateway given with credentials is journalled masked, so its URL is not kept: the
    runbook's own URL (another gateway) must not take the release in its place."""
    monkeypatch.setattr("aiir.environment.has_terminal", lambda: False)
    runbook = tmp_path / "ask.yaml"
    write(runbook, ask_runbook())
    write(tmp_path / "answers.yaml", {"ask": "yes"})
    where = ["--incident-dir", str(tmp_path / "incidents")]
    with serve_echo() as (url, heard):
        flag = ["--gateway", "gw=" + url.replace("http://", f"http://ops:{PASSWORD}@")]
        ran = run_cli(capsys, "run", str(runbook), *flag, "--yes", *where)
        assert ran.status == 2, ran.err  # stopped at 'ask'
        (incident,) = (p.name for p in (tmp_path / "incidents").iterdir())
        journal = tmp_path / "incidents" / incident / "journal.jsonl"
        before = journal.read_bytes()
        masked = url.replace("http://", "http://***@")
        for command in (
            ["resume", incident, "-a", str(tmp_path / "answers.yaml")],
            ["release", incident],
        ):
            ran = run_cli(capsys, *command, "--yes", *where)
            assert (ran.status, ran.out) == (2, ""), ran.err
            assert ran.err == (
                f"aiir: gateway 'gw': the incident was walked on {masked}, a URL with "
                "credentials that is kept masked, not on the runbook's; pass --gateway gw=URL "
                "again (nothing was sent)\n"
            )
            assert journal.read_bytes() == before
        assert [h.target for h in heard] == ["/kill"]
        ran = run_cli(capsys, "release", incident, *flag, "--yes", *where)
        assert ran.status == 0, ran.err
        assert [h.target for h in heard] == ["/kill", "/revive"]
