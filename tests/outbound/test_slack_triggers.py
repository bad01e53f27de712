"""A Slack Workflow Builder webhook trigger (``https://hooks.slack.com/triggers/…``) answers
``{"ok":true}`` where an incoming webhook answers ``ok``: both are delivered; ``{"ok":false,
"error":…}`` is not, naming Slack's error. Against a real loopback receiver that answers as
each does."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.outbound.test_notify import notifier, receiver
from tests.outbound.test_notify_walks import receiver as walk_receiver
from tests.outbound.test_notify_walks import walk
from tests.receiver import JSON, Answer, Receiver
from tests.respond import journal, of_type

__all__ = ["receiver", "walk_receiver"]  # the fixtures, used by name

TRIGGER = "/triggers/T0123456789/3141592653589/c6e6c0d868b3054ca0f4611a5dbadaf"


def test_a_workflow_trigger_answering_ok_true_is_delivered(receiver: Receiver) -> None:
    delivery = notifier(receiver).slack(f"{receiver.url}{TRIGGER}", "Update: contained")
    (request,) = receiver.to(TRIGGER)
    assert request.json() == {"text": "Update: contained"}
    assert (delivery.ok, delivery.status, delivery.reason) == (True, 200, "ok")
    assert "c6e6c0d868b3054ca0f4611a5dbadaf" not in json.dumps(delivery.as_dict())


@pytest.mark.parametrize(
    "reply", [b'{"ok": true}', b'{"ok":true,"warning":"superfluous_charset"}', b"ok\n"]
)
def test_each_spelling_of_success_is_delivered(receiver: Receiver, reply: bytes) -> None:
    receiver.queue(TRIGGER, Answer(200, reply, JSON))
    assert notifier(receiver).slack(f"{receiver.url}{TRIGGER}", "x").ok


@pytest.mark.parametrize(
    ("reply", "said"),
    [
        (b'{"ok":false,"error":"invalid_workflow_input"}', "invalid_workflow_input"),
        (b'{"ok":"true"}', '{"ok":"true"}'),
        (b"{}", "{}"),
        (b"true", "true"),
    ],
)
def test_a_trigger_reply_that_is_no_success_is_not_delivered(
    receiver: Receiver, reply: bytes, said: str
) -> None:
    receiver.queue(TRIGGER, Answer(200, reply, JSON))
    delivery = notifier(receiver).slack(f"{receiver.url}{TRIGGER}", "x")
    assert not delivery.ok
    assert said in delivery.reason
    assert delivery.attempts == 1


def test_a_walk_posting_to_a_workflow_trigger_says_it_was_sent(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    walk_receiver: Receiver,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("T_SLACK", walk_receiver.url + TRIGGER)
    ran = walk(capsys, tmp_path, "slack", "Update: {{ answers.paste }}", "all quiet")
    assert ran.status == 0, ran.err
    assert len(walk_receiver.to(TRIGGER)) == 1
    out = " ".join(ran.out.split())
    assert "✓ sent to slack" in out
    assert "did not take it" not in out
    (incident,) = [d.name for d in (tmp_path / "incidents").iterdir()]
    (sent,) = of_type(journal(tmp_path / "incidents", incident), "notify.sent")
    assert (sent["ok"], sent["status"]) == (True, 200)
