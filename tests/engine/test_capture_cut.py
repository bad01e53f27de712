"""A capture whose gateway drops the connection mid-body (Content-Length 5000, 100 bytes sent):
the partial reply is never kept as the capture; the evidence says it failed, with no bytes."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from aiir.incident.journal import verify
from aiir.respond.session import start
from tests.incidents import (
    RecordingPrompter,
    SleepRecorder,
    environment,
    fault_runbook,
    screen,
    write_runbook,
)

PARTIAL = b'{"data": [' + b'{"x": 1},' * 10


@contextmanager
def cut_server() -> Iterator[tuple[str, list[int]]]:
    """A loopback server that promises 5000 bytes, sends 100 and closes; counts requests."""
    served: list[int] = []
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(5)

    def serve() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            with conn:
                conn.recv(65536)
                served.append(1)
                head = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 5000\r\n\r\n"
                conn.sendall(head + PARTIAL)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}", served
    finally:
        listener.close()
        thread.join(timeout=2)


def test_a_body_cut_mid_way_is_not_recorded_as_the_capture(tmp_path: Path) -> None:
    runbook = fault_runbook(timeout=1)
    runbook["start"] = "cap"
    runbook["nodes"] = {
        "cap": {
            "kind": "capture",
            "title": "Logs",
            "items": [
                {
                    "name": "logs",
                    "what": ["outputs"],
                    "window_before": "1h",
                    "request": {"method": "GET", "path": "/logs", "timeout": 1, "retries": 1},
                }
            ],
            "next": "done",
        },
        "done": {"kind": "end", "title": "Done", "outcome": "resolved"},
    }
    path = write_runbook(tmp_path, runbook)
    prompter = RecordingPrompter({"cap.on_failure": "skip"})
    with (
        cut_server() as (url, served),
        environment(tmp_path / "incidents", url, prompter, SleepRecorder()) as env,
    ):
        result = start(path, env)
        shown = " ".join(screen(env).split())
    assert len(served) == 2  # a GET is safe to try again
    [stored] = [e.data for e in result.incident.events if e.type == "capture.stored"]
    assert stored["ok"] is False
    assert stored["evidence"]["bytes"] == 0
    kept = (result.incident.directory / stored["evidence"]["file"]).read_bytes()
    assert PARTIAL not in kept
    assert "received 100 bytes, expected 5000" in stored["reply"]["reason"]
    assert "✗ Capture 'logs'" in shown
    assert verify(result.incident.directory) == []
