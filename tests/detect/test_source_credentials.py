"""A detection source's URL credentials (``http://user:password@prometheus``; the client sends
them as a Basic auth header) are masked in what the source says back. A proxy in front of
Prometheus or Phoenix that quotes the request in its error (``{"error": "... Authorization:
Basic …"}``) showed them on the screen in base64. (The error is cut once masked: cut first, a
secret across the cut leaves a piece no spelling of it matches.)"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import write
from tests.receiver import serving
from tests.support.cli import run_cli

Capture = pytest.CaptureFixture[str]
USER = "promuser"
PASSWORD = 'Pr0m"pa\\ss-2c9e'  # a quote and a backslash, percent-encoded in the URL
WRITTEN = "Pr0m%22pa%5Css-2c9e"


@contextmanager
def quoting_proxy() -> Iterator[str]:
    """A server that refuses every request with a JSON error quoting its line and headers."""

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            return

        def do_GET(self) -> None:
            said = f"{self.path} {dict(self.headers.items())}"
            body = json.dumps({"error": said, "detail": said}).encode()
            self.send_response(400)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    with serving(Handler) as url:
        yield url.removeprefix("http://")


def _leaked(text: str) -> list[str]:
    basic = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    pieces = [PASSWORD, WRITTEN, basic[:12], basic[8:20]]
    return [p for p in pieces if p in text]


RULES: dict[str, dict[str, Any]] = {
    "prometheus": {
        "aiir": 1,
        "detect": "gateway",
        "rules": [{"id": "errors", "query": "max(llm_error_ratio)", "above": 0.05, "for": 1}],
    },
    "phoenix": {
        "aiir": 1,
        "detect": "traces",
        "rules": [
            {
                "id": "errors",
                "traces": {"measure": "error_rate", "window": "5m", "min_spans": 1},
                "above": 0.05,
                "for": 1,
            }
        ],
    },
}


@pytest.mark.parametrize("source", sorted(RULES))
def test_a_source_urls_credentials_are_masked_in_what_it_says_back(
    tmp_path: Path, capsys: Capture, source: str
) -> None:
    with quoting_proxy() as url:
        path = tmp_path / "rules.yaml"
        where = f"http://{USER}:{WRITTEN}@{url}"
        write(path, {**RULES[source], source: {"url": where, "timeout": 2}})
        history = str(tmp_path / "history")
        shown = run_cli(capsys, "detect", str(path), "--history-dir", history)
        as_json = run_cli(capsys, "detect", str(path), "--history-dir", history, "--json")
    assert shown.status == 1, shown.err
    assert "HTTP 400" in shown.out
    assert "Authorization" in shown.out  # the quoted request is shown, its credentials not
    assert _leaked(shown.out + shown.err) == []
    assert _leaked(as_json.out + as_json.err) == []
    for written in (tmp_path / "history").rglob("*"):
        if written.is_file():
            assert _leaked(written.read_text()) == []


CUT = "Xq7prefixZ/rest99"  # a '/' not percent-encoded: the URL's host ends before it


def test_a_source_url_with_a_cut_password_is_refused_naming_no_part_of_it(
    tmp_path: Path, capsys: Capture
) -> None:
    url = f"http://svc:{CUT}@127.0.0.1:9"
    path = tmp_path / "rules.yaml"
    write(path, {**RULES["prometheus"], "prometheus": {"url": url, "timeout": 2}})
    checked = run_cli(capsys, "validate", str(path))
    ran = run_cli(capsys, "detect", str(path), "--history-dir", str(tmp_path / "h"))
    assert (checked.status, ran.status) == (2, 2), ran.out + ran.err
    assert "must be percent-encoded" in ran.err
    assert "rules.yaml:" in ran.err  # the file and line
    for said in (checked, ran):
        assert "Xq7prefixZ" not in said.out + said.err
        assert "internal error" not in said.out + said.err


def test_a_flag_with_a_cut_password_is_an_error_verdict_not_a_crash(
    tmp_path: Path, capsys: Capture
) -> None:
    path = tmp_path / "rules.yaml"
    write(path, {**RULES["prometheus"], "prometheus": {"url": "http://127.0.0.1:9"}})
    flag = f"http://svc:{CUT}@127.0.0.1:9"
    ran = run_cli(
        capsys, "detect", str(path), "--prometheus", flag, "--history-dir", str(tmp_path / "h")
    )
    assert ran.status == 1, ran.out + ran.err
    assert "its URL is not valid" in " ".join(ran.out.split())
    assert "internal error" not in ran.out + ran.err
    assert "Xq7prefixZ" not in ran.out + ran.err
