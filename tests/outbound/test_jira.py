"""Jira Cloud and Jira Service Management: incident tickets from notify nodes, follow-up tickets
from a post-mortem's action items, against a loopback receiver that checks the request shapes
Jira documents (method, path, Basic auth, JSON body, an ADF description)."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from aiir.formats.templating import markdown_escape
from aiir.incident.state import Incident
from aiir.outbound.jira import MAX_DESCRIPTION, MAX_SUMMARY, adf_document, closing_line, summary
from aiir.redact import scrub
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
        assert set(block) == {"type", "content"}
        assert block["type"] == "paragraph"
        for node in block["content"]:
            assert node["type"] in INLINE
            if node["type"] == "hardBreak":
                assert node == {"type": "hardBreak"}
                continue
            assert set(node) <= {"type", "text", "marks"}
            assert isinstance(node["text"], str)
            assert node["text"]
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


def test_a_jsm_node_raises_a_service_desk_request_with_a_plain_text_description(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    receiver: Receiver,
    capsys: pytest.CaptureFixture[str],
) -> None:
    root = setup(tmp_path, monkeypatch, receiver, channel="jsm")
    ran = walk(capsys, root)
    assert ran.status == 0, ran.err
    (posted,) = receiver.requests
    assert posted.path == REQUEST
    authorised(posted)
    (record,) = of_type(journal(root / "incidents", ID), "notify.sent")
    anchor = record["anchor"]
    assert posted.json() == {
        "serviceDeskId": "10",
        "requestTypeId": "25",
        "requestFieldValues": {
            "summary": "[SEV2] Chatbot leaking data",
            "description": f"Chatbot leak reported: {HOSTILE}\nSecond line.\n\nNext paragraph."
            f"\n\nIncident {ID} · runbook comms · journal anchor {anchor}",
        },
    }
    assert (record["channel"], record["ok"], record["reference"]) == ("jsm", True, "HELP-1")
    no_secret(root, ran.out, ran.err)


@pytest.mark.parametrize(
    ("answers", "attempts", "ok"),
    [
        ([Answer(401, b'{"errorMessages":["Unauthorized"]}')], 1, False),
        ([Answer(400, b'{"errors":{"issuetype":"invalid"}}')], 1, False),
        # a 5xx may have created the issue: never posted twice
        ([Answer(503, b"busy")], 1, False),
        ([Answer(429, b"slow down", {"retry-after": "1"})], 2, True),
    ],
)
def test_a_refused_create_is_journalled_as_refused_and_only_a_429_is_retried(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    receiver: Receiver,
    capsys: pytest.CaptureFixture[str],
    answers: list[Answer],
    attempts: int,
    ok: bool,
) -> None:
    root = setup(tmp_path, monkeypatch, receiver)
    receiver.queue(ISSUE, *answers)
    ran = walk(capsys, root)
    assert ran.status == 0, ran.err
    assert len(receiver.to(ISSUE)) == attempts
    (record,) = of_type(journal(root / "incidents", ID), "notify.sent")
    assert (record["ok"], record["attempts"]) == (ok, attempts)
    if not ok:
        assert record["reference"] is None
        assert record["reason"].startswith(f"HTTP {answers[0].status}")
        assert "OPS-" not in ran.out
    no_secret(root, ran.out, ran.err)


def test_a_sandbox_walk_keeps_the_ticket_in_the_inbox(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    receiver: Receiver,
    capsys: pytest.CaptureFixture[str],
) -> None:
    root = setup(tmp_path, monkeypatch, receiver)
    ran = walk(capsys, root, "--sandbox")
    assert ran.status == 0, ran.err
    assert receiver.requests == []
    (record,) = of_type(journal(root / "incidents", ID), "notify.sent")
    assert (record["simulated"], record["status"], record["ok"]) == ("sandbox", 201, True)
    assert record["reference"].startswith("SANDBOX-")
    adf_valid(record["request"]["json"]["fields"]["description"])
    no_secret(root, ran.out, ran.err)


def test_an_unset_token_is_said_and_nothing_is_sent(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    receiver: Receiver,
    capsys: pytest.CaptureFixture[str],
) -> None:
    root = setup(tmp_path, monkeypatch, receiver)
    monkeypatch.delenv("TEST_JIRA_TOKEN")
    ran = walk(capsys, root)
    assert ran.status == 0, ran.err
    assert receiver.requests == []
    (record,) = of_type(journal(root / "incidents", ID), "notify.sent")
    assert record["ok"] is False
    assert "TEST_JIRA_TOKEN is not set" in record["reason"]


# --- the ADF document and the summary --------------------------------------------------------------


def incident(**changes: Any) -> Incident:
    base: dict[str, Any] = {"runbook": "comms", "title": "Chatbot leaking data", "severity": "SEV2"}
    return Incident(ID, Path("."), **{**base, **changes})


def test_a_summary_keeps_to_255_characters_and_marks_the_cut() -> None:
    long = "word " * 100
    cut = summary(long)
    assert len(cut) == MAX_SUMMARY
    assert cut.endswith("…")
    assert summary("two\nlines") == "two lines"


def test_a_long_message_says_how_much_more_is_in_the_journal_and_stays_valid() -> None:
    text = ("x" * 999 + "\n\n") * 40
    doc = adf_document(text, closing_line(incident(drill=True), "12:abcdef"))
    blocks = adf_valid(doc)
    kept = sum(len(t) for b in blocks[:-2] for t in texts(b))
    assert kept == MAX_DESCRIPTION
    assert "more characters of this message are in the incident's journal" in texts(blocks[-2])[0]
    assert texts(blocks[-1])[-1] == " · EXERCISE (drill)"


@pytest.mark.parametrize("text", ["", "  \n\n  ", "\n\nonly\n\n\n", "a\n \nb"])
def test_blank_lines_never_make_an_empty_text_node(text: str) -> None:
    adf_valid(adf_document(text, closing_line(incident(), None)))


# --- follow-up tickets from the post-mortem ----------------------------------------------------

CANARY = f"Add this incident's attack prompts as regression canaries (`aiir canary from-incident {ID}`)"  # fmt: skip


def test_file_actions_files_each_item_once_linked_to_the_incident_ticket(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    receiver: Receiver,
    capsys: pytest.CaptureFixture[str],
) -> None:
    root = setup(tmp_path, monkeypatch, receiver)
    assert walk(capsys, root).status == 0
    ran = report(capsys, root, "--file-actions")
    assert ran.status == 0, ran.err
    incident_ticket, follow_up, link = receiver.requests
    assert incident_ticket.path == ISSUE
    assert follow_up.path == ISSUE
    authorised(follow_up)
    fields = follow_up.json()["fields"]
    description = adf_valid(fields.pop("description"))
    assert fields == {
        "project": {"key": "OPS"},
        "summary": CANARY,
        "issuetype": {"name": "Task"},
        "labels": ["aiir", "ai-incident", f"aiir-{ID}", "aiir-follow-up"],
    }
    assert texts(description[0])[0] == f"Action item from the post-mortem of {ID}: {CANARY}"
    assert link.path == LINK
    authorised(link)
    assert link.json() == {
        "type": {"name": "Relates"},
        "inwardIssue": {"key": "OPS-2"},
        "outwardIssue": {"key": "OPS-1"},
    }
    assert ran.out.splitlines()[0] == f"filed OPS-2: {CANARY}"
    assert "skipped: the mitigate item is not written yet (✍)" in ran.out
    (filed,) = of_type(journal(root / "incidents", ID), "ticket.filed")
    assert (filed["ok"], filed["reference"], filed["linked_to"], filed["status"]) == (
        True,
        "OPS-2",
        "OPS-1",
        201,
    )
    again = report(capsys, root, "--file-actions")
    assert again.status == 0, again.err
    assert len(receiver.requests) == 3  # nothing filed twice
    assert again.out.splitlines()[0] == f"already filed OPS-2: {CANARY}"
    assert len(of_type(journal(root / "incidents", ID), "ticket.filed")) == 1
    timeline = report(capsys, root).out
    # the timeline's text is a value: its backticks are escaped for Markdown, read as written
    assert markdown_escape(f"Follow-up ticket OPS-2 filed for {CANARY!r}") in timeline
    assert f"| prevent | {CANARY} | ✍ | OPS-2 |" in timeline  # the post-mortem's ticket column
    no_secret(root, ran.out, ran.err, again.out, timeline)


EDITED = """# Post-mortem: Chatbot leaking data

## Action items

| type | action | owner | ticket |
|---|---|---|---|
| prevent | Block \\| pipes in the retrieval filter | security | ✍ |
| mitigate | Rotate the leaked API key {TOKEN} | platform |  |
| process | ✍ TEAM TO WRITE | ✍ | ✍ |
| process | Page the DPO on every SEV2 leak | ic | OPS-77 |
| prevent | Block  \\| pipes in the retrieval filter | security | ✍ |

## What went well
"""


def test_file_actions_reads_the_post_mortem_the_team_edited(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    receiver: Receiver,
    capsys: pytest.CaptureFixture[str],
) -> None:
    root = setup(tmp_path, monkeypatch, receiver, channel="record")
    assert walk(capsys, root).status == 0
    edited = root / "post-mortem.md"
    edited.write_text(EDITED.replace("{TOKEN}", TOKEN), encoding="utf-8")
    ran = report(capsys, root, "--file-actions", "--actions-from", str(edited))
    assert ran.status == 0, ran.err
    assert [r.path for r in receiver.requests] == [ISSUE, ISSUE]  # no incident ticket: no link
    summaries = [r.json()["fields"]["summary"] for r in receiver.requests]
    assert summaries == ["Block | pipes in the retrieval filter", "Rotate the leaked API key ***"]
    for posted in receiver.requests:
        assert f"aiir-{ID}" in posted.json()["fields"]["labels"]  # the incident, by label
    assert ran.out.splitlines() == [
        "filed OPS-1: Block | pipes in the retrieval filter",
        "filed OPS-2: Rotate the leaked API key ***",
        "skipped: the process item is not written yet (✍)",
        "skipped: has a ticket (OPS-77): Page the DPO on every SEV2 leak",
        "skipped: listed twice: Block  | pipes in the retrieval filter",
    ]
    filed = of_type(journal(root / "incidents", ID), "ticket.filed")
    assert [(f["reference"], f["linked_to"], f["owner"]) for f in filed] == [
        ("OPS-1", None, "security"),
        ("OPS-2", None, "platform"),
    ]
    no_secret(root, ran.out, ran.err)


def test_a_refused_follow_up_is_not_filed_and_is_filed_on_the_next_run(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    receiver: Receiver,
    capsys: pytest.CaptureFixture[str],
) -> None:
    root = setup(tmp_path, monkeypatch, receiver, channel="record")
    assert walk(capsys, root).status == 0
    receiver.queue(ISSUE, Answer(401, b'{"errorMessages":["Client must be authenticated"]}'))
    ran = report(capsys, root, "--file-actions")
    assert ran.status == 1
    assert ran.err.splitlines()[0] == (
        'not filed: 401: {"errorMessages":["Client must be authenticated"]}: ' + CANARY
    )
    assert "filed OPS" not in ran.out + ran.err
    (refused,) = of_type(journal(root / "incidents", ID), "ticket.filed")
    assert (refused["ok"], refused["status"], refused["reference"]) == (False, 401, None)
    again = report(capsys, root, "--file-actions")
    assert again.status == 0, again.err
    assert again.out.splitlines()[0] == f"filed OPS-2: {CANARY}"  # the receiver counts posts
    timeline = report(capsys, root).out
    assert "NOT filed (HTTP 401" in timeline
    no_secret(root, ran.out, ran.err, again.out)


def test_a_practice_incident_files_its_follow_ups_in_the_inbox_never_in_jira(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    receiver: Receiver,
    capsys: pytest.CaptureFixture[str],
) -> None:
    root = setup(tmp_path, monkeypatch, receiver)
    assert walk(capsys, root, "--sandbox").status == 0
    ran = report(capsys, root, "--file-actions")
    assert ran.status == 0, ran.err
    assert receiver.requests == []
    lines = ran.out.splitlines()
    assert lines[0].startswith("filed SANDBOX-")
    assert "(kept in the sandbox inbox, not in Jira)" in lines[0]
    (filed,) = of_type(journal(root / "incidents", ID), "ticket.filed")
    assert filed["simulated"] == "sandbox"
    assert filed["linked_to"] == "SANDBOX-1"  # the practice incident ticket, in the inbox too
    assert filed["link"]["request"]["json"]["outwardIssue"] == {"key": "SANDBOX-1"}
    timeline = report(capsys, root).out
    assert "kept in the exercise's inbox (nothing filed)" in timeline
    no_secret(root, ran.out, ran.err)


@pytest.mark.postgres
def test_follow_ups_filed_on_the_shared_store_reach_it_under_the_incident_lease(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    receiver: Receiver,
    capsys: pytest.CaptureFixture[str],
    database: str,
) -> None:
    from aiir.incident.postgres import PostgresStore

    PostgresStore(database).migrate()
    root = setup(tmp_path, monkeypatch, receiver)
    monkeypatch.setenv("AIIR_STORE", database)
    assert walk(capsys, root, "--sandbox").status == 0
    ran = report(capsys, root, "--file-actions")
    assert ran.status == 0, ran.err
    elsewhere = root / "laptop"
    checked = aiir(capsys, "verify", ID, "--incident-dir", str(elsewhere))
    assert checked.status == 0, checked.err
    (filed,) = of_type(journal(elsewhere, ID), "ticket.filed")  # in the store, not only here
    assert filed["simulated"] == "sandbox"


def test_file_actions_without_a_jira_channel_is_one_line_and_exit_2(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    receiver: Receiver,
    capsys: pytest.CaptureFixture[str],
) -> None:
    root = setup(tmp_path, monkeypatch, receiver, channel="record", channels={})
    assert walk(capsys, root).status == 0
    ran = report(capsys, root, "--file-actions")
    assert (ran.status, ran.out) == (2, "")
    assert ran.err == "aiir: --file-actions: no jira channel in aiir.yaml (channels.jira)\n"
    wrong = report(capsys, root, "--actions-from", str(root / "x.md"))
    assert (wrong.status, wrong.err) == (2, "aiir: --actions-from FILE goes with --file-actions\n")
    assert receiver.requests == []
    assert of_type(journal(root / "incidents", ID), "ticket.filed") == []


def test_file_actions_on_a_report_with_no_action_items_table_says_so(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    receiver: Receiver,
    capsys: pytest.CaptureFixture[str],
) -> None:
    root = setup(tmp_path, monkeypatch, receiver, channel="record")
    assert walk(capsys, root).status == 0
    ran = report(capsys, root, "--file-actions", "-t", "status-page")
    assert ran.status == 2
    assert ran.err == (
        "aiir: the status-page report: no action items table (a '## Action items' heading)\n"
    )


def test_action_items_are_the_rows_of_the_table_under_its_heading() -> None:
    items = action_items(EDITED)
    assert [(i.kind, i.action, i.owner, i.ticket, i.written, i.tracked) for i in items] == [
        ("prevent", "Block | pipes in the retrieval filter", "security", "✍", True, False),
        ("mitigate", "Rotate the leaked API key {TOKEN}", "platform", "", True, False),
        ("process", "✍ TEAM TO WRITE", "✍", "✍", False, False),
        ("process", "Page the DPO on every SEV2 leak", "ic", "OPS-77", True, True),
        ("prevent", "Block  | pipes in the retrieval filter", "security", "✍", True, False),
    ]
    same = action_items(EDITED.replace("Block \\| pipes", "block  \\|   pipes"))
    assert same[0].key == items[0].key  # spacing and case do not make a new item
    assert action_items("# nothing here\n") == []


def test_a_follow_up_lost_to_a_5xx_says_where_to_look_before_filing_again(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    receiver: Receiver,
    capsys: pytest.CaptureFixture[str],
) -> None:
    root = setup(tmp_path, monkeypatch, receiver, channel="record")
    assert walk(capsys, root).status == 0
    receiver.queue(ISSUE, Answer(502, b"bad gateway"))
    ran = report(capsys, root, "--file-actions")
    assert ran.status == 1
    assert len(receiver.to(ISSUE)) == 1  # never posted twice
    assert ran.err.splitlines()[0] == (
        f"not filed: 502: bad gateway (Jira may have made it anyway: look for label aiir-{ID} "
        f"before filing again): {CANARY}"
    )


@pytest.mark.parametrize(
    ("answer", "maybe"),
    [(Answer(201, b"", drop=True), True), (None, False)],
    ids=["dropped-after-sending", "refused"],
)
def test_a_follow_up_with_no_answer_says_where_to_look_only_if_it_went_out(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    receiver: Receiver,
    capsys: pytest.CaptureFixture[str],
    answer: Answer | None,
    maybe: bool,
) -> None:
    root = setup(tmp_path, monkeypatch, receiver, channel="record")
    assert walk(capsys, root).status == 0
    if answer is not None:
        receiver.queue(ISSUE, answer)
    else:  # nothing listens where Jira should be: the request never left
        (config,) = (root / "workspace").glob("aiir.y*ml")
        config.write_text(config.read_text().replace(receiver.url, "http://127.0.0.1:9"))
    ran = report(capsys, root, "--file-actions")
    assert ran.status == 1
    first = ran.err.splitlines()[0]
    assert first.startswith("not filed: no answer: ")
    assert ("Jira may have made it anyway" in first) is maybe, first


def test_an_atlassian_api_token_is_masked_in_any_text() -> None:
    assert TOKEN not in scrub(f"jira said: bad token {TOKEN}", [])


def test_a_follow_up_jira_took_but_could_not_link_is_filed_and_says_so(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    receiver: Receiver,
    capsys: pytest.CaptureFixture[str],
) -> None:
    root = setup(tmp_path, monkeypatch, receiver)
    assert walk(capsys, root).status == 0
    receiver.queue(LINK, Answer(404, b'{"errorMessages":["No issue link type named Relates."]}'))
    ran = report(capsys, root, "--file-actions")
    assert ran.status == 0, ran.err
    assert ran.out.splitlines()[0] == (
        'filed OPS-2 (not linked to OPS-1: HTTP 404: {"errorMessages":["No issue link type '
        f'named Relates."]}}): {CANARY}'
    )
    (filed,) = of_type(journal(root / "incidents", ID), "ticket.filed")
    assert (filed["ok"], filed["reference"], filed["linked_to"]) == (True, "OPS-2", None)
    assert filed["link"]["status"] == 404


def test_file_actions_refuses_while_a_walker_holds_the_incident(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    receiver: Receiver,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from aiir.incident.lock import IncidentLock

    root = setup(tmp_path, monkeypatch, receiver, channel="record")
    assert walk(capsys, root).status == 0
    with IncidentLock(root / "incidents" / ID, ID, "someone", "2025-11-27T03:20:00Z"):
        ran = report(capsys, root, "--file-actions")
    assert ran.status == 2
    assert ran.err.startswith("aiir: ")
    assert len(ran.err.splitlines()) == 1
    assert receiver.requests == []
    assert of_type(journal(root / "incidents", ID), "ticket.filed") == []


def test_a_drill_files_its_follow_ups_in_the_inbox_only(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    receiver: Receiver,
    capsys: pytest.CaptureFixture[str],
) -> None:
    root = setup(tmp_path, monkeypatch, receiver)
    scenario = {
        "aiir": 1,
        "scenario": "comms-drill",
        "title": "The follow-ups are practised",
        "runbook": "comms.yaml",
        "answers": {"report": HOSTILE},
        "expect": {"outcome": "resolved", "notifications": [{"channel": "jira"}]},
    }
    write(root / "drill.yaml", scenario)
    incidents = root / "incidents"
    drilled = aiir(capsys, "drill", str(root / "drill.yaml"), "--incident-dir", str(incidents))
    assert drilled.status == 0, drilled.out + drilled.err
    (drill,) = [p.name for p in incidents.iterdir()]
    ran = aiir(capsys, "report", drill, "--incident-dir", str(incidents), "--file-actions")
    assert ran.status == 0, ran.err
    assert "(kept in the drill inbox, not in Jira)" in ran.out
    assert receiver.requests == []
    (filed,) = of_type(journal(incidents, drill), "ticket.filed")
    assert (filed["simulated"], filed["ok"], filed["linked_to"]) == ("drill", True, None)
    no_secret(root, drilled.out, drilled.err, ran.out, ran.err)
