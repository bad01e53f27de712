"""A request to a host no name can have (``a..b``, a label over 63 characters), which no check
of a document or a flag let through but a channel URL from a variable can: not sent, said so at
once (Python's IDNA codec refuses the name with an error no HTTP client reports as a network
error; the request thread died of it)."""

from __future__ import annotations

import httpx2
import pytest

from aiir.outbound.gateway import NOT_SENDABLE, Call, Reply
from aiir.outbound.sending import exchange


@pytest.mark.parametrize("host", ["a..b", "x" * 64 + ".example"])
def test_a_request_to_an_unnamable_host_is_not_sent(host: str) -> None:
    call = Call(
        gateway="gw",
        method="POST",
        url=f"http://{host}:9/hook",
        headers={},
        query={},
        json={"text": "hello"},
        body=None,
        timeout=15.0,
        retries=0,
        expect=None,
        save={},
    )
    with httpx2.Client() as client:
        reply = exchange(client, call)
    assert isinstance(reply, Reply)
    assert reply.reason == NOT_SENDABLE
    assert not reply.uncertain
