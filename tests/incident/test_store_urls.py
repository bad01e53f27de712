"""A store URL is shown only masked, and a broken one is one line, exit 2, whatever it holds:
no server needed, nothing is connected to."""

from __future__ import annotations

import pytest

from aiir.incident.store_url import masked_url
from tests.support.cli import run_cli

Capture = pytest.CaptureFixture[str]
BROKEN = [
    "postgresql://alice:pw-secret@[::1",  # an unclosed IPv6 bracket
    "postgresql://alice:pw-secret@db:port/incidents",  # a port that is not a number
    "postgresql://alice:pw@secret@[db/incidents",  # an @ in the password, then a bad host
    'postgresql://alice:pw-"se\\cret@db:99999999/x',  # quotes, a backslash, a port out of range
]


@pytest.mark.parametrize("url", BROKEN)
def test_a_broken_store_url_is_bad_input_and_never_shows_its_password(
    url: str, capsys: Capture, monkeypatch: pytest.MonkeyPatch, tmp_path: object
) -> None:
    monkeypatch.setenv("AIIR_STORE", url)
    ran = run_cli(capsys, "incidents")
    assert ran.status == 2, ran
    assert ran.err.startswith("aiir: AIIR_STORE 'postgresql://***@")
    assert "secret" not in ran.err
    assert "internal error" not in ran.err


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql://alice:pw@db/incidents", "postgresql://alice:***@db/incidents"),
        ("postgresql://alice@db/incidents", "postgresql://alice@db/incidents"),
        ("postgresql://alice:pw@[::1", "postgresql://***@[::1"),
        (
            "postgresql://db/x?password=pw&sslmode=require",
            "postgresql://db/x?password=***&sslmode=require",
        ),
        ("postgresql:///x?host=db&PASSWORD=pw", "postgresql:///x?host=db&PASSWORD=***"),
        ("postgresql://db/x?sslpassword=pw", "postgresql://db/x?sslpassword=***"),
        ("host=db password='p w\\'x' user=a", "host=db password=*** user=a"),
    ],
)
def test_masked_url(url: str, shown: str) -> None:
    assert masked_url(url) == shown


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://127.0.0.1:1/x?password=qs-secret-1",
        "postgresql:///x?host=127.0.0.1&port=1&password=qs-secret-2",
        "host=127.0.0.1 port=1 password=kv-secret-3",
        "postgresql://u:pct%40secret%22-4@127.0.0.1:1/x",
    ],
)
def test_a_password_in_any_part_of_the_url_is_never_shown(
    url: str, capsys: Capture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AIIR_STORE", url)
    ran = run_cli(capsys, "store", "status")
    assert ran.status == 2, ran
    assert "secret" not in ran.err + ran.out
    assert ran.err.count("\n") == 1
