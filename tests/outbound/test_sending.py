"""The threads that carry gateway exchanges: kept for the next request, never making one wait
behind another that is stuck past its deadline."""

from __future__ import annotations

import threading

import httpx2

from aiir.outbound.gateway import Call
from aiir.outbound.sending import Sender


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
