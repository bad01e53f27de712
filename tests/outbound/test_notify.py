"""aiir.outbound.notify against a real HTTP receiver on loopback: exact bodies, retries, masked secrets."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import httpx2
import pytest

from aiir.errors import InputError
from aiir.outbound.notify import MAX_REPLY, Link, Notifier, PagerDutyEvent
from tests.receiver import Answer, Receiver, serve_receiver

ROUTING_KEY = "R0UT1NGKEY0123456789abcdef012345"
SLACK_PATH = "/services/T000/B000/XXXXsecretXXXX"
STATUSPAGE_KEY = "sp-oauth-key-0123456789"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with serve_receiver() as running:
        yield running


def notifier(receiver: Receiver, slept: list[float] | None = None) -> Notifier:
    environ = {
        "AIIR_PAGERDUTY_URL": f"{receiver.url}/v2/enqueue",
        "AIIR_STATUSPAGE_URL": receiver.url,
    }
    sleeps = slept if slept is not None else []
    return Notifier(httpx2.Client(trust_env=False), sleeps.append, environ)


EVENT = PagerDutyEvent(
    summary="[aiir canary] support-assistant: 1 of 12 check(s) failed",
    source="aiir",
    severity="critical",
    timestamp="2026-11-27T03:15:00.000Z",
    component="support-bot",
    group="support",
    class_="canary-failure",
    custom_details={"failed": 1},
)


def test_pagerduty_trigger_sends_the_exact_events_v2_body(receiver: Receiver) -> None:
    links = [Link("https://runbooks.example/triage", "Runbook")]
    delivery = notifier(receiver).trigger(ROUTING_KEY, "aiir/canary/s/gw/m", EVENT, links)
    [request] = receiver.to("/v2/enqueue")
    assert request.method == "POST"
    assert request.headers["content-type"] == "application/json"
    assert request.json() == {
        "routing_key": ROUTING_KEY,
        "event_action": "trigger",
        "dedup_key": "aiir/canary/s/gw/m",
        "payload": {
            "summary": "[aiir canary] support-assistant: 1 of 12 check(s) failed",
            "source": "aiir",
            "severity": "critical",
            "timestamp": "2026-11-27T03:15:00.000Z",
            "component": "support-bot",
            "group": "support",
            "class": "canary-failure",
            "custom_details": {"failed": 1},
        },
        "links": [{"href": "https://runbooks.example/triage", "text": "Runbook"}],
        "client": "aiir",
    }
    assert (delivery.channel, delivery.ok, delivery.status, delivery.attempts) == (
        "pagerduty",
        True,
        202,
        1,
    )
    assert delivery.reference == "aiir/canary/s/gw/m"


def test_pagerduty_resolve_and_acknowledge_send_only_the_three_fields(receiver: Receiver) -> None:
    sender = notifier(receiver)
    assert sender.acknowledge(ROUTING_KEY, "k1").ok
    assert sender.resolve(ROUTING_KEY, "k1").ok
    bodies = [r.json() for r in receiver.to("/v2/enqueue")]
    assert bodies == [
        {"routing_key": ROUTING_KEY, "event_action": "acknowledge", "dedup_key": "k1"},
        {"routing_key": ROUTING_KEY, "event_action": "resolve", "dedup_key": "k1"},
    ]


def test_pagerduty_summary_is_cut_to_1024_characters(receiver: Receiver) -> None:
    long = PagerDutyEvent(summary="x" * 5000, source="aiir", severity="info")
    notifier(receiver).trigger(ROUTING_KEY, "k", long)
    summary = receiver.to("/v2/enqueue")[0].json()["payload"]["summary"]
    assert len(summary) == 1024
    assert summary.endswith("…")


@pytest.mark.parametrize("status", [429, 500, 503])
def test_pagerduty_retries_429_and_5xx_with_backoff(receiver: Receiver, status: int) -> None:
    receiver.queue("/v2/enqueue", Answer(status, b"busy"), Answer(status, b"busy"))
    slept: list[float] = []
    delivery = notifier(receiver, slept).trigger(ROUTING_KEY, "k", EVENT)
    assert delivery.ok
    assert delivery.attempts == 3
    assert len(receiver.to("/v2/enqueue")) == 3
    assert slept == [1.0, 2.0]


def test_pagerduty_honours_retry_after(receiver: Receiver) -> None:
    receiver.queue("/v2/enqueue", Answer(429, b"slow down", {"retry-after": "7"}))
    slept: list[float] = []
    assert notifier(receiver, slept).trigger(ROUTING_KEY, "k", EVENT).ok
    assert slept == [7.0]


def test_pagerduty_gives_up_after_the_last_retry(receiver: Receiver) -> None:
    receiver.queue("/v2/enqueue", *[Answer(502, b"bad gateway")] * 4)
    slept: list[float] = []
    delivery = notifier(receiver, slept).trigger(ROUTING_KEY, "k", EVENT)
    assert (delivery.ok, delivery.status, delivery.attempts) == (False, 502, 4)
    assert slept == [1.0, 2.0, 4.0]
    assert delivery.reason == "HTTP 502: bad gateway"


def test_pagerduty_400_is_not_retried_and_the_key_never_shows(receiver: Receiver) -> None:
    reply = json.dumps({"status": "invalid event", "message": f"bad key {ROUTING_KEY}"})
    receiver.queue("/v2/enqueue", Answer(400, reply.encode()))
    slept: list[float] = []
    delivery = notifier(receiver, slept).trigger(ROUTING_KEY, "k", EVENT)
    assert (delivery.ok, delivery.status, delivery.attempts, slept) == (False, 400, 1, [])
    shown = json.dumps(delivery.as_dict())
    assert ROUTING_KEY not in shown
    assert delivery.request["json"]["routing_key"] == "***"
    assert "bad key ***" in delivery.reply


def test_pagerduty_unreachable_is_a_failed_delivery_not_a_crash() -> None:
    environ = {"AIIR_PAGERDUTY_URL": "http://127.0.0.1:9/v2/enqueue"}
    slept: list[float] = []
    sender = Notifier(httpx2.Client(trust_env=False), slept.append, environ, retries=1)
    delivery = sender.resolve(ROUTING_KEY, "k")
    assert (delivery.ok, delivery.status, delivery.attempts) == (False, None, 2)
    assert delivery.reason.startswith("no answer: ")


def test_pagerduty_dedup_key_longer_than_255_is_refused(receiver: Receiver) -> None:
    with pytest.raises(InputError, match="dedup key"):
        notifier(receiver).resolve(ROUTING_KEY, "k" * 256)
    assert receiver.requests == []


def test_default_pagerduty_endpoint_is_the_events_api() -> None:
    seen: list[httpx2.Request] = []

    def handler(request: httpx2.Request) -> httpx2.Response:
        seen.append(request)
        return httpx2.Response(202, json={"status": "success", "dedup_key": "k"})

    client = httpx2.Client(transport=httpx2.MockTransport(handler))
    assert Notifier(client, lambda _: None, {}).resolve(ROUTING_KEY, "k").ok
    assert str(seen[0].url) == "https://events.pagerduty.com/v2/enqueue"


def test_slack_posts_text_and_blocks_and_success_is_ok(receiver: Receiver) -> None:
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "*hi*"}}]
    delivery = notifier(receiver).slack(f"{receiver.url}{SLACK_PATH}", "fallback", blocks)
    [request] = receiver.to(SLACK_PATH)
    assert request.json() == {"text": "fallback", "blocks": blocks}
    assert (delivery.channel, delivery.ok, delivery.status, delivery.reply) == (
        "slack",
        True,
        200,
        "ok",
    )
    assert "XXXXsecretXXXX" not in json.dumps(delivery.as_dict())


@pytest.mark.parametrize(
    ("status", "code"),
    [(400, "invalid_payload"), (404, "channel_not_found"), (403, "invalid_token")],
)
def test_slack_error_codes_are_not_retried(receiver: Receiver, status: int, code: str) -> None:
    receiver.queue(SLACK_PATH, Answer(status, code.encode()))
    slept: list[float] = []
    delivery = notifier(receiver, slept).slack(f"{receiver.url}{SLACK_PATH}", "text")
    assert (delivery.ok, delivery.attempts, slept) == (False, 1, [])
    assert delivery.reply == code


def test_slack_200_without_ok_is_not_a_success(receiver: Receiver) -> None:
    receiver.queue(SLACK_PATH, Answer(200, b"no_text"))
    delivery = notifier(receiver).slack(f"{receiver.url}{SLACK_PATH}", "")
    assert not delivery.ok
    assert delivery.reason == "Slack said 'no_text'"


def test_statuspage_create_and_update(receiver: Receiver) -> None:
    sender = notifier(receiver)
    created = sender.statuspage_create(
        STATUSPAGE_KEY,
        "page1",
        "Degraded answers",
        "investigating",
        "We are looking into it.",
        impact="minor",
        component_ids=["c1"],
    )
    updated = sender.statuspage_update(
        STATUSPAGE_KEY, "page1", created.reference or "", status="resolved", body="Fixed."
    )
    first, second = receiver.requests
    assert (first.method, first.path) == ("POST", "/v1/pages/page1/incidents")
    assert first.headers["authorization"] == f"OAuth {STATUSPAGE_KEY}"
    assert first.json() == {
        "incident": {
            "name": "Degraded answers",
            "status": "investigating",
            "body": "We are looking into it.",
            "impact_override": "minor",
            "component_ids": ["c1"],
        }
    }
    assert (second.method, second.path) == ("PATCH", "/v1/pages/page1/incidents/p0abc123")
    assert second.json() == {"incident": {"status": "resolved", "body": "Fixed."}}
    assert created.ok
    assert updated.ok
    assert created.reference == "p0abc123"
    assert created.request["headers"] == {"Authorization": "***"}
    assert STATUSPAGE_KEY not in json.dumps([created.as_dict(), updated.as_dict()])


def test_statuspage_ids_cannot_leave_the_api(receiver: Receiver) -> None:
    notifier(receiver).statuspage_update(STATUSPAGE_KEY, "../admin", "x/../../y", status="resolved")
    assert receiver.requests[0].path == "/v1/pages/..%2Fadmin/incidents/x%2F..%2F..%2Fy"


def test_webhook_posts_json_and_masks_its_url(receiver: Receiver) -> None:
    url = f"{receiver.url}/hooks/abc-secret-token"
    delivery = notifier(receiver).webhook(url, {"event": "canary.failed", "n": 1})
    assert receiver.to("/hooks/abc-secret-token")[0].json() == {"event": "canary.failed", "n": 1}
    assert delivery.ok
    assert delivery.request["url"] == "***"


def test_secret_names_the_missing_variable() -> None:
    sender = Notifier(httpx2.Client(), lambda _: None, {})
    with pytest.raises(InputError, match="environment variable PD_KEY is not set"):
        sender.secret("PD_KEY", "suite x alert")


def test_a_secret_is_read_without_the_newline_a_mounted_file_ends_in() -> None:
    sender = Notifier(httpx2.Client(), lambda _: None, {"PD_KEY": f"  {ROUTING_KEY}\n"})
    assert sender.secret("PD_KEY", "pagerduty channel") == ROUTING_KEY


@pytest.mark.parametrize("value", ["R0UT1NG\nKEY", "R0UT1NGKÉY0123", "R0UT\x07INGKEY"])
def test_a_secret_no_key_or_url_can_hold_is_refused_without_quoting_it(value: str) -> None:
    sender = Notifier(httpx2.Client(), lambda _: None, {"PD_KEY": value})
    with pytest.raises(InputError) as refused:
        sender.secret("PD_KEY", "pagerduty channel")
    assert str(refused.value) == (
        "pagerduty channel: environment variable PD_KEY holds a line break, a control or a "
        "non-ASCII character, which no key or URL can; nothing was sent"
    )


def test_a_slack_404_naming_the_webhook_path_shows_no_token(receiver: Receiver) -> None:
    receiver.queue(SLACK_PATH, Answer(404, f"no_service: no webhook at {SLACK_PATH}".encode()))
    delivery = notifier(receiver).slack(f"{receiver.url}{SLACK_PATH}", "text")
    assert not delivery.ok
    assert delivery.reply == "no_service: no webhook at ***"
    assert "XXXXsecretXXXX" not in json.dumps(delivery.as_dict())


def test_a_routing_key_echoed_json_escaped_is_masked(receiver: Receiver) -> None:
    key = 'R0UT1NG"KEY\\0123456789abcdef'
    receiver.queue("/v2/enqueue", Answer(400, json.dumps({"got": {"routing_key": key}}).encode()))
    delivery = notifier(receiver).resolve(key, "k")
    assert not delivery.ok
    shown = json.dumps(delivery.as_dict())
    assert "0123456789abcdef" not in shown
    assert delivery.request["json"]["routing_key"] == "***"


def test_a_url_a_request_cannot_be_made_of_fails_once_and_clearly() -> None:
    sender = Notifier(httpx2.Client(), lambda _: None, {})
    delivery = sender.webhook("http://127.0.0.1:9/hook/tok\tEN", {"x": 1})
    assert (delivery.ok, delivery.attempts, delivery.status) == (False, 1, None)
    assert delivery.reason == "not sent: the URL or a header holds a character HTTP cannot carry"


def test_a_reply_dripping_a_byte_at_a_time_is_cut_at_the_timeout(receiver: Receiver) -> None:
    """The timeout bounds the whole exchange: 30 bytes at 0.2 s each is 6 s, cut at 0.5 s."""
    receiver.queue(SLACK_PATH, Answer(200, b"ok" + b" " * 28, drip=0.2))
    environ: dict[str, str] = {}
    sender = Notifier(
        httpx2.Client(trust_env=False), lambda _s: None, environ, retries=0, timeout=0.5
    )
    began = time.monotonic()
    delivery = sender.slack(receiver.url + SLACK_PATH, "hello")
    assert time.monotonic() - began < 3
    assert (delivery.ok, delivery.status) == (False, None)
    assert delivery.reason == "no answer: timed out after 0.5s"
    assert delivery.uncertain  # it went out: Slack may have posted it
    assert "XXXXsecretXXXX" not in json.dumps(delivery.as_dict())


def test_a_huge_reply_is_kept_up_to_a_size(receiver: Receiver) -> None:
    receiver.queue("/hook", Answer(200, b"x" * (3 * MAX_REPLY)))
    delivery = notifier(receiver).webhook(receiver.url + "/hook", {"a": 1})
    assert delivery.ok
    assert len(delivery.reply) == 500


def test_a_connection_lost_after_sending_is_no_answer_not_a_refusal(receiver: Receiver) -> None:
    receiver.queue(SLACK_PATH, *[Answer(200, b"", drop=True)] * 4)
    delivery = notifier(receiver).slack(receiver.url + SLACK_PATH, "hello")
    assert (delivery.ok, delivery.uncertain) == (False, True)
    assert delivery.reason.startswith("no answer: connection lost after the request was sent")
    assert delivery.sent_data({})["uncertain"] is True


def test_an_unreachable_receiver_is_not_uncertain() -> None:
    sender = Notifier(httpx2.Client(trust_env=False), lambda _s: None, {}, retries=0)
    delivery = sender.webhook("http://127.0.0.1:9/hook", {"a": 1})
    assert (delivery.ok, delivery.uncertain) == (False, False)
    assert "uncertain" not in delivery.sent_data({})


@pytest.mark.parametrize(
    "answer",
    [Answer(500, b"oops"), Answer(502, b"bad gateway"), Answer(200, b"", drop=True)],
    ids=["500", "502", "dropped"],
)
def test_a_statuspage_incident_is_created_once_even_when_the_answer_fails(
    receiver: Receiver, answer: Answer
) -> None:
    """A create that failed with a 5xx or lost its answer may have opened the public incident:
    a second POST would open another one."""
    receiver.queue("/v1/pages/page1/incidents", *[answer] * 4)
    created = notifier(receiver).statuspage_create(
        STATUSPAGE_KEY, "page1", "Degraded answers", "investigating", "Looking into it."
    )
    assert not created.ok
    assert len(receiver.to("/v1/pages/page1/incidents")) == 1


def test_a_statuspage_create_is_retried_after_a_429(receiver: Receiver) -> None:
    receiver.queue("/v1/pages/page1/incidents", Answer(429, b"slow down"))
    created = notifier(receiver).statuspage_create(
        STATUSPAGE_KEY, "page1", "Degraded answers", "investigating", "Looking into it."
    )
    assert created.ok
    assert len(receiver.to("/v1/pages/page1/incidents")) == 2


@pytest.mark.parametrize(
    ("status", "uncertain"), [(500, True), (502, True), (504, True), (503, False), (429, False)]
)
def test_a_5xx_other_than_503_may_have_been_taken(
    receiver: Receiver, status: int, uncertain: bool
) -> None:
    """A 503 or a 429 says the receiver did nothing; a 500, 502 or 504 (often a proxy in front,
    after the receiver took it) does not."""
    receiver.queue("/hook", Answer(status, b"trouble"))
    sender = Notifier(httpx2.Client(trust_env=False), lambda _s: None, {}, retries=0)
    delivery = sender.webhook(receiver.url + "/hook", {"a": 1})
    assert (delivery.ok, delivery.status, delivery.uncertain) == (False, status, uncertain)
