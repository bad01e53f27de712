"""The OTLP endpoint's header values (aiir.yaml ``otlp.headers_env``) are secrets: a value HTTP
cannot carry (a line break, a control or a non-ASCII character) is refused before the walk, in
one line naming the header and its variable, never the value; and the line said after an export
masks them. The requests library quoted such a value whole in its error (``Invalid leading
whitespace ... in header value: 'Bearer …\\n…'``), and aiir printed that error as the reason the
trace was not exported."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.incidents import ANSWERS, MASTER_KEY, containment_runbook, write_answers, write_runbook
from tests.respond import CONFIG, aiir, no_terminal, write_workspace
from tests.servers import serve_gateway

Capture = pytest.CaptureFixture[str]
TOKEN = "otlp-trace-tok-5f3a9c"


@pytest.fixture
def walk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """``aiir run`` of the containment runbook, unattended, in a workspace whose trace goes to
    a dead loopback port with an authorization header read from $TRACE_AUTH."""
    no_terminal(monkeypatch)
    monkeypatch.setenv("LITELLM_MASTER_KEY", MASTER_KEY)
    config = {
        **CONFIG,
        "otlp": {
            "url": "http://127.0.0.1:9/v1/traces",
            "headers_env": {"authorization": "TRACE_AUTH"},
        },
    }
    monkeypatch.setenv("AIIR_WORKSPACE", str(write_workspace(tmp_path / "ws", config)))
    monkeypatch.chdir(tmp_path)
    with serve_gateway() as (url, _):
        runbook = write_runbook(tmp_path, containment_runbook())
        answers = write_answers(tmp_path, ANSWERS)
        yield [
            "run",
            str(runbook),
            "--answers",
            str(answers),
            "--yes",
            "--gateway",
            f"gw={url}",
            "--incident-dir",
            str(tmp_path / "inc"),
        ]


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        (f"Bearer {TOKEN}\nX-Injected: yes", "a line break"),
        (f"Bearer {TOKEN}\r X-Injected: yes", "a line break"),
        (f"Bearer {TOKEN}\x01", "a control character"),
        (f"Bearer {TOKEN}\u00e9", "a non-ASCII character"),
    ],
    ids=["newline", "carriage-return", "control", "non-ascii"],
)
def test_an_otlp_header_http_cannot_carry_is_refused_before_the_walk(
    walk: list[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: Capture,
    value: str,
    problem: str,
) -> None:
    monkeypatch.setenv("TRACE_AUTH", value)
    ran = aiir(capsys, *walk)
    assert ran.status == 2, ran.err
    assert ran.err.count("\n") == 1, ran.err
    assert "aiir.yaml otlp.headers_env.authorization: $TRACE_AUTH holds " in ran.err
    assert problem in ran.err
    assert "nothing was run" in ran.err
    assert TOKEN not in ran.out + ran.err
    assert not (tmp_path / "inc").exists() or list((tmp_path / "inc").iterdir()) == []


def test_an_otlp_header_value_is_trimmed_and_never_shown(
    walk: list[str], monkeypatch: pytest.MonkeyPatch, capsys: Capture
) -> None:
    monkeypatch.setenv("TRACE_AUTH", f"  Bearer {TOKEN}\n")  # a mounted secret file's newline
    ran = aiir(capsys, *walk)
    assert ran.status == 0, ran.err
    assert "trace of INC-" in ran.err
    assert "not exported" in ran.err
    assert TOKEN not in ran.out + ran.err


def test_the_export_line_masks_the_otlp_headers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Whatever the exporter says about its failure, the endpoint's header values are masked."""
    from aiir.outbound import otlp
    from aiir.respond.trace import Destination, export
    from tests.incidents import walked_containment

    incident = walked_containment(tmp_path)
    said = f"header value: 'Bearer {TOKEN}' \x1b]0;owned\x07"
    monkeypatch.setattr(otlp, "send", lambda *args, **kwargs: otlp.Sent(False, 0, said))
    where = Destination(
        "http://127.0.0.1:9/v1/traces", headers={"authorization": f"Bearer {TOKEN}"}
    )
    ok, line = export(None, incident, where)  # type: ignore[arg-type]
    assert not ok
    assert TOKEN not in line
    assert "\x1b" not in line
