"""Jira Cloud and Jira Service Management: incident tickets from notify nodes, follow-up tickets
from a post-mortem's action items, against a loopback receiver that checks the request shapes
Jira documents (method, path, Basic auth, JSON body, an ADF description)."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from aiir.incident.state import Incident
from aiir.outbound.jira import MAX_DESCRIPTION, MAX_SUMMARY, adf_document, closing_line, summary
from aiir.reports.actions import action_items
from tests.helpers import write
from tests.receiver import Answer, Receiver, serve_receiver
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

ID = incident_id()
EMAIL = "oncall@acme.example"
TOKEN = "ATATT3xFfGF0jiraTokenValue0123456789abcdef"
BASIC = "Basic " + base64.b64encode(f"{EMAIL}:{TOKEN}".encode()).decode()
ISSUE = "/rest/api/3/issue"
LINK = "/rest/api/3/issueLink"
REQUEST = "/rest/servicedeskapi/request"
HOSTILE = '[click](https://evil.example) *bold* {"type":"mention"} @here <b>x</b>'
MESSAGE = "Chatbot leak reported: {{ answers.report }}\nSecond line.\n\nNext paragraph."


def runbook(channel: str) -> dict[str, Any]:
    return {
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
                "title": "Open the ticket",
                "channel": channel,
                "message": MESSAGE,
                "next": "done",
            },
            "done": {"kind": "end", "title": "Done", "outcome": "resolved"},
        },
    }


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with serve_receiver() as running:
        yield running


def setup(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    receiver: Receiver,
    channel: str = "jira",
    channels: dict[str, Any] | None = None,
) -> Path:
    account = {"base_url": receiver.url, "email_env": "TEST_JIRA_EMAIL"}
    account["token_env"] = "TEST_JIRA_TOKEN"
    default = {
        "jira": {**account, "project": "OPS", "issue_type": "Task", "labels": ["ai-incident"]},
        "jsm": {**account, "service_desk_id": "10", "request_type_id": "25"},
    }
    config = {"aiir": 1, "workspace": "acme", "channels": default if channels is None else channels}
    workspace = write_workspace(tmp_path / "workspace", config)
    no_terminal(monkeypatch, workspace)
    monkeypatch.setenv("TEST_JIRA_EMAIL", EMAIL)
    monkeypatch.setenv("TEST_JIRA_TOKEN", TOKEN)
    clock = FakeClock(START)
    freeze(monkeypatch, clock, [clock.ticking(minutes=1)])
    write(tmp_path / "comms.yaml", runbook(channel))
    write(tmp_path / "answers.yaml", {"report": HOSTILE})
    return tmp_path


def walk(capsys: pytest.CaptureFixture[str], root: Path, *args: str) -> Any:
    incidents = str(root / "incidents")
    answers = str(root / "answers.yaml")
    return aiir(capsys, "run", str(root / "comms.yaml"), "--yes", "-a", answers, "--incident-dir", incidents, *args)  # fmt: skip


def report(capsys: pytest.CaptureFixture[str], root: Path, *args: str) -> Any:
    return aiir(capsys, "report", ID, "--incident-dir", str(root / "incidents"), *args)


# --- the documented shapes -----------------------------------------------------------------------

INLINE = {"text", "hardBreak"}
MARKS = {"code"}


def adf_valid(doc: Any) -> list[dict[str, Any]]:
    """An ADF document as Jira takes it: a ``doc`` of version 1 whose blocks are paragraphs of
    text (non-empty, only a ``code`` mark) and hard breaks, no key outside the node's own."""
    assert set(doc) == {"type", "version", "content"}
    assert (doc["type"], doc["version"]) == ("doc", 1)
    assert doc["content"], "a doc has at least one block"
    for block in doc["content"]:
        assert set(block) == {"type", "content"} and block["type"] == "paragraph"
        for node in block["content"]:
            assert node["type"] in INLINE
            if node["type"] == "hardBreak":
                assert node == {"type": "hardBreak"}
                continue
            assert set(node) <= {"type", "text", "marks"}
            assert isinstance(node["text"], str) and node["text"]
            assert all(set(m) == {"type"} and m["type"] in MARKS for m in node.get("marks", []))
    blocks: list[dict[str, Any]] = doc["content"]
    return blocks


def texts(block: dict[str, Any]) -> list[str]:
    return [n.get("text", "\n") for n in block["content"]]


def authorised(received: Any) -> None:
    assert received.method == "POST"
    assert received.headers["authorization"] == BASIC
    assert received.headers["content-type"] == "application/json"
    assert received.headers["accept"] == "application/json"


def no_secret(root: Path, *outputs: str) -> None:
    stored = journal_bytes(root / "incidents")
    for secret in (TOKEN, BASIC.removeprefix("Basic ")):
        assert secret.encode() not in stored
        assert all(secret not in text for text in outputs)


# --- the incident ticket -------------------------------------------------------------------------


def test_a_jira_node_files_the_incident_ticket_as_jira_documents_it(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    receiver: Receiver,
    capsys: pytest.CaptureFixture[str],
) -> None:
    root = setup(tmp_path, monkeypatch, receiver)
    ran = walk(capsys, root)
    assert ran.status == 0, ran.err
    (posted,) = receiver.requests
    assert posted.path == ISSUE
    authorised(posted)
    body = posted.json()
    assert set(body) == {"fields"}
    fields = body["fields"]
    description = fields.pop("description")
    assert fields == {
        "project": {"key": "OPS"},
        "summary": "[SEV2] Chatbot leaking data",
        "issuetype": {"name": "Task"},
        "labels": ["aiir", "ai-incident", f"aiir-{ID}"],
    }
    first, second, closing = adf_valid(description)
    assert texts(first) == [f"Chatbot leak reported: {HOSTILE}", "\n", "Second line."]
    assert texts(second) == ["Next paragraph."]
    sent = of_type(journal(root / "incidents", ID), "notify.sent")
    (record,) = sent
    anchor = record["anchor"]
    assert closing["content"] == [
        {"type": "text", "text": "Incident "},
        {"type": "text", "text": ID, "marks": [{"type": "code"}]},
        {"type": "text", "text": " · runbook "},
        {"type": "text", "text": "comms", "marks": [{"type": "code"}]},
        {"type": "text", "text": " · journal anchor "},
        {"type": "text", "text": anchor, "marks": [{"type": "code"}]},
    ]
    assert (record["channel"], record["ok"], record["status"], record["reference"]) == (
        "jira",
        True,
        201,
        "OPS-1",
    )
    assert record["request"]["headers"] == {"Authorization": "***", "Accept": "***"}
    assert "OPS-1" in ran.out
    no_secret(root, ran.out, ran.err)
