"""A secret with its characters escaped one by one is no spelling of it as a whole: a JSON
encoder may write every character as ``\\u0073`` (upper- or lower-case hex, some of them or all),
an HTML page as ``&#115;`` or ``&#x73;``, a URL as ``%73``. A gateway that echoed the key it was
sent so showed it on the screen and kept it in the journal and the evidence."""

from __future__ import annotations

import json
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

KEY = "Zq9-LiveKey-0123456789ab"


def _json(key: str, upper: bool = False) -> str:
    return "".join(f"\\u{ord(c):04X}" if upper else f"\\u{ord(c):04x}" for c in key)


FORMS = {
    "json": _json(KEY),
    "json-upper": _json(KEY, upper=True),
    "json-some": "Zq9" + _json("-Live") + "Key-0123" + _json("456789ab"),
    "json-twice": _json(KEY).replace("\\", "\\\\"),
    "python": "".join(f"\\x{ord(c):02x}" for c in KEY),
    "html": "".join(f"&#{ord(c)};" for c in KEY),
    "html-hex": "".join(f"&#x{ord(c):x};" for c in KEY),
    "percent": "".join(f"%{ord(c):02X}" for c in KEY),
    "percent-twice": "".join(f"%25{ord(c):02X}" for c in KEY),
    "percent-mixed": "Zq9-Live" + "".join(f"%2525{ord(c):02x}" for c in "Key-0123") + "456789ab",
}


@pytest.mark.parametrize("times", [1, 2, 3, 4, 5])
def test_a_secret_quoted_into_a_url_again_and_again_is_masked(times: int) -> None:
    """A key with characters a URL must escape, quoted into a callback URL, that into a
    redirect's, and so on: each time its ``%`` is escaped again (``%22`` ``%2522``
    ``%252522``...). Three times over was shown as it was."""
    import urllib.parse

    key = 'Zq9"Live/Key\\0123 456+789ab'
    quoted = key
    for _ in range(times):
        quoted = urllib.parse.quote(quoted, safe="")
    assert redact.mask(f"next={quoted}&x=1", [key]) == "next=***&x=1"


@pytest.mark.parametrize("form", sorted(FORMS))
def test_a_secret_escaped_character_by_character_is_masked(form: str) -> None:
    text = f'{{"error": "bad key {FORMS[form]}", "at": "100%25 \\u0041 &#65;"}}'
    want = '{"error": "bad key ***", "at": "100%25 \\u0041 &#65;"}'
    assert redact.mask(text, [KEY]) == want
    assert redact.masker([KEY], patterns=False)(text) == want
    assert redact.scrub(text, [KEY]) == want


def test_escapes_that_hold_no_secret_are_left_as_they_are() -> None:
    text = "a%20b %zz \\u00e9 &#x1F600; &#99999999; \\x0 %E2%82%AC " + _json("Zq9-LiveKe")
    assert redact.mask(text, [KEY]) == text


@contextmanager
def _escaping_gateway() -> Iterator[str]:
    """Says back the bearer key it was sent, every character of it a JSON escape."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            return

        def do_GET(self) -> None:
            key = self.headers.get("authorization", "").partition(" ")[2]
            body = '{"error": "bad key \\"' + _json(key) + '\\"", "' + _json(key) + '": 1}'
            data = body.encode()
            self.send_response(401 if "fail" in self.path else 200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    with serving(Handler) as url:
        yield url


def test_a_gateway_echoing_the_key_escaped_shows_it_nowhere(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("aiir.environment.has_terminal", lambda: False)
    monkeypatch.setenv("GWK", KEY)
    request = {"gateway": "gw", "method": "GET", "path": "/echo"}
    runbook = {
        "aiir": 1,
        "id": "escaped",
        "title": "A gateway escaping every character",
        "owner": "security",
        "severity": "SEV3",
        "tags": {"owasp": ["LLM02:2025"]},
        "env": {"GWK": {"description": "the gateway key"}},
        "gateways": {
            "gw": {
                "profile": "http",
                "url": "http://127.0.0.1:9",
                "headers": {"Authorization": "Bearer {{ env.GWK }}"},
            }
        },
        "start": "capture",
        "nodes": {
            "capture": {
                "kind": "capture",
                "title": "Capture",
                "items": [{"name": "echo", "what": ["gateway-state"], "request": request}],
                "next": "fail",
            },
            "fail": {
                "kind": "action",
                "title": "Fail",
                "request": {**request, "path": "/fail"},
                "on_failure": "done",
                "next": "done",
            },
            "done": {"kind": "end", "title": "Done", "outcome": "resolved"},
        },
    }
    write(tmp_path / "r.yaml", runbook)
    incidents = tmp_path / "incidents"
    where = ("--incident-dir", str(incidents))
    with _escaping_gateway() as url:
        ran = run_cli(capsys, "run", str(tmp_path / "r.yaml"), "--gateway", f"gw={url}",
                      "--yes", *where)  # fmt: skip
    assert ran.status == 0, ran.err
    [incident] = [p.name for p in incidents.iterdir()]
    shown = run_cli(capsys, "show", incident, "--json", *where)
    verified = run_cli(capsys, "verify", incident, *where)
    assert verified.status == 0, verified.out + verified.err
    written = {str(p): p.read_text() for p in incidents.rglob("*") if p.is_file()}
    assert any("/evidence/" in name for name in written)
    for what, text in {"run": ran.out + ran.err, "show": shown.out, **written}.items():
        for spelling in (KEY, _json(KEY), json.dumps(_json(KEY))[1:-1]):
            assert spelling not in text, what


def test_a_secret_dumped_as_hex_is_masked() -> None:
    data = KEY.encode()
    text = f"key bytes: {data.hex()} ({data.hex().upper()})"
    assert redact.mask(text, [KEY]) == "key bytes: *** (***)"
    assert redact.mask("short: " + b"abcd".hex(), ["abcd"]) == "short: 61626364"  # a digest's
