"""A delivery's verdict over several tries: once a try may have been delivered, a later refusal
does not make the message "not taken"."""

from __future__ import annotations

from collections.abc import Iterator

import httpx2
import pytest

from aiir.outbound.notify import Notifier
from tests.receiver import Answer, Receiver, serve_receiver

ROUTING_KEY = "R0UT1NGKEY0123456789abcdef012345"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with serve_receiver() as running:
        yield running


def _notifier(receiver: Receiver) -> Notifier:
    environ = {"AIIR_PAGERDUTY_URL": f"{receiver.url}/v2/enqueue"}
    return Notifier(httpx2.Client(trust_env=False), lambda _s: None, environ)


@pytest.mark.parametrize(
    "first",
    [Answer(502, b"bad gateway"), Answer(200, b"", drop=True), Answer(504, b"late")],
    ids=["502", "dropped", "504"],
)
def test_a_refusal_after_a_try_that_may_have_been_delivered_is_still_uncertain(
    receiver: Receiver, first: Answer
) -> None:
    """The first try went out and got no answer that says refused; the retries are answered
    429 (not processed) to the end. The first may have been delivered: never "not taken"."""
    receiver.queue("/hook", first, *[Answer(429, b"slow down")] * 3)
    delivery = _notifier(receiver).webhook(receiver.url + "/hook", {"a": 1})
    assert len(receiver.to("/hook")) == 4
    assert (delivery.ok, delivery.status) == (False, 429)
    assert delivery.uncertain
    assert delivery.sent_data({})["uncertain"] is True
    assert "may have been delivered" in delivery.reason


def test_a_page_refused_after_a_lost_answer_is_uncertain(receiver: Receiver) -> None:
    receiver.queue("/v2/enqueue", Answer(200, b"", drop=True), *[Answer(503, b"busy")] * 3)
    from aiir.outbound.notify import PagerDutyEvent

    event = PagerDutyEvent(summary="s", source="aiir", severity="critical")
    delivery = _notifier(receiver).trigger(ROUTING_KEY, "aiir-INC-1", event)
    assert (delivery.ok, delivery.status, delivery.uncertain) == (False, 503, True)


def test_tries_all_refused_are_not_uncertain(receiver: Receiver) -> None:
    receiver.queue("/hook", *[Answer(429, b"slow down")] * 4)
    delivery = _notifier(receiver).webhook(receiver.url + "/hook", {"a": 1})
    assert (delivery.ok, delivery.uncertain) == (False, False)


def test_a_success_after_a_lost_answer_is_sent(receiver: Receiver) -> None:
    receiver.queue("/hook", Answer(200, b"", drop=True))
    delivery = _notifier(receiver).webhook(receiver.url + "/hook", {"a": 1})
    assert (delivery.ok, delivery.uncertain) == (True, False)


@pytest.mark.parametrize("status", [301, 302, 307, 308])
def test_a_redirect_elsewhere_is_not_followed_and_says_so(receiver: Receiver, status: int) -> None:
    """A channel URL answering with a redirect to another host: the message does not follow it
    (it carries the incident), and the reason says what happened instead of "HTTP 302: "."""
    target = "http://attacker.example/steal"
    receiver.queue("/hook", Answer(status, b"", {"location": target}))
    delivery = _notifier(receiver).webhook(receiver.url + "/hook", {"a": 1})
    assert len(receiver.requests) == 1
    assert (delivery.ok, delivery.uncertain) == (False, False)
    assert delivery.reason == f"HTTP {status}: a redirect, not followed (check the channel's URL)"


def test_an_empty_refusal_says_its_status_alone(receiver: Receiver) -> None:
    receiver.queue("/hook", Answer(404, b""))
    delivery = _notifier(receiver).webhook(receiver.url + "/hook", {"a": 1})
    assert delivery.reason == "HTTP 404"
