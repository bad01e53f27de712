"""A secret put in a URL's path or query is percent-encoded as the HTTP client encodes it: by the
WHATWG URL standard's sets (``'``, ``[``, ``|``, ``^`` left as they are, ``"`` and ``{`` escaped),
which is neither of Python's ``quote`` forms. A server echoes that form, also HTML-escaped in an
error page; a JavaScript service echoes ``encodeURIComponent``'s. Each is masked."""

from __future__ import annotations

import html
import json
import secrets
import urllib.parse
from pathlib import Path
from typing import Any

import httpx2
import pytest

from aiir import redact
from tests.helpers import write
from tests.servers import serve_echo
from tests.support.cli import run_cli

Capture = pytest.CaptureFixture[str]
TOKEN = secrets.token_hex(6)
PLANT = f"x\"y'z {TOKEN} [a]{{b}}|c^d<e>`f`"  # every character the encodings differ on


def path_runbook() -> dict[str, Any]:
    """The planted secret raw in a captured request's path, and in an action's path that the
    gateway answers with an HTML page echoing it."""
    return {
        "aiir": 1,
        "id": "paths",
        "title": "Secrets in paths",
        "owner": "security",
        "severity": "SEV2",
        "tags": {"owasp": ["LLM02:2025"]},
        "env": {"PLANT_PATH": {"description": "planted"}},
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
                        "request": {
                            "method": "GET",
                            "path": "/echo/{{ env.PLANT_PATH }}",
                            "query": {"q": "{{ env.PLANT_PATH }}"},
                        },
                    }
                ],
                "next": "missing",
            },
            "missing": {
                "kind": "action",
                "title": "Missing",
                "request": {"method": "GET", "path": "/missing/{{ env.PLANT_PATH }}"},
                "on_failure": "done",
                "next": "done",
            },
            "done": {"kind": "end", "title": "Done", "outcome": "resolved"},
        },
    }


def test_a_secret_in_a_path_is_masked_as_the_client_sent_it_and_the_gateway_echoed_it(
    tmp_path: Path, capsys: Capture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("aiir.environment.has_terminal", lambda: False)
    monkeypatch.setenv("PLANT_PATH", PLANT)
    runbook = tmp_path / "paths.yaml"
    write(runbook, path_runbook())
    incidents = tmp_path / "incidents"
    with serve_echo() as (url, heard):
        ran = run_cli(
            capsys, "run", str(runbook), "--gateway", f"gw={url}", "--yes",
            "--incident-dir", str(incidents),
        )  # fmt: skip
    assert ran.status == 0, ran.err
    sent = heard[0].target
    assert TOKEN in sent  # the gateway heard it, in the client's spelling
    assert sent.split("?")[0] != "/echo/" + urllib.parse.quote(PLANT)
    written = {str(p): p.read_text() for p in incidents.rglob("*") if p.is_file()}
    assert any("/evidence/" in name for name in written)
    for where, text in {"stdout": ran.out, "stderr": ran.err, **written}.items():
        assert TOKEN not in text, where


def test_each_way_a_url_carries_a_secret_is_masked() -> None:
    """The forms made here by the HTTP client itself and by JavaScript's rules."""
    client_path = httpx2.URL("http://h/p/" + PLANT).raw_path.decode().removeprefix("/p/")
    client_query = httpx2.URL("http://h/p", params={"q": PLANT}).query.decode()[2:]
    client_userinfo = httpx2.URL(f"http://u:{PLANT}@h/").userinfo.decode()[2:]
    js_component = "".join(
        ch if ch.isalnum() or ch in "-_.!~*'()" else "".join(f"%{b:02X}" for b in ch.encode())
        for ch in PLANT
    )
    for form in (client_path, client_query, client_userinfo, js_component):
        for shown in (form, html.escape(form), json.dumps(form)[1:-1]):
            masked = redact.scrub(f"GET /echo/{shown} 404", [PLANT], patterns=False)
            assert TOKEN not in masked, shown
    assert redact.scrub("it was &#39;x&#34;", ["x\"y'z"]) == "it was &#39;x&#34;"


def test_a_secret_echoed_by_other_json_encoders_is_masked() -> None:
    """Go's encoding/json writes ``<``, ``>`` and ``&`` as ``\\u003c``…; Java's and .NET's
    encoders write ``\\u`` escapes in upper-case hex."""
    secret = f"a<b>&c-{TOKEN}-ü"
    go = json.dumps(secret)[1:-1].replace("<", "\\u003c").replace(">", "\\u003e")
    go = go.replace("&", "\\u0026")
    upper = json.dumps(secret)[1:-1].replace("\\u00fc", "\\u00FC")
    for echoed in (go, upper):
        masked = redact.scrub(f'{{"echo": "{echoed}"}}', [secret], patterns=False)
        assert masked == '{"echo": "***"}', echoed
