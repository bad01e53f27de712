"""A real HTTP server on loopback that behaves like a LiteLLM proxy's admin API, counts every call,
and serves scripted faults. Used by the run/resume/fault tests; started and stopped by them."""

from __future__ import annotations

import base64
import html
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass
class Fault:
    """A scripted response for the next matching request(s)."""

    path: str
    status: int = 500
    body: bytes = b'{"error": "injected"}'
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    times: int = 1
    applied: bool = False  # the request takes effect all the same (a proxy timing out late)
    drop: bool = False  # no answer at all: the connection is closed once the request is read
    drip: float = 0.0  # seconds between the reply's bytes (a reply that never quite ends)


@dataclass
class Gateway:
    """State of the fake gateway: blocked keys, guardrails, fallbacks, and a log of calls."""

    blocked: set[str] = field(default_factory=set)
    guardrails: dict[str, dict[str, Any]] = field(default_factory=dict)
    fallbacks: dict[str, list[str]] = field(default_factory=dict)
    calls: list[tuple[str, str, Any, dict[str, str]]] = field(default_factory=list)
    faults: list[Fault] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    # Cleared, every request waits for it before it is served: a walker stays where it is.
    gate: threading.Event = field(default_factory=lambda: _opened(threading.Event()))
    arrived: list[str] = field(default_factory=list)  # paths of requests, as they come in

    def count(self, method: str, path: str) -> int:
        return sum(1 for m, p, _, _ in self.calls if m == method and p == path)

    def respond(
        self, method: str, path: str, body: Any, headers: dict[str, str]
    ) -> tuple[int, Any]:
        with self.lock:
            self.calls.append((method, path, body, headers))
            return self._route(method, path, body if isinstance(body, dict) else {}, headers)

    def _route(
        self, method: str, path: str, body: dict[str, Any], headers: dict[str, str]
    ) -> tuple[int, Any]:
        if path == "/health/liveliness":
            return 200, "I'm alive!"
        if path == "/key/block":
            self.blocked.add(str(body.get("key")))
            return 200, {"key": body.get("key"), "blocked": True}
        if path == "/key/unblock":
            self.blocked.discard(str(body.get("key")))
            return 200, {"key": body.get("key"), "blocked": False}
        if path == "/guardrails" and method == "POST":
            guardrail = body.get("guardrail", {})
            guardrail_id = f"g-{len(self.guardrails) + 1}"
            self.guardrails[guardrail_id] = guardrail
            return 200, {"guardrail_id": guardrail_id, **guardrail}
        if path.startswith("/guardrails/") and method == "DELETE":
            removed = self.guardrails.pop(path.rsplit("/", 1)[1], None)
            return (200, {"deleted": True}) if removed else (404, {"error": "no such guardrail"})
        if path == "/guardrails/list":
            return 200, {"guardrails": list(self.guardrails.values())}
        if path == "/fallback" and method == "POST":
            self.fallbacks[str(body.get("model"))] = list(body.get("fallback_models", []))
            return 200, {"model": body.get("model"), "fallback_models": body.get("fallback_models")}
        if path.startswith("/fallback/") and method == "GET":
            model = path.rsplit("/", 1)[1]
            if model not in self.fallbacks:
                return 404, {"detail": {"error": f"No general fallbacks configured for {model}"}}
            return 200, {"model": model, "fallback_models": self.fallbacks[model]}
        if path.startswith("/fallback/") and method == "DELETE":
            self.fallbacks.pop(path.rsplit("/", 1)[1], None)
            return 200, {"deleted": True}
        if path == "/spend/logs":
            return 200, [{"request_id": "r1", "messages": [{"role": "user", "content": "hi"}]}]
        if path == "/v1/chat/completions":
            return self._chat(body, headers)
        return 404, {"error": f"no route {method} {path}"}

    def _chat(self, body: dict[str, Any], headers: dict[str, str]) -> tuple[int, Any]:
        key = headers.get("authorization", "").removeprefix("Bearer ")
        if key in self.blocked:
            return 401, {"error": {"message": "Authentication Error, key is blocked"}}
        prompt = json.dumps(body.get("messages", []))
        for guardrail in self.guardrails.values():
            words = guardrail.get("litellm_params", {}).get("blocked_words", [])
            words = [w.get("keyword", "") if isinstance(w, dict) else w for w in words]
            if any(word and word in prompt for word in words):
                return 400, {"error": {"message": "Violated guardrail policy"}}
        model = str(body.get("model"))
        served = self.fallbacks.get(model, [model])[0]
        return 200, {
            "model": served,
            "choices": [{"message": {"role": "assistant", "content": "OK"}}],
        }

    def take_fault(self, path: str) -> Fault | None:
        with self.lock:
            for fault in self.faults:
                if fault.path == path and fault.times > 0:
                    fault.times -= 1
                    return fault
        return None


def _opened(gate: threading.Event) -> threading.Event:
    gate.set()
    return gate


def _handler(state: Gateway) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # headers and body go out in two writes

        def log_message(self, format: str, *args: Any) -> None:
            return

        def _serve(self) -> None:
            with state.lock:
                state.arrived.append(urlsplit(self.path).path)
            state.gate.wait(timeout=300)
            length = int(self.headers.get("content-length") or 0)
            raw = self.rfile.read(length) if length else b""
            path = urlsplit(self.path).path
            fault = state.take_fault(path)
            try:
                body: Any = json.loads(raw) if raw else None
            except ValueError:
                body = raw.decode(errors="replace")
            headers = {k.lower(): v for k, v in self.headers.items()}
            if fault is not None:
                if fault.applied:
                    state.respond(self.command, path, body, headers)
                else:
                    with state.lock:
                        state.calls.append((self.command, path, body, headers))
                time.sleep(fault.delay)
                if fault.drop:
                    self.close_connection = True
                    self.connection.close()
                    return
                self._send(fault.status, fault.body, fault.headers, fault.drip)
                return
            status, payload = state.respond(self.command, path, body, headers)
            data = payload.encode() if isinstance(payload, str) else json.dumps(payload).encode()
            self._send(status, data, {"content-type": "application/json"})

        def _send(
            self, status: int, data: bytes, headers: dict[str, str], drip: float = 0.0
        ) -> None:
            try:
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                if not drip:
                    self.wfile.write(data)
                for byte in data if drip else b"":
                    self.wfile.write(bytes([byte]))
                    self.wfile.flush()
                    time.sleep(drip)
            except (BrokenPipeError, ConnectionResetError, OSError):
                pass

        do_GET = do_POST = do_DELETE = do_PUT = do_PATCH = _serve

    return Handler


@contextmanager
def serve_gateway(state: Gateway | None = None) -> Iterator[tuple[str, Gateway]]:
    """Start the fake gateway on a free loopback port; yields its URL and state; always stops."""
    gateway = state or Gateway()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(gateway))
    server.daemon_threads = True
    # A short poll interval: shutdown() waits for the loop to notice, 0.5 s by default.
    thread = threading.Thread(target=server.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", gateway
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


# --- an echoing gateway --------------------------------------------------------------------------


@dataclass(frozen=True)
class Heard:
    """One request as the echoing gateway received it."""

    method: str
    target: str  # path and query string exactly as sent
    headers: dict[str, str]
    body: bytes


def echo_reply(heard: Heard) -> tuple[int, str, bytes]:
    """What a careless service says back: everything it was sent, in the spellings it comes in.

    A Slack webhook path gets Slack's 404 naming the path; a PagerDuty event is refused with its
    body quoted; a path with ``/missing`` gets an HTML error page echoing the path, query and
    headers; any other request gets JSON repeating its path, raw query string, decoded query,
    headers (also in base64) and body.
    """
    parts = urlsplit(heard.target)
    if parts.path.startswith("/services/"):
        return 404, "text/plain", f"no_service: no incoming webhook at {parts.path}".encode()
    text = heard.body.decode("utf-8", errors="replace")
    if parts.path.endswith("/v2/enqueue"):
        refusal = {"status": "invalid event", "message": "Event object is invalid", "got": text}
        return 400, "application/json", json.dumps(refusal).encode()
    if "/missing" in parts.path:
        lines = "\n".join(f"{k}: {v}" for k, v in heard.headers.items())
        page = (
            f"<html><body><h1>404 Not Found</h1><p>{html.escape(heard.target)} was not found "
            f"on this server.</p><pre>{html.escape(lines)}</pre></body></html>"
        )
        return 404, "text/html", page.encode()
    echoed = {
        "method": heard.method,
        "path": parts.path,
        "query": parts.query,
        "args": parse_qs(parts.query),
        "headers": heard.headers,
        "headers_b64": {
            k: base64.b64encode(v.encode("latin-1")).decode() for k, v in heard.headers.items()
        },
        "body": text,
    }
    return 200, "application/json", json.dumps(echoed).encode()


@contextmanager
def serve_echo() -> Iterator[tuple[str, list[Heard]]]:
    """Start the echoing gateway on a free loopback port; yields its URL and what it heard."""
    heard: list[Heard] = []

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            return

        def _serve(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            body = self.rfile.read(length) if length else b""
            request = Heard(
                self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, body
            )
            heard.append(request)
            status, kind, data = echo_reply(request)
            self.send_response(status)
            self.send_header("content-type", kind)
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_DELETE = do_PUT = do_PATCH = _serve

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", heard
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
