"""A canary's gateway URL with credentials (``http://user:password@gateway``, in the suite or by
``--gateway``; the client sends them as a Basic auth header) is masked in what the gateway says
back: a gateway that quotes the request in its error showed the header's base64 in the table,
the JSON and the history."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest

from aiir.cli import main
from tests.canaries import suite
from tests.helpers import write
from tests.receiver import serving

USER = "canuser"
PASSWORD = 'C4n"pw\\-7d2e1f'
WRITTEN = "C4n%22pw%5C-7d2e1f"


@contextmanager
def quoting_gateway() -> Iterator[str]:
    """Refuses every request with a JSON error quoting its headers as Python prints a dict."""

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            return

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("content-length") or 0))
            data = json.dumps({"error": f"refused: {dict(self.headers.items())}"}).encode()
            self.send_response(401)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    with serving(Handler) as url:
        yield url.removeprefix("http://")


def _leaked(text: str) -> list[str]:
    basic = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    return [p for p in (PASSWORD, WRITTEN, basic[:12], basic[8:20]) if p in text]


@pytest.mark.parametrize("given", ["suite", "flag"])
def test_a_gateway_urls_credentials_are_masked_in_its_reply(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], given: str
) -> None:
    history = tmp_path / "h"
    path = tmp_path / "s.yaml"
    with quoting_gateway() as where:
        url = f"http://{USER}:{WRITTEN}@{where}"
        data = suite(repeats=1)
        flags: list[str] = []
        if given == "suite":
            data["gateways"]["gw"]["url"] = url
        else:
            flags = ["--gateway", f"gw={url}"]
        write(path, data)
        status = main(["canary", "run", str(path), *flags, "--history-dir", str(history), "--json"])
        table = main(["canary", "run", str(path), *flags, "--history-dir", str(history)])
    out = capsys.readouterr()
    assert (status, table) == (1, 1), out.err
    assert "HTTP 401" in out.out
    written = "".join(p.read_text() for p in history.rglob("*") if p.is_file())
    assert _leaked(out.out + out.err + written) == []
