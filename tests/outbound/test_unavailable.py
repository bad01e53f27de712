"""A profile action the gateway cannot do at all is *unavailable*, never "failed, may have
applied": LiteLLM without its database drops the connection of an admin request it fails early
(as often as it answers a bare 500), and its readiness then says there is no database."""

from __future__ import annotations

import json
from http.server import BaseHTTPRequestHandler
from typing import Any

import httpx2

from aiir.formats.library import builtin_profiles
from aiir.formats.schema import Request
from aiir.outbound.gateway import Endpoint, build_call
from aiir.outbound.sending import Sender, diagnose
from tests.receiver import serving

PROFILES = builtin_profiles()


def _gateway(admin: str, db: str) -> type[BaseHTTPRequestHandler]:
    """/key/block answered as ``admin`` says ("drop": read, then the connection reset; "500");
    /health/readiness with ``db``."""

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *_: Any) -> None:
            pass

        def do_GET(self) -> None:
            body = json.dumps({"status": "healthy", "db": db}).encode()
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("content-length", "0")))
            if admin == "drop":
                import socket
                import struct

                self.connection.setsockopt(  # close with a reset, as a failing server does
                    socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
                )
                self.connection.close()
                self.close_connection = True
                return
            self.send_response(500)
            self.send_header("content-length", "21")
            self.end_headers()
            self.wfile.write(b"Internal server error")

    return Handler


def _block(url: str) -> tuple[Any, Any]:
    endpoint = Endpoint("llm", "litellm", url, {"Authorization": "Bearer sk-master-1234"})
    spec = Request.model_validate({"use": "litellm.block_key", "with": {"key": "sk-attacker"}})
    the_call = build_call(spec, "test.block", {}, {"llm": endpoint}, PROFILES)
    with httpx2.Client(trust_env=False) as client:
        sender = Sender(client, lambda _seconds: None)
        sent = sender.send(the_call)
        return sent, diagnose(the_call, sent, PROFILES, sender.send, endpoint)


def test_an_admin_request_dropped_by_a_gateway_without_its_database_is_unavailable() -> None:
    with serving(_gateway("drop", "Not connected")) as url:
        sent, reply = _block(url)
    assert sent.status is None
    assert sent.uncertain
    assert reply.unavailable
    assert reply.reason.startswith("lever unavailable: LiteLLM needs its database")
    assert "the connection was dropped" in reply.reason


def test_a_dropped_admin_request_on_a_gateway_with_its_database_stays_uncertain() -> None:
    with serving(_gateway("drop", "connected")) as url:
        _, reply = _block(url)
    assert not reply.unavailable
    assert reply.uncertain  # it may have applied: the walk probes before anything is re-sent


def test_a_bare_500_without_the_database_is_unavailable_as_before() -> None:
    with serving(_gateway("500", "Not connected")) as url:
        _, reply = _block(url)
    assert reply.unavailable
    assert "the reply was 500" in reply.reason
