"""A secret echoed through two layers of quoting: a gateway that quotes the request's headers as
Python prints a dict (``{'Authorization': 'Token a\\\\b'}``) inside a JSON error, a JSON body
echoed inside a JSON string by an encoder that escapes non-ASCII (``q\\u00e9ry\\\\\\"x``), a
query string logged percent-decoded but with its ``+`` left for the spaces, a non-ASCII secret's
UTF-8 read as Latin-1 (a WSGI path), a ``/`` written ``\\/`` (PHP). Each was shown and
journalled as the gateway wrote it; each is masked."""

from __future__ import annotations

import json
import secrets
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest

from aiir import redact
from tests.helpers import write
from tests.receiver import serving
from tests.support.cli import run_cli

Capture = pytest.CaptureFixture[str]
WORD = secrets.token_hex(5)
HEADER_SECRET = f'tok"en\\{WORD} with spaces%2F+&=?#x'
BODY_SECRET = f'q\u00e9ry"{WORD}\\l ue+/&'


def test_nested_quotings_of_a_secret_are_masked() -> None:
    for secret in (HEADER_SECRET, BODY_SECRET):
        once = json.dumps(secret, ensure_ascii=False)
        echoed = [
            json.dumps(repr(secret)),  # a Python error or dict repr inside JSON
            json.dumps(repr(secret), ensure_ascii=False),
            json.dumps(once),  # JSON inside JSON, non-ASCII escaped by the outer encoder
            json.dumps(json.dumps(secret)),
            json.dumps(once, ensure_ascii=False),
            urllib.parse.unquote(urllib.parse.quote_plus(secret)),  # '+' left for spaces
            urllib.parse.unquote(urllib.parse.urlencode({"p": secret}))[2:],
            secret.encode().decode("latin-1"),  # WSGI's PATH_INFO: UTF-8 read as Latin-1
            json.dumps(secret.encode().decode("latin-1")),
        ]
        for text in echoed:
            masked = redact.scrub(f"said: {text} end", [secret], patterns=False)
            assert WORD not in masked, text


def test_a_slash_escaped_as_json_may_escape_it_is_masked() -> None:
    """PHP's json_encode writes ``/`` as ``\\/``: in a base64 key, in a webhook URL."""
    key = f"AbC+dEf/{WORD}="
    hook = f"https://hooks.example.com/hook/T0123abcd/B0123abcd/tOkEn{WORD}"
    for secret in (key, hook):
        echoed = json.dumps({"echo": secret}).replace("/", "\\/")
        masked = redact.scrub(echoed, [secret], patterns=False)
        assert WORD not in masked, echoed


@contextmanager
def quoting_gateway() -> Iterator[str]:
    """Refuses every request with a JSON error quoting what it was sent: its target percent-
    decoded, its headers as Python prints a dict, its body as it came (a JSON text)."""

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            return

        def do_POST(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            body = self.rfile.read(length).decode()
            said = f"{urllib.parse.unquote(self.path)} {dict(self.headers.items())} {body}"
            data = json.dumps({"error": said}).encode()
            self.send_response(400)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    with serving(Handler) as url:
        yield url


def _runbook() -> dict[str, Any]:
    return {
        "aiir": 1,
        "id": "quoted",
        "title": "Secrets quoted twice",
        "owner": "security",
        "severity": "SEV2",
        "tags": {"owasp": ["LLM02:2025"]},
        "env": {
            "GW_AUTH": {"description": "the gateway's token"},
            "PLANT_Q": {"description": "planted"},
        },
        "gateways": {
            "gw": {
                "profile": "http",
                "url": "http://127.0.0.1:9",
                "headers": {"Authorization": "Token {{ env.GW_AUTH }}"},
            }
        },
        "start": "act",
        "nodes": {
            "act": {
                "kind": "action",
                "title": "Act",
                "request": {
                    "method": "POST",
                    "path": "/act",
                    "query": {"p": "{{ env.PLANT_Q }}"},
                    "json": {"k": "{{ env.GW_AUTH }}", "q": "{{ env.PLANT_Q }}"},
                    "expect": {"status": 200},
                },
                "on_failure": "done",
                "next": "done",
            },
            "done": {"kind": "end", "title": "Done", "outcome": "resolved"},
        },
    }


def test_a_gateway_quoting_the_request_twice_shows_no_secret(
    tmp_path: Path, capsys: Capture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("aiir.environment.has_terminal", lambda: False)
    monkeypatch.setenv("COLUMNS", "300")
    monkeypatch.setenv("GW_AUTH", HEADER_SECRET)
    monkeypatch.setenv("PLANT_Q", BODY_SECRET)
    runbook = tmp_path / "quoted.yaml"
    write(runbook, _runbook())
    incidents = tmp_path / "incidents"
    with quoting_gateway() as url:
        ran = run_cli(
            capsys, "run", str(runbook), "--gateway", f"gw={url}", "--yes",
            "--incident-dir", str(incidents),
        )  # fmt: skip
        [incident] = [p.name for p in incidents.iterdir()]
        shown = run_cli(capsys, "show", incident, "--json", "--incident-dir", str(incidents))
    assert "status 400, expected 200" in ran.out
    written = {str(p): p.read_text() for p in incidents.rglob("*") if p.is_file()}
    outputs = {"stdout": ran.out, "stderr": ran.err, "show": shown.out + shown.err}
    for where, text in {**outputs, **written}.items():
        assert WORD not in text, where
