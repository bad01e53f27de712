"""A real HTTP receiver on loopback that records every request and answers as scripted.

Stands in for PagerDuty, Slack, Teams, Jira, Statuspage and webhooks in the alerting tests: each path answers
like the real service by default, and a test can queue other answers (429, 500, 400) for it.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit


@dataclass(frozen=True)
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    at: float = field(default_factory=time.monotonic)  # when it arrived (time.monotonic)

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Answer:
    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)
    drop: bool = False  # no answer: the connection is closed once the request is read
    drip: float = 0.0  # seconds between the body's bytes (a reply that never quite ends)


JSON = {"content-type": "application/json"}
TEAMS_LIMIT = 28 * 1024  # a Teams Workflows trigger refuses a bigger body: 413
TOO_LARGE = b'{"error":{"code":"RequestEntityTooLarge","message":"The message is too large."}}'
TICKETS = frozenset({"/rest/api/3/issue", "/rest/servicedeskapi/request"})


def default_answer(path: str, body: bytes, number: int = 1) -> Answer:
    """What the real service says to a good request (``number``: the how-manieth ticket)."""
    if path == "/rest/api/3/issue":  # Jira Cloud: 201, the issue's id, key and address
        issue = {"id": str(10000 + number), "key": f"OPS-{number}", "self": f"/issue/{number}"}
        return Answer(201, json.dumps(issue).encode(), JSON)
    if path == "/rest/api/3/issueLink":
        return Answer(201, b"")
    if path == "/rest/servicedeskapi/request":  # JSM: 201, the request with its issue key
        fields = json.loads(body or b"{}").get("requestFieldValues", {})
        values = [{"fieldId": k, "label": k, "value": v} for k, v in fields.items()]
        reply: dict[str, Any] = {"issueId": str(20000 + number), "issueKey": f"HELP-{number}"}
        reply |= {"requestTypeId": "25", "serviceDeskId": "10", "requestFieldValues": values}
        return Answer(201, json.dumps(reply).encode(), JSON)
    if path == "/v2/enqueue":
        dedup = json.loads(body or b"{}").get("dedup_key", "")
        reply = {"status": "success", "message": "Event processed", "dedup_key": dedup}
        return Answer(202, json.dumps(reply).encode(), {"content-type": "application/json"})
    if path.startswith("/services/"):
        return Answer(200, b"ok", {"content-type": "text/html"})
    if path.startswith("/triggers/"):  # a Slack Workflow Builder webhook trigger: JSON
        return Answer(200, b'{"ok":true}', JSON)
    if path.startswith("/workflows/") and len(body) > TEAMS_LIMIT:
        return Answer(413, TOO_LARGE, JSON)
    if path.startswith("/workflows/"):
        return Answer(202, b"")  # a Teams Workflows trigger: accepted, empty body
    if path.startswith("/v1/pages/"):
        incident = json.loads(body or b"{}").get("incident", {})
        reply = {"id": "p0abc123", "status": incident.get("status", "investigating"), **incident}
        return Answer(201, json.dumps(reply).encode(), {"content-type": "application/json"})
    return Answer(200, b'{"received": true}', {"content-type": "application/json"})


@dataclass
class Receiver:
    """Requests received, in order, and answers queued per path."""

    url: str = ""
    requests: list[Received] = field(default_factory=list)
    queued: dict[str, list[Answer]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def queue(self, path: str, *answers: Answer) -> None:
        with self.lock:
            self.queued.setdefault(path, []).extend(answers)

    def to(self, path: str) -> list[Received]:
        with self.lock:
            return [r for r in self.requests if r.path == path]

    def answer(self, received: Received) -> Answer:
        with self.lock:
            self.requests.append(received)
            waiting = self.queued.get(received.path)
            if waiting:
                return waiting.pop(0)
            number = sum(1 for r in self.requests if r.path in TICKETS)
        return default_answer(received.path, received.body, number)


def _handler(receiver: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True

        def log_message(self, format: str, *args: Any) -> None:
            return

        def _serve(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            body = self.rfile.read(length) if length else b""
            headers = {k.lower(): v for k, v in self.headers.items()}
            path = urlsplit(self.path).path
            answer = receiver.answer(Received(self.command, path, headers, body))
            if answer.drop:
                self.close_connection = True
                self.connection.close()
                return
            self.send_response(answer.status)
            for name, value in answer.headers.items():
                self.send_header(name, value)
            self.send_header("content-length", str(len(answer.body)))
            self.end_headers()
            try:
                for piece in (
                    [answer.body[i : i + 1] for i in range(len(answer.body))]
                    if answer.drip
                    else [answer.body]
                ):
                    self.wfile.write(piece)
                    self.wfile.flush()
                    time.sleep(answer.drip)
            except OSError:  # the client stopped reading
                self.close_connection = True

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve

    return Handler


@contextmanager
def serve_receiver() -> Iterator[Receiver]:
    """Start a receiver on a free loopback port; always stops."""
    receiver = Receiver()
    with serving(_handler(receiver)) as url:
        receiver.url = url
        yield receiver


@contextmanager
def serving(handler: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    """Serve ``handler`` from a thread on a free loopback port; yields the base URL; always
    stops."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
