"""A Teams Workflows trigger refuses a body over about 28 KB (HTTP 413): however long a message
and whatever its characters (quotes and backslashes JSON escapes, emoji of four bytes), the card
aiir posts fits, its last block saying how many characters more are in the journal. Tested
against a loopback receiver that refuses bigger bodies as Teams does."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from aiir.outbound.teams import TEXT_BLOCK, teams_message
from tests.outbound.test_teams import (
    ID,
    RUNBOOK,
    card_valid,
    incident,
    receiver,
    setup,
    walk,
)
from tests.receiver import TEAMS_LIMIT, Receiver
from tests.respond import journal, of_type

__all__ = ["receiver"]  # the fixture, used by name

MORE = "more characters of this message are in the incident's journal"

# Each of them far over 28 KB as one card's JSON, though under 20,000 characters.
LONG = {
    "quotes": '""""""""" ' * 2_000,
    "emoji": "🔥🔥🔥🔥 " * 3_000,
    "accents": ("é" * 40 + "\n") * 400,
    "backslashes": "\\\\ " * 5_000,
    "stars": "*" * 19_000,  # escaped "\*": twice the characters, 3 bytes each as JSON
}


def _size(body: Any) -> int:
    """The body's bytes as the client sends it (compact JSON, UTF-8)."""
    return len(json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode())


@pytest.mark.parametrize("text", LONG.values(), ids=LONG.keys())
def test_a_card_fits_in_what_teams_takes_and_says_where_the_rest_is(text: str) -> None:
    from aiir.formats.templating import teams_escape

    body = teams_message(teams_escape(text), incident(title="t" * 20_000), "17:" + "a" * 64)
    assert _size(body) <= TEAMS_LIMIT
    content = card_valid(body)
    blocks = [b["text"] for b in content["body"][1:-1]]
    assert MORE in blocks[-1]
    left = int(blocks[-1].split()[1].replace(",", ""))
    assert left > 0
    cuts = len(teams_escape(text)) // (TEXT_BLOCK // 2)  # a line end or space cut at is dropped
    assert sum(len(b) for b in blocks[:-1]) + left >= len(teams_escape(text)) - cuts


def test_a_short_card_is_left_whole() -> None:
    content = card_valid(teams_message("all is well", incident()))
    assert [b["text"] for b in content["body"][1:-1]] == ["all is well"]


@pytest.mark.parametrize("name", ["quotes", "emoji"])
def test_a_long_teams_message_is_delivered_not_refused_as_too_large(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    receiver: Receiver,
    capsys: pytest.CaptureFixture[str],
    name: str,
) -> None:
    root = setup(tmp_path, monkeypatch, receiver)
    (root / "answers.yaml").write_text(
        json.dumps({"report": LONG[name]}, ensure_ascii=False), encoding="utf-8"
    )
    assert RUNBOOK["nodes"]["tell"]["channel"] == "teams"
    ran = walk(capsys, root)
    assert ran.status == 0, ran.err
    (posted,) = receiver.requests
    assert len(posted.body) <= TEAMS_LIMIT
    content = card_valid(posted.json())
    assert MORE in content["body"][-2]["text"]
    sent = of_type(journal(root / "incidents", ID), "notify.sent")
    assert [(s["ok"], s["status"]) for s in sent] == [(True, 202)]
    rendered = of_type(journal(root / "incidents", ID), "notify.rendered")[0]
    assert LONG[name] in rendered["text"]  # the whole message is kept in the journal
