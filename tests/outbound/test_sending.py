"""The threads that carry gateway exchanges (kept for the next request, never making one wait
behind another that is stuck past its deadline), and how long a Retry-After asks for."""

from __future__ import annotations

import threading

import httpx2
import pytest

from aiir.outbound.gateway import Call
from aiir.outbound.sending import Sender, retry_after_seconds


def _call(path: str, timeout: float = 5.0) -> Call:
    return Call("gw", "GET", f"http://gateway.test{path}", {}, {}, None, None, timeout, 0, None, {})


def test_sequential_requests_share_one_thread() -> None:
    """Starting a thread per request cost a walk more than the engine's own work."""
    served: list[threading.Thread] = []  # kept, so that no two are the same object by chance

    def gateway(_request: httpx2.Request) -> httpx2.Response:
        served.append(threading.current_thread())
        return httpx2.Response(200)

    with httpx2.Client(transport=httpx2.MockTransport(gateway)) as client:
        sender = Sender(client, lambda _s: None)
        replies = [sender.send(_call(f"/{i}")) for i in range(30)]
    assert all(reply.ok for reply in replies)
    assert len({id(thread) for thread in served}) == 1
    assert served[0] is not threading.main_thread()  # the deadline still holds on a worker


def test_a_request_stuck_past_its_deadline_does_not_hold_up_the_next() -> None:
    stuck = threading.Event()

    def gateway(request: httpx2.Request) -> httpx2.Response:
        if request.url.path == "/stuck":
            stuck.wait(30)
        return httpx2.Response(200)

    with httpx2.Client(transport=httpx2.MockTransport(gateway)) as client:
        sender = Sender(client, lambda _s: None)
        try:
            late = sender.send(_call("/stuck", timeout=0.2))
            assert not late.ok
            assert late.reason == "timed out after 0.2s"
            assert late.uncertain
            after = sender.send(_call("/next", timeout=2.0))  # the stuck thread is still busy
            assert after.ok, after.reason
        finally:
            stuck.set()


NOW = 1_796_605_200.0  # Mon, 07 Dec 2026 01:00:00 GMT


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("7", 7.0),
        (" 3 ", 3.0),
        ("Mon, 07 Dec 2026 01:00:12 GMT", 12.0),  # an HTTP date: that long from now
        ("Monday, 07-Dec-26 01:00:05 GMT", 5.0),  # the obsolete RFC 850 form
        ("Mon, 07 Dec 2026 00:59:00 GMT", 0.0),  # a time past: our own backoff
        ("Wed, 21 Oct 2099 07:28:00 GMT", 30.0),  # capped
        ("1e12", 30.0),
        ("inf", 30.0),
        ("-5", 0.0),
        ("-inf", 0.0),
        ("nan", 0.0),
        ("garbage", 0.0),
        ("Mon, 99 Foo 2026 99:99:99 GMT", 0.0),
        ("", 0.0),
        (None, 0.0),
    ],
)
def test_retry_after_in_seconds_or_as_an_http_date(value: str | None, seconds: float) -> None:
    assert retry_after_seconds(value, NOW) == pytest.approx(seconds)
