"""A message whose try may have been delivered (a lost answer, a 500) is not posted twice.

Slack and Teams incoming webhooks have no idempotency key: only a 429 (not processed) is retried.
A JSON webhook is retried, with the same ``Idempotency-Key`` on every try of one message, so a
receiver that honours it acts once. Real loopback receiver (tests.receiver) counting requests.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx2
import pytest

from aiir.outbound.notify import IDEMPOTENCY_KEY, Notifier
from tests.receiver import Answer, Receiver, serve_receiver

PATH = "/hook"
LOST = [
    pytest.param(Answer(500, b"oops"), id="500"),
    pytest.param(Answer(502, b"bad gateway"), id="502"),
    pytest.param(Answer(504, b"gateway timeout"), id="504"),
    pytest.param(Answer(200, b"", drop=True), id="dropped"),
]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with serve_receiver() as running:
        yield running


def _notifier(slept: list[float]) -> Notifier:
    return Notifier(httpx2.Client(trust_env=False), slept.append, {}, timeout=2.0)


@pytest.mark.parametrize("lost", LOST)
def test_slack_is_not_posted_again_after_a_lost_answer(receiver: Receiver, lost: Answer) -> None:
    receiver.queue(PATH, lost, Answer(200, b"ok"))
    slept: list[float] = []
    delivery = _notifier(slept).slack(f"{receiver.url}{PATH}", "Key blocked")
    assert len(receiver.to(PATH)) == 1
    assert (delivery.ok, delivery.attempts, slept) == (False, 1, [])
    assert delivery.uncertain is True  # said: it may have been delivered


@pytest.mark.parametrize("lost", LOST)
def test_teams_is_not_posted_again_after_a_lost_answer(receiver: Receiver, lost: Answer) -> None:
    receiver.queue(PATH, lost, Answer(202, b""))
    delivery = _notifier([]).teams(f"{receiver.url}{PATH}", {"type": "message"})
    assert len(receiver.to(PATH)) == 1
    assert (delivery.ok, delivery.uncertain) == (False, True)


def test_slack_is_retried_after_a_429(receiver: Receiver) -> None:
    receiver.queue(PATH, Answer(429, b"rate_limited", {"Retry-After": "2"}), Answer(200, b"ok"))
    slept: list[float] = []
    delivery = _notifier(slept).slack(f"{receiver.url}{PATH}", "Key blocked")
    assert len(receiver.to(PATH)) == 2
    assert (delivery.ok, delivery.attempts, slept) == (True, 2, [2.0])


@pytest.mark.parametrize("lost", LOST)
def test_a_webhook_retry_carries_the_same_idempotency_key(receiver: Receiver, lost: Answer) -> None:
    receiver.queue(PATH, lost, Answer(200, b"{}"))
    delivery = _notifier([]).webhook(f"{receiver.url}{PATH}", {"event": "contained"})
    tries = receiver.to(PATH)
    assert len(tries) == 2
    assert delivery.ok
    keys = {t.headers.get(IDEMPOTENCY_KEY.lower()) for t in tries}
    assert len(keys) == 1
    assert None not in keys


def test_each_webhook_message_has_its_own_key_and_a_given_one_is_kept(receiver: Receiver) -> None:
    sender = _notifier([])
    sender.webhook(f"{receiver.url}{PATH}", {"n": 1})
    sender.webhook(f"{receiver.url}{PATH}", {"n": 2})
    sender.webhook(f"{receiver.url}{PATH}", {"n": 3}, {"idempotency-key": "mine"})
    keys = [t.headers.get(IDEMPOTENCY_KEY.lower()) for t in receiver.to(PATH)]
    assert keys[0] != keys[1]
    assert keys[2] == "mine"
