"""A webhook URL echoed by a receiver whose JSON escapes every ``/`` as ``\\/`` (PHP's
json_encode, and Slack's own API replies): masked whole, whatever its token looks like."""

from __future__ import annotations

import httpx2
import pytest

from aiir.outbound.notify import Notifier
from aiir.redact import scrub
from tests.receiver import Answer, serve_receiver

URLS = [
    "https://hooks.slack.com/services/T0AAAAAAA/B0BBBBBBB/abcdefghijklmnopqrstuvwx",
    "https://hooks.slack.com/services/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",
]


@pytest.mark.parametrize("url", URLS)
def test_a_url_with_escaped_slashes_is_masked(url: str) -> None:
    echoed = url.replace("/", "\\/")
    assert scrub(f'{{"url": "{echoed}"}}', [url]) == '{"url": "***"}'


def test_a_slack_reply_echoing_the_webhook_url_php_style_keeps_no_token() -> None:
    token = "abcdefghijklmnopqrstuvwx"  # letters only: no digit makes it look like a token
    with serve_receiver() as receiver:
        path = f"/services/T0AAAAAAA/B0BBBBBBB/{token}"
        url = receiver.url + path
        body = (
            '{"ok":false,"error":"no_service","url":"' + url.replace("/", "\\/") + '"}'
        ).encode()
        receiver.queue(path, Answer(404, body, {"content-type": "application/json"}))
        delivery = Notifier(httpx2.Client(trust_env=False), lambda _s: None, {}).slack(url, "hi")
    assert not delivery.ok
    assert token not in delivery.reason
    assert token not in delivery.reply
