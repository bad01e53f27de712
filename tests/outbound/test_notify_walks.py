"""Notify nodes walked through the CLI against a real loopback receiver: what is said on screen
and sent for messages the receiver cannot take as they are, or that never leave."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import write
from tests.incidents import write_answers, write_runbook
from tests.receiver import Answer, Receiver, serve_receiver
from tests.respond import no_terminal
from tests.support.cli import Ran, run_cli

ROUTING_KEY = "R0UT1NGKEY0123456789abcdef012345"
WORKSPACE = {
    "aiir": 1,
    "workspace": "acme",
    "channels": {
        "pagerduty": {"routing_key_env": "T_PD"},
        "slack": {"webhook_env": "T_SLACK"},
        "webhook": {"url_env": "T_HOOK"},
        "statuspage": {"page_id": "page1", "api_key_env": "T_SP"},
    },
}


def runbook(channel: str, message: str, outcome: str = "escalated") -> dict[str, Any]:
    return {
        "aiir": 1,
        "id": "tell",
        "title": "Tell the team",
        "owner": "security",
        "severity": "SEV1",
        "tags": {"owasp": ["LLM01:2025"]},
        "start": "paste",
        "nodes": {
            "paste": {"kind": "input", "title": "Paste", "prompt": "What?", "next": "tell"},
            "tell": {
                "kind": "notify",
                "title": "Tell",
                "channel": channel,
                "message": message,
                "next": "done",
            },
            "done": {"kind": "end", "title": "Done", "outcome": outcome},
        },
    }


@pytest.fixture
def receiver(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Receiver]:
    no_terminal(monkeypatch)
    with serve_receiver() as served:
        monkeypatch.chdir(tmp_path)
        monkeypatch.setenv("AIIR_INCIDENT_DIR", str(tmp_path / "incidents"))
        monkeypatch.setenv("AIIR_PAGERDUTY_URL", served.url + "/v2/enqueue")
        monkeypatch.setenv("T_PD", ROUTING_KEY)
        monkeypatch.setenv("T_SLACK", served.url + "/services/T0/B0/notifysecret0123")
        monkeypatch.setenv("T_HOOK", served.url + "/hook")
        monkeypatch.setenv("T_SP", "sp-oauth-key-0123456789")
        monkeypatch.setenv("AIIR_STATUSPAGE_URL", served.url)
        write(tmp_path / "aiir.yaml", WORKSPACE)
        yield served


def walk(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    channel: str,
    message: str,
    pasted: str,
    outcome: str = "escalated",
) -> Ran:
    path = write_runbook(tmp_path, runbook(channel, message, outcome))
    answers = write_answers(tmp_path, {"paste": pasted})
    return run_cli(capsys, "run", str(path), "--yes", "--answers", str(answers))


def test_a_page_with_a_huge_message_still_pages_and_says_what_was_cut(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, receiver: Receiver
) -> None:
    """A model's reply pasted into a page's message: PagerDuty refuses an event over 512 KB,
    so the message is cut to fit, and says so; the SEV1 page is not lost over its size."""
    pasted = "é" * 300_000 + "\U0001f600" * 100_000
    ran = walk(capsys, tmp_path, "pagerduty", "Model went rogue\n{{ answers.paste }}", pasted)
    assert ran.status == 0, ran.err
    (page,) = receiver.to("/v2/enqueue")
    assert len(page.body) <= 512 * 1024
    message = page.json()["payload"]["custom_details"]["message"]
    assert message.startswith("Model went rogue\né")
    assert message.endswith("more characters of this message are in the incident's journal.")
    assert "✓ sent to pagerduty" in ran.out
    assert json.loads(page.body)["payload"]["summary"] == "Model went rogue"


@pytest.mark.parametrize("value", [None, "http://127.0.0.1:9/a\nb"], ids=["unset", "newline"])
def test_a_message_that_never_left_is_not_said_to_be_refused(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    receiver: Receiver,
    monkeypatch: pytest.MonkeyPatch,
    value: str | None,
) -> None:
    """No receiver was offered it: "slack did not take it" would say Slack refused it."""
    if value is None:
        monkeypatch.delenv("T_SLACK")
    else:
        monkeypatch.setenv("T_SLACK", value)
    ran = walk(capsys, tmp_path, "slack", "Update: {{ answers.paste }}", "all quiet")
    assert ran.status == 0, ran.err
    assert receiver.requests == []
    out = " ".join(ran.out.split())
    assert "✗ slack: not sent: slack channel: environment variable T_SLACK" in out
    assert "did not take it" not in out
    assert "✓ sent" not in out


def test_a_page_that_may_have_opened_an_alert_is_resolved_when_the_incident_ends(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, receiver: Receiver
) -> None:
    """PagerDuty has the trigger and the connection drops, on every try: the alert may be open.
    A resolve for a key PagerDuty never opened does nothing, so the end resolves it too; left
    alone, the on-call's pager would ring on for an incident that is over."""
    receiver.queue("/v2/enqueue", *[Answer(202, b"", drop=True)] * 4)
    ran = walk(capsys, tmp_path, "pagerduty", "Paging: {{ answers.paste }}", "x", "resolved")
    assert ran.status == 0, ran.err
    sent = [r.json() for r in receiver.to("/v2/enqueue")]
    assert [s["event_action"] for s in sent] == ["trigger"] * 4 + ["resolve"]
    assert sent[-1]["dedup_key"] == sent[0]["dedup_key"]
    out = " ".join(ran.out.split())
    assert "? pagerduty: no answer" in out
    assert "✓ sent to pagerduty" in out  # the resolve


def two_updates() -> dict[str, Any]:
    book = runbook("statuspage", "We are investigating degraded answers.", "resolved")
    book["nodes"]["tell"]["next"] = "later"
    book["nodes"]["later"] = {
        "kind": "notify",
        "title": "Resolved",
        "channel": "statuspage",
        "status": "resolved",
        "message": "Answers are back to normal.",
        "next": "done",
    }
    return book


@pytest.mark.parametrize("resend", [None, "yes"])
def test_a_second_public_incident_is_not_opened_over_one_that_may_be_open(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, receiver: Receiver, resend: str | None
) -> None:
    """The first create got no answer (Statuspage may have opened it; aiir never learnt its
    id): the later update would have opened a second public incident."""
    creates = "/v1/pages/page1/incidents"
    receiver.queue(creates, Answer(201, b"", drop=True))
    path = write_runbook(tmp_path, two_updates())
    given = {"paste": "x", **({"later.resend": resend} if resend else {})}
    answers = write_answers(tmp_path, given)
    ran = run_cli(capsys, "run", str(path), "--yes", "--answers", str(answers))
    assert ran.status == 0, ran.err
    out = " ".join(ran.out.split())
    if resend is None:
        assert len(receiver.to(creates)) == 1
        assert "✗ statuspage: not sent: a status page incident may be open already" in out
    else:
        assert len(receiver.to(creates)) == 2
        assert "✓ sent to statuspage" in out
