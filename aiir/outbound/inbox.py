"""Where practice messages go: a sandbox walk, a drill or a tabletop never reaches a real channel.

An exercise sends its notifications through the same code as a real incident (so the message,
its approval and its journalling are practised too), but over an HTTP transport that keeps every
request in this inbox and answers as the receiver would. No channel secret is read: every
variable the channels would read holds a placeholder on the inbox's own address.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import httpx2

from aiir.formats import received

if TYPE_CHECKING:
    from aiir.outbound.notify import Notifier

INBOX_URL = "https://inbox.sandbox.aiir.invalid"


class PlaceholderSecrets(Mapping[str, str]):
    """Every environment variable a channel asks for, as a placeholder on the inbox's address."""

    def __getitem__(self, name: str) -> str:
        return f"{INBOX_URL}/{name.lower()}"

    def __iter__(self) -> Iterator[str]:
        return iter(())

    def __len__(self) -> int:
        return 0

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str)


@dataclass
class Inbox:
    """Messages an exercise would have sent, in order: channel, method, path and body."""

    messages: list[dict[str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def notifier(self, channel: str, sleep: Callable[[float], None]) -> Notifier:
        """A notifier whose every request lands here, answered as ``channel`` answers."""
        from aiir.outbound.notify import Notifier

        def receive(request: httpx2.Request) -> httpx2.Response:
            body = _body(request)
            with self.lock:
                self.messages.append(
                    {
                        "channel": channel,
                        "method": request.method,
                        "path": request.url.path,
                        "body": body,
                    }
                )
                number = len(self.messages)
            if channel in {"jira", "jsm"}:
                return _atlassian(request.url.path, number)
            return _answer(channel, body, number)

        client = httpx2.Client(transport=httpx2.MockTransport(receive))
        return Notifier(client, sleep, PlaceholderSecrets(), retries=0)


def _body(request: httpx2.Request) -> Any:
    raw = request.read()
    try:
        return received.loads(raw) if raw else None
    except ValueError:
        return raw.decode("utf-8", errors="replace")


def _answer(channel: str, body: Any, number: int) -> httpx2.Response:
    """What each receiver says when it takes a message (their documented success replies)."""
    if channel == "pagerduty":
        dedup = body.get("dedup_key") if isinstance(body, dict) else None
        reply = {"status": "success", "message": "Event processed", "dedup_key": dedup}
        return httpx2.Response(202, json=reply)
    if channel == "slack":
        return httpx2.Response(200, text="ok")
    if channel == "teams":
        return httpx2.Response(202)  # a Workflows trigger accepts with an empty body
    if channel == "statuspage":
        return httpx2.Response(201, json={"id": f"sandbox-{number}", "status": "investigating"})
    return httpx2.Response(200, json={"ok": True})


def _atlassian(path: str, number: int) -> httpx2.Response:
    """Jira's replies: an issue made (201, id, key, self), a link made (201, no body), a
    service desk request raised (201, issueId, issueKey)."""
    if path.endswith("/issueLink"):
        return httpx2.Response(201)
    key = f"SANDBOX-{number}"
    if path.endswith("/servicedeskapi/request"):
        return httpx2.Response(201, json={"issueId": str(10000 + number), "issueKey": key})
    issue = {"id": str(10000 + number), "key": key, "self": f"{INBOX_URL}/rest/api/3/issue/{key}"}
    return httpx2.Response(201, json=issue)
