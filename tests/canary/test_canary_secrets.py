"""A canary's gateway that refuses with its key echoed in the error: the key is masked before
the error is cut to its excerpt, so no first part of it is left in the output or the history."""

from __future__ import annotations

from pathlib import Path

import pytest

from aiir.cli import main
from tests.canaries import suite
from tests.helpers import write
from tests.servers import Fault, serve_gateway

KEY = "sk-canary-echoed-key-0123456789abcdef"
EXCERPT = 300  # what a failed sample keeps of the error body, with the "…" that ends it


def test_a_key_echoed_across_the_cut_of_an_error_leaves_no_part(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GW_KEY", KEY)
    data = suite(env={"GW_KEY": {"description": "key"}}, repeats=1)
    data["gateways"]["gw"]["headers"] = {"Authorization": "Bearer {{ env.GW_KEY }}"}
    path = tmp_path / "s.yaml"
    write(path, data)
    said = "Authentication Error, invalid key: "
    body = (said + "x" * (EXCERPT - 1 - len(said) - 12) + KEY).encode()  # cut 12 into the key
    history = tmp_path / "h"
    with serve_gateway() as (url, gateway):
        gateway.faults.append(Fault("/v1/chat/completions", 401, body, times=100))
        status = main(
            ["canary", "run", str(path), "--gateway", f"gw={url}", "--json",
             "--history-dir", str(history)]
        )  # fmt: skip
    out = capsys.readouterr()
    assert status == 1
    assert "HTTP 401: Authentication Error, invalid key: xxx" in out.out
    written = out.out + out.err + "".join(p.read_text() for p in history.rglob("*.jsonl"))
    assert KEY[:6] not in written
