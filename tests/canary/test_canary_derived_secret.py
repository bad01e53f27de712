"""A canary suite's header made over from a secret (``X-Shape: {{ env.GW_KEY | upper }}``) was
made before the suite's secrets were declared, so it was not known as made from one: a gateway
quoting the request's headers in its error had it shown."""

from __future__ import annotations

from pathlib import Path

import pytest

from aiir.cli import main
from tests.canaries import suite
from tests.helpers import write
from tests.servers import serve_echo

KEY = "gw-key-abCd-Ef12-gh34-ij56"


def test_a_canary_header_made_over_from_a_secret_is_masked_where_it_is_echoed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GW_KEY", KEY)
    data = suite(repeats=1)
    data["env"] = {"GW_KEY": {"description": "the gateway key"}}
    data["gateways"]["gw"]["headers"] = {"X-Shape": "{{ env.GW_KEY | upper }}"}
    path = tmp_path / "s.yaml"
    write(path, data)
    history = tmp_path / "h"
    with serve_echo() as (url, heard):  # its JSON echo is not a chat completion: quoted
        status = main(["canary", "run", str(path), "--gateway", f"gw={url}", "--json",
                       "--history-dir", str(history)])  # fmt: skip
    out = capsys.readouterr()
    assert status == 1
    assert heard[0].headers["x-shape"] == KEY.upper()
    assert "x-shape" in out.out  # the echo is quoted, the value in it is not
    written = "".join(p.read_text() for p in history.rglob("*") if p.is_file())
    assert KEY.upper() not in out.out + out.err + written
